"""Evaluation metrics for GLUE-style tasks, by name.

Every metric is a thin wrapper over scikit-learn or scipy; this module only
fixes the conventions (argument order, return type, degenerate inputs).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
from scipy.stats import ConstantInputWarning, pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def _correlation(fn: Callable, predictions: np.ndarray, references: np.ndarray) -> float:
    """Correlation coefficient from `fn`, or 0.0 when it is undefined (a constant input).

    0.0 rather than NaN: the selection code takes max() and compares scores with >=,
    and NaN silently breaks both.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        r = float(fn(predictions, references)[0])
    return 0.0 if np.isnan(r) else r


# zero_division=0.0: a run that never predicts the positive class scores 0, quietly.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda p, r: accuracy_score(r, p),
    "f1": lambda p, r: f1_score(r, p, pos_label=1, average="binary", zero_division=0.0),
    "f1_macro": lambda p, r: f1_score(r, p, average="macro", zero_division=0.0),
    "f1_weighted": lambda p, r: f1_score(r, p, average="weighted", zero_division=0.0),
    "matthews": lambda p, r: matthews_corrcoef(r, p),
    "pearson": partial(_correlation, pearsonr),
    "spearman": partial(_correlation, spearmanr),
}
"""Metric name -> fn(predictions, references). Note sklearn's own order is (y_true, y_pred)."""


def compute_metrics(names: Sequence[str], predictions, references) -> dict[str, float]:
    """Compute each named metric of `predictions` against `references`, as plain floats.

    Inputs may be lists or numpy arrays (ints for classification, floats for regression).
    Raises ValueError for an unknown name, empty inputs or mismatched lengths.
    Pearson/Spearman of a constant vector are undefined and returned as 0.0, not NaN.
    """
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    predictions, references = np.asarray(predictions), np.asarray(references)
    if predictions.size == 0 or references.size == 0:
        raise ValueError("cannot compute metrics of empty predictions/references")
    if len(predictions) != len(references):
        raise ValueError(
            f"length mismatch: {len(predictions)} predictions vs {len(references)} references"
        )
    return {name: float(METRICS[name](predictions, references)) for name in names}
