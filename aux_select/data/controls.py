"""Control tasks: auxiliary tasks whose usefulness is known by construction (DESIGN §12).

For a primary P, one seeded cut of P's train split gives

    P~clone    a disjoint part of P's train rows (profile.controls.clone_fraction), which P no
               longer trains on: more in-domain data, the clearest helpful auxiliary task
    P~contra   the clone's rows with every label mapped by a fixed derangement (no label stays
               itself; regression: mirrored around the middle of P's label range), trained
               through P's own head: harmful by construction. The same inputs as P's, through
               the same head, with contradicting labels, so the loss that head is trained on is
               lowest for predictions that no longer tell P's classes apart (binary: 0.5;
               regression: the middle of the range) and every batch of it pulls P's predictions
               there. (With a head of its own the deranged labels were a second clone: a
               bijection of the labels is learnt by the head, and the encoder sees the clone's
               signal; that control, P~flip, measured as helpful as the clone.)
    P~shuffle  the clone's rows with the labels permuted across rows (tagging: across every word
               of the clone, each sentence keeping its words and length): inputs and labels no
               longer relate

P~clone and P~shuffle have their own heads, like any task; P~contra has P's. P's select and
report splits are untouched and no control holds a row of them (a control's own select and
report splits are empty: an auxiliary task is never scored). A context with
`Experiment(..., controls=P)` serves P (the rows the clone leaves) and its controls, and offers the
controls as candidates; `aux_select.analysis.controls` scores every method's choices against them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from aux_select.data.loading import TaskData
from aux_select.data.registry import REGRESSION, TAGGING, control_names, get_task


@dataclass(frozen=True)
class ControlConfig:
    """Control tasks (aux_select.data.controls): how the primary's train split is cut."""
    clone_fraction: float = 0.5       # share of the primary's train rows that become P~clone (and
                                      # P~contra, P~shuffle); the primary trains on the rest
    seed: int = 0                     # fixes the cut, the derangement and the shuffle for every seed


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) that moves every element (uniform, by rejection); n >= 2."""
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 labels, got {n}")
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def _contradicting(task: TaskData, labels: list, rng: np.random.Generator) -> list:
    spec = task.spec
    if spec.objective == REGRESSION:  # the label range of P's whole train split, not just the clone's
        train_labels = np.asarray(list(task.train["label"]), dtype=float)
        low, high = float(train_labels.min()), float(train_labels.max())
        return [low + high - y for y in labels]
    perm = derangement(spec.num_labels, rng)
    if spec.objective == TAGGING:
        return [perm[tags].tolist() for tags in labels]
    return perm[labels].tolist()


def _shuffled(task: TaskData, labels: list, rng: np.random.Generator) -> list:
    if task.spec.objective != TAGGING:
        return [labels[i] for i in rng.permutation(len(labels))]
    flat = np.concatenate([np.asarray(tags, dtype=np.int64) for tags in labels])  # (words of the clone,)
    flat = flat[rng.permutation(len(flat))]
    ends = np.cumsum([len(tags) for tags in labels])
    return [part.tolist() for part in np.split(flat, ends[:-1])]  # each sentence its own length again


def _with_labels(ds: Dataset, labels: list) -> Dataset:
    return Dataset.from_dict(ds.to_dict() | {"label": labels}, features=ds.features)


def cut_controls(task: TaskData, config: ControlConfig = ControlConfig()) -> dict[str, TaskData]:
    """{P: P training on the rows the clone leaves, P~clone, P~contra, P~shuffle}, from `task`
    (P as the profile loads it). The same task and config always give the same rows and labels."""
    spec, n = task.spec, len(task.train)
    if spec.control_of is not None:
        raise ValueError(f"{task.name} is itself a control task; cut the controls of {spec.control_of}")
    n_clone = round(n * config.clone_fraction)
    if not 0 < n_clone < n:
        raise ValueError(f"clone_fraction={config.clone_fraction} of {task.name}'s {n} train rows leaves the clone "
                         "or the primary empty; choose a fraction strictly between 0 and 1")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(n)
    clone_rows, kept_rows = np.sort(order[:n_clone]), np.sort(order[n_clone:])
    clone = task.train.select(clone_rows)
    labels = list(clone["label"])  # a plain list: datasets 4.0's Column takes no numpy index
    trains = {"clone": clone, "contra": _with_labels(clone, _contradicting(task, labels, rng)),
              "shuffle": _with_labels(clone, _shuffled(task, labels, rng))}
    cut = f"{n_clone} of its {n} train rows cut out as {task.name}~clone (seed {config.seed})"
    out = {task.name: TaskData(spec, train=task.train.select(kept_rows), select=task.select, report=task.report,
                               source=task.source, notes=f"{task.notes}; controls: {cut}")}
    empty = clone.select([])  # an auxiliary task is never scored: no select or report rows of its own
    for name, (kind, train) in zip(control_names(task.name), trains.items()):
        out[name] = TaskData(get_task(name), train=train, select=empty, report=empty, source=task.source,
                             notes=f"control task of {task.name} ({kind}): {cut}")
    return out
