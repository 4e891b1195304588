"""Every notebook, executed headless by papermill in the smoke profile."""
import json
from pathlib import Path

import papermill
import pytest

from aux_select.profiles import get_profile

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
POOL = ["WNLI", "MRPC", "CoLA"]  # a short pool keeps the GradTS smoke runs to seconds


def run_notebook(name: str, tmp_path: Path, summary: str, **parameters) -> dict:
    """Execute the notebook in the smoke profile, writing under tmp_path; return its JSON summary."""
    out_dir, figures = tmp_path / "out", tmp_path / "figures"
    # a stuck cell fails the test instead of blocking the suite (smoke cells take seconds)
    papermill.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / name), progress_bar=False,
                               execution_timeout=300,
                               parameters={"profile": "smoke", "out_dir": str(out_dir),
                                           "figures_dir": str(figures), **parameters})
    return json.loads((out_dir / summary).read_text())


@pytest.mark.slow
@pytest.mark.data
def test_01_tasks_and_data(data_dir, tmp_path):
    summary = run_notebook("01_tasks_and_data.ipynb", tmp_path, "tasks_and_data.json", data_dir=str(data_dir))
    rows = {r["task"]: r for r in summary["table7"]}
    assert rows["RTE"]["train rows"] == 2490 and rows["MNLI-proxy"]["notes"].startswith("PROXY for MNLI")
    for figure in ("01_length_distribution.png", "01_label_distribution.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.data
def test_02_bandit_selection(data_dir, tmp_path):
    summary = run_notebook("02_bandit_selection.ipynb", tmp_path, "bandit_selection_RTE.json", primary="RTE",
                           data_dir=str(data_dir), store_dir=str(tmp_path / "store"))
    assert {"primary", "selected", "utilities", "alpha", "beta", "rounds", "trajectory", "autosem_p1"} <= set(summary)
    assert summary["primary"] == "RTE" and "RTE" not in summary["selected"] and len(summary["selected"]) >= 2
    assert set(summary["utilities"]) == set(summary["alpha"]) == {"RTE", *summary["candidates"]}
    assert summary["rounds"] == len(summary["trajectory"]) == get_profile("smoke").bandit_rounds
    assert summary["autosem_p1"]["tasks"] == ["RTE", *summary["selected"]]
    for figure in ("02_RTE_posteriors.png", "02_RTE_utilities.png", "02_RTE_pulls.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000
    assert len(list((tmp_path / "store" / "stage1").glob("*.json"))) == 1


def test_every_notebook_has_a_tagged_parameters_cell():
    import nbformat
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert "profile" in tagged[0].source and "out_dir" in tagged[0].source, path.name
        assert not any("class " in c.source for c in nb.cells if c.cell_type == "code"), path.name


@pytest.mark.slow
@pytest.mark.data
def test_03_gp_mixing(data_dir, tmp_path):
    summary = run_notebook("03_gp_mixing.ipynb", tmp_path, "gp_mixing_RTE.json", primary="RTE",
                           data_dir=str(data_dir), store_dir=str(tmp_path / "store"))
    assert {"primary", "selected", "ratio", "trials", "best_select_score", "report_score", "single_task"} <= set(summary)
    assert summary["primary"] == "RTE" and "RTE" not in summary["selected"]
    assert list(summary["ratio"]) == ["RTE", *summary["selected"]] and summary["ratio"]["RTE"] >= 1
    assert len(summary["trials"]) == get_profile("smoke").gp_calls
    assert len({tuple(t["ratio"].values()) for t in summary["trials"]}) == len(summary["trials"])
    best = max(t["select_score"] for t in summary["trials"] if not t["failure"])
    assert summary["best_select_score"] == best
    assert {"select_score", "report_score"} <= set(summary["single_task"])
    for figure in ("03_RTE_convergence.png", "03_RTE_objective.png", "03_RTE_trials.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000
    assert len(list((tmp_path / "store" / "stage1").glob("*.json"))) == 1  # stage 1 ran here
    assert len(list((tmp_path / "store" / "gp_search").glob("*.json"))) == 1


@pytest.mark.slow
@pytest.mark.data
def test_07_ablations(data_dir, tmp_path):
    summary = run_notebook("07_ablations.ipynb", tmp_path, "ablations_MRPC.json", data_dir=str(data_dir),
                           store_dir=str(tmp_path / "store"))
    rows = {r["name"]: r for r in summary["rows"]}
    assert list(rows) == ["Baseline", "+QQP", "+QQP+MNLI", "w/o Stage-1", "w/o Stage-2", "Final MTL"]
    assert rows["+QQP"]["tasks"] == [] and "QQP is not available" in rows["+QQP"]["note"]  # offline
    assert rows["+QQP+MNLI"]["tasks"] == ["MRPC", "MNLI-proxy"]
    assert rows["Final MTL"]["tasks"] == rows["w/o Stage-2"]["tasks"] == ["MRPC", *summary["selected"]]
    assert len(rows["w/o Stage-1"]["tasks"]) == 1 + len(summary["candidates"])
    n_calls = get_profile("smoke").gp_calls
    assert [r["runs"] for r in summary["rows"]] == [1, 0, 1, n_calls, n_calls, n_calls]
    assert set(summary["table"]) == set(rows)
    assert (tmp_path / "figures" / "07_MRPC_ablations.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.data
def test_04_head_importance(data_dir, tmp_path):
    summary = run_notebook("04_head_importance.ipynb", tmp_path, "head_importance_RTE.json", primary="RTE",
                           tasks=["RTE", *POOL], data_dir=str(data_dir), store_dir=str(tmp_path / "store"))
    assert set(summary["matrices"]) == {"RTE", *POOL} and len(summary["matrices"]["RTE"]) == 2
    assert [t for t, _ in summary["ranking"]] and summary["kendall_tau"]["RTE"]["RTE"] == pytest.approx(1.0)
    assert len(list((tmp_path / "store" / "head_importance").glob("*.npy"))) == 4
    for figure in ("04_head_importance.png", "04_tau_matrix.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.data
def test_05_gradts_selection(data_dir, tmp_path):
    summary = run_notebook("05_gradts_selection.ipynb", tmp_path, "gradts_selection_RTE.json", primary="RTE",
                           candidates=POOL, data_dir=str(data_dir), store_dir=str(tmp_path / "store"))
    trial, fg = summary["gradts_trial"], summary["gradts_fg"]
    assert sorted(t for t, _ in summary["ranking"]) == sorted(POOL)
    assert trial["run"]["tasks"][0] == "RTE" and set(trial["run"]["tasks"][1:]) == set(trial["selected"])
    assert trial["trials"]
    assert set(fg["selected"]) <= set(trial["selected"]) and set(fg["kept_fraction"]) == set(trial["selected"])
    assert summary["trial"] == trial["selected"] and summary["fg"] == fg["kept_fraction"]
    assert set(summary["thres"]) <= set(POOL) and set(summary["scores"]) == {"single-task", "GradTS-thres",
                                                                            "GradTS-trial", "GradTS-fg"}
    assert (tmp_path / "figures" / "05_RTE_trial.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.data
def test_06_compare(data_dir, tmp_path):
    summary = run_notebook("06_compare.ipynb", tmp_path, "compare_RTE.json", primary="RTE", candidates=POOL,
                           seeds=[0, 1], data_dir=str(data_dir), store_dir=str(tmp_path / "store"))
    from aux_select.compare import METHODS, Comparison, comparison_table
    comparison = Comparison.from_dict(summary)
    assert sorted((r.method, r.seed) for r in comparison.results) == sorted((m, s) for m in METHODS for s in (0, 1))
    for r in comparison.results:
        assert set(r.selected) <= set(POOL) and len(r.report_predictions) == len(r.report_labels) == 32
        assert r.method == "Single-Task" or r.wall_time_s > 0  # every other method has work of its own
    assert list(comparison_table(comparison.results).index) == list(METHODS)
    assert {p["key"] for p in comparison.shared[0]} == {"single-task run", "head-importance matrices"}
    assert all(p["wall_time_s"] > 0 for parts in comparison.shared.values() for p in parts)
    for figure in ("06_RTE_gains.png", "06_RTE_selection.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.data
def test_reproduce_runs_each_primary_once_then_writes_the_tables(data_dir, tmp_path, capsys):
    from aux_select import reproduce
    args = ["--primaries", "RTE", "WNLI", "--methods", "Single-Task", "NO-SEL", "--profile", "smoke",
            "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "out"), "--figures-dir", str(tmp_path / "fig"),
            "--store-dir", str(tmp_path / "store")]
    reproduce.main(args)
    executed = tmp_path / "out" / "notebooks" / "06_compare_RTE.ipynb"
    first = executed.stat().st_mtime_ns
    reproduce.main(args)  # everything is there: nothing runs again
    assert executed.stat().st_mtime_ns == first and "RTE: every method and seed already in" in capsys.readouterr().out
    table = (tmp_path / "out" / "summary" / "comparison.md").read_text()
    assert "Single-Task" in table and "NO-SEL" in table and "RTE" in table and "WNLI" in table
    costs = (tmp_path / "out" / "summary" / "cost.csv").read_text()
    assert "shared: single-task run" in costs


@pytest.mark.slow
@pytest.mark.data
def test_08_mixed_objectives(data_dir, tmp_path):
    # a tagging primary: its bandit rewards, trial stops and report scores are entity/token metrics
    summary = run_notebook("08_mixed_objectives.ipynb", tmp_path, "mixed_mixed_POS.json", primary="POS",
                           pool="mixed", data_dir=str(data_dir), store_dir=str(tmp_path / "store"))
    assert summary["candidates"] == ["CoLA", "SST-2", "MRPC", "MNLI-proxy", "QNLI-proxy", "RTE", "WNLI",
                                     "STS-B", "NER", "Chunking"]  # QQP has no local files
    assert {r["candidate"] for r in summary["ranking"]} == set(summary["candidates"])
    results = {r["method"]: r for r in summary["comparison"]["results"]}
    assert list(results) == ["Single-Task", "AutoSeM-p1", "AutoSeM", "GradTS-thres", "GradTS-trial", "GradTS-fg"]
    assert all(set(r["report"]) == {"token_accuracy"} for r in results.values())
    assert set(results["AutoSeM"]["selected"]) <= set(summary["candidates"])
    for figure in ("08_mixed_POS_tau_matrix.png", "08_mixed_POS_selection.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000
