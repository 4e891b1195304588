import json
import math
from types import SimpleNamespace

import pytest

from aux_select.methods.autosem import ablations
from aux_select.methods.autosem.ablations import (AblationResult, educated_guesses, grid_ratios, run_ablations, run_grid)
from aux_select.experiment.profiles import override
from aux_select.train.schedule import canonical_ratio, within_k
from fakes import fake_experiment

SMOKE = override("smoke", ["gp.calls=5", "gp.initial_points=2"])


def test_grid_is_even_coarse_and_seeded():
    full = grid_ratios(2, 9, max_ratio=20)
    assert full == [[p, a] for p in (1, 10, 20) for a in (0, 10, 20)]  # 3 levels: exactly 9 points
    chosen = grid_ratios(3, 20, max_ratio=20, seed=0)  # 3 levels per task give 27 points: choose 20
    assert len(chosen) == 20 and len({tuple(r) for r in chosen}) == 20
    assert all(r[0] in (1, 10, 20) and set(r[1:]) <= {0, 10, 20} for r in chosen)
    assert chosen == grid_ratios(3, 20, max_ratio=20, seed=0) != grid_ratios(3, 20, max_ratio=20, seed=1)
    small = grid_ratios(2, 6, max_ratio=2)  # rounding merges levels: more are added until 6 fit
    assert sorted(map(tuple, small)) == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    with pytest.raises(ValueError, match="exceeds the 6 distinct ratios"):
        grid_ratios(2, 7, max_ratio=2)


def test_educated_guesses_fall_back_to_what_is_available():
    offline = ["CoLA", "SST-2", "MRPC", "MNLI-proxy", "QNLI-proxy", "RTE", "WNLI"]
    qqp, qqp_mnli = educated_guesses("MRPC", offline)
    assert (qqp["name"], qqp["tasks"]) == ("+QQP", []) and "QQP is not available" in qqp["note"]
    assert "skipped" in qqp["note"]
    assert (qqp_mnli["name"], qqp_mnli["tasks"]) == ("+QQP+MNLI", ["MNLI-proxy"])
    assert "MNLI-proxy" in qqp_mnli["note"] and "QQP is not available" in qqp_mnli["note"]
    assert educated_guesses("MRPC", ["QQP", "MNLI"])[1] == {"name": "+QQP+MNLI", "asked": ["QQP", "MNLI"],
                                                            "tasks": ["QQP", "MNLI"], "note": ""}
    rte, = educated_guesses("RTE", offline)  # no guess in the paper: the primary's GLUE type
    assert rte["tasks"] == ["MNLI-proxy", "QNLI-proxy", "WNLI"] and rte["note"].startswith("not from the paper")


@pytest.fixture
def fake(monkeypatch):
    """Closed-form runs on synthetic data: the score grows with the primary's share."""
    names = ["MRPC", "CoLA", "MNLI-proxy", "WNLI"]
    exp, calls = fake_experiment(monkeypatch, names, profile=SMOKE)
    monkeypatch.setattr(ablations, "available_tasks", lambda data_dir=None: names)
    monkeypatch.setattr(ablations, "run_stage1", lambda primary, candidates, exp=None: SimpleNamespace(selected=["CoLA", "WNLI"]))
    return exp, calls


def test_grid_uses_the_gp_budget(fake):
    exp, calls = fake
    result = run_grid("MRPC", ["CoLA", "WNLI"], exp)
    ratios = grid_ratios(3, 5, 20, seed=0)
    assert [t.at for t in result.trials] == ratios
    # each point trains as the ratio that fits K, as the GP's do; one proportional to a run already
    # made is that run, trained once
    k = exp.profile.train.max_total_factor
    assert [t.ratio for t in result.trials] == [within_k(r, k) for r in ratios]
    assert len(calls) == len({tuple(canonical_ratio(within_k(r, k))) + tuple(r_ > 0 for r_ in r) for r in ratios})
    assert result.settings["method"] == "grid" and result.best_ratio is not None


def test_ablation_table_has_the_paper_rows(fake):
    result = run_ablations("MRPC", ["CoLA", "MNLI-proxy", "WNLI"], fake[0])
    table = result.table()
    assert list(table.index) == ["Baseline", "+QQP", "+QQP+MNLI", "w/o Stage-1", "w/o Stage-2", "Final MTL"]
    assert list(table.columns) == ["tasks", "ratio", "select accuracy", "report accuracy", "runs", "note"]
    assert table.loc["Baseline", "tasks"] == "MRPC" and table.loc["Baseline", "select accuracy"] == 0.99
    assert math.isnan(table.loc["+QQP", "select accuracy"]) and "skipped" in table.loc["+QQP", "note"]
    assert table.loc["+QQP+MNLI", "tasks"] == "MRPC + MNLI-proxy" and "MNLI-proxy" in table.loc["+QQP+MNLI", "note"]
    assert table.loc["w/o Stage-1", "tasks"] == "MRPC + CoLA + MNLI-proxy + WNLI"
    assert table.loc["Final MTL", "tasks"] == table.loc["w/o Stage-2", "tasks"] == "MRPC + CoLA + WNLI"
    assert list(table["runs"]) == [1, 0, 1, 5, 5, 5]
    again = AblationResult.from_json(json.loads(json.dumps(result.to_json())))
    assert json.dumps(again.to_json()) == json.dumps(result.to_json())


@pytest.mark.parametrize("primary, candidates, message", [
    ("MRPC", ["CoLA", "MRPC"], "among its own candidates"),
    ("MRPC", [], "at least one"),
    ("MRPC", ["NOPE"], "unknown task 'NOPE'"),
])
def test_ablations_reject_bad_input_before_training(fake, primary, candidates, message):
    exp, calls = fake
    with pytest.raises(ValueError, match=message):
        run_ablations(primary, candidates, exp)
    assert not calls
