"""GradTS (Ma et al., 2021), part 1: attention-head importance and task ranking.

Head importance follows Michel et al. (2019): fine-tune the encoder on the task alone, then in
eval mode accumulate |d loss_x / d gate[l, h]| over examples x (gates from `aux_select.gates`),
divide the sum by the total number of real (non-padding) tokens of those examples, L2-normalise
every layer's row and min-max scale the whole layers x heads matrix to [0, 1]. Tasks are
compared by Kendall's tau-b between their flattened matrices. Selection rules (thres / trial /
fg) are in `aux_select.methods.gradts.select`.

Token weighting (`ImportanceConfig.token_weighting`): "total" (the default, Michel et al.'s) sums
the per-example |gradients| and divides by the total token count, a constant that cancels in the
layer-wise L2 step; "per_example" divides each example by its own token count first, so short
examples weigh more (Kendall tau 0.88 against "total" on 32 RTE rows; offered to compare with).
Michel et al.'s code takes |.| of each batch's summed gradient; their paper, GradTS and this module
take it per example (one backward pass per batch gives every example its own gates).

GradTS §3 defines head importance by reference to Michel et al., so this is the paper's variant.
Its released code differs from its paper (|d loss / d W| of the key and value weights split into
heads, per batch in train mode with dropout on, each layer normalised by its sum): not offered.

One fine-tuned model per (task, seed, settings) serves the task and instance matrices (`finetuned`).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, replace
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_model, save_model
from scipy.stats import kendalltau
from tqdm.auto import tqdm

from aux_select.data.batching import collator
from aux_select.data.loading import TaskData
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.experiment.profiles import ImportanceConfig, Profile, check_token_weighting, get_profile
from aux_select.model.gates import gate_shape, head_gates
from aux_select.model.heads import MultiTaskModel, losses_per_example
from aux_select.runtime.store import make_key
from aux_select.train.config import settings_without_budget
from aux_select.train.trainer import Trainer

# ----------------------------------------------------------------------------- gradients

def example_losses(model: MultiTaskModel, task: str, batch: dict) -> torch.Tensor:
    """Each example's loss (B,) under the task's own objective (tagging: the mean over its
    words); the gates, not the loss, are what every objective shares."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    _, logits = model(task, **inputs)  # (B, C); regression: (B, 1); tagging: (B, T, C)
    return losses_per_example(model.specs[task].objective, logits, batch["labels"])


def gate_grads(model: MultiTaskModel, task: str, batch: dict, per_example: bool = True) -> torch.Tensor:
    """d loss / d gates at gates = 1, in eval mode, from one backward pass.

    per_example: (B, layers, heads), row b = d loss_b / d gate (a gate set per example, summed
    loss). Otherwise the plain batched gradient of the mean loss with shared gates: (layers, heads).
    Only the gates are differentiated (no parameter .grad is touched), so nothing accumulates
    between calls.
    """
    model.eval()
    param = next(model.parameters())
    shape = gate_shape(model)
    if per_example:
        shape = (len(batch["input_ids"]), *shape)
    gates = torch.ones(shape, dtype=param.dtype, device=param.device, requires_grad=True)
    with head_gates(model, gates):
        losses = example_losses(model, task, batch)
    loss = losses.sum() if per_example else losses.mean()
    (grad,) = torch.autograd.grad(loss, gates)
    return grad


def _batches(encoded, tokenizer, indices: Sequence[int], batch_size: int) -> Iterator[tuple[list[int], dict]]:
    """(positions in `indices`, padded batch), longest first so batches need little padding."""
    rows = encoded.select(indices).to_dict()
    order = sorted(range(len(indices)), key=lambda i: -len(rows["input_ids"][i]))
    collate = collator(encoded, tokenizer)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        yield chunk, collate([{k: v[i] for k, v in rows.items()} for i in chunk])


