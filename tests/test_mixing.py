import json
import math

import numpy as np
import pytest

from aux_select.methods.autosem import stage1 as autosem
from aux_select.experiment import context as experiment
from aux_select.methods.autosem import gp_search
from aux_select.methods.autosem import stage2 as mixing
from aux_select.experiment.context import Experiment
from aux_select.methods.autosem.stage2 import Stage2Result, run_stage2
from aux_select.methods.autosem.gp_search import best_point, search_ratio
from aux_select.experiment.profiles import override
from aux_select.data.registry import get_task
from fakes import fake_experiment
from aux_select.runtime.store import Store

OPTIMUM = np.array([6, 14])  # primary 6, auxiliary 14
R = 20


def bowl(ratio):
    """A smooth bowl over 2-task ratios with its minimum 0 at OPTIMUM."""
    return float(np.sum((np.array(ratio) - OPTIMUM) ** 2)) / 100


def random_search_best(n_calls: int, seed: int) -> float:
    rng, seen = np.random.default_rng(seed), set()
    while len(seen) < n_calls:  # distinct ratios, as the GP's are
        seen.add((int(rng.integers(1, R + 1)), int(rng.integers(0, R + 1))))
    return min(bowl(p) for p in seen)


def test_gp_finds_the_optimum_and_beats_random_search():
    # 12 calls in 420 ratios. Over 40 seeds the GP found the optimum exactly in 32 and was never
    # further than sqrt(13) from it (mean best 0.007); random search's mean best is 0.10.
    n_calls, seeds = 12, range(4)
    gp = [best_point(search_ratio(bowl, 2, n_calls=n_calls, n_initial_points=4, max_ratio=R, seed=s)) for s in seeds]
    distances = [np.linalg.norm(np.array(x) - OPTIMUM) for x, _ in gp]
    assert max(distances) <= 4 and sum(d == 0 for d in distances) >= len(gp) / 2
    random_mean = np.mean([random_search_best(n_calls, s) for s in range(500)])
    assert np.mean([y for _, y in gp]) < 0.5 * random_mean


def test_the_search_is_gp_minimize():
    from skopt import gp_minimize
    ours = search_ratio(bowl, 2, n_calls=7, n_initial_points=3, max_ratio=R, seed=1)
    theirs = gp_minimize(bowl, gp_search.ratio_space(2, R), n_calls=7, n_initial_points=3, random_state=1)
    assert [x for x, _ in ours] == [[int(v) for v in x] for x in theirs.x_iters]


def test_interrupted_search_resumes_without_repeating_or_losing_a_point():
    settings = dict(n_calls=7, n_initial_points=3, max_ratio=R, seed=1)
    uninterrupted = search_ratio(bowl, 2, **settings)
    stored, calls = [], []

    def objective(ratio):
        if len(calls) == 5:
            raise KeyboardInterrupt  # killed while evaluating the 6th point
        calls.append(ratio)
        return bowl(ratio)

    with pytest.raises(KeyboardInterrupt):
        search_ratio(objective, 2, on_point=lambda x, y: stored.append((x, y)), **settings)
    assert len(stored) == 5
    calls.clear()
    resumed = search_ratio(lambda r: calls.append(r) or bowl(r), 2, previous=stored, **settings)
    assert len(calls) == 2 and resumed[:5] == stored  # only the missing points are evaluated
    assert len({tuple(x) for x, _ in resumed}) == 7
    assert resumed == uninterrupted  # the replay leaves the optimiser where it was
    calls.clear()
    assert search_ratio(lambda r: calls.append(r), 2, previous=resumed, **settings) == resumed and not calls
    shorter = search_ratio(lambda r: calls.append(r), 2, previous=resumed, **settings | {"n_calls": 4})
    assert shorter == resumed[:4] and not calls


