"""Fakes shared by the unit tests: an Experiment over synthetic tasks whose MTL runs are a
closed-form score instead of training (every call is recorded; a NaN score is a diverged run).
Under a profile with `train.eval_every`, a run's select curve climbs linearly to its score, and a
`StopRule` stops it as it would a real run. Each run records the device and precision the profile's
resolve to here, as a trainer's would."""
from typing import Callable, Sequence

from aux_select.experiment import context as experiment
from aux_select.experiment.context import Experiment
from aux_select.data.synthetic import synthetic_task
from aux_select.runtime.devices import pick_device, resolve_precision
from aux_select.train.run import RunResult


def primary_share(names: list[str], ratio: list[int]) -> float:
    """The score grows with the primary's share of the mix, a little less per extra task."""
    return ratio[0] / sum(ratio) - 0.01 * len(names)


def fake_experiment(monkeypatch, names: Sequence[str], score: Callable[[list[str], list[int]], float] = primary_share,
                    profile="smoke", **settings) -> tuple[Experiment, list]:
    """(an Experiment serving a synthetic task under each name, the list of (tasks, ratio) every
    MTL run was asked for); `score(tasks, canonical ratio)` is each run's select score."""
    calls = []

    def run_mtl(tasks, ratio, config=None, stop=None, **kwargs):
        tasks = [t.name for t in tasks]
        calls.append((tasks, list(ratio)))
        s = score(tasks, list(ratio))
        failure = "loss became nan at step 3 (diverged)" if s != s else None  # NaN: the run diverged
        history = _curve(s, config) if failure is None else []
        stopped_at = next((h["primary_step"] for i, h in enumerate(history[:-1])  # not at the last step
                           if stop is not None and stop.stops(history[:i + 1])), None)
        history = [h for h in history if stopped_at is None or h["primary_step"] <= stopped_at]
        reached = history[-1]["select_score"] if stopped_at else s
        device = pick_device(config.device if config is not None else "cpu")  # as a trainer would resolve it
        precision = resolve_precision(config.precision, device) if config is not None else "fp32"
        report = reached - 0.1 if stopped_at is None else float("nan")
        return RunResult(failure=failure, tasks=tasks, ratio=list(ratio), select={"accuracy": reached},
                         report={"accuracy": report}, select_score=reached, report_score=report, losses=[],
                         steps=0, best_step=0, examples_seen={}, wall_time_s=1.0, peak_memory_mb=10.0,
                         device=device.type, precision=precision,
                         report_predictions=[0, 1] if stopped_at is None else None,
                         report_labels=[0, 1] if stopped_at is None else None, history=history, stopped_at=stopped_at)

    monkeypatch.setattr(experiment, "run_mtl", run_mtl)
    exp = Experiment(profile, progress=False, **settings)
    for i, name in enumerate(names):
        exp.use_task(synthetic_task(name, seed=i))
    return exp, calls


def _curve(score: float, config) -> list[dict]:
    """Select evaluations every `eval_every` primary steps, climbing linearly to `score` (none without)."""
    if config is None or not config.eval_every:
        return []
    steps = range(config.eval_every, config.max_steps + 1, config.eval_every)
    return [{"step": p, "primary_step": p, "select_score": score * p / config.max_steps, "select_se": 0.01}
            for p in steps]
