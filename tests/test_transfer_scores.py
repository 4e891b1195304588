"""Scoring a selector's ranking against measured gains: synthetic tables, arithmetic by hand."""
from __future__ import annotations

import math
import numpy as np
import pandas as pd
import pytest

from aux_select.analysis.transfer_scores import (
    kendall_tau,
    ndcg_at_k,
    popularity_prior,
    precision_at_k,
    regret_best_of_top_k,
    regret_mean_of_top_k,
    score_selector,
)

GAINS = {"a": 3.0, "b": 2.0, "c": 1.0, "d": -1.0, "e": -2.0}  # mean gains in points
HELPFUL = {"a", "c"}


def test_a_perfect_ranking_scores_perfectly():
    scores = {c: 10 * g + 5 for c, g in GAINS.items()}  # any increasing map of the gains
    assert kendall_tau(scores, GAINS) == pytest.approx(1.0)
    assert ndcg_at_k(scores, GAINS, 3) == pytest.approx(1.0)
    assert regret_best_of_top_k(scores, GAINS, 3) == 0
    assert regret_mean_of_top_k(scores, GAINS, 3) == 0
    assert precision_at_k(scores, HELPFUL, 3) == pytest.approx(2 / 3)  # the gold top 3 a, b, c: a and c helpful


def test_a_reversed_ranking():
    scores = {c: -g for c, g in GAINS.items()}  # top 3: e, d, c with gains -2, -1, 1
    assert kendall_tau(scores, GAINS) == pytest.approx(-1.0)
    assert regret_best_of_top_k(scores, GAINS, 3) == pytest.approx(3 - 1)  # best 3 (a), best of e, d, c: 1
    # gold top 3 mean (3 + 2 + 1) / 3 = 2; selector's (-2 - 1 + 1) / 3 = -2/3; 2 + 2/3 = 8/3
    assert regret_mean_of_top_k(scores, GAINS, 3) == pytest.approx(8 / 3)
    assert precision_at_k(scores, HELPFUL, 3) == pytest.approx(1 / 3)  # only c


def test_nan_scores_are_dropped():
    scores = {"a": 3.0, "b": 1.0, "c": 2.0, "d": -1.0}
    with_nan = {**scores, "e": math.nan}
    assert kendall_tau(with_nan, GAINS) == kendall_tau(scores, GAINS)
    assert ndcg_at_k(with_nan, GAINS) == ndcg_at_k(scores, GAINS)
    assert regret_best_of_top_k(with_nan, GAINS, 2) == regret_best_of_top_k(scores, GAINS, 2)
    assert regret_mean_of_top_k(with_nan, GAINS, 2) == regret_mean_of_top_k(scores, GAINS, 2)
    assert precision_at_k({"a": math.nan, "b": 1.0}, HELPFUL, 3) == 0  # a is unscored, so not in the top
    assert math.isnan(kendall_tau({"a": 1.0, "b": math.nan}, GAINS))  # one candidate left: no tau
    assert math.isnan(precision_at_k({"a": math.nan}, HELPFUL, 3))


def test_the_two_regrets_differ():
    gains = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 0.0}
    scores = {"a": 4.0, "d": 3.0, "c": 2.0, "b": 1.0}  # top 2: a, d
    assert regret_best_of_top_k(scores, gains, 2) == 0  # the best, a, is in the top 2: 4 - 4
    assert regret_mean_of_top_k(scores, gains, 2) == pytest.approx(1.5)  # (4 + 3) / 2 - (4 + 0) / 2


def test_ndcg_against_a_hand_computation():
    gains = {"a": 0.5, "b": 2.0, "c": -1.0, "d": 1.25}   # relevance: 0.5, 2, 0 (clipped), 1.25
    scores = {"a": 4.0, "c": 3.0, "b": 2.0, "d": 1.0}    # order a, c, b, d
    dcg = 0.5 / math.log2(2) + 0 / math.log2(3) + 2.0 / math.log2(4)      # = 1.5
    idcg = 2.0 / math.log2(2) + 1.25 / math.log2(3) + 0.5 / math.log2(4)  # b, d, a
    assert ndcg_at_k(scores, gains, 3) == pytest.approx(dcg / idcg, abs=1e-3)  # relevance in 0.01 points
    assert math.isnan(ndcg_at_k(scores, {c: -abs(g) for c, g in gains.items()}, 3))  # nothing helps