def test_failed_evaluation_is_recorded_and_skipped():
    def objective(ratio):
        return math.nan if len(seen) == 1 else bowl(ratio)  # the second point fails

    seen = []
    points = search_ratio(objective, 2, n_calls=6, n_initial_points=2, max_ratio=R, seed=0,
                          on_point=lambda x, y: seen.append(y))
    assert len(points) == 6 and math.isnan(points[1][1]) and sum(map(math.isnan, seen)) == 1
    assert best_point(points) == min((p for p in points if not math.isnan(p[1])), key=lambda p: p[1])
    assert best_point([([1, 0], math.nan)]) is None


def test_duplicate_proposals_are_replaced():
    # a space of 6 ratios and 6 calls: the GP must repeat itself, yet every ratio is new
    points = search_ratio(lambda r: 0.0, 2, n_calls=6, n_initial_points=1, max_ratio=2, seed=0)
    assert sorted(tuple(x) for x, _ in points) == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]


# ----------------------------------------------------------------------------- stage 2 with fake runs

SMOKE = override("smoke", ["gp.calls=7", "gp.initial_points=3"])


def bowl_score(names, ratio):
    """A closed-form 'run': the primary alone diverges (NaN), the rest score by the bowl."""
    return math.nan if len(names) == 1 else 1 - bowl(ratio[:2]) / 10


@pytest.fixture
def fake(monkeypatch):
    """Stage 2 over synthetic task data with closed-form runs: no training, no real data."""
    return lambda **settings: fake_experiment(monkeypatch, ["RTE", "MRPC", "WNLI", "CoLA"], bowl_score,
                                              profile=settings.pop("profile", SMOKE), **settings)


def test_stage2_stores_every_point_and_resumes(fake, tmp_path, monkeypatch):
    store = Store(tmp_path)
    exp, calls = fake(store=Store(tmp_path / "other"))
    full = run_stage2("RTE", ["MRPC"], exp)
    exp, calls = fake(store=store)
    real_trial = mixing.ratio_trial

    def killed_after_4(*args, **kwargs):
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_trial(*args, **kwargs)

    monkeypatch.setattr(mixing, "ratio_trial", killed_after_4)
    with pytest.raises(KeyboardInterrupt):
        run_stage2("RTE", ["MRPC"], exp)
    record, = store.records("gp_search")
    assert [t["ratio"] for t in record["value"]["trials"]] == [t.ratio for t in full.trials[:4]]

    exp, calls = fake(store=store)
    resumed = run_stage2("RTE", ["MRPC"], exp)
    assert len(calls) <= 3  # only new points train (fewer if one is proportional to a stored run)
    assert json.dumps(resumed.to_json()) == json.dumps(full.to_json())  # NaN != NaN for ==
    assert len({tuple(t.ratio) for t in resumed.trials}) == 7
    record, = store.records("gp_search")
    assert len(record["value"]["trials"]) == 7
    again = Stage2Result.from_json(json.loads(json.dumps(resumed.to_json())))
    assert json.dumps(again.to_json()) == json.dumps(resumed.to_json())
    # a finished search is read back as stored: no optimiser, no GP fitted to replay it
    monkeypatch.setattr(gp_search, "make_optimizer", lambda *a, **k: pytest.fail("a finished search was replayed"))
    assert json.dumps(run_stage2("RTE", ["MRPC"], fake(store=store)[0]).to_json()) == json.dumps(full.to_json())


def test_stage2_records_a_diverged_run_and_chooses_among_the_rest(fake, monkeypatch):
    monkeypatch.setattr(mixing, "search_ratio", lambda objective, *a, **k: [
        (x, objective(x)) for x in ([3, 0], [6, 14], [5, 15])])
    # a proportion's score: best where the primary has 30 % of the batches
    exp, calls = fake_experiment(monkeypatch, ["RTE", "MRPC"], profile=SMOKE, score=lambda names, ratio: (
        math.nan if len(names) == 1 else 1 - abs(ratio[0] / sum(ratio) - 0.3)))
    result = run_stage2("RTE", ["MRPC"], exp)
    failed = result.trials[0]
    assert failed.failure.startswith("loss became nan") and math.isnan(failed.select_score)
    assert calls[0] == (["RTE"], [1])  # the primary alone trains as single-task
    assert calls[1] == (["RTE", "MRPC"], [3, 7])  # 6:14 trains as its canonical 3:7
    assert result.best_ratio == [6, 14] and result.tasks == ["RTE", "MRPC"]
    assert (result.best_select_score, result.report_score) == (1.0, 0.9)
    assert result.optimize_result().func_vals[0] == 0.0  # the GP saw accuracy's worst score


