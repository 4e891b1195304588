import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from aux_select.data.synthetic import synthetic_task
from aux_select.model.encoders import EncoderConfig
from aux_select.train.run import PeakMemory, run_mtl
from aux_select.train.config import TrainConfig
from aux_select.train.trainer import Trainer
from aux_select.train.schedule import fits, mixing_schedule, run_length, total_factor, uniform_mix, validate_ratio

TINY = EncoderConfig(name="tiny-bert", max_len=32)
FAST = TrainConfig(max_steps=40, batch_size=16, eval_batch_size=64, lr=2e-3)


def test_mixing_schedule_interleaves():
    assert mixing_schedule([1]) == [0]
    assert mixing_schedule([2, 1, 0]) == [0, 1, 0]
    assert mixing_schedule([3, 1, 2]) == [0, 1, 2, 0, 2, 0]
    schedule = mixing_schedule([4, 0, 7, 2])
    assert [schedule.count(i) for i in range(4)] == [4, 0, 7, 2]
    # step s trains schedule[s % len]: over many steps each task gets its share
    steps = [schedule[s % len(schedule)] for s in range(13 * 10)]
    assert steps.count(2) == 70 and steps.count(0) == 40


@pytest.mark.parametrize("ratio, n, message", [
    ([1, -1], 2, "negative entry"),
    ([0, 3], 2, "primary's entry must be >= 1"),
    ([1, 1], 3, "2 entries for 3 tasks"),
    ([1, 0.5], 2, "non-integer"),
    ([], None, "empty"),
])
def test_bad_ratios(ratio, n, message):
    with pytest.raises(ValueError, match=message):
        validate_ratio(ratio, n)


@pytest.fixture(scope="module")
def toy():
    return synthetic_task("toy", n_train=256, n_select=64, n_report=64)


def test_learns_a_learnable_task(toy):
    result = run_mtl([toy], [1], encoder=TINY, config=replace(FAST, max_steps=80), progress=False)
    assert result.failure is None and result.steps == 80
    assert result.select_score >= 0.8 and result.report["accuracy"] >= 0.8
    assert result.examples_seen == {"toy": 80 * 16}
    assert result.wall_time_s > 0 and result.peak_memory_mb > 0
    # the report predictions are what the report metrics were computed from, row by row
    assert len(result.report_predictions) == len(result.report_labels) == len(toy.report)
    assert result.report_labels == list(toy.report["label"])
    correct = np.mean(np.array(result.report_predictions) == np.array(result.report_labels))
    assert result.report["accuracy"] == pytest.approx(correct)


def test_peak_memory_is_per_block_not_per_process(monkeypatch):
    # the resident set is faked: a sandbox may serve /proc/self/statm stale or not at all (CI once
    # read the same 1691.5 MB in both blocks), and the rule under test is the per-block peak
    resident = [100.0]
    monkeypatch.setattr(PeakMemory, "_rss_mb", staticmethod(lambda: resident[0]))
    with PeakMemory(torch.device("cpu"), interval=0.01) as big:
        resident[0] = 228.0  # a 128 MB block, alive until the block ends
    resident[0] = 100.0
    with PeakMemory(torch.device("cpu"), interval=0.01) as small:
        pass
    assert (big.peak_mb, small.peak_mb) == (228.0, 100.0)


def test_peak_memory_reads_a_resident_set():
    assert PeakMemory._rss_mb() > 0


def test_same_seed_same_run(toy):
    a, b = (run_mtl([toy], [1], encoder=TINY, config=FAST, progress=False) for _ in range(2))
    c = run_mtl([toy], [1], encoder=TINY, config=replace(FAST, seed=1), progress=False)
    assert a.losses == b.losses and a.select == b.select
    assert a.losses != c.losses


def test_ratio_sets_examples_and_zero_drops_a_task(toy):
    aux = synthetic_task("aux", pair=True, regression=True, seed=1)
    other = synthetic_task("other", seed=2)
    result = run_mtl([toy, aux, other], [2, 1, 0], encoder=TINY, config=replace(FAST, max_steps=20),
                     progress=False)
    assert result.tasks == ["toy", "aux"] and result.ratio == [2, 1]
    # the budget is the primary's 20 steps; the auxiliary's 10 come on top
    assert result.examples_seen == {"toy": 20 * 16, "aux": 10 * 16}
    assert (result.steps, result.primary_steps) == (30, 20)


