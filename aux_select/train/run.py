"""One MTL run: `run_mtl` trains the primary with its auxiliaries and scores it (`RunResult`).

A mixing ratio η_1:…:η_N (primary first) becomes the interleaved schedule of the official
AutoSeM code: step s trains task `schedule[s % len(schedule)]`, where the schedule lists
task i η_i times (round-robin, so tasks alternate instead of coming in blocks).

The budget is the primary's own steps (`TrainConfig.max_steps`), and every run gives the primary
all of them; auxiliary batches come on top, as both papers train: a 1:5:5 mix runs 11 times the
primary's steps. A mix over the profile's K (`max_total_factor`) is refused, never cut short.
Early stopping (`eval_every`, `patience`) counts the primary's steps too.
With `checkpoint_every`, a run writes a checkpoint every so many steps and a killed run resumes
from its last one, ending exactly as an uninterrupted run would (`aux_select.train.checkpoints`).
"""
from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from aux_select.data.loading import TaskData
from aux_select.data.registry import REGRESSION, TAGGING
from aux_select.model.encoders import EncoderConfig
from aux_select.runtime.cost import Clock, PeakMemory
from aux_select.runtime.store import JsonResult
from aux_select.train.checkpoints import load_checkpoint, save_checkpoint
from aux_select.train.config import TrainConfig, result_settings
from aux_select.train.metrics import bootstrap_se, task_metrics
from aux_select.train.schedule import canonical_ratio, check_fits, mixing_schedule, run_length, validate_ratio
from aux_select.train.stopping import StopRule
from aux_select.train.trainer import Trainer


@dataclass
class RunResult(JsonResult):
    tasks: list[str]                 # primary first
    ratio: list[int]
    select: dict[str, float]         # the primary's metrics on its select split
    report: dict[str, float]         # ... and on its report split (GLUE dev)
    select_score: float              # the primary's selection metric on select
    report_score: float
    losses: list[float]              # training loss of every step
    steps: int                       # batches of all tasks together
    best_step: int                   # step whose weights were scored
    examples_seen: dict[str, int]
    wall_time_s: float
    peak_memory_mb: float            # peak RSS of the process during the run (host memory, on a GPU too)
    device: str                      # where it trained, as the trainer resolved the profile's device
    failure: str | None = None       # why the run failed (e.g. NaN loss); scores are then NaN
    history: list[dict] = field(default_factory=list)  # select evaluations during training
    report_predictions: list | None = None  # the primary's prediction per report row, for paired
    report_labels: list | None = None       # bootstraps across methods (None in runs stored before)
    primary_steps: int | None = None        # the primary's own batches among `steps`
    precision: str = "fp32"                 # as the trainer resolved it ("bf16", "fp16": autocast)
    report_text_dropped: dict | None = None  # task -> its train rows dropped for sharing a sentence with
                                             # the primary's report split (Experiment.run; None: not asked)
    cpu_time_s: float | None = None          # process CPU seconds (all threads; a busy machine inflates
                                             # them less than wall time); None in runs stored before
    stopped_at: int | None = None            # the primary step where a search's `StopRule` stopped it:
                                             # select holds what it reached, report is NaN (never scored)
    device_memory_mb: float | None = None    # CUDA: the allocator's peak; None on CPU and in runs stored before

    def to_json(self) -> dict:
        return super().to_json() | {"losses": pack_losses(self.losses)}

    @classmethod
    def from_json(cls, d: dict) -> "RunResult":
        return cls(**{**d, "losses": unpack_losses(d["losses"])})


def pack_losses(losses: Sequence[float]) -> dict:
    """A run's losses as compact JSON: their float32 bytes in base64, 4 bytes a step where a JSON list
    of floats takes about 20 (lossless: each came out of torch as a float32)."""
    return {"float32_base64": base64.b64encode(np.asarray(losses, dtype="<f4").tobytes()).decode("ascii")}


def unpack_losses(stored: dict | list) -> list[float]:
    """`pack_losses`'s list back; a plain list (runs stored before) as it is."""
    if isinstance(stored, dict):
        return np.frombuffer(base64.b64decode(stored["float32_base64"]), dtype="<f4").astype(float).tolist()
    return list(stored)