@pytest.mark.parametrize("selected, settings, n_calls, message", [
    ([], [], None, "no auxiliary tasks selected"),
    (["MRPC", "RTE"], [], None, "among the selected auxiliary tasks"),
    (["MRPC", "MRPC"], [], None, "name a task twice"),
    (["MRPC", "NOPE"], [], None, "unknown task 'NOPE'"),
    (["MRPC"], ["gp.max_ratio=0"], None, "max_ratio=0"),
    (["MRPC"], [], 0, "n_calls=0"),
    (["MRPC"], ["gp.initial_points=0"], None, "n_initial_points=0"),
    (["MRPC"], ["gp.max_ratio=1"], 3, "exceeds the 2 distinct ratios"),
])
def test_bad_input_fails_before_loading_or_training(fake, selected, settings, n_calls, message):
    exp, calls = fake(profile=override(SMOKE, settings))
    with pytest.raises(ValueError, match=message):
        run_stage2("RTE", selected, exp, n_calls=n_calls)
    assert not calls


def test_stored_points_from_another_search_are_refused():
    with pytest.raises(ValueError, match="does not fit the space"):
        search_ratio(bowl, 2, n_calls=4, n_initial_points=2, previous=[([0, 3], 0.5)])
    with pytest.raises(ValueError, match="does not fit the space"):
        search_ratio(bowl, 2, n_calls=4, n_initial_points=2, previous=[([1, 2, 3], 0.5)])
    with pytest.raises(ValueError, match="repeat a ratio"):
        search_ratio(bowl, 2, n_calls=4, n_initial_points=2, previous=[([1, 2], 0.5), ([1, 2], 0.5)])


# ----------------------------------------------------------------------------- real data, smoke profile

@pytest.mark.slow
def test_autosem_on_smoke_is_stored_and_reused(fixture_data_dir, tmp_path, monkeypatch):
    from aux_select.methods.registry import get_method
    store = Store(tmp_path)
    exp = Experiment(override("smoke", ["gp.calls=3"]), data_dir=fixture_data_dir, store=store, progress=False)
    first = get_method("AutoSeM")(exp, "WNLI", ["RTE", "MRPC"])
    stage2 = run_stage2("WNLI", autosem.run_stage1("WNLI", ["RTE", "MRPC"], exp).selected, exp)
    assert sorted(first.selected) == sorted(t for t, r in zip(stage2.tasks[1:], stage2.best_ratio[1:]) if r > 0)
    assert len(stage2.trials) == 3 and first.details["trials"][0]["ratio"] == stage2.trials[0].ratio
    assert first.report[get_task("WNLI").selection_metric] == stage2.report_score
    assert len(store.records("gp_search")) == 1 and len(store.records("stage1")) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("a stored result was trained again")

    monkeypatch.setattr(experiment, "run_mtl", no_training)
    monkeypatch.setattr(autosem, "Trainer", no_training)
    again = get_method("AutoSeM")(Experiment(exp.profile, data_dir=fixture_data_dir, store=store, progress=False),
                                  "WNLI", ["RTE", "MRPC"])
    assert again.to_json() == first.to_json()
    with pytest.raises(AssertionError, match="trained again"):  # a longer search trains only new points
        run_stage2("WNLI", stage2.tasks[1:], exp, n_calls=4)


