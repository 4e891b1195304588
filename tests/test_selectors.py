"""The cheap selectors (`aux_select.methods.selectors`) on the smoke profile and the fixture data: one
ranking per selector for RTE (computed once for the module), read back from the store on a rerun."""
import math

import numpy as np
import pytest

from aux_select.data.statistics import task_statistics
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.experiment.profiles import override
from aux_select.methods import selectors
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.baselines import heuristic_order
from aux_select.methods.gradts.importance import importance_matrices, rank_candidates
from aux_select.methods.registry import HEAD_MATRICES
from aux_select.methods.selectors import SelectorRanking, cosine, ranked, run_selector, selector_names
from aux_select.runtime.store import Store

PRIMARY = "RTE"
CANDIDATES = ["MRPC", "STS-B", "WNLI", "POS"]  # two classification tasks, a regression and a tagging one
NOT_CLASSIFICATION = {"STS-B", "POS"}
STORED = {"TextEmb", "LogME", "NCE", "LEEP"}
PROFILE = override("smoke", ["importance.warmup_epochs=1", "importance.sample_fraction=0.25"])


@pytest.fixture(scope="module")
def exp(fixture_data_dir, tmp_path_factory) -> Experiment:
    return Experiment(PROFILE, data_dir=fixture_data_dir, store=Store(tmp_path_factory.mktemp("store")), progress=False)


@pytest.fixture(scope="module")
def rankings(exp) -> dict[str, SelectorRanking]:
    return {name: run_selector(name, PRIMARY, CANDIDATES, exp=exp) for name in selector_names()}


def test_every_selector_is_registered():
    assert selector_names() == ["Random", "Size", "Type", "Length", "TextEmb", "LogME", "NCE", "LEEP", "GradTS-tau",
                                "AutoSeM-utility"]


def test_every_selector_scores_every_candidate_and_orders_them_by_score(rankings):
    for name, r in rankings.items():
        assert (r.selector, r.primary, r.seed) == (name, PRIMARY, 0)
        assert set(r.scores) == set(CANDIDATES) and sorted(r.order) == sorted(CANDIDATES), name
        assert r.order == ranked(r.scores), name
        values = [r.scores[t] for t in r.order]
        finite = [v for v in values if not math.isnan(v)]
        assert finite == sorted(finite, reverse=True) and values[:len(finite)] == finite, name  # NaN last
        expected_nan = NOT_CLASSIFICATION if name in ("NCE", "LEEP") else set()
        assert {t for t, v in r.scores.items() if math.isnan(v)} == expected_nan, name


def test_nan_sorts_last_and_ties_go_by_name():
    assert ranked({"b": 1.0, "c": math.nan, "a": 1.0, "d": 2.0}) == ["d", "a", "b", "c"]


def test_random_is_reproducible_for_a_seed_and_differs_for_another(exp, rankings):
    again = run_selector("Random", PRIMARY, list(reversed(CANDIDATES)), exp=exp)  # the pool's order does not matter
    assert again.order == rankings["Random"].order
    assert run_selector("Random", PRIMARY, CANDIDATES, exp=exp.with_seed(1)).order != again.order


@pytest.mark.parametrize("name, kind", [("Size", "size"), ("Type", "type"), ("Length", "len")])
def test_heuristic_selectors_follow_heuristic_order(exp, rankings, name, kind):
    stats = {t.name: task_statistics(t) for t in exp.tasks([PRIMARY, *CANDIDATES])}
    assert rankings[name].order == [t for t, _ in heuristic_order(kind, PRIMARY, stats)]
    assert sorted(rankings[name].scores.values()) == [1.0, 2.0, 3.0, 4.0]  # reversed positions


def test_cosine():
    v = np.array([1.0, -2.0, 3.0])
    assert cosine(v, v) == pytest.approx(1.0) and cosine(v, 2 * v) == pytest.approx(1.0)  # the primary with itself
    assert cosine(v, -v) == pytest.approx(-1.0) and cosine(np.array([1.0, 0]), np.array([0, 1.0])) == 0.0
    assert math.isnan(cosine(v, np.zeros(3)))


