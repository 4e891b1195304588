import json
from collections import Counter
from dataclasses import replace

import pytest

from aux_select.methods.autosem import stage1 as autosem
from aux_select.methods.autosem.stage1 import Stage1Result, run_stage1, thompson_stage1
from aux_select.methods.autosem.bandit import ThompsonBandit, select_auxiliary
from aux_select.data.synthetic import synthetic_task
from aux_select.model.encoders import EncoderConfig
from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import BanditConfig, get_profile, override
from aux_select.runtime.store import Store
from aux_select.train.config import TrainConfig
from aux_select.train.trainer import Trainer

TINY = EncoderConfig(name="tiny-bert", max_len=32)
CONFIG = TrainConfig(batch_size=8, eval_batch_size=64, lr=3e-3)
BANDIT = BanditConfig(rounds=6, batches_per_round=2, eval_size=32)
STAGE1 = dict(encoder=TINY, config=CONFIG, bandit=BANDIT, progress=False)


def bandit(**changes) -> dict:
    """STAGE1 with some bandit settings changed."""
    return STAGE1 | {"bandit": replace(BANDIT, **changes)}


@pytest.fixture(scope="module")
def tasks():
    # a regression primary: its Pearson score moves every round, so both rewards occur
    return [synthetic_task("toy", n_train=96, regression=True), synthetic_task("aux1", pair=True, seed=1),
            synthetic_task("aux2", seed=2)]


@pytest.fixture(scope="module")
def full(tasks):
    return thompson_stage1(tasks, **STAGE1)


@pytest.fixture
def refuse_training(monkeypatch):
    """Fail the test if data is loaded or a Trainer is built."""
    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded or a Trainer built before the input was checked")
    monkeypatch.setattr(autosem, "Trainer", refuse)
    monkeypatch.setattr(Experiment, "task", refuse)


def test_same_seed_same_trajectory(tasks, full):
    again = thompson_stage1(tasks, **STAGE1)
    assert again.trajectory == full.trajectory and again.initial_score == full.initial_score
    assert (again.alpha, again.beta, again.selected) == (full.alpha, full.beta, full.selected)
    other = thompson_stage1(tasks, **bandit(rounds=2) | {"config": replace(CONFIG, seed=1)})
    assert other.initial_score != full.initial_score


def test_trajectory_replays_algorithm_1(full):
    rows = full.trajectory
    assert [r["round"] for r in rows] == list(range(1, 7))
    assert all({"round", "arm", "reward", "score", "alpha", "beta"} <= set(r) for r in rows)
    assert {r["reward"] for r in rows} == {0, 1}  # both branches are exercised
    bandit = ThompsonBandit(3, prior=(1.0, 1.0), primary_prior=(2.0, 1.0), gamma=0.3)
    assert full.posterior_at(0) == (bandit.alpha.tolist(), bandit.beta.tolist())
    for row in rows:
        bandit.update(full.tasks.index(row["arm"]), row["reward"])
        assert (row["alpha"], row["beta"]) == (bandit.alpha.tolist(), bandit.beta.tolist())
    assert (full.alpha, full.beta) == (bandit.alpha.tolist(), bandit.beta.tolist())
    assert full.utilities == dict(zip(full.tasks, bandit.utilities().tolist()))
    assert full.pulls == {t: Counter(r["arm"] for r in rows)[t] for t in full.tasks}
    assert full.selected == select_auxiliary(full.utilities, "toy") and "toy" not in full.selected
    assert Stage1Result.from_json(json.loads(json.dumps(full.to_json()))) == full


def test_rewards_compare_with_the_previous_round_and_first_with_the_untrained_model(tasks, full):
    untrained = Trainer(tasks, TINY, CONFIG, total_steps=12).score("toy", "select")
    assert full.initial_score == untrained and full.settings["eval_rows"] is None  # all 32 select rows
    previous = [full.initial_score] + [r["score"] for r in full.trajectory[:-1]]
    assert [r["reward"] for r in full.trajectory] == [int(r["score"] >= p) for r, p in zip(full.trajectory, previous)]


