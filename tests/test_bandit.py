import json

import numpy as np
import pytest

from aux_select.methods.autosem.bandit import ThompsonBandit, select_auxiliary


def test_update_matches_algorithm1_by_hand():
    b = ThompsonBandit(3, prior=(1.0, 1.0), primary_prior=(2.0, 1.0), primary_arm=0, gamma=0.3)
    np.testing.assert_allclose(b.alpha0, [2.0, 1.0, 1.0])
    np.testing.assert_allclose(b.beta0, [1.0, 1.0, 1.0])
    for arm, r in zip([0, 1, 2, 0], [1, 0, 1, 1]):
        b.update(arm, r)
    # step 1 (arm 0, r=1): state == prior, decay is a no-op -> a=[3,1,1], b=[1,1,1]
    # step 2 (arm 1, r=0): a0 = .7*3+.3*2 = 2.7                -> a=[2.7,1,1], b=[1,2,1]
    # step 3 (arm 2, r=1): a0 = .7*2.7+.6 = 2.49; b1 = .7*2+.3 = 1.7
    #                                                          -> a=[2.49,1,2], b=[1,1.7,1]
    # step 4 (arm 0, r=1): a0 = .7*2.49+.6 = 2.343, +1 = 3.343; a2 = .7*2+.3 = 1.7;
    #                      b1 = .7*1.7+.3 = 1.49               -> a=[3.343,1,1.7], b=[1,1.49,1]
    np.testing.assert_allclose(b.alpha, [3.343, 1.0, 1.7])
    np.testing.assert_allclose(b.beta, [1.0, 1.49, 1.0])
    np.testing.assert_array_equal(b.counts, [2, 1, 1])
    assert b.n_rounds == 4
    np.testing.assert_allclose(b.utilities(), [3.343 / 4.343, 1.0 / 2.49, 1.7 / 2.7])


def test_gamma_zero_is_stationary_beta_bernoulli():
    rng = np.random.default_rng(1)
    b = ThompsonBandit(4, prior=(1.0, 2.0), gamma=0.0)
    succ, fail = np.zeros(4), np.zeros(4)
    for _ in range(50):
        arm, r = int(rng.integers(4)), int(rng.integers(2))
        b.update(arm, r)
        succ[arm] += r
        fail[arm] += 1 - r
    np.testing.assert_allclose(b.alpha, 1.0 + succ)
    np.testing.assert_allclose(b.beta, 2.0 + fail)


def test_gamma_one_resets_to_prior_before_credit():
    b = ThompsonBandit(3, prior=(1.0, 1.0), primary_prior=(3.0, 2.0), gamma=1.0)
    for arm, r in [(0, 1), (1, 1), (2, 0), (2, 1)]:
        b.update(arm, r)
    # only the last pull (arm 2, r=1) survives, on top of the priors
    np.testing.assert_allclose(b.alpha, [3.0, 1.0, 2.0])
    np.testing.assert_allclose(b.beta, [2.0, 1.0, 1.0])
    b.update(0, 0.25)  # fractional rewards split between alpha and beta
    np.testing.assert_allclose(b.alpha, [3.25, 1.0, 1.0])
    np.testing.assert_allclose(b.beta, [2.75, 1.0, 1.0])


def _simulate(means, gamma, seed, rounds=300):
    env = np.random.default_rng(1000 + seed)
    b = ThompsonBandit(len(means), gamma=gamma, seed=seed)
    for _ in range(rounds):
        arm = b.choose()
        b.update(arm, float(env.random() < means[arm]))
    return b


@pytest.mark.parametrize("seed", range(5))
def test_bernoulli_arms_best_pulled_most(seed):
    means = [0.2, 0.5, 0.8, 0.35]
    b = _simulate(means, gamma=0.3, seed=seed)
    assert int(np.argmax(b.counts)) == 2
    assert b.counts.sum() == b.n_rounds == 300


@pytest.mark.parametrize("seed", range(5))
def test_bernoulli_arms_stationary_utilities_rank_best_first(seed):
    means = [0.2, 0.5, 0.8, 0.35]
    b = _simulate(means, gamma=0.0, seed=seed)
    u = b.utilities()
    assert int(np.argmax(u)) == 2
    assert abs(u[2] - 0.8) < 0.1  # the well-sampled arm's posterior mean is near its truth
    assert int(np.argmax(b.counts)) == 2


def test_choose_samples_every_arm_and_returns_argmax():
    b = ThompsonBandit(5, seed=3)
    arm = b.choose()
    assert b.last_sample.shape == (5,)
    assert arm == int(np.argmax(b.last_sample))
    # same generator stream, one vectorised beta call
    np.testing.assert_allclose(b.last_sample, np.random.default_rng(3).beta(np.ones(5), np.ones(5)))


