"""Multi-task training: the mixing schedule, a step-wise `Trainer` and `run_mtl`.

A mixing ratio η_1:…:η_N (primary first) becomes the interleaved schedule of the official
AutoSeM code: step s trains task `schedule[s % len(schedule)]`, where the schedule lists
task i η_i times (round-robin, so tasks alternate instead of coming in blocks).

The budget is the primary's own steps (`TrainConfig.max_steps`); auxiliary batches come on
top, as both papers train: a 1:5:5 mix runs 11 times the primary's steps, up to the cap
`max_total_factor`. Early stopping (`eval_every`, `patience`) counts the primary's steps too.
With `checkpoint_every`, a run writes a checkpoint every so many steps and a killed run resumes
from its last one, ending exactly as an uninterrupted run would (`aux_select.checkpoints`).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from tqdm.auto import tqdm
from transformers import get_scheduler

from .cost import PeakMemory
from .batching import make_loader, tokenize
from .checkpoints import load_checkpoint, save_checkpoint
from .data import TaskData
from .metrics import as_rows, bootstrap_se, task_metrics
from .models import EncoderConfig, build_model, load_tokenizer
from .store import JsonResult
from .tasks import IGNORE, REGRESSION, TAGGING


def mixing_schedule(ratio: Sequence[int]) -> list[int]:
    """Task indices in the interleaved order of one cycle: task i appears ratio[i] times.

    >>> mixing_schedule([2, 1, 0])
    [0, 1, 0]
    """
    ratio = validate_ratio(ratio)
    return [i for r in range(max(ratio)) for i, n in enumerate(ratio) if n > r]


def validate_ratio(ratio: Sequence[int], n_tasks: int | None = None) -> list[int]:
    """The ratio as a list of ints; ValueError naming the problem otherwise."""
    ratio = list(ratio)
    if n_tasks is not None and len(ratio) != n_tasks:
        raise ValueError(f"ratio has {len(ratio)} entries for {n_tasks} tasks; give one per task, primary first")
    if not ratio:
        raise ValueError("ratio is empty; give one non-negative integer per task, primary first")
    if any(not float(r).is_integer() for r in ratio):
        raise ValueError(f"ratio {ratio} has a non-integer entry; entries are batches per cycle")
    ratio = [int(r) for r in ratio]
    if any(r < 0 for r in ratio):
        raise ValueError(f"ratio {ratio} has a negative entry; use 0 to drop a task")
    if ratio[0] < 1:
        raise ValueError(f"ratio {ratio} gives the primary task 0; the primary's entry must be >= 1")
    return ratio


def canonical_ratio(ratio: Sequence[int]) -> list[int]:
    """The ratio as the proportion it is: zeros dropped (a dropped task trains nothing) and
    divided by the entries' gcd, so [3, 3, 3] and [1, 1, 1] name one schedule and [2, 0] is the
    single-task run [1]. Every run trains, and is stored under, its canonical ratio.

    >>> canonical_ratio([4, 0, 2])
    [2, 1]
    """
    kept = [r for r in validate_ratio(ratio) if r > 0]
    divisor = math.gcd(*kept)
    return [r // divisor for r in kept]


RUN_BUDGET = ("max_steps", "max_total_factor", "eval_every", "patience")
NOT_IN_KEYS = ("checkpoint_every",)  # how a run is kept while it trains, not what it computes


def result_settings(config: TrainConfig) -> dict:
    """The config's fields that can change a result (all but `NOT_IN_KEYS`): what store keys
    hold, so a checkpointed run and an uninterrupted one are one stored run."""
    return {k: v for k, v in asdict(config).items() if k not in NOT_IN_KEYS}


def settings_without_budget(config: TrainConfig) -> dict:
    """The config's result settings minus an MTL run's budget (`RUN_BUDGET`), for store keys of
    training whose length is set elsewhere (stage 1's rounds, GradTS's fine-tuning epochs):
    retuning the run budget then keeps those results valid."""
    return {k: v for k, v in result_settings(config).items() if k not in RUN_BUDGET}


def pick_device(device: str = "auto") -> torch.device:
    """cuda, then mps, then cpu, unless a device is named."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """"fp32" or "bf16"; "auto" is bf16 where the device does it natively (CUDA with bf16, a
    CPU whose oneDNN reports bf16 support, e.g. AVX-512 bf16 or AMX), else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int = 1000          # the primary's optimiser steps; auxiliary batches come on top
    max_total_factor: float | None = None  # cap: a run trains at most this many times max_steps
                                   # batches of all tasks together (None: no cap)
    batch_size: int = 32
    eval_batch_size: int = 128
    lr: float = 5e-5               # transformers; the BiLSTM wants about 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1      # share of the run's steps with linear warm-up ...
    warmup_steps: int | None = None  # ... or this many steps, whatever the run's length
    lr_schedule: str = "linear"    # after warm-up (transformers.get_scheduler name): linear decay to
                                   # 0; AutoSeM stage 1 uses "constant_with_warmup"
    max_grad_norm: float = 1.0
    eval_every: int | None = None  # primary steps between select evaluations; None: only at the end
    patience: int | None = None    # early stopping after this many evaluations without gain
    precision: str = "auto"        # "fp32", "bf16" (autocast; fp32 weights and losses) or "auto"
                                   # (bf16 where the device supports it: `resolve_precision`)
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int | None = None  # steps (of all tasks) between checkpoints of an MTL run, so a
                                   # killed run resumes from its last one; None: off. In no store
                                   # key (`NOT_IN_KEYS`): it changes no result

    def __post_init__(self):
        resolve_precision(self.precision, torch.device("cpu"))  # an unknown precision stops here


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
    peak_memory_mb: float            # cuda: peak allocated; cpu: peak RSS of the process during the run
    device: str
    failure: str | None = None       # why the run failed (e.g. NaN loss); scores are then NaN
    history: list[dict] = field(default_factory=list)  # select evaluations during training
    report_predictions: list | None = None  # the primary's prediction per report row, for paired
    report_labels: list | None = None       # bootstraps across methods (None in runs stored before)
    primary_steps: int | None = None        # the primary's own batches among `steps`
    precision: str = "fp32"                 # as resolved on the device ("bf16": autocast)


class Trainer:
    """A shared model over `tasks`, one AdamW with warm-up/decay over `total_steps`, and an
    endless seeded batch stream per task. Drives `run_mtl` and the bandit's rounds alike.
    Under bf16 precision every forward pass runs in `torch.autocast`; weights, optimiser state
    and losses stay fp32."""

    def __init__(self, tasks: Sequence[TaskData], encoder: EncoderConfig, config: TrainConfig,
                 total_steps: int | None = None):
        self.config, self.encoder_config = config, encoder
        self.device = pick_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        self.tasks = {t.name: t for t in tasks}
        self.tokenizer = load_tokenizer(encoder)
        self._encoded: dict[tuple[str, str], object] = {}
        self.model = build_model(encoder, [t.spec for t in tasks], len(self.tokenizer), config.seed)
        self.model.to(self.device)
        no_decay = [p for n, p in self.model.named_parameters() if p.ndim < 2]  # biases, LayerNorm
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        # the fused kernel is ~6x faster than the default one on CPU (benchmarks/train_throughput.py)
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=config.lr,
                                           fused=self.device.type in ("cpu", "cuda"))
        total = total_steps or config.max_steps
        self.scheduler = get_scheduler(config.lr_schedule, self.optimizer,
                                       num_warmup_steps=config.warmup_steps if config.warmup_steps is not None
                                       else math.ceil(config.warmup_ratio * total),
                                       num_training_steps=total)
        self._streams: dict[str, Iterator] = {}
        self.examples_seen = {name: 0 for name in self.tasks}
        self.batches_drawn = {name: 0 for name in self.tasks}  # lets `restore` fast-forward the streams
        torch.manual_seed(config.seed)  # dropout draws

    def autocast(self):
        """The forward passes' precision context: bf16 autocast, or a no-op under fp32."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def encoded(self, task: str, split: str):
        if (task, split) not in self._encoded:
            ds = getattr(self.tasks[task], split)
            self._encoded[task, split] = tokenize(ds, self.tokenizer, self.encoder_config.max_len)
        return self._encoded[task, split]

    def _stream(self, task: str) -> Iterator[dict]:
        task_index = list(self.tasks).index(task)
        for epoch in range(10**9):
            yield from make_loader(self.encoded(task, "train"), self.tokenizer, self.config.batch_size,
                                   shuffle=True, seed=self.config.seed * 100_003 + task_index * 1009 + epoch)

    def next_batch(self, task: str) -> dict:
        if task not in self._streams:
            self._streams[task] = self._stream(task)
        batch = next(self._streams[task])
        self.batches_drawn[task] += 1
        return batch

    def step(self, task: str, batch: dict | None = None) -> torch.Tensor:
        """One optimiser step on a batch of `task`; returns the (detached) loss."""
        batch = batch if batch is not None else self.next_batch(task)
        self.model.train()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with self.autocast():
            loss, _ = self.model(task, **batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.examples_seen[task] += len(batch["labels"])
        return loss.detach()

    @torch.inference_mode()
    def predict(self, task: str, split: str, rows: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, labels) of `task` on the `rows` of `split` (None: all), in that order.
        Tagging: one array of tag ids per row (each word's first sub-token), in object arrays."""
        ds = self.encoded(task, split)
        if rows is not None:
            ds = ds.select(rows)
        self.model.eval()
        objective = self.tasks[task].spec.objective
        preds, labels = [], []
        loader = make_loader(ds, self.tokenizer, self.config.eval_batch_size, shuffle=False)
        for batch in loader:
            gold = batch.pop("labels")
            with self.autocast():
                _, logits = self.model(task, **{k: v.to(self.device) for k, v in batch.items()})
            logits = logits.float()
            if objective == TAGGING:
                tagged = gold != IGNORE  # (B, T): first sub-tokens of words
                best = logits.argmax(-1).cpu()  # (B, T)
                preds += [p[m].numpy() for p, m in zip(best, tagged)]
                labels += [g[m].numpy() for g, m in zip(gold, tagged)]
                continue
            labels.append(gold.numpy())
            preds.append((logits.squeeze(-1) if objective == REGRESSION else logits.argmax(-1)).float().cpu().numpy())
        rows = np.argsort(list(loader.sampler))  # batches come longest first; back to row order
        if objective == TAGGING:
            return as_rows(preds)[rows], as_rows(labels)[rows]
        return np.concatenate(preds)[rows], np.concatenate(labels)[rows]

    def evaluate(self, task: str, split: str = "select", rows: Sequence[int] | None = None) -> dict[str, float]:
        """The task's official metrics on `split` (its `rows` only, if given)."""
        preds, labels = self.predict(task, split, rows)
        return task_metrics(self.tasks[task].spec, preds, labels)

    def score(self, task: str, split: str = "select", rows: Sequence[int] | None = None) -> float:
        """The task's selection metric on `split` (its `rows` only, if given)."""
        return self.evaluate(task, split, rows)[self.tasks[task].spec.selection_metric]

    def checkpoint(self, path: str | os.PathLike) -> None:
        """Write what `restore` needs into the folder `path`: weights, optimiser and scheduler
        state, the torch RNG and how many batches each stream has drawn (safetensors + JSON, no
        pickles). Not atomic by itself: write into a fresh folder, then rename it."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_model(self.model, str(path / "model.safetensors"))
        opt = self.optimizer.state_dict()
        # {param index: {"step", "exp_avg", ...}} -> flat "index.name" keys
        save_file({f"{i}.{k}": v.contiguous() for i, s in opt["state"].items() for k, v in s.items()},
                  path / "optimizer.safetensors")
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng |= {f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
        save_file(rng, path / "rng.safetensors")
        meta = {"param_groups": opt["param_groups"], "scheduler": self.scheduler.state_dict(),
                "batches_drawn": self.batches_drawn, "examples_seen": self.examples_seen}
        (path / "trainer.json").write_text(json.dumps(meta))

    def restore(self, path: str | os.PathLike) -> None:
        """Continue exactly where `checkpoint(path)` stopped; the trainer must have been built
        with the same tasks, encoder, config and total_steps."""
        path = Path(path)
        meta = json.loads((path / "trainer.json").read_text())
        load_model(self.model, path / "model.safetensors", device=str(self.device))
        state: dict[int, dict] = {}
        for key, value in load_file(path / "optimizer.safetensors").items():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = value
        groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})
        self.scheduler.load_state_dict(meta["scheduler"])
        self.examples_seen = dict(meta["examples_seen"])
        # streams are seeded per (seed, task, epoch): re-create them and discard what was drawn
        self._streams, self.batches_drawn = {}, {name: 0 for name in self.tasks}
        for task, n in meta["batches_drawn"].items():
            for _ in range(n):
                self.next_batch(task)
        rng = load_file(path / "rng.safetensors")  # last: fast-forwarding draws from the RNG too
        torch.set_rng_state(rng.pop("cpu"))
        if rng and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([rng[f"cuda.{i}"] for i in range(len(rng))])


def run_length(ratio: Sequence[int], primary_steps: int, max_total_factor: float | None = None) -> int:
    """Batches of all tasks together that give the primary `primary_steps` of its own under the
    interleaved `ratio` (canonical, primary first), at most `max_total_factor` × primary_steps.

    >>> run_length([1, 5, 5], 100)
    1090
    >>> run_length([1, 5, 5], 100, max_total_factor=4)
    400
    """
    schedule = mixing_schedule(ratio)
    cycle, at = len(schedule), [i for i, task in enumerate(schedule) if task == 0]
    last = primary_steps - 1  # the primary's last step: the `last % len(at)`-th of its cycle
    total = last // len(at) * cycle + at[last % len(at)] + 1
    return total if max_total_factor is None else min(total, math.floor(max_total_factor * primary_steps))


def run_mtl(tasks: Sequence[TaskData], ratio: Sequence[int], *, encoder: EncoderConfig = EncoderConfig(),
            config: TrainConfig = TrainConfig(), progress: bool = True,
            checkpoint_dir: str | os.PathLike | None = None) -> RunResult:
    """Train the primary (`tasks[0]`) for `config.max_steps` of its own batches with the others
    mixed in by `ratio` (as its `canonical_ratio`: zeros dropped, divided by the gcd), up to the
    cap `config.max_total_factor`; score the primary.

    With `eval_every` (primary steps), the primary is scored on select during training, each
    score with its bootstrap standard error over select rows, and the best weights are kept
    (and early stopping applies with `patience`). A NaN loss ends the run as a failure with
    NaN scores instead of raising, so a search can go on.

    With `checkpoint_dir`, a checkpoint found there is resumed (it must be this run's), and with
    `config.checkpoint_every` one is written there every so many steps; the result is the same
    as an uninterrupted run's (its wall time sums the calls). Remove the folder once the result
    is kept (`Experiment.run` does).
    """
    ratio = validate_ratio(ratio, len(tasks))
    tasks = [t for t, r in zip(tasks, ratio) if r > 0]  # zero drops a task
    ratio = canonical_ratio(ratio)
    start = time.perf_counter()
    with PeakMemory(pick_device(config.device)) as memory:
        result, earlier_s = _train_and_score(tasks, ratio, encoder, config, progress,
                                             Path(checkpoint_dir) if checkpoint_dir is not None else None, start)
    return RunResult(**result, wall_time_s=earlier_s + time.perf_counter() - start, peak_memory_mb=memory.peak_mb)


def _train_and_score(tasks: Sequence[TaskData], ratio: list[int], encoder: EncoderConfig, config: TrainConfig,
                     progress: bool, checkpoint_dir: Path | None = None,
                     start: float = 0.0) -> tuple[dict, float]:
    """`run_mtl`'s work: every RunResult field but the wall time and the memory, and the seconds
    earlier calls spent on it (0 unless resumed from a checkpoint)."""
    primary, spec = tasks[0].name, tasks[0].spec
    total = run_length(ratio, config.max_steps, config.max_total_factor)
    trainer = Trainer(tasks, encoder, config, total_steps=total)
    order = [tasks[i].name for i in mixing_schedule(ratio)]
    losses, history, pending, failure = [], [], [], None
    best_score, best_step, best_weights, best_select = -math.inf, 0, None, None
    primary_steps, bad_evals, first_step, earlier_s = 0, 0, 0, 0.0
    identity = json.loads(json.dumps({"tasks": [t.name for t in tasks], "rows": [len(t.train) for t in tasks],
                                      "ratio": ratio, "encoder": asdict(encoder), "train": result_settings(config)}))
    resumed = load_checkpoint(checkpoint_dir, identity, trainer.device) if checkpoint_dir is not None else None
    if resumed is not None:  # everything the loop below carries from step to step
        path, state, tensors = resumed
        trainer.restore(path)
        losses, history, best_select = state["losses"], state["history"], state["best_select"]
        best_score, best_step, primary_steps = state["best_score"], state["best_step"], state["primary_steps"]
        bad_evals, first_step, earlier_s = state["bad_evals"], state["step"], state["wall_time_s"]
        # losses not yet synced stay pending, so the divergence checks fall where they would have
        pending = [torch.tensor(v, dtype=torch.float32, device=trainer.device) for v in state["pending"]]
        best_weights = tensors or None

    def checkpoint(step: int) -> None:
        state = {"identity": identity, "step": step, "losses": losses, "history": history,
                 "pending": torch.stack(pending).float().cpu().tolist() if pending else [],
                 "best_score": best_score, "best_step": best_step, "best_select": best_select,
                 "primary_steps": primary_steps, "bad_evals": bad_evals,
                 "wall_time_s": earlier_s + time.perf_counter() - start}
        save_checkpoint(checkpoint_dir, step, trainer, state, best_weights)

    def evaluate_select(step: int) -> bool:
        """Score the primary on select; keep the weights (and metrics) if best; True if it improved."""
        nonlocal best_score, best_step, best_weights, best_select
        predictions, labels = trainer.predict(primary, "select")
        metrics = task_metrics(spec, predictions, labels)
        score = metrics[spec.selection_metric]
        history.append({"step": step, "primary_step": primary_steps, "select_score": score,
                        "select_se": bootstrap_se(spec, predictions, labels)})
        if score <= best_score:
            return False
        best_score, best_step, best_select = score, step, metrics
        best_weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        return True

    bar = tqdm(range(first_step, total), initial=first_step, total=total, desc=f"MTL {'+'.join(t.name for t in tasks)}",
               disable=not progress, leave=False)
    for step in bar:
        task = order[step % len(order)]
        pending.append(trainer.step(task))
        primary_steps += task == primary
        at_eval = bool(config.eval_every) and task == primary and primary_steps % config.eval_every == 0
        if len(pending) >= 50 or at_eval or step + 1 == total:
            # one host sync per 50 steps, not per step, keeps a GPU busy
            losses += torch.stack(pending).float().cpu().tolist()
            pending = []
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                failure = f"loss became {losses[bad[0]]} at step {bad[0] + 1} (diverged)"
                break
        if at_eval:
            bad_evals = 0 if evaluate_select(step + 1) else bad_evals + 1
            if config.patience is not None and bad_evals >= config.patience:
                break
        if checkpoint_dir is not None and config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 \
                and step + 1 < total:
            checkpoint(step + 1)
    bar.close()
    steps = len(losses)
    if failure is None:
        if config.eval_every:
            if not history or history[-1]["step"] != steps:
                evaluate_select(steps)
            if best_step != steps:
                trainer.model.load_state_dict(best_weights)
            select = best_select  # scored with these weights already: no second pass over select
        else:
            select = trainer.evaluate(primary, "select")
        predictions, labels = trainer.predict(primary, "report")
        report = task_metrics(spec, predictions, labels)
        predictions, labels = _plain(predictions, tasks[0]), _plain(labels, tasks[0])
    else:
        select = {m: math.nan for m in spec.metrics}
        report, predictions, labels = dict(select), None, None
    return dict(
        tasks=[t.name for t in tasks], ratio=ratio, select=select, report=report,
        select_score=select[spec.selection_metric], report_score=report[spec.selection_metric], losses=losses,
        steps=steps, best_step=best_step if config.eval_every else steps, examples_seen=trainer.examples_seen,
        device=str(trainer.device), failure=failure, history=history,
        report_predictions=predictions, report_labels=labels, primary_steps=primary_steps,
        precision=trainer.precision), earlier_s


def _plain(values: np.ndarray, task: TaskData) -> list:
    """JSON-friendly values: class ids as ints, regression outputs as floats, tag id lists."""
    if task.spec.objective == TAGGING:
        return [v.astype(int).tolist() for v in values]
    return values.tolist() if task.spec.objective == REGRESSION else values.astype(int).tolist()