def test_auxiliary_steps_come_on_top_and_a_mix_over_k_is_refused_not_cut(toy):
    aux = synthetic_task("aux", pair=True, regression=True, seed=1)
    assert [run_length([1, 5], n) for n in (1, 2, 10)] == [1, 7, 55]
    assert run_length([3, 1], 6) == 8  # schedule 0 1 0 0 | 0 1 0 0: the 6th primary step is the 8th
    with pytest.raises(ValueError, match="trains 6 times the primary's steps, over K"):
        run_mtl([toy, aux], [1, 5], encoder=TINY, config=replace(FAST, max_steps=10, max_total_factor=3),
                progress=False)
    fitting = run_mtl([toy, aux], [1, 2], encoder=TINY, config=replace(FAST, max_steps=10, max_total_factor=3),
                      progress=False)
    assert (fitting.steps, fitting.primary_steps) == (28, 10)  # the primary gets all 10 of its steps


def test_uniform_mixes_fit_k_with_the_smallest_primary_share():
    assert uniform_mix(1, 2.0) == [1] and uniform_mix(2, 2.0) == [1, 1] and uniform_mix(4) == [1, 1, 1, 1]
    for n_tasks in range(2, 10):
        for k in (1.5, 2.0, 3.0, 4.0):
            mix = uniform_mix(n_tasks, k)
            assert fits(mix, k) and total_factor(mix) <= k
            assert mix[0] == 1 or not fits([mix[0] - 1, *mix[1:]], k)  # no smaller primary share fits
    with pytest.raises(ValueError, match="K must exceed 1"):
        uniform_mix(3, 1.0)


def test_a_constant_schedule_makes_a_longer_run_extend_a_shorter_one(toy):
    # with a fixed warm-up and no decay, the first N steps of a run do not depend on its length:
    # the budget study's learning curve at N is the N-step run
    config = replace(FAST, lr_schedule="constant_with_warmup", warmup_steps=4, eval_every=5)
    short = run_mtl([toy], [1], encoder=TINY, config=replace(config, max_steps=10), progress=False)
    long = run_mtl([toy], [1], encoder=TINY, config=replace(config, max_steps=20), progress=False)
    assert long.losses[:10] == short.losses
    assert long.history[:2] == short.history
    decayed = run_mtl([toy], [1], encoder=TINY, config=replace(FAST, max_steps=20, eval_every=5), progress=False)
    assert decayed.losses[1:10] != long.losses[1:10]  # the default warm-up and decay follow the length


def test_bf16_autocast_trains_with_fp32_weights_and_losses(toy):
    config = replace(FAST, max_steps=10)
    fp32 = run_mtl([toy], [1], encoder=TINY, config=replace(config, precision="fp32"), progress=False)
    bf16 = run_mtl([toy], [1], encoder=TINY, config=replace(config, precision="bf16"), progress=False)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert bf16.losses != fp32.losses and np.allclose(bf16.losses, fp32.losses, rtol=0.1)
    trainer = Trainer([toy], TINY, replace(config, precision="bf16"))
    assert trainer.step("toy").dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    with pytest.raises(ValueError, match="choose one of auto, fp32, bf16, fp16"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="needs a CUDA device"):  # fp16 trains with a gradient scaler, on CUDA only
        Trainer([toy], TINY, replace(config, precision="fp16", device="cpu"))


def test_history_holds_a_select_standard_error(toy):
    result = run_mtl([toy], [1], encoder=TINY, config=replace(FAST, max_steps=20, eval_every=10), progress=False)
    assert [h["primary_step"] for h in result.history] == [10, 20]
    assert all(0 < h["select_se"] < 0.2 for h in result.history)


def test_best_select_checkpoint_is_scored(toy):
    config = replace(FAST, max_steps=60, eval_every=10)
    result = run_mtl([toy], [1], encoder=TINY, config=config, progress=False)
    scores = [h["select_score"] for h in result.history]
    assert [h["step"] for h in result.history] == [10, 20, 30, 40, 50, 60]
    assert result.select_score == max(scores)
    assert result.best_step == result.history[scores.index(max(scores))]["step"]


