"""How well a cheap selector's ranking predicts the measured transfer matrix.

    row = score_selector(ranking.scores, gains_by_seed["RTE"], helpful["RTE"])   # a flat dict
    row = score_selector([r.scores for r in rankings], ...)         # one ranking per seed, paired with its gains

`gains_by_seed[primary]` holds, per seed (rows) and candidate (columns), the gain in points of
primary + candidate (1:1) over the primary alone on report; `helpful[primary]` the candidates
whose verdict (`analysis.verdicts`) is "beats". Each metric is computed on the mean gains over
seeds and has a seed-bootstrap percentile interval. A candidate the selector cannot score (NaN)
or whose gain was not measured leaves the comparison: a selector is judged on what it ranks.
Ranks break ties by name, as `SelectorRanking.order` does.
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning, kendalltau

CONFIDENCE = 0.95       # the bootstrap's percentile interval
RELEVANCE_SCALE = 100   # ranx's Qrels truncate relevance to int: relevance in hundredths of a point


def _common(scores: dict[str, float], gains: dict[str, float]) -> list[str]:
    """The candidates with a finite score and a finite gain, by name."""
    return sorted(c for c, s in scores.items() if math.isfinite(s) and math.isfinite(gains.get(c, math.nan)))


def _ranked(scores: dict[str, float], names: list[str]) -> list[str]:
    """`names` best first by score, ties by name (NaN scores must already be gone)."""
    return sorted(names, key=lambda c: (-scores[c], c))


def kendall_tau(scores: dict[str, float], gains: dict[str, float]) -> float:
    """Kendall's tau-b between the selector's scores and the mean gains (NaN below 2 candidates)."""
    names = _common(scores, gains)
    if len(names) < 2:
        return math.nan
    with warnings.catch_warnings():  # constant scores or gains: tau is NaN, which says so already
        warnings.simplefilter("ignore", ConstantInputWarning)
        return float(kendalltau([scores[c] for c in names], [gains[c] for c in names]).statistic)


def ndcg_at_k(scores: dict[str, float], gains: dict[str, float], k: int = 3) -> float:
    """NDCG@k (ranx, linear gains, log2 discounts) of the selector's order; relevance is the mean
    gain clipped at 0, so only helpful candidates (positive gain) are relevant. NaN where no
    candidate has a positive gain: there is nothing to find, so no ideal order to compare with.
    ranx truncates relevance to int, so it is round(gain x RELEVANCE_SCALE)."""
    names = _common(scores, gains)
    qrels = {c: round(gains[c] * RELEVANCE_SCALE) for c in names if round(gains[c] * RELEVANCE_SCALE) > 0}
    if not qrels:
        return math.nan
    import ranx  # ~2 s to import (numba): only here

    # scores by rank, so ranx sees the ties already broken by name
    run = {c: float(len(names) - i) for i, c in enumerate(_ranked(scores, names))}
    with warnings.catch_warnings():  # numba's uint64 -> int64 cast note inside ranx
        warnings.simplefilter("ignore")
        return float(ranx.evaluate(ranx.Qrels({"q": qrels}), ranx.Run({"q": run}), f"ndcg@{k}"))


def regret_best_of_top_k(scores: dict[str, float], gains: dict[str, float], k: int = 3) -> float:
    """Best-of-top-k regret, in points: the best candidate's mean gain minus the best mean gain
    among the selector's top k (what picking the best of k shortlisted tasks loses)."""
    names = _common(scores, gains)
    if not names:
        return math.nan
    return max(gains[c] for c in names) - max(gains[c] for c in _ranked(scores, names)[:k])


def regret_mean_of_top_k(scores: dict[str, float], gains: dict[str, float], k: int = 3) -> float:
    """Mean-of-top-k regret, in points: the mean gain of the gold top k minus that of the
    selector's top k (what training on all k shortlisted tasks, each in turn, loses on average)."""
    names = _common(scores, gains)
    if not names:
        return math.nan
    gold = sorted((gains[c] for c in names), reverse=True)[:k]
    return float(np.mean(gold) - np.mean([gains[c] for c in _ranked(scores, names)[:k]]))


def precision_at_k(scores: dict[str, float], helpful: set[str], k: int = 3) -> float:
    """The share of the selector's top k (of those it scores; fewer if it scores fewer) that have
    a helpful verdict (NaN if it scores none)."""
    top = _ranked(scores, [c for c, s in scores.items() if math.isfinite(s)])[:k]
    return sum(c in helpful for c in top) / len(top) if top else math.nan


def _metrics(scores: dict[str, float], helpful: set[str], k: int) -> dict[str, Callable[[dict], float]]:
    """Each metric by its column name, as a function of the mean gains."""
    return {
        "kendall tau": lambda g: kendall_tau(scores, g),
        f"ndcg@{k}": lambda g: ndcg_at_k(scores, g, k),
        "regret@1": lambda g: regret_best_of_top_k(scores, g, 1),  # both definitions agree at k = 1
        f"regret best of top {k}": lambda g: regret_best_of_top_k(scores, g, k),
        f"regret mean of top {k}": lambda g: regret_mean_of_top_k(scores, g, k),
        f"precision@{k}": lambda g: precision_at_k({c: s for c, s in scores.items() if c in g}, helpful, k),
    }


