"""Cheap transferability estimators: score how well a source model suits a target task without
fine-tuning it. Higher is better for all three.

    logme(features, labels)            # LogME: You et al., ICML 2021
    nce(source_labels, target_labels)  # NCE: Tran, Nguyen & Hassner, ICCV 2019
    leep(source_probs, target_labels)  # LEEP: Nguyen, Hassner, Seeger & Archambeau, ICML 2020

LogME is the log marginal evidence, per sample, of a Bayesian linear model from the source
features to the target, maximised over the prior precision alpha and the noise precision beta: how
well the features explain the labels, with the model's complexity paid for. NCE is the negative
conditional entropy -H(Y | Z) of the target labels Y given the source model's predicted labels Z: how
much of Y the source's hard predictions pin down (0 when Y is a function of Z). LEEP is the mean log
likelihood of the target labels under the "expected empirical predictor", which maps the source
model's predicted distribution to a target distribution through the empirical P(y | z).

Only numpy and scipy: no torch, nothing from aux_select.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import multivariate_normal


@dataclass(frozen=True)
class EvidenceFit:
    """LogME's fit of one target column: the maximised log evidence per sample and where it is."""
    log_evidence_per_sample: float
    alpha: float  # prior precision of the weights
    beta: float  # noise precision
    iterations: int  # fixed-point updates run (max_iter when it did not settle)


def _check_features(features) -> np.ndarray:
    f = np.asarray(features, dtype=float)
    if f.ndim != 2:
        raise ValueError(f"features must be 2-D (n_samples, n_features), got shape {f.shape}; "
                         "reshape a single feature with features[:, None]")
    if not np.all(np.isfinite(f)):
        raise ValueError("features contain NaN or inf; drop or impute those rows first")
    if not np.any(f):
        raise ValueError("features are all zero, so they carry no information; pass the real features")
    return f


def _check_target(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{name} has shape {y.shape} but features have {n} rows; pass one target per sample")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or inf; drop or impute those rows first")
    return y


def _codes(labels, name: str, n: int | None = None) -> np.ndarray:
    """Integer labels of any values mapped to 0..C-1."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (n is not None and labels.shape[0] != n):
        raise ValueError(f"{name} must be 1-D with one label per sample, got shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"{name} must be integer class ids, got dtype {labels.dtype}; "
                         "cast with labels.astype(int), or use logme(..., regression=True) for a continuous target")
    return np.unique(labels, return_inverse=True)[1]


def log_evidence(features, y, alpha: float, beta: float) -> float:
    """Log evidence per sample of y under N(0, I/beta + F F^T/alpha), computed directly from the
    n x n covariance: O(n^3), the slow reference that fit_evidence's SVD path is checked against."""
    f = _check_features(features)
    y = _check_target(y, f.shape[0], "y")
    cov = np.eye(f.shape[0]) / beta + f @ f.T / alpha  # (n, n)
    return float(multivariate_normal.logpdf(y, mean=np.zeros(f.shape[0]), cov=cov)) / f.shape[0]


def _svd_log_evidence(s2, z2, outside, n, alpha, beta) -> tuple[float, float, float, float]:
    """Log evidence per sample from F's squared singular values s2 and y's squared projections z2
    on the left singular vectors, with gamma, |m|^2 and |Fm - y|^2 for the fixed-point update."""
    shrink = alpha + beta * s2
    gamma = float(np.sum(beta * s2 / shrink))  # effective number of well-determined weights
    m2 = float(np.sum(beta**2 * s2 * z2 / shrink**2))  # |m|^2, m the posterior mean of w
    res2 = float(np.sum(alpha**2 * z2 / shrink**2)) + outside  # |F m - y|^2
    # d/2 log(alpha) - 1/2 log|alpha I + beta F^T F| folds into a log1p: the d - r zero
    # eigenvalues cancel, and it stays finite when alpha grows large (features that explain nothing)
    evidence = (n * np.log(beta) - n * np.log(2 * np.pi) - beta * res2 - alpha * m2
                - np.sum(np.log1p(beta * s2 / alpha))) / (2 * n)
    return float(evidence), gamma, m2, res2


