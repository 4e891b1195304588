"""GradTS (Ma et al., 2021), part 1: attention-head importance and task ranking.

Head importance follows Michel et al. (2019): fine-tune the encoder on the task alone, then in
eval mode accumulate |d loss_x / d gate[l, h]| over examples x (gates from `aux_select.gates`),
each example's value divided by its number of real tokens; then L2-normalise every layer's row
and min-max scale the whole layers x heads matrix to [0, 1]. Tasks are compared by Kendall's
tau-b between their flattened matrices. Selection rules (thres / trial / fg) are in
`aux_select.gradts_select`.

On the paper's variant: GradTS §3 defines head importance by reference to Michel et al.
(absolute gate gradients accumulated over the task's data after 3 epochs of single-task
fine-tuning, normalised per layer, then min-max over all heads). That is this procedure, so
there is no separate "paper" variant. (The released GradTS code differs from its paper: it takes
|d loss / d W| of the key and value weights instead of gate gradients, split into heads along
the input axis, per batch in train mode with dropout on, and normalises each layer by its sum.
That variant is not offered.)
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, replace
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau
from tqdm.auto import tqdm

from .data import TaskData, collator
from .experiment import load_tasks, task_fingerprint
from .gates import gate_shape, head_gates
from .models import MultiTaskModel, losses_per_example
from .profiles import ImportanceConfig, Profile, get_profile
from .store import Store
from .train import Trainer, settings_without_budget


# ----------------------------------------------------------------------------- gradients

def example_losses(model: MultiTaskModel, task: str, batch: dict) -> torch.Tensor:
    """Each example's loss (B,) under the task's own objective (tagging: the mean over its
    words); the gates, not the loss, are what every objective shares."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    _, logits = model(task, **inputs)  # (B, C); regression: (B, 1); tagging: (B, T, C)
    return losses_per_example(model.heads[task].objective, logits, batch["labels"])


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
                      progress: bool = True) -> Iterator[tuple[list[int], np.ndarray]]:
    """For batches of the train rows `indices`: (positions in `indices`, |d loss_x / d gate| /
    real tokens of x as a (B, layers, heads) array)."""
    encoded = trainer.encoded(task, "train")
    batches = _batches(encoded, trainer.tokenizer, indices, batch_size)
    for pos, batch in tqdm(batches, total=math.ceil(len(indices) / batch_size), leave=False,
                           desc=f"gate gradients {task}", disable=not progress):
        batch = {k: v.to(trainer.device) for k, v in batch.items()}
        tokens = batch["attention_mask"].sum(1).to(torch.float64)  # (B,) real tokens, no padding
        g = gate_grads(trainer.model, task, batch).abs().to(torch.float64)
        yield pos, (g / tokens[:, None, None]).cpu().numpy()  # (B, L, H)


# ----------------------------------------------------------------------------- normalisation

def normalise(importance: np.ndarray) -> np.ndarray:
    """Michel et al.'s normalisation: every layer's row divided by its L2 norm, then min-max
    scaled to [0, 1] over all heads. All-zero rows stay zero; a constant matrix becomes zeros."""
    x = np.asarray(importance, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)  # (L, 1)
    x = x / np.where(norms > 0, norms, 1.0)
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def head_importance(per_example: np.ndarray) -> np.ndarray:
    """Task-level matrix (L, H) from per-example token-normalised |gradients| (N, L, H)."""
    return normalise(per_example.sum(0))


def instance_importance(per_example: np.ndarray) -> np.ndarray:
    """One matrix per example (N, L, H), normalised like the task matrix but each on its own
    (L2 per layer, then min-max); the division by tokens cancels in the L2 step."""
    return np.stack([normalise(x) for x in per_example]) if len(per_example) else per_example


# ----------------------------------------------------------------------------- fine-tune + cache

def sample_indices(n: int, config: ImportanceConfig) -> np.ndarray:
    """The seeded selection sample: `sample_fraction` of n rows (at least 1), capped, sorted."""
    k = max(1, round(n * config.sample_fraction))
    k = k if config.sample_cap is None else min(k, config.sample_cap)
    return np.sort(np.random.default_rng(config.sample_seed).permutation(n)[:k])


def finetune(task: TaskData, profile: Profile, seed: int, config: ImportanceConfig, progress: bool = True) -> Trainer:
    """A single-task Trainer after `config.warmup_epochs` epochs on the task's train split (the
    warm-up), stopped at `config.warmup_max_steps` if that comes first."""
    steps = math.ceil(config.warmup_epochs * len(task.train) / profile.train.batch_size)
    steps = steps if config.warmup_max_steps is None else min(steps, config.warmup_max_steps)
    trainer = Trainer([task], profile.encoder, replace(profile.train, seed=seed), total_steps=max(steps, 1))
    gate_shape(trainer.model)  # an encoder without gateable heads is refused before any training
    loss = torch.zeros(())
    for _ in tqdm(range(steps), desc=f"fine-tune {task.name}", disable=not progress, leave=False):
        loss = trainer.step(task.name)
    if not torch.isfinite(loss):
        raise RuntimeError(f"fine-tuning {task.name} before measuring head importance diverged "
                           f"(loss {float(loss)}); lower the profile's learning rate")
    return trainer