def _gains_by_seed(rows: int = 5, noise: float = 0.5, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    means = np.array(list(GAINS.values()))
    return pd.DataFrame(means + noise * rng.standard_normal((rows, len(GAINS))), columns=list(GAINS))


METRICS = ["kendall tau", "ndcg@3", "regret@1", "regret best of top 3", "regret mean of top 3", "precision@3"]


def test_the_bootstrap_interval_holds_the_estimate():
    scores = {"a": 2.0, "b": 3.0, "c": -2.0, "d": 1.0, "e": -1.0}  # top 3: b, a, d
    row = score_selector(scores, _gains_by_seed(noise=1.5), HELPFUL, k=3, n_resamples=200)
    assert row["seeds"] == 5 and row["candidates"] == 5
    for name in METRICS:
        assert row[f"{name} low"] <= row[name] <= row[f"{name} high"], name
    assert row["kendall tau low"] < row["kendall tau high"]  # the seeds disagree: a real interval


def test_identical_seeds_give_a_degenerate_interval():
    same = pd.DataFrame([GAINS] * 5)
    scores = {"a": 2.0, "b": 3.0, "c": -2.0, "d": 1.0, "e": -1.0}  # top 3: b, a, d
    row = score_selector(scores, same, HELPFUL, k=3, n_resamples=50)
    for name in METRICS:
        assert row[f"{name} low"] == pytest.approx(row[name]) == pytest.approx(row[f"{name} high"]), name
    assert row["regret best of top 3"] == 0  # a, the best, is in the top 3
    assert row["regret mean of top 3"] == pytest.approx(2 - 4 / 3)  # gold (3 + 2 + 1) / 3; b, a, d: (2 + 3 - 1) / 3


def test_a_ranking_per_seed_is_scored_with_each_seed_and_averaged():
    same = pd.DataFrame([GAINS] * 5)  # identical seeds: each ranking alone is scored on the same gains
    good = {c: g for c, g in GAINS.items()}
    bad = {c: -g for c, g in GAINS.items()}
    row = score_selector([good, bad, bad, bad, bad], same, HELPFUL, k=3, n_resamples=200)
    assert row["kendall tau"] == pytest.approx((1 - 4) / 5)
    assert row["regret best of top 3"] == pytest.approx(4 * 2 / 5)  # reversed: best of e, d, c is 1, 2 below a
    assert row["regret@1"] == pytest.approx(4 * 5 / 5)  # reversed: e first, 3 - (-2) below a
    assert -1 <= row["kendall tau low"] < row["kendall tau"] < row["kendall tau high"] <= 1  # the draws differ
    with pytest.raises(ValueError, match="2 rankings for 5 seeds"):
        score_selector([good, bad], same, HELPFUL)


def test_popularity_prior_leaves_the_primary_out():
    gains = {"P": pd.DataFrame({"a": [100.0, 100.0], "x": [5.0, 7.0]}),   # x: measured only for P
             "Q": pd.DataFrame({"a": [1.0, 3.0], "b": [0.0, 1.0]}),
             "R": pd.DataFrame({"a": [-1.0, -1.0], "P": [4.0, 4.0]})}
    prior = popularity_prior(gains, "P")
    assert set(prior) == {"a", "x"}
    assert prior["a"] == pytest.approx((2.0 + -1.0) / 2)  # Q's mean 2, R's mean -1; P's 100 left out
    assert math.isnan(prior["x"])
    unmeasured = popularity_prior(gains, "S")  # a new primary: every candidate the others measured
    assert set(unmeasured) == {"a", "b", "x", "P"}
