"""Statistics over report rows alone: the paired bootstrap of a method's gain over a baseline with
the trained runs held fixed (the row-only interval, beside which `analysis.verdicts` sets the
test across seeds), and how per-seed gains are written."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from aux_select.train.metrics import as_rows, resample_scores


def paired_bootstrap(labels: Sequence, method: Sequence, baseline: Sequence, metric: str,
                     n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95,
                     tag_names: Sequence[str] | None = None) -> tuple[float, float, float]:
    """(gain, low, high): the method's metric minus the baseline's on the report rows, and a
    percentile interval from resampling the rows (the same rows for both: a paired bootstrap).
    `method` and `baseline` are (seeds, rows), or one seed's rows: each resample averages the
    metric over seeds. Tagging: a row is a sentence's tag ids (pass `tag_names`), always with
    the seeds axis."""
    def per_seed(preds) -> list[np.ndarray]:
        one_seed = not isinstance(preds[0], (list, tuple, np.ndarray))  # a number per row
        return [as_rows(p) for p in ([preds] if one_seed else preds)]

    labels, method, baseline = as_rows(labels), per_seed(method), per_seed(baseline)
    n = len(labels)
    rng = np.random.default_rng(seed)
    # a resample is how often it draws each row; the first is the report rows as they are
    counts = np.stack([np.ones(n, dtype=int)] + [np.bincount(rng.integers(0, n, n), minlength=n)
                                                 for _ in range(n_resamples)])  # (1 + resamples, rows)
    gains = resample_scores(metric, method, labels, counts, tag_names) - \
        resample_scores(metric, baseline, labels, counts, tag_names)
    tail = 100 * (1 - confidence) / 2
    return float(gains[0]), float(np.percentile(gains[1:], tail)), float(np.percentile(gains[1:], 100 - tail))


def per_seed_text(gains: Sequence[float]) -> str:
    """Gains (fractions) at each seed as the tables show them, ×100: "+4.7 / +0.0"."""
    return " / ".join(f"{100 * g:+.1f}" for g in gains)
