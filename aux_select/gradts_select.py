"""GradTS (Ma et al., 2021), part 2: auxiliary sets from the Kendall-tau ranking.

  GradTS-thres  every candidate with tau >= 0.47 with the primary.
  GradTS-trial  candidates added in tau order, one MTL run each; stop at the first drop of the
                primary's select score and keep the set before it (`selection.greedy_prefix`).
  GradTS-fg     the trial-selected auxiliaries' train rows filtered by instance-level tau with
                the primary's task matrix (>= 0.42); the primary keeps all its data.

Every decision uses the primary's selection metric on its select split; report numbers come
from the final run only. Head matrices come from `aux_select.gradts` and are stored.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .baselines import default_candidates
from .data import TaskData
from .experiment import check_pool, load_tasks, mtl_run_tasks
from .gradts import ImportanceConfig, kendall_tau, rank_candidates, task_importance, task_instance_importance
from .profiles import Profile
from .selection import MTLScorer, SelectionResult, greedy_prefix
from .store import Store

# ----------------------------------------------------------------------------- pure rules

def thres_select(ranking: Sequence[tuple[str, float]], threshold: float = 0.47) -> list[str]:
    """GradTS-thres: the candidates whose tau with the primary is >= threshold, in ranking order."""
    return [task for task, tau in ranking if tau >= threshold]  # NaN never passes


def instance_taus(primary_matrix: np.ndarray, instance_matrices: np.ndarray) -> np.ndarray:
    """Kendall tau-b of every instance's (layers, heads) matrix with the primary's task matrix: (N,)."""
    return np.array([kendall_tau(primary_matrix, m) for m in instance_matrices])


@dataclass
class InstanceFilter:
    kept: dict[str, np.ndarray]       # per auxiliary: indices of the train rows kept (sorted)
    fractions: dict[str, float]       # per auxiliary: kept rows / train rows
    taus: dict[str, np.ndarray]       # per auxiliary: every row's tau with the primary


def fg_filter(primary_matrix: np.ndarray, instance_matrices: dict[str, np.ndarray],
              threshold: float = 0.42) -> InstanceFilter:
    """GradTS-fg: keep the auxiliary rows whose instance tau with the primary is >= threshold
    (an instance whose matrix is constant has tau NaN and is dropped)."""
    taus = {t: instance_taus(primary_matrix, m) for t, m in instance_matrices.items()}
    kept = {t: np.flatnonzero(tau >= threshold) for t, tau in taus.items()}
    fractions = {t: len(kept[t]) / max(len(taus[t]), 1) for t in taus}
    return InstanceFilter(kept=kept, fractions=fractions, taus=taus)


def filter_tasks(tasks: Sequence[TaskData], kept: dict[str, np.ndarray]) -> list[TaskData]:
    """`tasks` with each auxiliary's train split reduced to its `kept` rows; the primary
    (tasks[0]) and tasks not in `kept` are unchanged; an auxiliary with no row kept drops out."""
    out = [tasks[0]]
    for task in tasks[1:]:
        rows = kept.get(task.name)
        if rows is None:
            out.append(task)
        elif len(rows):
            note = f"GradTS-fg kept {len(rows)} of {len(task.train)} train rows"
            out.append(replace(task, train=task.train.select(np.sort(rows)), notes=f"{task.notes}; {note}"))
    return out


# ----------------------------------------------------------------------------- methods

def _rank(primary: str, candidates: Sequence[str] | None, profile, seed, data_dir, store, importance,
          progress) -> tuple[list[TaskData], list[tuple[str, float]], dict[str, np.ndarray]]:
    """Loaded tasks (primary first), the tau ranking and the task matrices."""
    candidates = list(candidates) if candidates is not None else default_candidates(primary, data_dir)
    check_pool(primary, candidates)
    tasks = load_tasks([primary, *candidates], profile, data_dir)
    matrices = {t.name: task_importance(t, profile=profile, seed=seed, store=store, config=importance,
                                        progress=progress) for t in tasks}
    return tasks, rank_candidates(primary, matrices, candidates), matrices


def gradts_thres(primary: str, candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
                 seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None,
                 threshold: float = 0.47, importance: ImportanceConfig | None = None,
                 progress: bool = True) -> SelectionResult:
    """GradTS-thres, then one MTL run of the primary with the selected set (uniform ratio)."""
    tasks, ranking, _ = _rank(primary, candidates, profile, seed, data_dir, store, importance, progress)
    selected = thres_select(ranking, threshold)
    run = MTLScorer(tasks, profile=profile, seed=seed, store=store, progress=progress).run(selected)
    return SelectionResult("GradTS-thres", primary, ranking, selected, run)


def gradts_trial(primary: str, candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
                 seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None,
                 importance: ImportanceConfig | None = None, progress: bool = True) -> SelectionResult:
    """GradTS-trial: greedy in tau order from the single-task score, stopping at the first drop."""
    tasks, ranking, _ = _rank(primary, candidates, profile, seed, data_dir, store, importance, progress)
    scorer = MTLScorer(tasks, profile=profile, seed=seed, store=store, progress=progress)
    greedy = greedy_prefix([t for t, _ in ranking], scorer)
    return SelectionResult("GradTS-trial", primary, ranking, greedy.selected,
                           scorer.run(greedy.selected), trials=scorer.with_costs(greedy.trials))


def gradts_fg(primary: str, candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
              seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None,
              threshold: float = 0.42, importance: ImportanceConfig | None = None,
              trial: SelectionResult | None = None, progress: bool = True) -> SelectionResult:
    """GradTS-fg: GradTS-trial's tasks (pass `trial` to reuse a finished one), their train rows
    filtered by instance tau with the primary's matrix, then one MTL run on the filtered data."""
    trial = trial or gradts_trial(primary, candidates, profile=profile, seed=seed, data_dir=data_dir,
                                  store=store, importance=importance, progress=progress)
    tasks = load_tasks([primary, *trial.selected], profile, data_dir)
    primary_matrix = task_importance(tasks[0], profile=profile, seed=seed, store=store, config=importance,
                                     progress=progress)
    instances = {t.name: task_instance_importance(t, profile=profile, seed=seed, store=store,
                                                  config=importance, progress=progress) for t in tasks[1:]}
    filtered = fg_filter(primary_matrix, instances, threshold)
    tasks = filter_tasks(tasks, filtered.kept)
    run = mtl_run_tasks(tasks, [1] * len(tasks), profile=profile, seed=seed, store=store, progress=progress)
    return SelectionResult("GradTS-fg", primary, trial.order, [t.name for t in tasks[1:]], run,
                           trials=trial.trials, kept_fraction=filtered.fractions)