def example_gradients(trainer: Trainer, task: str, indices: Sequence[int], batch_size: int = 32,
                      progress: bool = True) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """For batches of the train rows `indices`: (positions in `indices`, |d loss_x / d gate| as a
    (B, layers, heads) array, real tokens of each x as (B,))."""
    encoded = trainer.encoded(task, "train")
    batches = _batches(encoded, trainer.tokenizer, indices, batch_size)
    for pos, batch in tqdm(batches, total=math.ceil(len(indices) / batch_size), leave=False,
                           desc=f"gate gradients {task}", disable=not progress):
        batch = {k: v.to(trainer.device) for k, v in batch.items()}
        tokens = batch["attention_mask"].sum(1).to(torch.float64)  # (B,) real tokens, no padding
        # fp16's per-example gate gradients would underflow without a scaler: that pass runs in fp32
        with trainer.autocast() if trainer.precision != "fp16" else contextlib.nullcontext():
            g = gate_grads(trainer.model, task, batch).abs().to(torch.float64)  # (B, L, H)
        yield pos, g.cpu().numpy(), tokens.cpu().numpy()


# ----------------------------------------------------------------------------- normalisation

def normalise(importance: np.ndarray) -> np.ndarray:
    """Michel et al.'s normalisation: every layer's row divided by its L2 norm, then min-max
    scaled to [0, 1] over all heads. All-zero rows stay zero; a constant matrix becomes zeros."""
    x = np.asarray(importance, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)  # (L, 1)
    x = x / np.where(norms > 0, norms, 1.0)
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def head_importance(per_example: np.ndarray, tokens: np.ndarray, token_weighting: str = "total") -> np.ndarray:
    """Task-level matrix (L, H) from per-example |gradients| (N, L, H) and each example's real
    tokens (N,), weighted as `token_weighting` says (see the module docstring)."""
    check_token_weighting(token_weighting)
    if token_weighting == "per_example":
        return normalise((per_example / tokens[:, None, None]).sum(0))
    return normalise(per_example.sum(0) / tokens.sum())


def instance_importance(per_example: np.ndarray) -> np.ndarray:
    """One matrix per example (N, L, H), normalised like the task matrix but each on its own
    (L2 per layer, then min-max); any division by tokens would cancel in the L2 step."""
    return _normalise_rows(np.array(per_example, dtype=np.float64))


def _normalise_rows(x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """`normalise` of every x[i] (N, L, H), in place and `chunk` rows at a time, so a task's N
    matrices are held once, with no temporary of their size."""
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]                      # a view: written in place
        norms = np.linalg.norm(part, axis=-1, keepdims=True)  # (C, L, 1)
        np.divide(part, np.where(norms > 0, norms, 1.0), out=part)
        low = part.min(axis=(1, 2), keepdims=True)         # (C, 1, 1)
        span = part.max(axis=(1, 2), keepdims=True) - low
        np.subtract(part, low, out=part)
        np.divide(part, np.where(span > 0, span, 1.0), out=part)
        part[np.ravel(span == 0)] = 0.0                    # a constant matrix becomes zeros
    return x


# ----------------------------------------------------------------------------- fine-tune + cache

def sample_indices(n: int, config: ImportanceConfig) -> np.ndarray:
    """The seeded selection sample: `sample_fraction` of n rows (at least 1), capped, sorted."""
    k = max(1, round(n * config.sample_fraction))
    k = k if config.sample_cap is None else min(k, config.sample_cap)
    return np.sort(np.random.default_rng(config.sample_seed).permutation(n)[:k])


def warmup_steps(task: TaskData, profile: Profile, config: ImportanceConfig) -> int:
    """`config.warmup_epochs` epochs of the task's train split, at most `config.warmup_max_steps`."""
    steps = math.ceil(config.warmup_epochs * len(task.train) / profile.train.batch_size)
    return steps if config.warmup_max_steps is None else min(steps, config.warmup_max_steps)


def _finetune_spec(exp: Experiment, task: TaskData, config: ImportanceConfig) -> dict:
    """What determines the fine-tuned model: the task's train rows, the training settings and
    the warm-up length (not which rows are measured afterwards)."""
    return exp.spec(task=exp.task_key(task, ("train",)), warmup_steps=warmup_steps(task, exp.profile, config),
                    train=settings_without_budget(replace(exp.profile.train, seed=exp.seed)))