def _mean_gains(values: np.ndarray, columns: Sequence[str]) -> dict[str, float]:
    with warnings.catch_warnings():  # a candidate no resampled seed measured: NaN, and it leaves
        warnings.simplefilter("ignore", RuntimeWarning)
        return dict(zip(columns, np.nanmean(values, axis=0).tolist()))


@dataclass
class MetricDraws:
    """Every metric of one ranking on the seeds as they are (`point`) and on each seed-bootstrap draw
    (`draws`; the draws depend only on the bootstrap's seed and the number of seed rows, so two
    selectors scored on one primary's gains with one bootstrap seed are paired draw by draw)."""
    point: dict[str, float]
    draws: list[dict[str, float]]
    seeds: int
    candidates: int

    def interval(self, name: str) -> tuple[float, float]:
        return percentile_interval([d[name] for d in self.draws])


def percentile_interval(draws: Sequence[float]) -> tuple[float, float]:
    """The CONFIDENCE percentile interval of the finite draws (NaN, NaN without any)."""
    finite = [d for d in draws if math.isfinite(d)]
    tail = 100 * (1 - CONFIDENCE) / 2
    return tuple(np.percentile(finite, [tail, 100 - tail]).tolist()) if finite else (math.nan, math.nan)


def metric_draws(scores: dict[str, float] | Sequence[dict[str, float]], gains_by_seed: pd.DataFrame,
                 helpful: set[str], k: int = 3, n_resamples: int = 1000, seed: int = 0) -> MetricDraws:
    """Every metric on the mean gains over seeds and on each seed-bootstrap draw: the seed rows are
    resampled with replacement and the mean gains and metric recomputed; `helpful` stays fixed.
    `scores` is one ranking, or one per seed row (a selector that ranks at each seed): then a
    metric is the mean over the drawn seeds of each one's ranking scored on the drawn mean gains."""
    values, columns = gains_by_seed.to_numpy(dtype=float), list(gains_by_seed.columns)
    per_seed = [scores] if isinstance(scores, dict) else list(scores)
    if len(per_seed) not in (1, len(values)):
        raise ValueError(f"{len(per_seed)} rankings for {len(values)} seeds of gains; give one, or one per seed")
    metrics = [_metrics(s, helpful, k) for s in per_seed]  # per ranking: name -> metric of the mean gains
    owner = np.arange(len(values)) if len(per_seed) > 1 else np.zeros(len(values), dtype=int)  # seed row -> ranking

    @functools.lru_cache(maxsize=None)  # a draw is a multiset of seeds: five seeds give only 126 of them
    def scored(rows: tuple[int, ...]) -> dict[str, float]:
        drawn, times = np.unique(owner[list(rows)], return_counts=True)  # each ranking scored once, weighted by draws
        gains, out = _mean_gains(values[list(rows)], columns), {}
        for name in metrics[0]:
            found = np.array([metrics[r][name](gains) for r in drawn])
            finite = np.isfinite(found)
            out[name] = float(np.average(found[finite], weights=times[finite])) if finite.any() else math.nan
        return out

    rng = np.random.default_rng(seed)
    draws = [scored(tuple(sorted(rows))) for rows in rng.integers(0, len(values), size=(n_resamples, len(values)))]
    return MetricDraws(scored(tuple(range(len(values)))), draws, len(values),
                       len(_common(per_seed[0], _mean_gains(values, columns))))


def score_selector(scores: dict[str, float] | Sequence[dict[str, float]], gains_by_seed: pd.DataFrame,
                   helpful: set[str], k: int = 3, n_resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """`metric_draws` as a flat row: each metric with its seed-bootstrap percentile interval
    ("<metric> low" / "<metric> high"; NaN metrics of a draw are dropped)."""
    found = metric_draws(scores, gains_by_seed, helpful, k, n_resamples, seed)
    out: dict[str, float] = {"seeds": found.seeds, "candidates": found.candidates}
    for name, value in found.point.items():
        low, high = found.interval(name)
        out.update({name: value, f"{name} low": low, f"{name} high": high})
    return out


def popularity_prior(gains_by_seed: dict[str, pd.DataFrame], primary: str) -> dict[str, float]:
    """The source-popularity baseline's scores: each candidate's mean gain over the other primaries
    (each primary's mean over seeds, the primaries weighted equally; the primary itself is left out,
    or the baseline would read the answer). NaN where no other primary measured the candidate."""
    others = [frame.mean(axis=0) for p, frame in gains_by_seed.items() if p != primary]
    if primary in gains_by_seed:
        candidates = list(gains_by_seed[primary].columns)
    else:  # a primary not measured yet: every candidate the others measured
        candidates = sorted({c for frame in others for c in frame.index} - {primary})
    pooled = pd.concat(others, axis=1).mean(axis=1) if others else pd.Series(dtype=float)
    return {c: float(pooled.get(c, math.nan)) for c in candidates}
