"""Statistics over report rows: the paired bootstrap of a method's gain over a baseline, and the
gain at each seed alone (which the row bootstrap, holding the trained runs fixed, leaves out)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from aux_select.analysis.tables import primary_metrics
from aux_select.data.registry import get_task
from aux_select.methods.registry import MethodResult, baseline_method, method_names
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


def gain_per_seed(labels: Sequence, method: Sequence, baseline: Sequence, metric: str,
                  tag_names: Sequence[str] | None = None) -> str:
    """The gain (×100) at each seed alone, in seed order ("+4.7 / +0.0"); `method` and `baseline`
    are (seeds, rows). A paired-bootstrap interval holds the trained runs fixed, so this is what
    shows how far they move with the seed."""
    gains = [paired_bootstrap(labels, [m], [b], metric, 1, tag_names=tag_names)[0]  # [0]: the rows as they are
             for m, b in zip(method, baseline)]
    return " / ".join(f"{100 * g:+.1f}" for g in gains)


def bootstrap_gains(results: Sequence[MethodResult], baseline: str | None = None, n_resamples: int = 1000,
                    seed: int = 0) -> pd.DataFrame:
    """Each method's gain over `baseline` (None: the registry's baseline, Single-Task) per primary on the primary's first metric, ×100, with a
    95 % paired bootstrap interval over report rows, over the seeds both have, and the gain at
    each of those seeds ("gain per seed", in seed order)."""
    rows, baseline = [], baseline or baseline_method()
    by_key = {(r.method, r.primary, r.seed): r for r in results}
    for primary in dict.fromkeys(r.primary for r in results):
        metric = primary_metrics(primary)[0]
        for method in [m for m in method_names() if m != baseline]:
            seeds = sorted(s for (m, p, s) in by_key if m == method and p == primary and (baseline, p, s) in by_key)
            pairs = [(by_key[method, primary, s], by_key[baseline, primary, s]) for s in seeds]
            if not pairs or any(a.report_predictions is None or b.report_predictions is None for a, b in pairs):
                continue
            labels, tag_names = pairs[0][0].report_labels, get_task(primary).labels
            ours, theirs = [a.report_predictions for a, _ in pairs], [b.report_predictions for _, b in pairs]
            gain, low, high = paired_bootstrap(labels, ours, theirs, metric, n_resamples, seed, tag_names=tag_names)
            rows.append({"primary": primary, "method": method, "metric": metric, "seeds": len(seeds),
                         "gain": 100 * gain, "low": 100 * low, "high": 100 * high,
                         "significant": low > 0 or high < 0,
                         "gain per seed": gain_per_seed(labels, ours, theirs, metric, tag_names)})
    return pd.DataFrame(rows)
