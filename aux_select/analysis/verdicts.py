"""Verdicts that count seed variance: is a method's gain over the baseline more than what another
training seed, or another draw of report rows, would give?

    table = seed_verdicts(comparison.results)   # a row per method and primary: beats / loses / no evidence

Three tests, each on what varies between runs:
- a **seed × row bootstrap** of the gain: each resample draws the seeds (method and baseline
  paired by seed) and the report rows (the same rows for every seed), so the interval holds both
  how far a run moves with its seed and which rows the report split happens to hold;
- **almost stochastic order** (Dror et al., 2019; `deepsig.aso`) of the method's per-seed report
  scores against the baseline's: ε_min < 0.5 says the method's scores are mostly above;
- **Holm's step-down correction** of the bootstrap p-values across the methods of a primary.

A method **beats** the baseline where its Holm-corrected p is below α, its gain is positive and
ε_min(method, baseline) < 0.5; it **loses** in the mirror case; otherwise there is **no evidence**.
One seed is never evidence: with one run each there is no seed variance to measure. The smallest
gain the test could detect at that many seeds is beside each verdict (80 % power, from the
bootstrap's standard error).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from aux_select.analysis.statistics import per_seed_text
from aux_select.analysis.tables import primary_metrics
from aux_select.data.registry import get_task
from aux_select.methods.registry import MethodResult, baseline_method, method_names
from aux_select.train.metrics import as_rows, resample_scores

BEATS, LOSES, NO_EVIDENCE = "beats", "loses", "no evidence"


@dataclass
class GainTest:
    gain: float          # mean over seeds of the method's metric minus the baseline's, on the report rows
    low: float           # the seed × row bootstrap's percentile interval
    high: float
    p: float             # two-sided bootstrap p-value of "no gain" (1: every resample is a tie)
    se: float            # the bootstrap's standard error of the gain
    per_seed: list[float]  # the gain at each seed alone, on the report rows as they are


def bootstrap_p(replicates: Sequence[float]) -> float:
    """The two-sided bootstrap p of "no difference": twice the smaller share of replicates on
    either side of 0 (ties count on both), at most 1; 1 without any replicate."""
    replicates = np.asarray(replicates, dtype=float)
    if not len(replicates):
        return 1.0
    return float(min(1.0, 2 * min(np.mean(replicates <= 0), np.mean(replicates >= 0))))


def seed_row_bootstrap(labels: Sequence, method: Sequence, baseline: Sequence, metric: str, n_resamples: int = 1000,
                       seed: int = 0, confidence: float = 0.95, tag_names: Sequence[str] | None = None) -> GainTest:
    """The gain of `method` over `baseline`, both (seeds, rows) and paired by seed, with an
    interval from resampling seeds and report rows together."""
    labels = as_rows(labels)
    n, seeds = len(labels), len(method)
    rng = np.random.default_rng(seed)
    # a row resample is how often it draws each row; the first is the report rows as they are
    counts = np.stack([np.ones(n, dtype=int)] + [np.bincount(rng.integers(0, n, n), minlength=n)
                                                 for _ in range(n_resamples)])  # (1 + resamples, rows)
    diffs = np.stack([resample_scores(metric, [as_rows(m)], labels, counts, tag_names)
                      - resample_scores(metric, [as_rows(b)], labels, counts, tag_names)
                      for m, b in zip(method, baseline)])  # (seeds, 1 + resamples)
    drawn = rng.integers(0, seeds, (n_resamples, seeds))  # the seeds each resample draws
    replicates = diffs[drawn, np.arange(1, n_resamples + 1)[:, None]].mean(axis=1)  # (resamples,)
    tail = 100 * (1 - confidence) / 2
    p = bootstrap_p(replicates)
    return GainTest(float(diffs[:, 0].mean()), float(np.percentile(replicates, tail)),
                    float(np.percentile(replicates, 100 - tail)), float(p), float(np.std(replicates, ddof=1)),
                    diffs[:, 0].tolist())


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error over the tests given)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)  # never below a smaller p's adjusted value
    return adjusted


def aso_epsilon(scores: Sequence[float], baseline: Sequence[float], num_comparisons: int = 1, seed: int = 0) -> float:
    """deepsig's ε_min of `scores` over `baseline` (per-seed scores; NaN with fewer than two seeds):
    0 means the first almost stochastically dominates, 1 the reverse, 0.5 neither."""
    if len(scores) < 2 or len(baseline) < 2:
        return float("nan")
    from deepsig import aso  # imports torch-typed helpers: only where a verdict is made
    with warnings.catch_warnings():  # identical scores: deepsig warns of 0/0 and answers 1, no dominance
        warnings.filterwarnings("ignore", "Division by zero", UserWarning)
        return float(aso(list(scores), list(baseline), num_comparisons=num_comparisons, num_bootstrap_iterations=200,
                         seed=seed, show_progress=False))


def detectable_gain(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true gain a two-sided test at `alpha` finds with `power`, given the gain's
    standard error: (z_{1-α/2} + z_power) × se."""
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * se)


def verdict(test: GainTest, p_holm: float, eps_up: float, eps_down: float, seeds: int, alpha: float = 0.05) -> str:
    """beats / loses / no evidence, from the corrected p, the gain's sign and ASO in that direction."""
    if seeds < 2 or p_holm >= alpha:
        return NO_EVIDENCE
    if test.gain > 0 and eps_up < 0.5:
        return BEATS
    if test.gain < 0 and eps_down < 0.5:
        return LOSES
    return NO_EVIDENCE


