"""Method comparison: aggregation, the paired bootstrap, costs and the selection matrix, on
fake stored results (the end-to-end path runs in the smoke notebook test)."""
import math

import numpy as np
import pytest

from aux_select.methods import registry
from aux_select.runtime.cost import Part, peak
from aux_select.methods.run import Comparison, run_method, run_methods, save_comparison
from aux_select.analysis.statistics import paired_bootstrap
from aux_select.analysis.verdicts import seed_verdicts
from aux_select.analysis.tables import comparison_table, cost_table, selection_matrix
from aux_select.methods.registry import (HEAD_MATRICES, SINGLE_TASK_RUN, MethodResult, method_result, register_method, run_part)
from fakes import fake_experiment

LABELS = [0, 1] * 50


def fake(method, primary="RTE", seed=0, correct=50, selected=(), parts=(), shared=(), metrics=("accuracy",)):
    """A result whose first `correct` of 100 report predictions are right."""
    preds = [y if i < correct else 1 - y for i, y in enumerate(LABELS)]
    report = {m: correct / 100 for m in metrics}
    return MethodResult(method, primary, seed, list(selected), select_score=0.5, report=report,
                        report_predictions=preds, report_labels=LABELS, parts=list(parts), shared=list(shared))


def test_table_is_mean_and_sample_std_over_seeds_per_primary_and_metric():
    results = [fake("Single-Task", seed=0, correct=50), fake("Single-Task", seed=1, correct=60),
               fake("GradTS-trial", seed=0, correct=70), fake("GradTS-trial", seed=1, correct=70),
               fake("Single-Task", "MRPC", correct=80, metrics=("accuracy", "f1"))]
    table = comparison_table(results)
    assert list(table.index) == ["Single-Task", "GradTS-trial"]  # the papers' method order
    assert table.loc["Single-Task", ("RTE", "accuracy")] == "55.0 ± 7.1"  # std of 50, 60 with ddof=1
    assert table.loc["GradTS-trial", ("RTE", "accuracy")] == "70.0 ± 0.0"
    assert table.loc["Single-Task", ("MRPC", "f1")] == "80.0"  # one seed: no ±
    assert table.loc["GradTS-trial", ("MRPC", "f1")] == "—"


def test_paired_bootstrap_by_hand():
    labels = np.array(LABELS)
    same = labels.copy()
    gain, low, high = paired_bootstrap(labels, same, same, "accuracy", n_resamples=200)
    assert gain == low == high == 0.0  # identical predictions: every resample gains nothing
    better = labels.copy()
    worse = np.where(np.arange(100) < 30, labels, 1 - labels)  # right on 30 rows, the method on all
    gain, low, high = paired_bootstrap(labels, better, worse, "accuracy", n_resamples=500)
    assert gain == pytest.approx(0.7) and 0.55 < low < 0.7 < high < 0.85
    # seeds are averaged inside each resample: two seeds at 1.0 and 0.3 against 0.3
    gain, _, _ = paired_bootstrap(labels, [better, worse], [worse, worse], "accuracy", n_resamples=10)
    assert gain == pytest.approx(0.35)


def test_verdicts_pair_seeds_and_leave_unpaired_runs_out():
    results = [fake("Single-Task", seed=s, correct=50) for s in (0, 1)]
    results += [fake("GradTS-trial", seed=s, correct=90) for s in (0, 1)]
    results += [fake("NO-SEL", seed=0, correct=52), fake("HEU-Len", seed=5, correct=99)]  # seed 5 has no pair
    gains = seed_verdicts(results, n_resamples=300).set_index("method")
    assert gains.loc["GradTS-trial", "gain"] == pytest.approx(40.0) and gains.loc["GradTS-trial", "seeds"] == 2
    assert gains.loc["GradTS-trial", "gain per seed"] == "+40.0 / +40.0" and gains.loc["GradTS-trial", "low"] > 0
    assert gains.loc["NO-SEL", "verdict"] == "no evidence"  # one seed
    assert "HEU-Len" not in gains.index