def finetuned(exp: Experiment, task: TaskData, config: ImportanceConfig) -> Trainer:
    """A single-task Trainer after the warm-up (`warmup_steps`), trained once: its weights are
    kept under store.root/finetuned/<key>.safetensors (or in the context without a store) and
    loaded by every later matrix of the same task and settings."""
    steps = warmup_steps(task, exp.profile, config)
    trainer = Trainer([task], exp.profile.encoder, replace(exp.profile.train, seed=exp.seed), total_steps=max(steps, 1))
    gate_shape(trainer.model)  # an encoder without gateable heads is refused before any training
    key = make_key("finetuned", _finetune_spec(exp, task, config))
    if exp.store is None:  # kept in the context
        memo = exp.memo.weights
        if key in memo:
            trainer.model.load_state_dict(memo[key])
        else:
            _finetune(exp, task, trainer, steps)
            memo[key] = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        return trainer
    path = exp.store.path("finetuned", key, ".safetensors")
    if not path.exists():
        with exp.store.lock("finetuned", key):  # another process may be fine-tuning it: wait, then read it
            if not path.exists():
                _finetune(exp, task, trainer, steps)
                tmp = path.with_name(f".{path.name}.tmp")  # whole or absent, like every stored result
                save_model(trainer.model, str(tmp))
                tmp.replace(path)
                return trainer
    load_model(trainer.model, path, device=str(trainer.device))
    return trainer


def _finetune(exp: Experiment, task: TaskData, trainer: Trainer, steps: int) -> None:
    loss = torch.zeros(())
    for _ in tqdm(range(steps), desc=f"fine-tune {task.name}", disable=not exp.progress, leave=False):
        loss = trainer.step(task.name)
    if not torch.isfinite(loss):
        raise RuntimeError(f"fine-tuning {task.name} before measuring head importance diverged "
                           f"(loss {float(loss)}); lower the profile's learning rate")


def importance_config(profile: str | Profile, **overrides) -> ImportanceConfig:
    """The profile's importance settings with each override that is not None (notebook parameters
    left at None keep the profile's)."""
    return replace(get_profile(profile).importance, **{k: v for k, v in overrides.items() if v is not None})


def importance_spec(exp: Experiment, task: TaskData, config: ImportanceConfig, instances: bool = False) -> dict:
    """Everything that determines a task's matrix (instances=True: its per-row matrices): the
    store key's content. Only the train split is read, so only its hash is in the key."""
    spec = exp.spec(task=exp.task_key(task, ("train",)), settings=asdict(config),
                    train=settings_without_budget(replace(exp.profile.train, seed=exp.seed)))
    return spec | {"instances": "train"} if instances else spec


def importance_cost(task: TaskData, exp: Experiment, config: ImportanceConfig | None = None,
                    instances: bool = False) -> dict:
    """{"wall_time_s", "cpu_time_s", "peak_memory_mb", "steps"} of computing the task's stored matrix
    (instances=True: its per-row matrices, which reuse the fine-tuned model: no steps); empty where the
    store has no record of it. Steps are the fine-tuning's optimiser steps (the gradient passes after
    it change no weight)."""
    config = config or exp.profile.importance
    kind = "instance_importance" if instances else "head_importance"
    record = exp.store.cost(kind, importance_spec(exp, task, config, instances)) if exp.store is not None else None
    return record | {"steps": 0 if instances else warmup_steps(task, exp.profile, config)} if record else {}


def _compute_importance(exp: Experiment, task: TaskData, config: ImportanceConfig) -> np.ndarray:
    trainer = finetuned(exp, task, config)
    rows = sample_indices(len(task.train), config).tolist()
    grads, tokens = zip(*((g, n) for _, g, n in example_gradients(trainer, task.name, rows, config.batch_size,
                                                                 exp.progress)))
    return head_importance(np.concatenate(grads), np.concatenate(tokens), config.token_weighting)  # (N, L, H) -> (L, H)


def _compute_instance_importance(exp: Experiment, task: TaskData, config: ImportanceConfig) -> np.ndarray:
    trainer = finetuned(exp, task, config)
    L, H = gate_shape(trainer.model)
    out = np.zeros((len(task.train), L, H), dtype=np.float32)  # half of float64 at MNLI's 390k rows
    for pos, g, _ in example_gradients(trainer, task.name, list(range(len(task.train))), config.batch_size,
                                       exp.progress):
        out[pos] = _normalise_rows(g)  # each batch normalised in float64, kept in float32
    return out


