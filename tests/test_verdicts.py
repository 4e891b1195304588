"""Verdicts across seeds on synthetic runs whose answer is known: better at every seed beats,
one lucky seed is no evidence, identical runs are a tie, worse at every seed loses, one seed is
never evidence; Holm's correction against its definition."""
import numpy as np
import pytest

from aux_select.analysis.verdicts import (BEATS, LOSES, NO_EVIDENCE, aso_epsilon, detectable_gain, holm,
                                          power_table, seed_row_bootstrap, seed_verdicts, seeds_for_gain)
from aux_select.methods.registry import MethodResult

ROWS = 200
LABELS = np.random.default_rng(0).integers(0, 2, ROWS).tolist()


def predictions(correct: float, seed: int) -> list[int]:
    """A run that gets a `correct` share of the rows right (which rows: drawn from its seed)."""
    rng = np.random.default_rng(1000 + seed)
    right = rng.random(ROWS) < correct
    return [y if ok else 1 - y for y, ok in zip(LABELS, right)]


def run(method: str, seed: int, correct: float) -> MethodResult:
    preds = predictions(correct, seed)
    accuracy = float(np.mean(np.array(preds) == np.array(LABELS)))
    return MethodResult(method, "MRPC", seed, [], accuracy, {"accuracy": accuracy, "f1": accuracy}, preds, LABELS, [])


def table(method_correct: list[float], baseline_correct: list[float], method: str = "GradTS-trial"):
    results = [run("Single-Task", s, c) for s, c in enumerate(baseline_correct)]
    results += [run(method, s, c) for s, c in enumerate(method_correct)]
    return seed_verdicts(results, n_resamples=400).set_index("method").loc[method]


def test_better_at_every_seed_beats():
    row = table([0.85, 0.86, 0.84, 0.85, 0.87], [0.70, 0.72, 0.69, 0.71, 0.70])
    assert row["verdict"] == BEATS and row["low"] > 0 and row["ASO ε_min"] < 0.5 and row["seeds"] == 5
    assert 0 < row["detectable gain"] < row["gain"]


def test_worse_at_every_seed_loses():
    row = table([0.60, 0.62, 0.61, 0.60, 0.59], [0.75, 0.76, 0.74, 0.75, 0.77])
    assert row["verdict"] == LOSES and row["high"] < 0


def test_one_lucky_seed_is_no_evidence():
    # the same run quality at four seeds; the fifth gains 20 points by luck
    row = table([0.95, 0.70, 0.71, 0.69, 0.70], [0.70, 0.70, 0.71, 0.69, 0.70])
    assert row["verdict"] == NO_EVIDENCE and row["gain"] > 0 and row["low"] <= 0


def test_identical_runs_are_a_tie_and_no_evidence():
    baseline = [run("Single-Task", s, 0.75) for s in range(3)]
    same = [MethodResult("GradTS-trial", r.primary, r.seed, [], r.select_score, r.report, r.report_predictions,
                         r.report_labels, []) for r in baseline]
    row = seed_verdicts(baseline + same, n_resamples=200).set_index("method").loc["GradTS-trial"]
    assert row["verdict"] == NO_EVIDENCE and row["gain"] == row["low"] == row["high"] == 0 and row["p"] == 1


def test_one_seed_is_never_evidence():
    row = table([0.95], [0.60])
    assert row["verdict"] == NO_EVIDENCE and np.isnan(row["ASO ε_min"]) and np.isnan(row["detectable gain"])


def test_the_interval_holds_seed_variance_the_rows_alone_do_not():
    method = [predictions(c, s) for s, c in enumerate([0.90, 0.70, 0.80])]
    baseline = [predictions(0.75, s + 10) for s in range(3)]
    both = seed_row_bootstrap(LABELS, method, baseline, "accuracy", 400)
    fixed = seed_row_bootstrap(LABELS, method[:1] * 3, baseline[:1] * 3, "accuracy", 400)  # one run three times
    assert both.high - both.low > fixed.high - fixed.low


def test_holm_is_the_step_down_correction():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == pytest.approx([0.5]) and list(holm([0.2, 0.9, 0.9])) == pytest.approx([0.6, 1.0, 1.0])


def test_aso_says_which_side_dominates():
    assert aso_epsilon([0.9, 0.91, 0.92], [0.6, 0.61, 0.62]) < 0.2 < 0.8 < aso_epsilon([0.6, 0.61, 0.62],
                                                                                     [0.9, 0.91, 0.92])
    assert np.isnan(aso_epsilon([0.9], [0.6]))


def scored(method: str, seed: int, accuracy: float) -> MethodResult:
    return MethodResult(method, "MRPC", seed, [], accuracy, {"accuracy": accuracy, "f1": accuracy}, None, None, [])


def test_the_power_note_is_the_seed_spread_of_scores_and_paired_gains():
    base = [0.70, 0.74, 0.72, 0.76]
    gain = [0.01, 0.03, 0.01, 0.03]  # a paired spread (sd 1.155 points) far below the scores' (2.582)
    results = [scored("Single-Task", s, b) for s, b in enumerate(base)]
    results += [scored("AutoSeM", s, b + g) for s, (b, g) in enumerate(zip(base, gain))]
    results += [scored("NO-SEL", 0, 0.8)]  # one seed: no spread
    note = power_table(results).set_index("method")
    assert note.loc["Single-Task", "seed sd"] == pytest.approx(100 * np.std(base, ddof=1))
    assert note.loc["AutoSeM", "seed sd"] == pytest.approx(100 * np.std(gain, ddof=1))
    # (z_.975 + z_.8) = 2.802; (2.802 * 1.155 / 1)^2 = 10.47: 11 seeds for a 1-point gain
    assert note.loc["AutoSeM", "seeds for the gain"] == 11 == seeds_for_gain(100 * np.std(gain, ddof=1), 1.0)
    assert np.isnan(note.loc["NO-SEL", "seed sd"]) and np.isnan(note.loc["NO-SEL", "seeds for the gain"])
    # at the seeds it asks for, a gain of that size is what the test can detect
    n = seeds_for_gain(2.0, 0.5)
    assert detectable_gain(2.0 / np.sqrt(n)) <= 0.5 < detectable_gain(2.0 / np.sqrt(n - 1))