def importance_config(profile: str | Profile, **overrides) -> ImportanceConfig:
    """The profile's importance settings with each override that is not None (notebook parameters
    left at None keep the profile's)."""
    return replace(get_profile(profile).importance, **{k: v for k, v in overrides.items() if v is not None})


def importance_spec(task: TaskData, profile: Profile, seed: int, config: ImportanceConfig,
                    instances: bool = False) -> dict:
    """Everything that determines a task's matrix (instances=True: its per-row matrices): the
    store key's content."""
    spec = {"encoder": asdict(profile.encoder), "task": task_fingerprint(task),
            "train": settings_without_budget(replace(profile.train, seed=seed)), "settings": asdict(config),
            "seed": seed}
    return spec | {"instances": "train"} if instances else spec


def importance_cost(task: TaskData, *, profile: str | Profile = "cpu", seed: int = 0, store: Store | None = None,
                    config: ImportanceConfig | None = None, instances: bool = False) -> dict:
    """{"wall_time_s", "peak_memory_mb"} of computing the task's stored matrix (instances=True:
    its per-row matrices); empty where the store has no record of it."""
    profile = get_profile(profile)
    spec = importance_spec(task, profile, seed, config or profile.importance, instances)
    return (store.cost("instance_importance" if instances else "head_importance", spec) if store else None) or {}


def _compute_importance(task: TaskData, profile: Profile, seed: int, config: ImportanceConfig,
                        progress: bool = True) -> np.ndarray:
    trainer = finetune(task, profile, seed, config, progress)
    L, H = gate_shape(trainer.model)
    total = np.zeros((L, H))
    for _, g in example_gradients(trainer, task.name, sample_indices(len(task.train), config).tolist(),
                                  config.batch_size, progress):
        total += g.sum(0)  # summed over examples; the normalisation makes a mean the same
    return normalise(total)


def _compute_instance_importance(task: TaskData, profile: Profile, seed: int, config: ImportanceConfig,
                                 progress: bool = True) -> np.ndarray:
    trainer = finetune(task, profile, seed, config, progress)
    L, H = gate_shape(trainer.model)
    out = np.zeros((len(task.train), L, H))
    for pos, g in example_gradients(trainer, task.name, list(range(len(task.train))), config.batch_size, progress):
        out[pos] = g
    return instance_importance(out)


def task_importance(task: TaskData, *, profile: str | Profile = "cpu", seed: int = 0,
                    store: Store | None = None, config: ImportanceConfig | None = None,
                    progress: bool = True) -> np.ndarray:
    """The task's (layers, heads) head-importance matrix, from the store when computed before
    (config=None: the profile's importance settings)."""
    profile = get_profile(profile)
    config = config or profile.importance
    spec = importance_spec(task, profile, seed, config)
    compute = lambda: _compute_importance(task, profile, seed, config, progress)
    return compute() if store is None else store.get_or_compute_array("head_importance", spec, compute)


def task_instance_importance(task: TaskData, *, profile: str | Profile = "cpu", seed: int = 0,
                             store: Store | None = None, config: ImportanceConfig | None = None,
                             progress: bool = True) -> np.ndarray:
    """One (layers, heads) matrix per row of the task's train split, (N, layers, heads), from the
    same fine-tuned model as the task matrix; stored like it."""
    profile = get_profile(profile)
    config = config or profile.importance
    spec = importance_spec(task, profile, seed, config, instances=True)
    compute = lambda: _compute_instance_importance(task, profile, seed, config, progress)
    return compute() if store is None else store.get_or_compute_array("instance_importance", spec, compute)


def importance_matrices(task_names: Sequence[str], *, profile: str | Profile = "cpu", seed: int = 0,
                        data_dir: str | os.PathLike | None = None, store: Store | None = None,
                        config: ImportanceConfig | None = None, progress: bool = True,
                        **overrides) -> dict[str, np.ndarray]:
    """{task: (layers, heads) matrix} for the named tasks; stored matrices are reused, so adding a
    task to the pool computes only that task's. config=None: the profile's importance settings;
    keywords such as `warmup_epochs=1` override its fields."""
    profile = get_profile(profile)
    config = replace(config or profile.importance, **overrides)
    tasks = load_tasks(task_names, profile, data_dir)
    return {t.name: task_importance(t, profile=profile, seed=seed, store=store, config=config,
                                    progress=progress) for t in tasks}


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