def test_early_stopping_stops_after_patience(toy):
    config = replace(FAST, max_steps=400, eval_every=5, patience=2, lr=0.0)  # nothing can improve
    result = run_mtl([toy], [1], encoder=TINY, config=config, progress=False)
    assert result.steps == 15 and len(result.history) == 3 and result.best_step == 5


def test_divergence_is_a_recorded_failure():
    bad = synthetic_task("bad", regression=True)
    bad.train = bad.train.map(lambda row: {"label": math.nan})  # NaN targets: a NaN loss
    result = run_mtl([bad], [1], encoder=TINY, config=replace(FAST, max_steps=200), progress=False)
    assert result.failure == "loss became nan at step 1 (diverged)"
    assert math.isnan(result.select_score) and math.isnan(result.report_score)
    assert result.steps < 200  # stopped at the first check, not trained to the end


def test_result_round_trips_through_json(toy):
    from aux_select.train.run import RunResult
    result = run_mtl([toy], [1], encoder=TINY, config=replace(FAST, max_steps=5), progress=False)
    assert RunResult.from_json(result.to_json()) == result


def test_checkpoint_restore_continues_exactly(toy, tmp_path):
    from aux_select.train.trainer import Trainer
    config = replace(FAST, batch_size=32)
    first = Trainer([toy], TINY, config, total_steps=20)
    for _ in range(10):  # past an epoch boundary (256 rows / 32 = 8 batches)
        first.step("toy")
    first.checkpoint(tmp_path)
    expected = [first.step("toy").item() for _ in range(4)]
    second = Trainer([toy], TINY, config, total_steps=20)
    second.restore(tmp_path)
    assert second.batches_drawn == {"toy": 10} and second.examples_seen == {"toy": 10 * 32}
    assert [second.step("toy").item() for _ in range(4)] == expected
    assert second.score("toy") == first.score("toy")


