"""Evaluation metrics, by name.

Every metric is a thin wrapper over scikit-learn, scipy or seqeval; this module only
fixes the conventions (argument order, return type, degenerate inputs). Tagging metrics take
one sequence of tag ids per sentence and the tag names.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
from scipy.stats import ConstantInputWarning, pearsonr, spearmanr
from seqeval.metrics import f1_score as span_f1_score
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


def _correlation(fn: Callable, predictions: np.ndarray, references: np.ndarray) -> float:
    """Correlation coefficient from `fn`, or -1.0, the worst value, when it is undefined (a
    constant input: a collapsed regression model that predicts one value for every row).

    Not NaN, which silently breaks the max() and >= of the selection code, and not 0.0, which
    would rank a collapsed model above every negatively correlated one in the GP and the
    greedy searches.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        r = float(fn(predictions, references)[0])
    return -1.0 if np.isnan(r) else r


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


# metrics that are functions of the confusion matrix alone, so a bootstrap can score a thousand
# resamples as a thousand weighted confusion matrices instead of a thousand scikit-learn calls
CONFUSION_METRICS = ("accuracy", "f1", "matthews")


def confusion_metric(name: str, confusion: np.ndarray) -> np.ndarray:
    """`name` (one of CONFUSION_METRICS) from confusion matrices of counts, shape (..., true,
    predicted), over the leading axes at once. Equal to METRICS[name] with the counts as sample
    weights (tests check it against scikit-learn), zero where scikit-learn's is zero by convention."""
    total = confusion.sum(axis=(-2, -1))
    correct = np.trace(confusion, axis1=-2, axis2=-1)
    if name == "accuracy":
        return correct / total
    if name == "f1":  # positive class 1
        tp, fp, fn = confusion[..., 1, 1], confusion[..., 0, 1], confusion[..., 1, 0]
        numerator, denominator = 2 * tp, 2 * tp + fp + fn
    elif name == "matthews":  # scikit-learn's multiclass form
        true, predicted = confusion.sum(axis=-1), confusion.sum(axis=-2)  # (..., classes)
        numerator = correct * total - (true * predicted).sum(axis=-1)
        denominator = np.sqrt((total**2 - (true**2).sum(axis=-1)) * (total**2 - (predicted**2).sum(axis=-1)))
    else:
        raise ValueError(f"{name!r} is not a confusion-matrix metric; those are {CONFUSION_METRICS}")
    return np.divide(numerator, denominator, out=np.zeros(np.shape(denominator)), where=denominator > 0)


def _span_f1(predictions: Sequence[Sequence[int]], references: Sequence[Sequence[int]],
             tag_names: Sequence[str]) -> float:
    """Micro F1 over labelled spans, as conlleval counts them: a span starts at B-X, or at I-X
    after O or another type, so IOB1 (CoNLL-2003) and IOB2 (CoNLL-2000) both read correctly. A
    span counts only if its type and both ends match."""
    def names(seqs):
        return [[tag_names[i] for i in s] for s in seqs]
    return span_f1_score(names(references), names(predictions), zero_division=0)


def _token_accuracy(predictions, references, tag_names) -> float:
    return accuracy_score(np.concatenate(references), np.concatenate(predictions))


# entity F1 (NER) and chunk F1 (chunking) are the same count of matching spans
SEQUENCE_METRICS: dict[str, Callable] = {
    "token_accuracy": _token_accuracy, "entity_f1": _span_f1, "chunk_f1": _span_f1}
"""Tagging metric name -> fn(predictions, references, tag_names), one id sequence per sentence."""


# the lowest value each metric can take: the score a failed run is charged in a search
WORST_SCORE = {"accuracy": 0.0, "f1": 0.0, "f1_macro": 0.0, "f1_weighted": 0.0, "matthews": -1.0,
               "pearson": -1.0, "spearman": -1.0, "token_accuracy": 0.0, "entity_f1": 0.0, "chunk_f1": 0.0}


def compute_metrics(names: Sequence[str], predictions, references,
                    tag_names: Sequence[str] | None = None) -> dict[str, float]:
    """Compute each named metric of `predictions` against `references`, as plain floats.

    Inputs may be lists or numpy arrays (ints for classification, floats for regression; for
    the tagging metrics, one sequence of tag ids per sentence, with `tag_names`).
    Raises ValueError for an unknown name, empty inputs or mismatched lengths.
    Pearson/Spearman of a constant vector are undefined and returned as -1.0 (their worst), not NaN.
    """
    unknown = [n for n in names if n not in METRICS and n not in SEQUENCE_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRICS | SEQUENCE_METRICS)}")
    if len(predictions) == 0 or len(references) == 0:
        raise ValueError("cannot compute metrics of empty predictions/references")
    if len(predictions) != len(references):
        raise ValueError(
            f"length mismatch: {len(predictions)} predictions vs {len(references)} references"
        )
    if any(n in SEQUENCE_METRICS for n in names):
        if tag_names is None:
            raise ValueError(f"tagging metrics {list(names)} need tag_names to read the tag ids")
        predictions, references = [np.asarray(p) for p in predictions], [np.asarray(r) for r in references]
        if any(len(p) != len(r) for p, r in zip(predictions, references)):
            raise ValueError("a predicted tag sequence differs in length from its reference")
        return {name: float(SEQUENCE_METRICS[name](predictions, references, tag_names)) for name in names}
    predictions, references = np.asarray(predictions), np.asarray(references)
    return {name: float(METRICS[name](predictions, references)) for name in names}


def task_metrics(spec, predictions, references) -> dict[str, float]:
    """The official metrics of the task `spec` (a TaskSpec)."""
    return compute_metrics(spec.metrics, predictions, references, spec.labels)


def as_rows(values) -> np.ndarray:
    """Values per row as a 1-D array that row indices can select: numbers as they are, tag
    sequences as an object array (numpy would stack equal-length sequences into 2-D)."""
    if len(values) and isinstance(values[0], (list, tuple, np.ndarray)):
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = np.asarray(v)
        return out
    return np.asarray(values)


def resample_scores(metric: str, predictions: list[np.ndarray], labels: np.ndarray, counts: np.ndarray,
                    tag_names: Sequence[str] | None) -> np.ndarray:
    """The metric on each resample (a row of `counts`: how often it draws each row), averaged
    over the seeds' `predictions`: shape (resamples,)."""
    if metric in CONFUSION_METRICS:
        k = int(max(labels.max(), *(p.max() for p in predictions))) + 1
        scores = []
        for preds in predictions:
            cells = np.zeros((len(labels), k * k))
            cells[np.arange(len(labels)), labels.astype(int) * k + preds.astype(int)] = 1  # each row's confusion cell
            scores.append(confusion_metric(metric, (counts @ cells).reshape(-1, k, k)))  # (R, n) @ (n, k*k) -> (R, k, k)
        return np.mean(scores, axis=0)
    rows = [np.repeat(np.arange(len(labels)), c) for c in counts]  # every metric here ignores row order
    return np.array([np.mean([compute_metrics((metric,), p[r], labels[r], tag_names)[metric] for p in predictions])
                     for r in rows])


def bootstrap_se(spec, predictions, references, n_resamples: int = 200, seed: int = 0) -> float:
    """The standard error of the task `spec`'s selection metric over resamples of the rows: how
    far a score on this split moves with which rows it happens to hold."""
    references = as_rows(references)
    n = len(references)
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=n_resamples)  # (resamples, rows)
    scores = resample_scores(spec.selection_metric, [as_rows(predictions)], references, counts, spec.labels)
    return float(np.std(scores, ddof=1))