def run_mtl(tasks: Sequence[TaskData], ratio: Sequence[int], *, encoder: EncoderConfig = EncoderConfig(),
            config: TrainConfig = TrainConfig(), progress: bool = True,
            checkpoint_dir: str | os.PathLike | None = None, stop: StopRule | None = None) -> RunResult:
    """Train the primary (`tasks[0]`) for `config.max_steps` of its own batches with the others
    mixed in by `ratio` (as its `canonical_ratio`: zeros dropped, divided by the gcd); score the
    primary. ValueError if the mix trains more than `config.max_total_factor` (K) times the
    primary's steps.

    With `eval_every` (primary steps), the primary is scored on select during training, each
    score with its bootstrap standard error over select rows, and the best weights are kept
    (and early stopping applies with `patience`). A NaN loss ends the run as a failure with
    NaN scores instead of raising, so a search can go on.

    With `checkpoint_dir`, a checkpoint found there is resumed (it must be this run's), and with
    `config.checkpoint_every` one is written there every so many steps; the result is the same
    as an uninterrupted run's (its wall time sums the calls). Remove the folder once the result
    is kept (`Experiment.run` does).

    With `stop` (a search's `StopRule`, which needs `eval_every`), the run ends at the first select
    evaluation before the primary's last step where the rule says it trails the search's best
    finished run: `stopped_at` records
    the primary step, select the best it reached, and report is left unscored (NaN).
    """
    ratio = validate_ratio(ratio, len(tasks))
    tasks = [t for t, r in zip(tasks, ratio) if r > 0]  # zero drops a task
    ratio = canonical_ratio(ratio)
    check_fits(ratio, config.max_total_factor)
    if stop is not None and not config.eval_every:
        raise ValueError("a StopRule reads select evaluations during training: set train.eval_every")
    start = Clock()
    with PeakMemory(config.device) as memory:
        result, earlier = _train_and_score(tasks, ratio, encoder, config, progress,
                                           Path(checkpoint_dir) if checkpoint_dir is not None else None, start, stop)
    wall_s, cpu_s = start.since(earlier)
    return RunResult(**result, wall_time_s=wall_s, cpu_time_s=cpu_s, peak_memory_mb=memory.peak_mb,
                     device_memory_mb=memory.device_peak_mb)


@dataclass
class LoopState:
    """What the training loop carries from step to step: written whole to a checkpoint and read
    back whole on resume, so a resumed run ends exactly as an uninterrupted one."""
    step: int = 0                      # batches of all tasks done
    primary_steps: int = 0             # the primary's own batches among them
    losses: list[float] = field(default_factory=list)
    pending: list = field(default_factory=list)  # loss tensors not yet synced to the host
    history: list[dict] = field(default_factory=list)  # select evaluations
    best_score: float = -math.inf
    best_step: int = 0
    best_select: dict | None = None    # the best weights' select metrics
    best_weights: dict | None = None   # tensors, kept apart from the JSON state
    bad_evals: int = 0                 # evaluations since the last gain (early stopping)
    stopped_at: int | None = None      # the primary step where a StopRule ended the run
    wall_time_s: float = 0.0           # spent by earlier calls (resumed runs)
    cpu_time_s: float = 0.0            # ... and their process CPU seconds

    def sync_losses(self) -> None:
        # one host sync per 50 steps, not per step, keeps a GPU busy
        self.losses += torch.stack(self.pending).float().cpu().tolist() if self.pending else []
        self.pending = []

    def to_json(self, identity: dict, start: Clock) -> dict:
        plain = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("pending", "best_weights")}
        wall_s, cpu_s = start.since((self.wall_time_s, self.cpu_time_s))
        return {**plain, "identity": identity, "wall_time_s": wall_s, "cpu_time_s": cpu_s,
                "losses": pack_losses(self.losses),  # a checkpoint rewrites them all: compactly
                "pending": torch.stack(self.pending).float().cpu().tolist() if self.pending else []}

    @classmethod
    def from_checkpoint(cls, state: dict, tensors: dict, device: torch.device) -> "LoopState":
        fields = {k: v for k, v in state.items() if k in cls.__dataclass_fields__}
        fields["losses"] = unpack_losses(state["losses"])
        # losses not yet synced stay pending, so the divergence checks fall where they would have
        pending = [torch.tensor(v, dtype=torch.float32, device=device) for v in state["pending"]]
        return cls(**{**fields, "pending": pending, "best_weights": tensors or None})


def _evaluate_select(trainer: Trainer, primary: TaskData, state: LoopState) -> bool:
    """Score the primary on select; keep the weights (and metrics) if best; True if it improved."""
    spec = primary.spec
    predictions, labels = trainer.predict(primary.name, "select")
    metrics = task_metrics(spec, predictions, labels)
    score = metrics[spec.selection_metric]
    state.history.append({"step": state.step, "primary_step": state.primary_steps, "select_score": score,
                          "select_se": bootstrap_se(spec, predictions, labels)})
    if score <= state.best_score:
        return False
    state.best_score, state.best_step, state.best_select = score, state.step, metrics
    state.best_weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    return True