def _paired(by_key: dict[tuple, MethodResult], method: str, baseline: str, primary: str) -> list[tuple]:
    seeds = sorted(s for (m, p, s) in by_key if (m, p) == (method, primary) and (baseline, p, s) in by_key)
    pairs = [(by_key[method, primary, s], by_key[baseline, primary, s]) for s in seeds]
    return [] if any(a.report_predictions is None or b.report_predictions is None for a, b in pairs) else pairs


@dataclass
class Arm:
    """One method (or control) against the baseline, paired by seed."""
    predictions: list          # report predictions at each seed
    baseline_predictions: list
    scores: list[float]        # report score at each seed
    baseline_scores: list[float]


def gain_verdicts(labels: Sequence, metric: str, arms: dict[str, Arm], tag_names: Sequence[str] | None = None,
                  n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05) -> list[dict]:
    """One family of tests (the methods of a primary, or its controls): per arm the gain over the
    baseline ×100, its seed × row interval, p (raw and Holm-corrected over the arms), ASO ε_min,
    the verdict, the seeds it rests on, the smallest gain that many could detect, the gain per seed."""
    tests = {name: seed_row_bootstrap(labels, arm.predictions, arm.baseline_predictions, metric, n_resamples, seed,
                                      tag_names=tag_names) for name, arm in arms.items()}
    adjusted = holm([t.p for t in tests.values()]) if tests else []
    rows = []
    for (name, arm), test, p_holm in zip(arms.items(), tests.values(), adjusted):
        seeds = len(arm.scores)
        eps_up = aso_epsilon(arm.scores, arm.baseline_scores, len(arms), seed)
        eps_down = aso_epsilon(arm.baseline_scores, arm.scores, len(arms), seed)
        rows.append({"name": name, "metric": metric, "seeds": seeds, "gain": 100 * test.gain, "low": 100 * test.low,
                     "high": 100 * test.high, "p": test.p, "p (Holm)": float(p_holm), "ASO ε_min": eps_up,
                     "verdict": verdict(test, p_holm, eps_up, eps_down, seeds, alpha),
                     # one seed, or runs that tie in every resample: no variance to size a test by
                     "detectable gain": 100 * detectable_gain(test.se, alpha) if seeds > 1 and test.se > 0 else np.nan,
                     "gain per seed": per_seed_text(test.per_seed)})
    return rows


def seed_verdicts(results: Sequence[MethodResult], baseline: str | None = None, n_resamples: int = 1000,
                  seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """A row per primary and method: `gain_verdicts` against `baseline` (None: the registry's) on
    the primary's first metric, Holm's correction over the primary's methods."""
    baseline, rows = baseline or baseline_method(), []
    by_key = {(r.method, r.primary, r.seed): r for r in results}
    for primary in dict.fromkeys(r.primary for r in results):
        metric, arms, labels = primary_metrics(primary)[0], {}, None
        for method in [m for m in method_names() if m != baseline]:
            pairs = _paired(by_key, method, baseline, primary)
            if pairs:
                ours, theirs = zip(*pairs)
                arms[method] = Arm([r.report_predictions for r in ours], [r.report_predictions for r in theirs],
                                   [r.report[metric] for r in ours], [r.report[metric] for r in theirs])
                labels = pairs[0][0].report_labels
        found = gain_verdicts(labels, metric, arms, get_task(primary).labels, n_resamples, seed, alpha)
        rows += [{"primary": primary, "method": row.pop("name"), **row} for row in found]
    return pd.DataFrame(rows)


def seeds_for_gain(seed_sd: float, gain: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Seeds a paired test across seeds needs to find a true `gain` with `power`, where per-seed
    gains vary by `seed_sd`: the n at which `detectable_gain(seed_sd / √n)` reaches `gain` (the
    normal approximation of the tables' detectable gains; it ignores how rough `seed_sd` is)."""
    return max(2, int(np.ceil((detectable_gain(seed_sd, alpha, power) / gain) ** 2)))


def power_table(results: Sequence[MethodResult], baseline: str | None = None, gain: float = 1.0) -> pd.DataFrame:
    """The power note: per primary, the baseline's report score spread over seeds, and per method
    the spread of its per-seed gain (paired by seed) with the seeds a `gain` (points ×100) needs.
    Spreads are sample standard deviations ×100; NaN below two seeds."""
    baseline, rows = baseline or baseline_method(), []
    by_key = {(r.method, r.primary, r.seed): r for r in results}
    for primary in dict.fromkeys(r.primary for r in results):
        metric = primary_metrics(primary)[0]
        score = {(m, s): 100 * r.report[metric] for (m, p, s), r in by_key.items() if p == primary}
        base = [v for (m, _), v in score.items() if m == baseline]
        rows.append({"primary": primary, "method": baseline, "metric": metric, "seeds": len(base),
                     "seed sd": np.std(base, ddof=1) if len(base) > 1 else np.nan, "seeds for the gain": np.nan})
        for method in [m for m in method_names() if m != baseline]:
            gains = [v - score[baseline, s] for (m, s), v in score.items() if m == method and (baseline, s) in score]
            sd = np.std(gains, ddof=1) if len(gains) > 1 else np.nan
            if gains:
                rows.append({"primary": primary, "method": method, "metric": metric, "seeds": len(gains),
                             "seed sd": sd, "seeds for the gain": seeds_for_gain(sd, gain) if sd > 0 else np.nan})
    return pd.DataFrame(rows)
