"""The papers' numbers come from their tables as data."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aux_select.analysis import papers
from aux_select.analysis.papers import claims, papers_table
from aux_select.methods.registry import MethodResult

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "papers"


def test_every_row_of_the_fixture_parses():
    tables = papers.paper_tables(FIXTURE)
    assert len(tables) == 7 and tables["value"].dtype == float
    assert tables.loc[6, "note"] == "a note, with a comma" and tables.loc[1, "note"] == ""


def test_the_first_glue_pool_table_wins_and_other_pools_are_not_mixed_in():
    tables = papers.paper_tables(FIXTURE)
    assert papers.paper_scores(tables, "RTE", "accuracy") == {"Single-Task": 60.0, "AutoSeM": 62.5,
                                                              "GradTS-thres": 61.0}
    assert papers.paper_scores(tables, "STS-B", "pearson") == {}  # Table 5 is another pool
    assert papers.paper_scores(tables, "RTE", "accuracy", paper="AutoSeM", from_tables=("1",)) == {"AutoSeM": 55.0}


def test_a_bad_table_is_refused(tmp_path):
    (tmp_path / "tables.csv").write_text("paper,table,method,task,metric,value,split,note\nX,1,m,RTE,accuracy,12,validation,\n")
    with pytest.raises(ValueError, match="unknown split"):
        papers.paper_tables(tmp_path)
    (tmp_path / "tables.csv").write_text("paper,table,method,task,metric,value,split,note\nX,1,m,RTE,accuracy,n.a.,dev,\n")
    with pytest.raises(ValueError):
        papers.paper_tables(tmp_path)
    with pytest.raises(FileNotFoundError, match="no tables.csv"):
        papers.paper_tables(tmp_path / "absent")


def test_autosem_selections_are_lists_and_ratios():
    frame = papers.autosem_selections(FIXTURE)
    assert frame.loc["RTE", "selected"] == ["QQP", "MNLI"] and frame.loc["RTE", "ratio"] == "1:5:5"


@pytest.mark.data
def test_every_row_of_the_papers_tables_parses(data_dir):
    folder = data_dir.parent / "papers"
    tables = papers.paper_tables(folder)
    assert len(tables) == sum(1 for _ in open(folder / "tables.csv")) - 1  # every line a row
    assert set(tables["paper"]) == {"AutoSeM", "GradTS"} and not tables["value"].isna().any()
    glue = papers.paper_scores(tables, "MRPC", "accuracy")
    assert {"Single-Task", "NO-SEL", "HEU-Size", "AutoSeM-p1", "AutoSeM", "GradTS-thres", "GradTS-trial",
            "GradTS-fg"} <= set(glue)
    assert len(papers.autosem_selections(folder)) == 5


def result(method, score, predictions):
    labels = [0, 1, 0, 1, 0, 1, 0, 1]
    return MethodResult(method=method, primary="RTE", seed=0, selected=[], select_score=0.5,
                        report={"accuracy": score}, report_predictions=predictions, report_labels=labels, parts=[])


def test_papers_table_puts_ours_beside_the_paper():
    results = [result("Single-Task", 0.5, [0] * 8), result("AutoSeM", 0.75, [0, 1, 0, 1, 0, 1, 1, 0])]
    table, sources = papers_table(results, papers.paper_tables(FIXTURE))
    row = table.loc["AutoSeM"]
    assert row[("RTE accuracy", "ours")] == 75.0 and row[("RTE accuracy", "ours Δ")] == 25.0
    assert row[("RTE accuracy", "paper")] == 62.5 and row[("RTE accuracy", "paper Δ")] == 2.5
    assert sources["RTE"].startswith("GradTS Tables 2, 6, 9")
    empty, _ = papers_table(results, papers.paper_tables(FIXTURE).iloc[:0])
    assert np.isnan(empty.loc["AutoSeM", ("RTE accuracy", "paper")])


def test_claims_say_the_verdicts_their_seeds_and_the_strict_order():
    results = [result("Single-Task", 0.5, [0] * 8), result("AutoSeM", 0.75, [0, 1, 0, 1, 0, 1, 1, 0]),
               result("AutoSeM-p1", 0.75, [0, 1, 0, 1, 0, 1, 1, 0])]
    verdicts = pd.DataFrame([{"primary": "RTE", "method": m, "metric": "accuracy", "seeds": 3, "gain": 25.0,
                              "low": 5.0, "high": 40.0, "verdict": v, "detectable gain": d}
                             for m, v, d in (("AutoSeM-p1", "no evidence", 9.0), ("AutoSeM", "beats", 7.5))])
    (line,) = claims(results, verdicts)
    assert "3 seeds, 2 methods tested; the smallest gain 3 seeds could detect: 7.5 to 9.0" in line
    assert "beat Single-Task: AutoSeM (+25.0 [5.0, 40.0]); lose to it: none; no evidence either way: 1" in line
    # AutoSeM ties AutoSeM-p1 (the same score): a tie, which does not count as holding
    assert "holds strictly for 1 of 2 adjacent pairs (1 ties): AutoSeM = AutoSeM-p1; AutoSeM-p1 > Single-Task" in line
    (one,) = claims(results, verdicts.assign(seeds=1, **{"detectable gain": float("nan")}))
    assert "no seed-level test with one seed" in one

def test_our_selection_beside_autosems():
    frame = papers.selection_beside_paper("RTE", ["MRPC", "CoLA"], ["RTE", "MRPC", "CoLA"], [2, 1, 1], FIXTURE)
    assert frame.loc["ours", "ratio order"] == "RTE:MRPC:CoLA" and frame.loc["ours", "ratio"] == "2:1:1"
    assert frame.loc["AutoSeM paper", "selected"] == "QQP, MNLI"
    assert list(papers.selection_beside_paper("CoLA", [], path=FIXTURE).index) == ["ours"]