def test_text_embedding_scores_are_cosines(rankings):
    assert all(-1.0 <= s <= 1.0 for s in rankings["TextEmb"].scores.values())


def test_estimators_score_classification_candidates_and_leave_the_rest_nan(exp, rankings):
    assert all(math.isfinite(s) for s in rankings["LogME"].scores.values())  # features serve any candidate
    for name in ("NCE", "LEEP"):
        scores = rankings[name].scores
        assert all(math.isfinite(scores[t]) and scores[t] <= 0 for t in CANDIDATES if t not in NOT_CLASSIFICATION)
    for r in (rankings[n] for n in ("LogME", "NCE", "LEEP")):
        assert r.shared == [HEAD_MATRICES] and len(r.parts) == 1 and r.parts[0].steps == 0


def test_a_regression_primary_has_logme_but_no_nce_or_leep(exp):
    logme = run_selector("LogME", "STS-B", ["MRPC", "WNLI"], exp=exp)
    assert all(math.isfinite(s) for s in logme.scores.values())
    for name in ("NCE", "LEEP"):
        assert all(math.isnan(s) for s in run_selector(name, "STS-B", ["MRPC", "WNLI"], exp=exp).scores.values())


def test_gradts_tau_and_autosem_utility_read_the_methods_stored_work(exp, rankings):
    taus = dict(rank_candidates(PRIMARY, importance_matrices([PRIMARY, *CANDIDATES], exp), CANDIDATES))
    assert rankings["GradTS-tau"].scores == pytest.approx(taus)
    utilities = run_stage1(PRIMARY, CANDIDATES, exp).utilities
    assert rankings["AutoSeM-utility"].scores == {t: utilities[t] for t in CANDIDATES}
    assert rankings["GradTS-tau"].parts == [] and rankings["AutoSeM-utility"].parts == []  # no work of their own
    assert rankings["AutoSeM-utility"].shared == [selectors.STAGE1]


class NoWrites(Store):
    def put(self, *args, **kwargs):
        raise AssertionError("a rerun wrote to the store")

    def put_array(self, *args, **kwargs):
        raise AssertionError("a rerun wrote to the store")


def test_a_rerun_reads_the_stored_ranking_back(exp, rankings, monkeypatch):
    assert {r["spec"]["selector"] for r in exp.store.records("selector")} == STORED  # the ones that run a model
    for what in ("finetuned", "build_encoder"):
        monkeypatch.setattr(selectors, what, lambda *a, **k: pytest.fail("a rerun ran a model"))
    reader = as_experiment(exp, store=NoWrites(exp.store.root))
    for name in STORED:
        again = run_selector(name, PRIMARY, CANDIDATES, exp=reader)
        assert again.order == rankings[name].order and again.parts == rankings[name].parts  # the first call's cost
        first = rankings[name].scores
        np.testing.assert_array_equal([again.scores[t] for t in CANDIDATES], [first[t] for t in CANDIDATES])


def test_an_unknown_selector_names_the_registered_ones(exp):
    with pytest.raises(ValueError, match="unknown selector 'LogMe'; choose from Random, .*LogME.*register_selector"):
        run_selector("LogMe", PRIMARY, CANDIDATES, exp=exp)


def test_a_selector_must_score_every_candidate_and_register_once(exp, monkeypatch):
    monkeypatch.setattr(selectors, "SELECTORS", dict(selectors.SELECTORS))  # undone after the test
    selectors.register_selector("Partial")(lambda exp, primary, candidates: {candidates[0]: 1.0})
    with pytest.raises(ValueError, match=r"gave no score for \['STS-B', 'WNLI', 'POS'\]"):
        run_selector("Partial", PRIMARY, CANDIDATES, exp=exp)
    with pytest.raises(ValueError, match="already registered"):
        selectors.register_selector("Random")(lambda exp, primary, candidates: {})
    with pytest.raises(ValueError, match="unknown shared work"):
        selectors.register_selector("Needs", shares=["a GPU"])(lambda exp, primary, candidates: {})
