import math

import numpy as np
import pytest

from aux_select.methods.estimators import fit_evidence, leep, log_evidence, logme, nce


def _linear(seed: int, n: int, d: int, weight: float, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, d) and y = weight * F w + noise * eps."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, d))
    return f, weight * f @ rng.normal(size=d) + noise * rng.normal(size=n)


# (seed, n, d, weight): n > d, and d > n with a maximum inside (alpha, beta) rather than at beta = inf
CASES = [(0, 40, 5, 1.0), (0, 12, 20, 0.3)]


@pytest.mark.parametrize("seed, n, d, weight", CASES)
def test_svd_evidence_equals_the_direct_gaussian_evidence(seed, n, d, weight):
    f, y = _linear(seed, n, d, weight)
    fit = fit_evidence(f, y)
    assert fit.log_evidence_per_sample == pytest.approx(log_evidence(f, y, fit.alpha, fit.beta), rel=1e-8)


@pytest.mark.parametrize("seed, n, d, weight", CASES)
def test_fit_is_a_maximum_of_the_direct_evidence(seed, n, d, weight):
    f, y = _linear(seed, n, d, weight)
    fit = fit_evidence(f, y)
    assert fit.iterations < 1000 and np.isfinite(fit.alpha) and fit.beta < 1e6  # an interior maximum
    best = log_evidence(f, y, fit.alpha, fit.beta)
    for a in (0.5, 0.8, 1.0, 1.25, 2.0):
        for b in (0.5, 0.8, 1.0, 1.25, 2.0):
            assert log_evidence(f, y, a * fit.alpha, b * fit.beta) <= best + 1e-12


def test_noise_free_fit_with_more_features_than_samples_settles():
    # y in F's column space (d > n): the evidence's supremum is at beta = inf, yet the fit stops
    f, y = _linear(1, 12, 20, 1.0, noise=0.0)
    fit = fit_evidence(f, y)
    assert fit.iterations < 1000 and fit.beta > 1e6
    assert fit.log_evidence_per_sample == pytest.approx(log_evidence(f, y, fit.alpha, fit.beta), rel=1e-8)


def test_logme_classification_is_the_mean_of_one_hot_fits():
    rng = np.random.default_rng(2)
    labels = rng.choice([-1, 3, 7], size=30)
    f = rng.normal(size=(30, 4))
    columns = [(labels == c).astype(float) for c in (-1, 3, 7)]
    expected = np.mean([fit_evidence(f, col).log_evidence_per_sample for col in columns])
    assert logme(f, labels) == pytest.approx(expected, rel=1e-12)


def test_logme_regression_is_the_mean_over_columns():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(25, 3))
    y = f @ rng.normal(size=(3, 2)) + rng.normal(size=(25, 2))
    expected = np.mean([fit_evidence(f, y[:, j]).log_evidence_per_sample for j in range(2)])
    assert logme(f, y, regression=True) == pytest.approx(expected, rel=1e-12)
    assert logme(f, y[:, 0], regression=True) == pytest.approx(fit_evidence(f, y[:, 0]).log_evidence_per_sample)


def test_logme_ranks_features_that_carry_the_label_above_noise():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=120)
    informative = rng.normal(size=(3, 8))[labels] + rng.normal(size=(120, 8))  # class mean + noise
    noise = rng.normal(size=(120, 8))
    assert logme(informative, labels) > logme(noise, labels)


def test_nce_by_hand():
    # source (Z) and target (Y) labels of 6 examples; joint counts / 6:
    #            y=5   y=9
    #   z=7      2/6   1/6
    #   z=-2     0     3/6
    source = [7, 7, 7, -2, -2, -2]
    target = [5, 5, 9, 9, 9, 9]
    expected = 2 / 6 * math.log(2 / 3) + 1 / 6 * math.log(1 / 3) + 3 / 6 * math.log(1)
    assert nce(source, target) == pytest.approx(expected, rel=1e-12)


def test_nce_is_zero_when_the_target_is_a_function_of_the_source():
    source = [0, 1, 2, 2, 1, 0, 3]
    target = [1, 0, 1, 1, 0, 1, 0]  # 0 -> 1, 1 -> 0, 2 -> 1, 3 -> 0
    assert nce(source, target) == pytest.approx(0.0, abs=1e-15)


def test_leep_by_hand():
    theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.5, 0.5]])
    target = [4, 4, 4, 9, 9, 4]
    # soft joint P(y, z), times 6:
    #            z=0                     z=1
    #   y=4      .9+.8+.6+.5 = 2.8       .1+.2+.4+.5 = 1.2
    #   y=9      .3+.2       = 0.5       .7+.8       = 1.5
    # P(z) * 6 = 3.3, 2.7, so P(4|0) = 28/33, P(9|0) = 5/33, P(4|1) = 12/27, P(9|1) = 15/27
    eep = [0.9 * 28 / 33 + 0.1 * 12 / 27,
           0.8 * 28 / 33 + 0.2 * 12 / 27,
           0.6 * 28 / 33 + 0.4 * 12 / 27,
           0.3 * 5 / 33 + 0.7 * 15 / 27,
           0.2 * 5 / 33 + 0.8 * 15 / 27,
           0.5 * 28 / 33 + 0.5 * 12 / 27]
    expected = sum(math.log(p) for p in eep) / 6
    assert leep(theta, target) == pytest.approx(expected, rel=1e-12)


def test_leep_with_one_hot_predictions_equals_nce():
    # one-hot theta makes the soft joint the empirical joint, so LEEP = mean log P(y_i | z_i) = -H(Y | Z)
    rng = np.random.default_rng(5)
    source = rng.integers(0, 4, size=50)
    target = rng.integers(0, 3, size=50)
    assert leep(np.eye(4)[source], target) == pytest.approx(nce(source, target), rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: logme(np.ones(5), [0, 1, 0, 1, 0]), r"features\[:, None\]"),
    (lambda: logme([[1.0], [np.nan], [2.0]], [0, 1, 0]), "drop or impute"),
    (lambda: logme([[1.0], [2.0], [3.0]], [4, 4, 4]), "at least 2 classes"),
    (lambda: logme([[1.0], [2.0], [3.0]], [0.0, 1.0, 0.0]), r"astype\(int\)"),
    (lambda: logme([[1.0], [2.0], [3.0]], [0, 1]), "one label per sample"),
    (lambda: logme([[1.0], [2.0]], [0.5, np.nan], regression=True), "drop or impute"),
    (lambda: fit_evidence([[1.0], [2.0]], [0.0, 0.0]), "some signal"),
    (lambda: nce([0, 1, 1], [0, 1]), "one label per sample"),
    (lambda: leep([[0.5, 0.6], [1.0, 0.0]], [0, 1]), "softmax"),
    (lambda: leep([[2.0, -1.0], [1.0, 0.0]], [0, 1]), "not logits"),
])
def test_input_errors_name_the_fix(call, match):
    with pytest.raises(ValueError, match=match):
        call()