def test_objective_figure_is_reproducible_and_leaves_numpy_alone():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from aux_select.plots.autosem import plot_objective_seeded
    # six noisy 3-task trials (those of the cpu RTE search): the diagonal panels average the GP
    # over sampled values of the other entries, which skopt draws from numpy's global generator
    trials = [mixing.Trial(ratio=r, select_score=s, report_score=s) for r, s in [
        ([12, 17, 17], 0.514), ([17, 12, 8], 0.554), ([7, 1, 5], 0.606), ([14, 0, 20], 0.598),
        ([19, 5, 20], 0.578), ([20, 0, 0], 0.578)]]
    result = Stage2Result.from_trials(["A", "B", "C"], trials, "accuracy",
                                      {"max_ratio": R, "seed": 0, "worst_score": 0.0}).optimize_result()

    def render(global_seed: int) -> np.ndarray:  # whatever state the caller left numpy in
        np.random.seed(global_seed)
        before = np.random.get_state()[1].copy()
        fig = np.ravel(plot_objective_seeded(result, seed=0, n_points=20, n_samples=100))[0].figure
        assert np.array_equal(np.random.get_state()[1], before)  # the caller's global stream is untouched
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
        plt.close(fig)
        return pixels

    assert np.array_equal(render(1), render(2))


# ----------------------------------------------------------------------------- batched proposals

def test_a_batched_search_has_n_calls_distinct_points_and_resumes_exactly():
    settings = dict(n_calls=7, n_initial_points=3, max_ratio=R, seed=1, batch_size=2)
    uninterrupted = search_ratio(bowl, 2, **settings)
    assert len({tuple(x) for x, _ in uninterrupted}) == 7
    assert uninterrupted != search_ratio(bowl, 2, **settings | {"batch_size": 1})  # another search than k=1's
    batches, stored = [], []

    def killed_in_the_third_batch(ratios):  # a batch's points finish in any order: here the last first
        batches.append(ratios)
        for x in reversed(ratios):
            if len(stored) == 5:
                raise KeyboardInterrupt
            stored.append((x, bowl(x)))
        return [bowl(x) for x in ratios]

    with pytest.raises(KeyboardInterrupt):
        search_ratio(None, 2, map_batch=killed_in_the_third_batch, **settings)
    assert [len(b) for b in batches] == [2, 2, 2] and len(stored) == 5
    evaluated = []
    resumed = search_ratio(None, 2, previous=stored, map_batch=lambda xs: evaluated.extend(xs) or list(map(bowl, xs)),
                           **settings)
    assert resumed == uninterrupted  # the same batches, asked and told as before
    assert evaluated == [batches[2][0], resumed[6][0]]  # the unfinished point of batch 3, then the last batch of 1