def task_importance(task: str | TaskData, exp: Experiment | None = None, *, config: ImportanceConfig | None = None,
                    **settings) -> np.ndarray:
    """The task's (layers, heads) head-importance matrix, from the store when computed before
    (config=None: the profile's importance settings)."""
    exp = as_experiment(exp, **settings)
    task = exp.task(task) if isinstance(task, str) else task
    config = config or exp.profile.importance
    return exp.get_or_compute_array("head_importance", importance_spec(exp, task, config),
                                    lambda: _compute_importance(exp, task, config))


def task_instance_importance(task: str | TaskData, exp: Experiment | None = None, *,
                             config: ImportanceConfig | None = None, **settings) -> np.ndarray:
    """One (layers, heads) matrix per row of the task's train split, (N, layers, heads) float32, from
    the same fine-tuned model as the task matrix; stored like it. Each matrix is normalised in float64
    and kept in float32, so one stored in float64 by earlier code reads back as the same values."""
    exp = as_experiment(exp, **settings)
    task = exp.task(task) if isinstance(task, str) else task
    config = config or exp.profile.importance
    matrices = exp.get_or_compute_array("instance_importance", importance_spec(exp, task, config, instances=True),
                                        lambda: _compute_instance_importance(exp, task, config))
    return matrices.astype(np.float32, copy=False)


def _importance_unit(exp: Experiment, item: tuple) -> None:
    """One task's matrix as a unit of work (`Experiment.map`): item = (task name, config)."""
    task_importance(item[0], exp, config=item[1])


def importance_matrices(names: Sequence[str], exp: Experiment | None = None, *,
                        config: ImportanceConfig | None = None, **settings) -> dict[str, np.ndarray]:
    """{task: (layers, heads) matrix} for the named tasks; stored matrices are reused, so adding a
    task to the pool computes only that task's. config=None: the profile's importance settings
    (`importance_config(profile, warmup_epochs=1)` changes single fields). With a Dask executor
    the missing matrices are computed side by side (independent single-task fine-tunes)."""
    exp = as_experiment(exp, **settings)
    if exp.parallel:
        spec = {n: importance_spec(exp, exp.task(n), config or exp.profile.importance) for n in names}
        missing = [n for n in names if exp.store is None or exp.store.get_array("head_importance", spec[n]) is None]
        exp.map(_importance_unit, [(n, config) for n in missing])
    return {name: task_importance(name, exp, config=config) for name in names}


def mean_tau_matrix(names: Sequence[str], seeds: Sequence[int], exp: Experiment | None = None, *,
                    config: ImportanceConfig | None = None, **settings) -> pd.DataFrame:
    """Task x task Kendall tau (GradTS Fig. 4), averaged over the seeds' matrices."""
    exp = as_experiment(exp, **settings)
    frames = [tau_matrix(importance_matrices(names, exp.with_seed(s), config=config)) for s in seeds]
    return sum(frames) / len(frames)


# ----------------------------------------------------------------------------- task ranking

def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b between two importance matrices, flattened (NaN if one is constant)."""
    return float(kendalltau(np.ravel(a), np.ravel(b)).statistic)


def tau_matrix(matrices: dict[str, np.ndarray]) -> pd.DataFrame:
    """Task x task Kendall tau (GradTS Fig. 4)."""
    names = list(matrices)
    values = [[kendall_tau(matrices[a], matrices[b]) for b in names] for a in names]
    return pd.DataFrame(values, index=names, columns=names)


def rank_candidates(primary: str, matrices: dict[str, np.ndarray],
                    candidates: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """Candidates as (task, tau with the primary), highest tau first (ties by name)."""
    candidates = [t for t in matrices if t != primary] if candidates is None else list(candidates)
    taus = [(t, kendall_tau(matrices[primary], matrices[t])) for t in candidates]
    return sorted(taus, key=lambda x: (-np.nan_to_num(x[1], nan=-np.inf), x[0]))