def test_cost_counts_shared_work_once_and_apart():
    run = {"what": "MTL run", "wall_time_s": 120.0, "peak_memory_mb": 2048.0, "cpu_time_s": 230.0, "steps": 600}
    results = [fake("Single-Task", shared=[SINGLE_TASK_RUN]),
               fake("GradTS-trial", parts=[run, run], shared=[SINGLE_TASK_RUN, HEAD_MATRICES])]
    shared = {0: [Part(SINGLE_TASK_RUN, 60.0, 1024.0, SINGLE_TASK_RUN, cpu_time_s=110.0, steps=300),
                  Part("matrices", 600.0, 3072.0, shared=HEAD_MATRICES, cpu_time_s=1150.0, steps=1050)]}
    comparison = Comparison("RTE", results, shared, {"methods": ["Single-Task", "GradTS-trial"]})
    table = cost_table([Comparison.from_json(comparison.to_json())]).set_index("work")
    assert table.loc["GradTS-trial", "wall time (min)"] == 4.0  # its own two runs, not the shared work
    assert table.loc["GradTS-trial", "peak memory (GB)"] == 2.0
    assert table.loc["Single-Task", "wall time (min)"] == 0.0
    assert table.loc["shared: matrices", "wall time (min)"] == 10.0
    assert "head-importance" in table.loc["GradTS-trial", "uses shared"]
    # every method once: GradTS-trial's run (the same part twice), single-task, the matrices
    assert table.loc["all methods once, every part counted once", "wall time (min)"] == 2.0 + 1.0 + 10.0
    assert table.loc["all methods once, every part counted once", "CPU (s)"] == 230.0 + 110.0 + 1150.0
    assert table.loc["all methods once, every part counted once", "steps"] == 600 + 300 + 1050
    assert table.loc["GradTS-trial", "CPU (s)"] == 460.0 and table.loc["GradTS-trial", "steps"] == 1200
    # shared work no method used is no part of the whole (matrices never computed have no time)
    alone = Comparison("RTE", results[:1], {0: [shared[0][0], Part("matrices", math.nan, 3072.0, shared=HEAD_MATRICES)]},
                       {"methods": ["Single-Task"]})
    assert cost_table([alone]).set_index("work").loc["all methods once, every part counted once",
                                                     "wall time (min)"] == 1.0
    # a merged summary: seed 1 holds Single-Task only, so every method once is seed 0's, and the
    # matrices (no method used them at seed 1) are seed 0's too
    merged = Comparison("RTE", [*results, fake("Single-Task", seed=1, shared=[SINGLE_TASK_RUN])],
                        {**shared, 1: [Part(SINGLE_TASK_RUN, 180.0, 1024.0, SINGLE_TASK_RUN),
                                       Part("matrices", 6000.0, 3072.0, shared=HEAD_MATRICES)]},
                        {"methods": ["Single-Task", "GradTS-trial"]})
    table = cost_table([merged]).set_index("work")
    assert table.loc["all methods once, every part counted once", "wall time (min)"] == 2.0 + 1.0 + 10.0
    assert table.loc["shared: matrices", "wall time (min)"] == 10.0
    assert table.loc["shared: single-task run", "wall time (min)"] == 2.0 and math.isnan(
        table.loc["shared: single-task run", "CPU (s)"])  # seed 1's run recorded no CPU seconds
    unknown = fake("GradTS-fg", parts=[run, {"what": "instances", "wall_time_s": math.nan, "peak_memory_mb": math.nan}])
    assert math.isnan(unknown.wall_time_s) and unknown.peak_memory_mb == 2048.0  # the peaks that were recorded


def test_selection_matrix_is_the_fraction_of_seeds():
    results = [fake("GradTS-trial", seed=0, selected=["MRPC", "QNLI-proxy"]),
               fake("GradTS-trial", seed=1, selected=["MRPC"]),
               fake("GradTS-trial", "CoLA", selected=["SST-2"]), fake("Single-Task")]
    matrix = selection_matrix(results)
    assert list(matrix) == ["GradTS-trial"]  # single-task selects nothing: no panel
    trial = matrix["GradTS-trial"]
    assert trial.loc["RTE", "MRPC"] == 1.0 and trial.loc["RTE", "QNLI-proxy"] == 0.5
    assert trial.loc["RTE", "SST-2"] == 0.0 and trial.loc["CoLA", "SST-2"] == 1.0
    results.append(fake("GradTS-trial", "MRPC", selected=["SST-2"]))
    assert np.isnan(selection_matrix(results)["GradTS-trial"].loc["MRPC", "MRPC"])  # never its own candidate


def test_unknown_method_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown method.*GradTS-thres"):
        run_methods("RTE", ["GradTS-magic"], candidates=["MRPC"])


def test_one_experiment_has_one_part_name_whichever_method_ran_it():
    run_name = registry.run_name
    assert run_name(["RTE", "WNLI", "MRPC"], [1, 1, 1]) == run_name(["RTE", "MRPC", "WNLI"], [1, 1, 1])  # NO-SEL, HEU
    assert run_name(["RTE", "WNLI", "MRPC"], [2, 1, 1]) == "MTL run RTE+MRPC+WNLI uniform, primary 2:1"  # within K
    assert run_name(["RTE"], [1]) == SINGLE_TASK_RUN  # a GP ratio that dropped every auxiliary
    assert run_name(["RTE", "MRPC"], [7, 1]) != run_name(["RTE", "MRPC"], [1, 7])
    assert run_name(["RTE", "MRPC"], [2, 2]) == run_name(["RTE", "MRPC"], [1, 1])  # canonical ratios