def test_a_ratio_trains_as_its_canonical_proportion(toy):
    from aux_select.train.schedule import canonical_ratio, mixing_schedule
    assert canonical_ratio([3, 3, 3]) == [1, 1, 1] and canonical_ratio([4, 0, 2]) == [2, 1]
    assert canonical_ratio([6, 0]) == [1]
    other = replace(toy, spec=replace(toy.spec, name="other"))
    config = replace(FAST, max_steps=6)
    doubled = run_mtl([toy, other], [4, 2], encoder=TINY, config=config, progress=False)
    once = run_mtl([toy, other], [2, 1], encoder=TINY, config=config, progress=False)
    assert doubled.ratio == [2, 1] and doubled.losses == once.losses  # the same schedule
    assert mixing_schedule([2, 1]) * 2 != mixing_schedule([4, 2])  # what the raw flat list would have trained


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(toy, tmp_path, monkeypatch):
    aux = synthetic_task("aux", pair=True, seed=1)
    # 20 primary steps in a 2:1 mix: 30 steps, checkpoints at 7, 14, 21, 28, select scored every 5
    config = replace(FAST, max_steps=20, eval_every=5, checkpoint_every=7)
    full = run_mtl([toy, aux], [2, 1], encoder=TINY, config=config, progress=False)
    assert not list(tmp_path.iterdir())  # without a folder nothing is written
    step, steps = Trainer.step, []

    def killed_in_step_25(self, task, batch=None):
        if len(steps) == 24:
            raise KeyboardInterrupt
        steps.append(task)
        return step(self, task, batch)

    monkeypatch.setattr(Trainer, "step", killed_in_step_25)
    with pytest.raises(KeyboardInterrupt):
        run_mtl([toy, aux], [2, 1], encoder=TINY, config=config, progress=False, checkpoint_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["step-00000021"]  # the newest only, whole
    monkeypatch.undo()
    resumed = run_mtl([toy, aux], [2, 1], encoder=TINY, config=config, progress=False, checkpoint_dir=tmp_path)

    def outcome(run):
        return {k: v for k, v in run.to_json().items() if k not in ("wall_time_s", "cpu_time_s", "peak_memory_mb")}

    assert outcome(resumed) == outcome(full)  # losses, select history, best step, scores, predictions
    assert resumed.wall_time_s > 0 and resumed.cpu_time_s > 0 and len(full.history) == 4
    with pytest.raises(ValueError, match="belongs to another run"):
        run_mtl([toy], [1], encoder=TINY, config=config, progress=False, checkpoint_dir=tmp_path)


def test_a_stop_rule_stops_behind_the_reference_after_its_grace_and_within_its_margin():
    from aux_select.train.stopping import StopRule, best_so_far
    curve = [{"primary_step": p, "select_score": s, "select_se": 0.02} for p, s in [(10, 0.5), (20, 0.7), (30, 0.6)]]
    assert best_so_far(curve) == [(10, 0.5, 0.02), (20, 0.7, 0.02), (30, 0.7, 0.02)]
    rule = StopRule.against(curve, margin_se=1.0, min_primary_steps=20)

    def run(*scores):
        return [{"primary_step": 10 * (i + 1), "select_score": s, "select_se": 0.02} for i, s in enumerate(scores)]
    assert not rule.stops(run(0.1))                  # far behind, but before the grace ends
    assert rule.stops(run(0.1, 0.67))                # 0.67 < 0.70 - 0.02
    assert not rule.stops(run(0.1, 0.69))            # within the margin
    assert not rule.stops(run(0.1, 0.69, 0.55))      # its best so far (0.69) counts, not its last score
    assert rule.stops(run(0.1, 0.2, 0.3, 0.4))       # past the reference's end: its last best (0.70)
    assert rule.key()["reference"] == [[10, 0.5, 0.02], [20, 0.7, 0.02], [30, 0.7, 0.02]]


def test_a_stopped_run_is_the_full_runs_prefix_with_report_unscored(toy):
    from aux_select.train.stopping import StopRule
    aux = synthetic_task("aux", pair=True, seed=1)
    config = replace(FAST, max_steps=20, eval_every=5)
    full = run_mtl([toy, aux], [1, 1], encoder=TINY, config=config, progress=False)
    unreachable = StopRule(((5, 2.0, 0.01),), margin_se=1.0, min_primary_steps=10)  # a score of 2 is out of reach
    stopped = run_mtl([toy, aux], [1, 1], encoder=TINY, config=config, progress=False, stop=unreachable)
    assert stopped.stopped_at == stopped.primary_steps == 10 and full.stopped_at is None
    assert stopped.losses == full.losses[:len(stopped.losses)] and stopped.history == full.history[:2]
    assert stopped.select_score == max(h["select_score"] for h in full.history[:2])
    assert math.isnan(stopped.report_score) and stopped.report_predictions is None
    behind = StopRule(((5, -1.0, 0.01),), margin_se=1.0, min_primary_steps=10)  # never ahead of a run
    kept = run_mtl([toy, aux], [1, 1], encoder=TINY, config=config, progress=False, stop=behind)
    assert {k: v for k, v in kept.to_json().items() if k not in ("wall_time_s", "cpu_time_s", "peak_memory_mb")} == \
        {k: v for k, v in full.to_json().items() if k not in ("wall_time_s", "cpu_time_s", "peak_memory_mb")}
    with pytest.raises(ValueError, match="eval_every"):
        run_mtl([toy], [1], encoder=TINY, config=FAST, progress=False, stop=behind)


def test_a_run_the_rule_would_stop_at_its_last_step_is_finished(toy):
    from aux_select.train.stopping import StopRule
    config = replace(FAST, max_steps=10, eval_every=5)
    late = StopRule(((5, -1.0, 0.01), (10, 2.0, 0.01)), margin_se=1.0, min_primary_steps=5)  # out of reach at 10 only
    run = run_mtl([toy], [1], encoder=TINY, config=config, progress=False, stop=late)
    assert run.stopped_at is None and run.primary_steps == 10 and math.isfinite(run.report_score)


def test_losses_are_stored_compactly_and_read_back_exactly(toy):
    import base64

    from aux_select.train.run import RunResult
    run = run_mtl([toy], [1], encoder=TINY, config=replace(FAST, max_steps=12), progress=False)
    stored = run.to_json()
    assert set(stored["losses"]) == {"float32_base64"}
    assert len(base64.b64decode(stored["losses"]["float32_base64"])) == 4 * len(run.losses)  # 4 bytes a step
    assert RunResult.from_json(stored) == run  # every loss back, bit for bit
    assert RunResult.from_json(stored | {"losses": run.losses}).losses == run.losses  # runs stored as lists
    nan = RunResult.from_json(replace(run, losses=[0.5, float("nan")]).to_json()).losses
    assert nan[0] == 0.5 and nan[1] != nan[1]
