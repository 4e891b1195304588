"""Every notebook, executed headless by papermill in the smoke profile on the fixture data
(tests/fixtures/data: tiny made-up files in the classic GLUE / CoNLL / MELD layouts)."""
import json
from dataclasses import asdict
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from aux_select.methods.autosem.stage1 import Stage1Result
from aux_select.methods.run import Comparison
from aux_select.analysis.tables import comparison_table
from aux_select.analysis.controls import ControlBenchmark
from aux_select.analysis.transfer import TransferRow, run_transfer
from aux_select.methods.registry import method_names
from aux_select.methods.autosem.stage2 import Stage2Result
from aux_select.experiment.profiles import get_profile, override
from aux_select.methods.greedy import SelectionResult

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
POOL = ["WNLI", "MRPC", "CoLA"]  # a short pool keeps the GradTS smoke runs to seconds
SMOKE = get_profile("smoke")
# what the fixture data provides of the GLUE pool (QQP has no files; MNLI and QNLI only dev files)
GLUE = ["CoLA", "SST-2", "MRPC", "MNLI-proxy", "QNLI-proxy", "RTE", "WNLI"]


def run_notebook(name: str, tmp_path: Path, summary: str, data_dir: Path, **parameters) -> dict:
    """Execute the notebook in the smoke profile on `data_dir`, writing under tmp_path; return
    its JSON summary."""
    out_dir, figures = tmp_path / "out", tmp_path / "figures"
    # a stuck cell fails the test instead of blocking the suite (smoke cells take seconds)
    papermill.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / name), progress_bar=False,
                               execution_timeout=300,
                               parameters={"profile": "smoke", "data_dir": str(data_dir), "out_dir": str(out_dir),
                                           "figures_dir": str(figures), **parameters})
    return json.loads((out_dir / summary).read_text())


def assert_figures(tmp_path: Path, *names: str) -> None:
    for name in names:
        assert (tmp_path / "figures" / name).stat().st_size > 10_000, name


def stored(tmp_path: Path, kind: str, suffix: str = "json") -> int:
    return len(list((tmp_path / "store" / kind).glob(f"*.{suffix}")))


def assert_comparison(summary: dict, methods: list[str], seeds: list[int], pool: list[str]) -> Comparison:
    """The summary's comparison holds exactly `methods` x `seeds`, each selecting within `pool`."""
    comparison = Comparison.from_json(summary)
    assert [(r.method, r.seed) for r in comparison.results] == [(m, s) for s in seeds for m in methods]
    assert sorted(comparison.shared) == sorted(seeds)
    for r in comparison.results:
        assert set(r.selected) <= set(pool) and r.primary == comparison.primary
        assert len(r.ratio) == 1 + len(r.selected) and set(r.fractions) == set(r.selected)
    return comparison