def fit_evidence(features, y, *, max_iter: int = 1000, tol: float = 1e-12) -> EvidenceFit:
    """Maximise the log evidence of one target column y (n,) over alpha and beta with LogME's
    fixed-point updates, alpha = gamma / |m|^2 and beta = (n - gamma) / |F m - y|^2, from
    alpha = beta = 1 until the log evidence per sample moves by at most `tol`. One SVD of F up front
    makes each update O(min(n, d))."""
    f = _check_features(features)
    y = _check_target(y, f.shape[0], "y")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}; fit one column at a time")
    if not np.any(y):
        raise ValueError("y is all zero, so the evidence has no maximum; pass a target with some signal")
    n = f.shape[0]
    u, s, _ = np.linalg.svd(f, full_matrices=False)  # u: (n, r), r = min(n, d)
    z = u.T @ y  # (r,)
    # |y|^2 - |z|^2 would cancel catastrophically when y is (nearly) in F's column space, and beta
    # multiplies this, so it is taken from the residual itself
    outside = float(np.sum((y - u @ z) ** 2))  # |part of y outside F's column space|^2
    alpha, beta, previous = 1.0, 1.0, -np.inf
    for it in range(max_iter + 1):
        evidence, gamma, m2, res2 = _svd_log_evidence(s**2, z**2, outside, n, alpha, beta)
        # a test on the evidence, not on alpha and beta, also stops when the supremum lies on the
        # boundary: beta -> inf for a noise-free fit (d >= n), alpha -> inf for useless features
        if abs(evidence - previous) <= tol or it == max_iter or m2 == 0 or res2 == 0:
            return EvidenceFit(evidence, alpha, beta, it)
        previous = evidence
        alpha, beta = gamma / m2, (n - gamma) / res2


def logme(features, labels, *, regression: bool = False) -> float:
    """LogME of features (n, d) for labels: for classification the mean over classes of the
    evidence of that class's one-hot column; for regression, targets (n,) or (n, k), the mean over
    columns."""
    f = _check_features(features)
    if regression:
        y = _check_target(labels, f.shape[0], "labels")
        if y.ndim not in (1, 2):
            raise ValueError(f"regression labels must be (n,) or (n, k), got shape {y.shape}")
        columns = y.reshape(f.shape[0], -1).T  # (n,) or (n, k) -> (k, n)
    else:
        codes = _codes(labels, "labels", f.shape[0])
        if codes.max() == 0:
            raise ValueError("labels hold a single class; LogME needs at least 2 classes "
                             "(or pass regression=True for a continuous target)")
        columns = np.eye(codes.max() + 1)[codes].T  # (n,) -> one-hot (n, C) -> (C, n)
    return float(np.mean([fit_evidence(f, col).log_evidence_per_sample for col in columns]))


def nce(source_labels, target_labels) -> float:
    """NCE = -H(Y | Z) = sum_{y,z} P(y, z) log P(y | z), from the empirical joint of the source
    model's predicted labels Z and the target labels Y."""
    z = _codes(source_labels, "source_labels")
    y = _codes(target_labels, "target_labels", z.shape[0])
    joint = np.zeros((z.max() + 1, y.max() + 1))  # (Z, C)
    np.add.at(joint, (z, y), 1.0 / z.shape[0])
    cond = joint / joint.sum(axis=1, keepdims=True)  # P(y | z); every z occurs, so no zero rows
    seen = joint > 0  # 0 log 0 = 0
    return float(np.sum(joint[seen] * np.log(cond[seen])))


def leep(source_probs, target_labels) -> float:
    """LEEP = (1/n) sum_i log sum_z P(y_i | z) theta(x_i)_z, with theta (n, Z) the source model's
    predicted distributions and P(y | z) from the soft joint P(y, z) = (1/n) sum_i theta(x_i)_z 1[y_i = y]."""
    theta = np.asarray(source_probs, dtype=float)
    if theta.ndim != 2:
        raise ValueError(f"source_probs must be 2-D (n_samples, n_source_labels), got shape {theta.shape}")
    if not np.all(np.isfinite(theta)) or np.any(theta < 0):
        raise ValueError("source_probs must be finite and non-negative; pass probabilities, not logits")
    if not np.allclose(theta.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("source_probs rows must sum to 1; apply a softmax or divide by the row sums")
    y = _codes(target_labels, "target_labels", theta.shape[0])
    n = theta.shape[0]
    joint = np.eye(y.max() + 1)[y].T @ theta / n  # one-hot (C, n) @ (n, Z) -> P(y, z), (C, Z)
    p_z = joint.sum(axis=0, keepdims=True)
    # a source label no sample puts mass on never enters the sum below, so its column can be 0
    cond = np.divide(joint, p_z, out=np.zeros_like(joint), where=p_z > 0)  # P(y | z)
    eep = theta @ cond.T  # (n, Z) @ (Z, C) -> (n, C)
    return float(np.mean(np.log(eep[np.arange(n), y])))