def test_peak_memory_ignores_nan_in_any_order():
    assert peak([math.nan, 2.0, 1.0]) == peak([1.0, 2.0, math.nan]) == 2.0  # max() gives nan for the first
    assert math.isnan(peak([math.nan])) and math.isnan(peak([]))


@pytest.fixture
def toy_method():
    """A method registered by a test: one decorated function (removed afterwards)."""
    @register_method("Toy-First")
    def toy(exp, primary, candidates):
        run = exp.run([primary, candidates[0]], [1, 1])
        return method_result("Toy-First", exp, run, [run_part(run)])
    yield "Toy-First"
    del registry.REGISTRY["Toy-First"]


def test_a_registered_method_appears_in_compare_and_reproduce(toy_method, monkeypatch):
    from aux_select import reproduce
    exp, calls = fake_experiment(monkeypatch, ["RTE", "MRPC", "WNLI"])
    assert run_method(toy_method, "RTE", ["WNLI", "MRPC"], exp).selected == ["WNLI"]
    with pytest.warns(UserWarning, match="without a store"):
        comparison = run_methods("RTE", ["Single-Task", toy_method], candidates=["WNLI", "MRPC"], exp=exp)
    assert list(comparison_table(comparison.results).index) == ["Single-Task", toy_method]
    assert toy_method in set(cost_table([comparison])["work"])
    args = reproduce.parser().parse_args(["--primaries", "RTE", "--methods", toy_method])
    assert args.methods == [toy_method]
    with pytest.raises(SystemExit):
        reproduce.parser().parse_args(["--primaries", "RTE", "--methods", "Toy-Missing"])


def test_a_summary_merges_seeds_instead_of_losing_them(tmp_path):
    path = tmp_path / "compare_RTE.json"
    first = Comparison("RTE", [fake("Single-Task", seed=s) for s in (0, 1, 2)], {s: [] for s in (0, 1, 2)},
                       {"methods": ["Single-Task"], "seeds": [0, 1, 2]})
    save_comparison(first, path)
    later = Comparison("RTE", [fake("Single-Task", seed=3, correct=70), fake("NO-SEL", seed=3)], {3: []},
                       {"methods": ["Single-Task", "NO-SEL"], "seeds": [3]})
    merged = save_comparison(later, path)
    assert sorted((r.method, r.seed) for r in merged.results) == [("NO-SEL", 3)] + [("Single-Task", s) for s in range(4)]
    assert merged.settings["seeds"] == [0, 1, 2, 3] and merged.settings["methods"] == ["Single-Task", "NO-SEL"]
    import json
    assert Comparison.from_json(json.loads(path.read_text())).to_json() == merged.to_json()
    again = save_comparison(Comparison("RTE", [fake("Single-Task", seed=0, correct=90)], {0: []}, {"seeds": [0]}), path)
    assert [r.report["accuracy"] for r in again.results if r.seed == 0] == [0.9]  # a rerun replaces its own seed


def test_a_summary_of_other_settings_is_never_merged_into(tmp_path):
    from aux_select import reproduce
    from aux_select.runtime.store import SCHEMA_VERSION
    path = tmp_path / "compare_RTE.json"
    new = {"profile": "cpu", "schema": SCHEMA_VERSION, "candidates": ["MRPC"], "methods": ["Single-Task"], "seeds": [0]}
    old = new | {"schema": SCHEMA_VERSION - 1}  # a summary of older code
    save_comparison(Comparison("RTE", [fake("Single-Task", seed=1)], {1: []}, old), path)
    assert not reproduce.is_done(tmp_path, "RTE", ["Single-Task"], [1], "cpu")  # it is no result of this code
    with pytest.raises(ValueError, match="move the old summary away"):
        save_comparison(Comparison("RTE", [fake("Single-Task", seed=0)], {0: []}, new), path)
    path.unlink()
    save_comparison(Comparison("RTE", [fake("Single-Task", seed=0)], {0: []}, new), path)
    assert reproduce.is_done(tmp_path, "RTE", ["Single-Task"], [0], "cpu")
    assert not reproduce.is_done(tmp_path, "RTE", ["Single-Task"], [0], "cpu+1a2b3c")  # an override