def test_every_notebook_has_a_tagged_parameters_cell():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        # papermill reads every assignment (a line with a second "=" it cannot, and would then
        # warn that a value passed for it is an unknown parameter)
        params = papermill.inspect_notebook(str(path))
        assert {"profile", "settings", "seeds", "out_dir"} <= set(params), path.name
        assigned = [line.split("=")[0].strip() for line in tagged[0].source.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
        assert list(params) == assigned, path.name
        assert params["settings"]["default"] == "[]" and params["seeds"]["default"] == "[0]", path.name
        assert "seed" not in params, path.name  # one name everywhere: seeds, a list
        assert code.index(tagged[0]) == 0, path.name  # the parameters come first, the derived values after
        for cell in code:
            assert "def " not in cell.source and "class " not in cell.source, path.name
            # committed without outputs: an executed copy goes elsewhere (papermill's output path)
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
def test_01_tasks_and_data(fixture_data_dir, tmp_path):
    summary = run_notebook("01_tasks_and_data.ipynb", tmp_path, "tasks_and_data.json", fixture_data_dir)
    rows = {r["task"]: r for r in summary["table7"]}
    assert summary["tasks"] == [*GLUE, "STS-B"] and summary["profile"] == "smoke" and summary["seeds"] == [0]
    assert rows["RTE"]["train rows"] == 100 and "sample data root" in rows["RTE"]["notes"]
    assert rows["MNLI-proxy"]["notes"].startswith("PROXY for MNLI")
    assert summary["splits"]["RTE"] == {"train": SMOKE.train_cap, "select": 10, "report": SMOKE.report_cap}
    assert_figures(tmp_path, "01_length_distribution.png", "01_label_distribution.png")
    overlap, pairs = summary["report_overlap"], summary["report_overlap_pairs"]  # {train task: {primary: rows}}
    assert set(overlap) == set(pairs) == set(summary["tasks"])
    assert all(0 <= pairs[t][p] <= overlap[t][p] <= summary["splits"][t]["train"] for t in overlap for p in overlap[t])


@pytest.mark.slow
def test_02_bandit_selection(fixture_data_dir, tmp_path):
    summary = run_notebook("02_bandit_selection.ipynb", tmp_path, "bandit_selection_RTE.json", fixture_data_dir,
                           primary="RTE", seeds=[0, 1], store_dir=str(tmp_path / "store"))
    assert {"primary", "profile", "seeds", "candidates", "stage1", "paper", "comparison"} == set(summary)
    assert summary["primary"] == "RTE" and summary["profile"] == "smoke" and summary["seeds"] == [0, 1]
    assert summary["candidates"] == [t for t in GLUE if t != "RTE"]  # the pool the fixture data provides
    stage1 = Stage1Result.from_json(summary["stage1"])
    assert stage1.tasks == ["RTE", *summary["candidates"]] and stage1.settings["seed"] == 0
    assert set(stage1.selected) <= set(summary["candidates"]) and len(stage1.selected) >= 2
    assert set(stage1.utilities) == set(stage1.pulls) == set(stage1.tasks)
    assert len(stage1.trajectory) == SMOKE.bandit.rounds and sum(stage1.pulls.values()) == SMOKE.bandit.rounds
    comparison = assert_comparison(summary["comparison"], ["Single-Task", "AutoSeM-p1"], [0, 1],
                                   summary["candidates"])
    p1 = {r.seed: r for r in comparison.results if r.method == "AutoSeM-p1"}
    assert set(p1[0].selected) == set(stage1.selected) and set(p1[0].ratio) == {1}  # uniform, seed 0's stage 1
    assert_figures(tmp_path, "02_RTE_posteriors.png", "02_RTE_utilities.png", "02_RTE_pulls.png")
    assert stored(tmp_path, "stage1") == 2  # one trajectory per seed


@pytest.mark.slow
def test_03_gp_mixing(fixture_data_dir, tmp_path):
    summary = run_notebook("03_gp_mixing.ipynb", tmp_path, "gp_mixing_RTE.json", fixture_data_dir, primary="RTE",
                           store_dir=str(tmp_path / "store"))
    assert {"primary", "profile", "seeds", "candidates", "stage1", "stage2", "paper", "comparison"} == set(summary)
    stage1, stage2 = Stage1Result.from_json(summary["stage1"]), Stage2Result.from_json(summary["stage2"])
    assert summary["paper"][0]["who"] == "ours" and summary["paper"][0]["ratio order"] == ":".join(stage2.tasks)
    assert summary["paper"][0]["ratio"] == ":".join(map(str, stage2.best_ratio))
    assert stage2.tasks == ["RTE", *stage1.selected] and "RTE" not in stage1.selected
    assert len(stage2.best_ratio) == len(stage2.tasks) and stage2.best_ratio[0] >= 1
    assert len(stage2.trials) == SMOKE.gp.calls
    assert len({tuple(t.ratio) for t in stage2.trials}) == len(stage2.trials)
    assert stage2.best_select_score == max(t.select_score for t in stage2.trials if not t.failure)
    comparison = assert_comparison(summary["comparison"], ["Single-Task", "AutoSeM-p1", "AutoSeM"], [0],
                                   summary["candidates"])
    autosem = comparison.results[-1]  # the best trial of the search above, read back
    assert autosem.select_score == stage2.best_select_score
    assert set(autosem.selected) == {t for t, r in zip(stage2.tasks[1:], stage2.best_ratio[1:]) if r > 0}
    assert_figures(tmp_path, "03_RTE_convergence.png", "03_RTE_objective.png", "03_RTE_trials.png")
    assert stored(tmp_path, "stage1") == 1  # stage 1 ran here, once for the notebook and AutoSeM
    assert stored(tmp_path, "gp_search") == 1


@pytest.mark.slow
def test_04_head_importance(fixture_data_dir, tmp_path):
    summary = run_notebook("04_head_importance.ipynb", tmp_path, "head_importance_RTE.json", fixture_data_dir,
                           primary="RTE", tasks=["RTE", *POOL], seeds=[0, 1], store_dir=str(tmp_path / "store"))
    assert summary["seeds"] == [0, 1] and summary["importance"] == json.loads(json.dumps(asdict(SMOKE.importance)))
    assert set(summary["matrices"]) == {"RTE", *POOL} and len(summary["matrices"]["RTE"]) == 2  # tiny-bert: 2 layers
    taus = pd.DataFrame(summary["kendall_tau"])
    assert set(taus.index) == set(taus.columns) == {"RTE", *POOL} and taus.loc["RTE", "RTE"] == pytest.approx(1.0)
    ranking = summary["ranking"]  # the primary's row of the mean tau matrix, highest first
    assert sorted(ranking) == sorted(POOL) and list(ranking.values()) == sorted(ranking.values(), reverse=True)
    assert ranking == pytest.approx({t: taus.loc["RTE", t] for t in POOL})
    assert stored(tmp_path, "head_importance", "npy") == 4 * 2  # every task at both seeds
    assert_figures(tmp_path, "04_head_importance.png", "04_tau_matrix.png")


@pytest.mark.slow
def test_05_gradts_selection(fixture_data_dir, tmp_path):
    summary = run_notebook("05_gradts_selection.ipynb", tmp_path, "gradts_selection_RTE.json", fixture_data_dir,
                           primary="RTE", candidates=POOL, store_dir=str(tmp_path / "store"))
    thres, trial, fg = (SelectionResult.from_json(summary[k]) for k in ("gradts_thres", "gradts_trial", "gradts_fg"))
    assert sorted(t for t, _ in thres.order) == sorted(POOL) and set(thres.selected) <= set(POOL)
    assert all(tau >= SMOKE.gradts.threshold for t, tau in thres.order if t in thres.selected)
    assert trial.run.tasks[0] == "RTE" and set(trial.run.tasks[1:]) == set(trial.selected) and trial.trials
    assert set(fg.selected) <= set(trial.selected) and set(fg.kept_fraction) == set(fg.instance_taus) == set(trial.selected)
    for task, taus in fg.instance_taus.items():  # every train row's tau, and the share the threshold kept
        assert len(taus) == SMOKE.train_cap
        assert fg.kept_fraction[task] == pytest.approx(sum(t >= SMOKE.gradts.fg_threshold for t in taus) / len(taus))
    comparison = assert_comparison(summary["comparison"], ["Single-Task", "GradTS-thres", "GradTS-trial", "GradTS-fg"],
                                   [0], POOL)
    results = {r.method: r for r in comparison.results}
    assert set(results["GradTS-thres"].selected) == set(thres.selected)
    assert set(results["GradTS-trial"].selected) == set(trial.selected)
    assert results["GradTS-fg"].fractions == {t: fg.kept_fraction[t] for t in fg.selected}
    assert_figures(tmp_path, "05_RTE_trial.png")


@pytest.mark.slow
def test_06_compare(fixture_data_dir, tmp_path):
    summary = run_notebook("06_compare.ipynb", tmp_path, "compare_RTE.json", fixture_data_dir, primary="RTE",
                           candidates=POOL, seeds=[0, 1], store_dir=str(tmp_path / "store"))
    comparison = assert_comparison(summary, method_names(), [0, 1], POOL)
    for r in comparison.results:
        assert len(r.report_predictions) == len(r.report_labels) == SMOKE.report_cap
        # every other method has work of its own, unless it selected nothing (its run is the single-task one)
        assert r.method == "Single-Task" or not r.selected or r.wall_time_s > 0
    assert list(comparison_table(comparison.results).index) == method_names()
    assert {p.shared for p in comparison.shared[0]} == {"single-task run", "head-importance matrices"}
    assert all(p.wall_time_s > 0 for parts in comparison.shared.values() for p in parts)
    assert comparison.settings["profile"] == "smoke" and comparison.settings["candidates"] == POOL
    assert_figures(tmp_path, "06_RTE_gains.png", "06_RTE_selection.png")


@pytest.mark.slow
def test_06_compare_adds_new_seeds_to_the_summary(fixture_data_dir, tmp_path):
    methods = ["Single-Task", "NO-SEL"]
    common = dict(primary="RTE", candidates=POOL, methods=methods, store_dir=str(tmp_path / "store"))
    first = run_notebook("06_compare.ipynb", tmp_path, "compare_RTE.json", fixture_data_dir, seeds=[0], **common)
    summary = run_notebook("06_compare.ipynb", tmp_path, "compare_RTE.json", fixture_data_dir, seeds=[1], **common)
    comparison = assert_comparison(summary, methods, [0, 1], POOL)  # seed 0 kept, seed 1 added
    assert comparison.settings["seeds"] == [0, 1] and comparison.settings["methods"] == methods
    assert [r for r in summary["results"] if r["seed"] == 0] == first["results"]  # seed 0 as the first run wrote it
    assert stored(tmp_path, "run") == 2 * len(methods)  # each seed's two runs, none repeated


@pytest.mark.slow
def test_07_ablations(fixture_data_dir, tmp_path):
    summary = run_notebook("07_ablations.ipynb", tmp_path, "ablations_MRPC.json", fixture_data_dir,
                           store_dir=str(tmp_path / "store"))
    ablations = summary["ablations"]
    assert summary["primary"] == ablations["primary"] == "MRPC" and summary["seeds"] == [0]
    assert summary["candidates"] == ablations["settings"]["candidates"] == [t for t in GLUE if t != "MRPC"]
    rows, selected = {r["name"]: r for r in ablations["rows"]}, ablations["settings"]["selected"]
    assert list(rows) == ["Baseline", "+QQP", "+QQP+MNLI", "w/o Stage-1", "w/o Stage-2", "Final MTL"]
    assert rows["+QQP"]["tasks"] == [] and "QQP is not available" in rows["+QQP"]["note"]  # no QQP files
    assert rows["+QQP+MNLI"]["tasks"] == ["MRPC", "MNLI-proxy"]
    assert rows["Final MTL"]["tasks"] == rows["w/o Stage-2"]["tasks"] == ["MRPC", *selected]
    assert set(selected) <= set(summary["candidates"])
    assert len(rows["w/o Stage-1"]["tasks"]) == 1 + len(summary["candidates"])
    n_calls = SMOKE.gp.calls
    assert [r["runs"] for r in ablations["rows"]] == [1, 0, 1, n_calls, n_calls, n_calls]
    assert_figures(tmp_path, "07_MRPC_ablations.png")


@pytest.mark.slow
def test_08_mixed_objectives(fixture_data_dir, tmp_path):
    # a tagging primary: its bandit rewards, trial stops and report scores are entity/token metrics
    summary = run_notebook("08_mixed_objectives.ipynb", tmp_path, "mixed_mixed_POS.json", fixture_data_dir,
                           primary="POS", pool="mixed", store_dir=str(tmp_path / "store"))
    assert summary["candidates"] == [*GLUE, "STS-B", "NER", "Chunking"]  # the mixed pool the fixtures provide
    assert set(summary["ranking"]) == set(summary["candidates"]) and summary["pool"] == "mixed"
    assert set(summary["kendall_tau"]) == {"POS", *summary["candidates"]}
    comparison = assert_comparison(summary["comparison"], method_names(mixed_pools=True), [0], summary["candidates"])
    assert [r.method for r in comparison.results] == ["Single-Task", "AutoSeM-p1", "AutoSeM", "GradTS-thres",
                                                      "GradTS-trial", "GradTS-fg"]
    assert all(set(r.report) == {"token_accuracy"} for r in comparison.results)
    assert_figures(tmp_path, "08_mixed_POS_tau_matrix.png", "08_mixed_POS_selection.png")


@pytest.mark.slow
def test_09_control_tasks(fixture_data_dir, tmp_path):
    # every method, with one GLUE candidate besides the three controls: seconds, not minutes
    summary = run_notebook("09_control_tasks.ipynb", tmp_path, "controls_MRPC.json", fixture_data_dir,
                           primary="MRPC", candidates=["WNLI"], store_dir=str(tmp_path / "store"))
    controls = ["MRPC~clone", "MRPC~contra", "MRPC~shuffle"]
    assert [t["control"] for t in summary["truth"]] == controls and summary["seeds"] == [0]
    assert all(t["low"] <= t["gain"] <= t["high"] for t in summary["truth"])
    assert [(r["control"], r["seed"]) for r in summary["runs"]] == [(None, 0)] + [(c, 0) for c in controls]
    comparison = assert_comparison(summary["comparison"], method_names(), [0], ["WNLI", *controls])
    assert comparison.settings["candidates"] == ["WNLI", *controls]
    single = next(r for r in comparison.results if r.method == "Single-Task")
    assert single.report == summary["runs"][0]["report"]  # one run: the primary on the half the clone leaves
    assert summary["settings"]["controls"] == {"clone_fraction": 0.5, "seed": 0}
    assert_figures(tmp_path, "09_MRPC_controls.png")
    costs = ControlBenchmark.from_json(summary).cost_table().set_index("work")["wall time (min)"]
    truth_min = sum(r["part"]["wall_time_s"] for r in summary["runs"][1:]) / 60
    assert costs["ground truth: MRPC + each control at 1:1"] == pytest.approx(truth_min)
    # the whole: the methods once, plus those ground-truth runs no method also ran
    assert costs["all methods once, every part counted once"] <= costs.iloc[-1] <= \
        costs["all methods once, every part counted once"] + truth_min + 1e-9


@pytest.mark.slow
def test_reproduce_runs_each_primary_once_then_writes_the_tables(fixture_data_dir, tmp_path, capsys, monkeypatch):
    from aux_select import reproduce
    methods, settings = ["Single-Task", "NO-SEL"], ["bandit.gamma=0.5"]  # a setting notebook 06 must take
    args = ["--primaries", "RTE", "WNLI", "--methods", *methods, "--profile", "smoke", "--set", *settings,
            "--data-dir", str(fixture_data_dir), "--out-dir", str(tmp_path / "out"),
            "--figures-dir", str(tmp_path / "fig"), "--store-dir", str(tmp_path / "store")]
    reproduce.main(args)
    written = tmp_path / "out" / "compare_RTE.json"
    first = written.stat().st_mtime_ns
    reproduce.main(args)  # everything is there: nothing runs again
    assert written.stat().st_mtime_ns == first and "RTE: every method and seed already in" in capsys.readouterr().out
    summary = json.loads(written.read_text())
    assert summary["settings"]["profile"] == override("smoke", settings).label  # the settings reached the methods
    assert (tmp_path / "fig" / "06_RTE_gains.png").is_file()
    assert [r["method"] for r in summary["results"]] == methods
    table = (tmp_path / "out" / "summary" / "comparison.md").read_text()
    assert all(m in table for m in methods) and "RTE" in table and "WNLI" in table
    costs = (tmp_path / "out" / "summary" / "cost.csv").read_text()
    assert "shared: single-task run" in costs

    controls = [*args, "--controls"]  # RTE's control benchmark, shown in RESULTS.md beside the comparison
    reproduce.main(controls)
    bench = ControlBenchmark.from_json(json.loads((tmp_path / "out" / "controls_RTE.json").read_text()))
    assert [r.method for r in bench.comparison.results] == methods and bench.seeds == [0]
    assert "RTE~clone" in (tmp_path / "out" / "RESULTS.md").read_text()
    assert (tmp_path / "fig" / "09_RTE_controls.png").exists()
    reproduce.main(controls)
    assert "RTE: every method and seed already in" in capsys.readouterr().out

    # each primary's transfer row, here against MRPC alone with two selectors (the pool and all ten take minutes)
    from aux_select.reproduce import summaries
    monkeypatch.setattr(summaries, "selector_names", lambda: ["Random", "Size"])
    monkeypatch.setattr(summaries, "run_transfer", lambda primary, seeds, candidates, exp: run_transfer(
        primary, seeds, ["MRPC"], exp, selectors=["Random", "Size"]))
    transfer = [*args, "--transfer"]
    reproduce.main(transfer)
    row = TransferRow.from_json(json.loads((tmp_path / "out" / "transfer_WNLI.json").read_text()))
    assert row.candidates == ["MRPC"] and [r.selector for r in row.rankings] == ["Random", "Size"]
    results = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "## Measured transfer (notebook 10)" in results and "Popularity" in results
    assert (tmp_path / "fig" / "10_transfer.png").exists() and (tmp_path / "fig" / "10_selectors.png").exists()
    reproduce.main(transfer)
    assert "WNLI: every method and seed already in" in capsys.readouterr().out


@pytest.mark.slow
def test_00_budget(fixture_data_dir, tmp_path):
    summary = run_notebook("00_budget.ipynb", tmp_path, "budget.json", fixture_data_dir, primaries=["MRPC", "STS-B"],
                           lrs=[1e-3, 3e-3], max_steps=8, eval_every=4, max_budget=None,
                           store_dir=str(tmp_path / "store"))
    assert {(r["primary"], r["lr"], r["step"]) for r in summary["curves"]} == \
        {(p, lr, s) for p in ("MRPC", "STS-B") for lr in (1e-3, 3e-3) for s in (4, 8)}
    assert summary["choice"]["lr"] in (1e-3, 3e-3) and set(summary["choice"]["primary_steps"]) == {"MRPC", "STS-B"}
    assert_figures(tmp_path, "00_budget.png")
    assert stored(tmp_path, "run") == 4  # one run per primary and rate gives its whole curve


@pytest.mark.slow
def test_10_transfer(fixture_data_dir, tmp_path):
    # two primaries, two candidates each, two seeds: the verdicts and the popularity prior have what they need;
    # three selectors, one reading stored work (every selector runs in tests/test_selectors.py)
    selectors = ["Random", "TextEmb", "AutoSeM-utility"]
    run_notebook("10_transfer.ipynb", tmp_path, "transfer_RTE.json", fixture_data_dir, primaries=["RTE", "MRPC"],
                 primary="MRPC", seeds=[0, 1], candidates=["WNLI", "MRPC", "RTE"], selectors=selectors,
                 store_dir=str(tmp_path / "store"))
    rows = [TransferRow.from_json(json.loads((tmp_path / "out" / f"transfer_{p}.json").read_text())) for p in ("RTE", "MRPC")]
    assert [r.candidates for r in rows] == [["WNLI", "MRPC"], ["WNLI", "RTE"]]
    assert all(r.seeds == [0, 1] and list(r.gains_by_seed().index) == [0, 1] for r in rows)
    assert {(r.selector, r.seed) for r in rows[1].rankings} == {(s, seed) for s in selectors for seed in (0, 1)}
    assert all(g["seeds"] == 2 and g["verdict"] in ("beats", "loses", "no evidence") for r in rows for g in r.gains)
    assert_figures(tmp_path, "10_transfer.png", "10_selectors.png")