def test_a_batched_stage2_records_every_point_and_resumes(fake, tmp_path, monkeypatch):
    exp, _ = fake(store=Store(tmp_path / "other"))
    full = run_stage2("RTE", ["MRPC"], exp, batch_size=2)
    assert len({tuple(t.ratio) for t in full.trials}) == 7 and full.settings["batch_size"] == 2
    store = Store(tmp_path / "store")
    exp, calls = fake(store=store)
    real_trial = mixing.ratio_trial

    def killed_after_3(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_trial(*args, **kwargs)

    monkeypatch.setattr(mixing, "ratio_trial", killed_after_3)
    with pytest.raises(KeyboardInterrupt):
        run_stage2("RTE", ["MRPC"], exp, batch_size=2)
    record, = store.records("gp_search")
    assert len(record["value"]["trials"]) == 3  # each point stored as it finished
    monkeypatch.undo()
    exp, calls = fake(store=store)
    resumed = run_stage2("RTE", ["MRPC"], exp, batch_size=2)
    assert json.dumps(resumed.to_json()) == json.dumps(full.to_json())
    serial = run_stage2("RTE", ["MRPC"], exp)  # k = 1: its own search, under its own key
    assert "batch_size" not in serial.settings and len(store.records("gp_search")) == 2
    exp, calls = fake(store=store, profile=override(SMOKE, ["gp.batch_size=2"]))
    from_profile = run_stage2("RTE", ["MRPC"], exp)  # the profile's setting: the same search, read back
    assert json.dumps(from_profile.to_json()) == json.dumps(full.to_json()) and calls == []


def test_under_k_each_gp_point_trains_as_the_ratio_that_fits_and_the_search_resumes_from_its_points(fake, tmp_path):
    from aux_select.methods.autosem.ablations import run_grid
    from aux_select.train.schedule import fits, within_k
    profile = override(SMOKE, ["train.max_total_factor=2"])  # the bowl's optimum 6:14 lies outside K = 2
    store = Store(tmp_path)
    exp, calls = fake(profile=profile, store=store)
    result = run_stage2("RTE", ["MRPC"], exp)
    assert all(fits(ratio, 2) for _, ratio in calls) and all(fits(t.ratio, 2) for t in result.trials)
    moved = [t for t in result.trials if t.point is not None]  # points whose primary entry was raised
    assert moved and all(t.ratio == within_k(t.point, 2) != t.point for t in moved)
    assert len({tuple(t.at) for t in result.trials}) == 7 and fits(result.best_ratio, 2)
    again = run_stage2("RTE", ["MRPC"], fake(profile=profile, store=store)[0])
    assert json.dumps(again.to_json()) == json.dumps(result.to_json())
    assert all(fits(t.ratio, 2) for t in run_grid("RTE", ["MRPC"], exp).trials)
    with pytest.raises(ValueError, match="K must exceed 1"):
        within_k([1, 1], 1.0)


def test_a_multi_fidelity_search_stops_trailing_points_never_chooses_one_and_resumes(fake, tmp_path, monkeypatch):
    profile = override(SMOKE, ["train.eval_every=3", "search_stop.enabled=true"])  # evaluations at 3, 6, 9, 12
    store = Store(tmp_path)
    exp, calls = fake(profile=profile, store=store)
    result = run_stage2("RTE", ["MRPC"], exp)
    stopped = [t for t in result.trials if t.stopped_at is not None]
    finished = [t for t in result.trials if t.finished]
    assert stopped and finished and result.trials[0].finished and result.trials[0].reference is None
    by_ratio = {tuple(t.ratio): t for t in finished}
    for i, t in enumerate(result.trials[1:], 1):  # each against the best point finished before it
        before = [u for u in result.trials[:i] if u.finished]
        assert t.reference == max(before, key=lambda u: u.select_score).ratio
    for t in stopped:  # what it reached trails its reference; min_fraction 1/3 of 12 steps: no stop before 6
        assert t.stopped_at >= 6 and t.select_score < by_ratio[tuple(t.reference)].select_score
        assert math.isnan(t.report_score)
    assert result.best_ratio == max(finished, key=lambda t: t.select_score).ratio
    assert result.best_select_score == max(t.select_score for t in finished)
    # a whole-budget search is another search, under its own key; it trains every point whole
    whole = run_stage2("RTE", ["MRPC"], fake(profile=override(profile, ["search_stop.enabled=false"]),
                                               store=store)[0])
    assert all(t.stopped_at is None for t in whole.trials) and len(store.records("gp_search")) == 2
    # read back: no run trains, the stopped trials' runs included (AutoSeM's parts read them)
    again, calls = fake(profile=profile, store=store)
    assert json.dumps(run_stage2("RTE", ["MRPC"], again).to_json()) == json.dumps(result.to_json())
    runs = [mixing.trial_run(again, result.tasks, t) for t in result.trials]
    assert calls == [] and [r.stopped_at for r in runs] == [t.stopped_at for t in result.trials]
    # a finished point's run is stored as the whole run, and only there; a stopped one only under its rule
    assert again.run(result.tasks, result.best_ratio).select_score == result.best_select_score and calls == []
    assert all(("stop" in r["spec"]) == (r["value"]["stopped_at"] is not None) for r in store.records("run"))
