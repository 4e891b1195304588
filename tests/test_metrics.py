"""Each metric against a value worked out by hand from its definition; the vectorised
confusion-matrix forms (used by the bootstrap) against scikit-learn."""

import math
import warnings

import numpy as np
import pytest

from aux_select.train.metrics import WORST_SCORE, CONFUSION_METRICS, METRICS, compute_metrics, confusion_metric

# references / predictions with confusion matrix (positive class 1):
#   tp = 2 (idx 0, 1), fn = 1 (idx 2), fp = 1 (idx 3), tn = 2 (idx 4, 5)
REFS = [1, 1, 1, 0, 0, 0]
PREDS = [1, 1, 0, 1, 0, 0]
TP, FN, FP, TN = 2, 1, 1, 2


def _f1(tp, fp, fn):
    p, r = tp / (tp + fp), tp / (tp + fn)
    return 2 * p * r / (p + r)


def test_accuracy():
    assert compute_metrics(["accuracy"], [1, 0, 1, 1], [1, 0, 0, 1]) == {"accuracy": 3 / 4}


def test_f1_binary_positive_class():
    out = compute_metrics(["f1"], PREDS, REFS)["f1"]
    assert out == pytest.approx(_f1(TP, FP, FN))  # P = R = 2/3


def test_f1_macro_and_weighted():
    f1_pos = _f1(TP, FP, FN)
    f1_neg = _f1(TN, FN, FP)  # class 0 as positive: its fp are our fn and vice versa
    out = compute_metrics(["f1_macro", "f1_weighted"], PREDS, REFS)
    assert out["f1_macro"] == pytest.approx((f1_pos + f1_neg) / 2)
    assert out["f1_weighted"] == pytest.approx((3 * f1_pos + 3 * f1_neg) / 6)


def test_f1_weighted_uneven_support():
    # refs 0,0,0,1 ; preds 0,0,1,1 -> class0: P=1, R=2/3 ; class1: P=1/2, R=1
    f0, f1 = 2 * 1 * (2 / 3) / (1 + 2 / 3), 2 * 0.5 * 1 / 1.5
    out = compute_metrics(["f1_weighted"], [0, 0, 1, 1], [0, 0, 0, 1])
    assert out["f1_weighted"] == pytest.approx((3 * f0 + 1 * f1) / 4)


def test_matthews():
    expected = (TP * TN - FP * FN) / math.sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN))
    assert compute_metrics(["matthews"], PREDS, REFS)["matthews"] == pytest.approx(expected)


def test_pearson():
    x = np.array([1.0, 2.0, 3.0, 5.0])
    y = np.array([2.0, 1.0, 4.0, 4.5])
    dx, dy = x - x.mean(), y - y.mean()
    expected = (dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy))
    assert compute_metrics(["pearson"], x, y)["pearson"] == pytest.approx(expected)


def test_spearman_is_pearson_of_ranks():
    x = [0.1, 0.4, 0.2, 0.9]  # ranks 1 3 2 4
    y = [1.0, 2.0, 3.0, 4.0]  # ranks 1 2 3 4
    d2 = sum(d * d for d in [0, 1, -1, 0])
    expected = 1 - 6 * d2 / (4 * (4**2 - 1))  # no ties: 1 - 6 sum d^2 / n(n^2-1) = 0.8
    assert compute_metrics(["spearman"], x, y)["spearman"] == pytest.approx(expected)


def test_perfect_negative_correlation():
    out = compute_metrics(["pearson", "spearman"], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    assert out == pytest.approx({"pearson": -1.0, "spearman": -1.0})


@pytest.mark.parametrize("name", ["pearson", "spearman"])
def test_undefined_correlation_is_the_worst_value_and_quiet(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConstantInputWarning may escape
        assert compute_metrics([name], [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])[name] == WORST_SCORE[name] == -1.0
        assert compute_metrics([name], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0])[name] == -1.0
        # a collapsed model never beats a (weakly) negatively correlated one in a search
        assert compute_metrics([name], [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])[name] < \
            compute_metrics([name], [3.0, 1.0, 2.0], [1.0, 2.0, 3.0])[name] < 0


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match="accuracy"):
        compute_metrics(["accuracy", "bleu"], [1], [1])


def test_length_mismatch():
    with pytest.raises(ValueError, match="mismatch"):
        compute_metrics(["accuracy"], [1, 0, 1], [1, 0])


def test_empty():
    with pytest.raises(ValueError, match="empty"):
        compute_metrics(["accuracy"], [], [])


def test_returns_plain_floats_for_every_metric():
    preds = np.array([1, 0, 1, 1, 0])
    refs = np.array([1, 0, 0, 1, 1])
    out = compute_metrics(list(METRICS), preds, refs)
    assert set(out) == set(METRICS)
    assert all(type(v) is float for v in out.values())


def test_every_metric_has_a_worst_score():
    from aux_select.train.metrics import SEQUENCE_METRICS, WORST_SCORE
    assert set(WORST_SCORE) == set(METRICS) | set(SEQUENCE_METRICS)


# f1 is the binary positive-class F1, so it has no three-class case
@pytest.mark.parametrize("name, classes", [(n, k) for n in CONFUSION_METRICS for k in (2, 3) if (n, k) != ("f1", 3)])
def test_confusion_metric_is_scikit_learn_with_counts_as_weights(name, classes):
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, classes, 60), rng.integers(0, classes, 60)
    counts = rng.integers(0, 4, (5, 60))  # five resamples, as row counts
    confusion = np.zeros((5, classes, classes))
    for r in range(5):
        np.add.at(confusion[r], (labels, preds), counts[r])
    expected = [METRICS[name](np.repeat(preds, c), np.repeat(labels, c)) for c in counts]
    np.testing.assert_allclose(confusion_metric(name, confusion), expected, atol=1e-12)


def test_confusion_metric_degenerate_cases_are_zero_as_in_scikit_learn():
    never_positive = np.array([[5.0, 0.0], [3.0, 0.0]])  # no true positive, nothing predicted positive
    assert confusion_metric("matthews", never_positive) == 0.0 == METRICS["matthews"](np.zeros(8), np.r_[np.zeros(5), np.ones(3)])
    assert confusion_metric("f1", np.array([[4.0, 0.0], [0.0, 0.0]])) == 0.0
