"""Method comparison: aggregation, the paired bootstrap, costs and the selection matrix, on
fake stored results (the end-to-end path runs in the smoke notebook test)."""
import math

import numpy as np
import pytest

from aux_select.compare import (HEAD_MATRICES, SINGLE_TASK_RUN, Comparison, MethodResult, bootstrap_gains,
                                comparison_table, cost_table, paired_bootstrap, run_methods, selection_matrix)

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


def test_bootstrap_gains_pairs_seeds_and_flags_significance():
    results = [fake("Single-Task", seed=s, correct=50) for s in (0, 1)]
    results += [fake("GradTS-trial", seed=s, correct=90) for s in (0, 1)]
    results += [fake("NO-SEL", seed=0, correct=52), fake("HEU-Len", seed=5, correct=99)]  # seed 5 has no pair
    gains = bootstrap_gains(results, n_resamples=300).set_index("method")
    assert gains.loc["GradTS-trial", "gain"] == pytest.approx(40.0) and gains.loc["GradTS-trial", "seeds"] == 2
    assert gains.loc["GradTS-trial", "significant"] and not gains.loc["NO-SEL", "significant"]
    assert "HEU-Len" not in gains.index


def test_cost_counts_shared_work_once_and_apart():
    run = {"what": "MTL run", "wall_time_s": 120.0, "peak_memory_mb": 2048.0}
    results = [fake("Single-Task", shared=[SINGLE_TASK_RUN]),
               fake("GradTS-trial", parts=[run, run], shared=[SINGLE_TASK_RUN, HEAD_MATRICES])]
    shared = {0: [{"key": SINGLE_TASK_RUN, "what": SINGLE_TASK_RUN, "wall_time_s": 60.0, "peak_memory_mb": 1024.0},
                  {"key": HEAD_MATRICES, "what": "matrices", "wall_time_s": 600.0, "peak_memory_mb": 3072.0}]}
    comparison = Comparison("RTE", results, shared, {"methods": ["Single-Task", "GradTS-trial"]})
    table = cost_table([Comparison.from_dict(comparison.to_dict())]).set_index("work")
    assert table.loc["GradTS-trial", "wall time (min)"] == 4.0  # its own two runs, not the shared work
    assert table.loc["GradTS-trial", "peak memory (GB)"] == 2.0
    assert table.loc["Single-Task", "wall time (min)"] == 0.0
    assert table.loc["shared: matrices", "wall time (min)"] == 10.0
    assert "head-importance" in table.loc["GradTS-trial", "uses shared"]
    # every method once: GradTS-trial's run (the same part twice), single-task, the matrices
    assert table.loc["all methods once, every part counted once", "wall time (min)"] == 2.0 + 1.0 + 10.0
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


def test_unknown_method_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown method.*GradTS-thres"):
        run_methods("RTE", ["GradTS-magic"], candidates=["MRPC"])


def test_one_experiment_has_one_part_name_whichever_method_ran_it():
    from aux_select.compare import _run_what
    assert _run_what(["RTE", "WNLI", "MRPC"], [1, 1, 1]) == _run_what(["RTE", "MRPC", "WNLI"])  # NO-SEL, HEU
    assert _run_what(["RTE"], [1]) == SINGLE_TASK_RUN  # a GP ratio that dropped every auxiliary
    assert _run_what(["RTE", "MRPC"], [7, 1]) != _run_what(["RTE", "MRPC"], [1, 7])