def test_resume_after_interruption_equals_an_uninterrupted_run(tasks, full, tmp_path, monkeypatch):
    real_step, steps, stop_after = Trainer.step, [], [5 * 2]

    def step(self, task, batch=None):  # counts optimiser steps; raises at the limit
        if len(steps) == stop_after[0]:
            raise KeyboardInterrupt
        steps.append(task)
        return real_step(self, task, batch)

    monkeypatch.setattr(Trainer, "step", step)
    with pytest.raises(KeyboardInterrupt):  # in round 6: rounds 1-5 done, the checkpoint is after 4
        thompson_stage1(tasks, checkpoint_dir=tmp_path, **bandit(checkpoint_every=2))
    assert [p.name for p in tmp_path.iterdir()] == ["round-00000004"]
    assert {p.suffix for p in (tmp_path / "round-00000004").iterdir()} == {".safetensors", ".json"}  # no pickles

    steps.clear()
    stop_after[0] = None
    resumed = thompson_stage1(tasks, checkpoint_dir=tmp_path, **bandit(checkpoint_every=2))
    assert len(steps) == 2 * 2  # only rounds 5 and 6 are trained again
    assert resumed.trajectory == full.trajectory and resumed.initial_score == full.initial_score
    assert (resumed.alpha, resumed.beta, resumed.pulls, resumed.selected) == (full.alpha, full.beta, full.pulls, full.selected)
    assert resumed.cpu_time_s > 0 and full.cpu_time_s > 0  # CPU seconds summed over the calls, like wall time
    assert [p.name for p in tmp_path.iterdir()] == ["round-00000006"]

    steps.clear()  # a finished checkpoint: nothing is trained
    assert thompson_stage1(tasks, checkpoint_dir=tmp_path, **STAGE1).trajectory == full.trajectory and not steps
    with pytest.raises(ValueError, match="belongs to another run"):
        thompson_stage1(tasks, checkpoint_dir=tmp_path, **bandit(gamma=0.5))


@pytest.mark.parametrize("kwargs, message", [
    ({"gamma": 1.5}, r"gamma=1.5 is outside \[0, 1\]"),
    ({"gamma": -0.1}, r"gamma=-0.1 is outside \[0, 1\]"),
    ({"prior": (0.0, 1.0)}, r"prior=\(0.0, 1.0\) is invalid"),
    ({"primary_prior": (1.0, -1.0)}, r"primary_prior=\(1.0, -1.0\) is invalid"),
    ({"rounds": 0}, "rounds=0"),
    ({"eval_size": 0}, "eval_size=0"),
])
def test_bad_settings_fail_before_training(tasks, refuse_training, kwargs, message):
    with pytest.raises(ValueError, match=message):
        thompson_stage1(tasks, **bandit(**kwargs))


def test_each_round_scores_a_seeded_sample_of_select_not_its_first_rows(tasks):
    sampled = thompson_stage1(tasks, **bandit(rounds=1, eval_size=12))
    rows = sampled.settings["eval_rows"]
    assert len(rows) == 12 and rows == sorted(rows) and rows != list(range(12))
    assert rows == thompson_stage1(tasks, **bandit(rounds=1, eval_size=12)).settings["eval_rows"]  # seeded
    untrained = Trainer(tasks, TINY, CONFIG, total_steps=2).score("toy", "select", rows=rows)
    assert sampled.initial_score == untrained
    other_seed = thompson_stage1(tasks, **bandit(rounds=1, eval_size=12) | {"config": replace(CONFIG, seed=3)})
    assert other_seed.settings["eval_rows"] != rows


def test_bad_task_lists_fail_before_training(tasks, refuse_training):
    with pytest.raises(ValueError, match="n_arms=1"):
        thompson_stage1(tasks[:1], **STAGE1)
    with pytest.raises(ValueError, match="name a task twice"):
        thompson_stage1([tasks[0], tasks[1], tasks[1]], **STAGE1)


@pytest.mark.parametrize("primary, candidates, kwargs, message", [
    ("RTE", ["MRPC", "RTE"], {}, "among its own candidates"),
    ("RTE", [], {}, "at least one"),
    ("RTE", ["MRPC", "NOPE"], {}, "unknown task 'NOPE'"),
    ("NOPE", ["RTE"], {}, "unknown task 'NOPE'"),
    ("RTE", ["MRPC"], ["bandit.gamma=2.0"], "gamma=2.0"),
    ("RTE", ["MRPC"], ["bandit.prior=[1.0, 0.0]"], "prior=.* is invalid"),
    ("RTE", ["MRPC"], ["bandit.primary_prior=[-2.0, 1.0]"], "primary_prior=.* is invalid"),
])
def test_run_stage1_rejects_bad_input_before_loading_data(refuse_training, primary, candidates, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_stage1(primary, candidates, profile=override("smoke", kwargs or []))


def test_run_stage1_is_stored_and_reused(fixture_data_dir, tmp_path, monkeypatch):
    store = Store(tmp_path)
    kw = dict(data_dir=fixture_data_dir, store=store, progress=False)
    first = run_stage1("WNLI", ["RTE", "MRPC"], profile="smoke", **kw)
    assert first.tasks == ["WNLI", "RTE", "MRPC"] and len(first.trajectory) == get_profile("smoke").bandit.rounds
    assert len(store.records("stage1")) == 1
    assert not any((tmp_path / "stage1_checkpoints").iterdir())  # removed once the result is stored

    def no_training(*args, **kwargs):
        raise AssertionError("a stored trajectory was trained again")

    monkeypatch.setattr(autosem, "Trainer", no_training)
    assert run_stage1("WNLI", ["RTE", "MRPC"], profile="smoke", **kw) == first
    with pytest.raises(AssertionError, match="trained again"):  # another gamma is another trajectory
        run_stage1("WNLI", ["RTE", "MRPC"], profile=override("smoke", ["bandit.gamma=0.5"]), **kw)