def test_select_auxiliary_top_two_plus_threshold():
    u = {"prim": 0.9, "a": 0.3, "b": 0.7, "c": 0.2, "d": 0.55, "e": 0.1}
    # top two non-primary are b, d; nothing else > 0.5
    assert select_auxiliary(u, "prim") == ["b", "d"]
    u2 = {"prim": 0.4, "a": 0.8, "b": 0.7, "c": 0.6, "d": 0.51, "e": 0.1}
    assert select_auxiliary(u2, "prim") == ["a", "b", "c", "d"]


def test_select_auxiliary_excludes_primary_even_if_highest():
    u = {"prim": 0.99, "a": 0.1, "b": 0.2, "c": 0.05}
    assert select_auxiliary(u, "prim") == ["b", "a"]


def test_select_auxiliary_threshold_is_strict_and_ties_by_name():
    u = {"prim": 0.1, "x": 0.9, "y": 0.8, "z": 0.5, "w": 0.5}
    assert select_auxiliary(u, "prim") == ["x", "y"]  # exactly 0.5 is not added
    tie = {"prim": 0.1, "b": 0.4, "a": 0.4, "c": 0.4}
    assert select_auxiliary(tie, "prim") == ["a", "b"]
    assert select_auxiliary(u, "prim", top_k=1, threshold=0.85) == ["x"]


def test_select_auxiliary_fewer_candidates_than_top_k():
    assert select_auxiliary({"prim": 0.5, "a": 0.2}, "prim") == ["a"]
    assert select_auxiliary({"prim": 0.5, "a": 0.2, "b": 0.3}, "prim", top_k=5) == ["b", "a"]


def test_select_auxiliary_unknown_primary():
    with pytest.raises(ValueError, match="primary"):
        select_auxiliary({"a": 0.5, "b": 0.6}, "prim")


def _run(b, rounds, rewards_seed=7, start=0):
    # rewards depend only on (round index, arm), so an interrupted run sees the same rewards
    arms = []
    for t in range(start, start + rounds):
        arm = b.choose()
        r = float(np.random.default_rng([rewards_seed, t]).random() < 0.2 + 0.2 * arm)
        b.update(arm, r)
        arms.append(arm)
    return arms


def test_same_seed_same_choices_different_seed_differs():
    a1 = _run(ThompsonBandit(4, seed=11), 100)
    a2 = _run(ThompsonBandit(4, seed=11), 100)
    a3 = _run(ThompsonBandit(4, seed=12), 100)
    assert a1 == a2
    assert a1 != a3
    g = np.random.default_rng(11)  # a Generator is used as is
    assert _run(ThompsonBandit(4, seed=g), 100) == a1


def test_resume_through_json_matches_uninterrupted_run():
    full = ThompsonBandit(4, primary_prior=(2.0, 1.0), gamma=0.3, seed=5)
    arms_full = _run(full, 50)

    part = ThompsonBandit(4, primary_prior=(2.0, 1.0), gamma=0.3, seed=5)
    arms = _run(part, 30)
    state = json.loads(json.dumps(part.state_dict()))
    resumed = ThompsonBandit.from_state_dict(state)
    arms += _run(resumed, 20, start=30)

    assert arms == arms_full
    np.testing.assert_array_equal(resumed.alpha, full.alpha)
    np.testing.assert_array_equal(resumed.beta, full.beta)
    np.testing.assert_array_equal(resumed.counts, full.counts)
    np.testing.assert_array_equal(resumed.alpha0, full.alpha0)
    assert resumed.n_rounds == full.n_rounds == 50
    assert resumed.gamma == full.gamma


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_arms=1), "at least one candidate"),
    (dict(n_arms=3, gamma=-0.1), "gamma"),
    (dict(n_arms=3, gamma=1.5), "gamma"),
    (dict(n_arms=3, prior=(0.0, 1.0)), "prior"),
    (dict(n_arms=3, prior=(1.0, -2.0)), "prior"),
    (dict(n_arms=3, primary_prior=(1.0, 0.0)), "primary_prior"),
    (dict(n_arms=3, primary_arm=3), "primary_arm"),
    (dict(n_arms=3, primary_arm=-1), "primary_arm"),
])
def test_init_validation(kwargs, match):
    n = kwargs.pop("n_arms")
    with pytest.raises(ValueError, match=match):
        ThompsonBandit(n, **kwargs)


@pytest.mark.parametrize("arm, reward, match", [
    (3, 1.0, "arm"), (-1, 0.0, "arm"), (0, 1.5, "reward"), (0, -0.1, "reward"),
])
def test_update_validation(arm, reward, match):
    b = ThompsonBandit(3)
    with pytest.raises(ValueError, match=match):
        b.update(arm, reward)
    assert b.n_rounds == 0


def test_select_auxiliary_breaks_utility_ties_by_pulls_then_name():
    utilities = {"P": 0.9, "a": 0.5, "b": 0.5, "c": 0.5, "d": 0.3}
    assert select_auxiliary(utilities, "P", pulls={"a": 1, "b": 7, "c": 3, "d": 9}) == ["b", "c"]
    assert select_auxiliary(utilities, "P") == ["a", "b"]  # no pulls given: by name