def _train(trainer: Trainer, tasks: Sequence[TaskData], ratio: list[int], config: TrainConfig, state: LoopState,
           total: int, progress: bool, checkpoint, stop: StopRule | None = None) -> str | None:
    """The training loop from `state.step` to `total` (or early stopping); returns why it failed, if it did."""
    primary, order = tasks[0].name, [tasks[i].name for i in mixing_schedule(ratio)]
    bar = tqdm(range(state.step, total), initial=state.step, total=total, leave=False, disable=not progress,
               desc=f"MTL {'+'.join(t.name for t in tasks)}")
    failure = None
    for step in bar:
        task = order[step % len(order)]
        state.pending.append(trainer.step(task))
        state.step, state.primary_steps = step + 1, state.primary_steps + (task == primary)
        at_eval = bool(config.eval_every) and task == primary and state.primary_steps % config.eval_every == 0
        if len(state.pending) >= 50 or at_eval or step + 1 == total:
            state.sync_losses()
            bar.set_postfix(loss=f"{np.mean(state.losses[-50:]):.3f}")
            bad = np.flatnonzero(~np.isfinite(state.losses))
            if bad.size:
                failure = f"loss became {state.losses[bad[0]]} at step {bad[0] + 1} (diverged)"
                break
        if at_eval:
            state.bad_evals = 0 if _evaluate_select(trainer, tasks[0], state) else state.bad_evals + 1
            if config.patience is not None and state.bad_evals >= config.patience:
                break
            # at the primary's last step the run is finished: stopping there would save nothing
            if stop is not None and state.primary_steps < config.max_steps and stop.stops(state.history):
                state.stopped_at = state.primary_steps
                break
        if checkpoint is not None and config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 \
                and step + 1 < total:
            checkpoint()
    bar.close()
    return failure


def _train_and_score(tasks: Sequence[TaskData], ratio: list[int], encoder: EncoderConfig, config: TrainConfig,
                     progress: bool, checkpoint_dir: Path | None = None,
                     start: Clock | None = None, stop: StopRule | None = None) -> tuple[dict, tuple[float, float]]:
    """`run_mtl`'s work: every RunResult field but the times and the memory, and the (wall, CPU)
    seconds earlier calls spent on it (0 unless resumed from a checkpoint)."""
    start = start or Clock()
    spec = tasks[0].spec
    total = run_length(ratio, config.max_steps)
    trainer = Trainer(tasks, encoder, config, total_steps=total)
    identity = json.loads(json.dumps({"tasks": [t.name for t in tasks], "rows": [len(t.train) for t in tasks],
                                      "ratio": ratio, "encoder": asdict(encoder), "train": result_settings(config)}))
    state, checkpoint = LoopState(), None
    if checkpoint_dir is not None:
        resumed = load_checkpoint(checkpoint_dir, identity, trainer.device)
        if resumed is not None:
            path, saved, tensors = resumed
            trainer.restore(path)
            state = LoopState.from_checkpoint(saved, tensors, trainer.device)

        def checkpoint() -> None:
            save_checkpoint(checkpoint_dir, state.step, trainer, state.to_json(identity, start),
                            state.best_weights)
    failure = _train(trainer, tasks, ratio, config, state, total, progress, checkpoint, stop)
    steps = len(state.losses)
    if failure is None and state.stopped_at is not None:  # what it reached; report is for finished runs only
        select, report, predictions, labels = state.best_select, {m: math.nan for m in spec.metrics}, None, None
    elif failure is None:
        select, report, predictions, labels = _final_scores(trainer, tasks[0], config, state, steps)
    else:
        select = {m: math.nan for m in spec.metrics}
        report, predictions, labels = dict(select), None, None
    return dict(
        tasks=[t.name for t in tasks], ratio=ratio, select=select, report=report,
        select_score=select[spec.selection_metric], report_score=report[spec.selection_metric], losses=state.losses,
        steps=steps, best_step=state.best_step if config.eval_every else steps, examples_seen=trainer.examples_seen,
        device=str(trainer.device), failure=failure, history=state.history,
        report_predictions=predictions, report_labels=labels, primary_steps=state.primary_steps,
        precision=trainer.precision, stopped_at=state.stopped_at), (state.wall_time_s, state.cpu_time_s)


def _final_scores(trainer: Trainer, primary: TaskData, config: TrainConfig, state: LoopState,
                  steps: int) -> tuple[dict, dict, list, list]:
    """(select metrics, report metrics, report predictions, labels) of the kept weights: the best
    on select when the run evaluated during training, else the last."""
    spec = primary.spec
    if config.eval_every:
        if not state.history or state.history[-1]["step"] != steps:
            state.step = steps
            _evaluate_select(trainer, primary, state)
        if state.best_step != steps:
            trainer.model.load_state_dict(state.best_weights)
        select = state.best_select  # scored with these weights already: no second pass over select
    else:
        select = trainer.evaluate(primary.name, "select")
    predictions, labels = trainer.predict(primary.name, "report")
    report = task_metrics(spec, predictions, labels)
    if primary.beside is not None:  # scored beside report under its name ("mismatched accuracy"), never chosen on
        name = spec.beside_report[0]
        report |= {f"{name} {m}": v for m, v in task_metrics(spec, *trainer.predict(primary.name, "beside")).items()}
    return select, report, _as_list(predictions, primary), _as_list(labels, primary)


def _as_list(values: np.ndarray, task: TaskData) -> list:
    """Predictions or labels as lists of their type: class ids as ints, regression outputs as
    floats, tag id lists (not a JSON normaliser: it chooses the types)."""
    if task.spec.objective == TAGGING:
        return [v.astype(int).tolist() for v in values]
    return values.tolist() if task.spec.objective == REGRESSION else values.astype(int).tolist()
