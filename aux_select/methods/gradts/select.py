"""GradTS (Ma et al., 2021), part 2: auxiliary sets from the Kendall-tau ranking.

  GradTS-thres  every candidate with tau >= 0.47 with the primary.
  GradTS-trial  candidates added in tau order, one MTL run each; stop at the first drop of the
                primary's select score and keep the set before it (`greedy.greedy_prefix`).
  GradTS-fg     the trial-selected auxiliaries' train rows filtered by instance-level tau with
                the primary's task matrix (>= 0.42); the primary keeps all its data.

Every decision uses the primary's selection metric on its select split; report numbers come
from the final run only. Head matrices come from `aux_select.methods.gradts` and are stored.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from aux_select.data.loading import TaskData
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.gradts.importance import (
    importance_matrices,
    rank_candidates,
    task_importance,
    task_instance_importance,
)
from aux_select.methods.greedy import MTLScorer, SelectionResult, greedy_prefix

# ----------------------------------------------------------------------------- pure rules

def thres_select(ranking: Sequence[tuple[str, float]], threshold: float = 0.47) -> list[str]:
    """GradTS-thres: the candidates whose tau with the primary is >= threshold, in ranking order."""
    return [task for task, tau in ranking if tau >= threshold]  # NaN never passes


def instance_taus(primary_matrix: np.ndarray, instance_matrices: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Kendall tau-b of every instance's (layers, heads) matrix with the primary's task matrix: (N,),
    for `chunk` instances at a time over every pair of heads (scipy's tau-b, value for value: the
    same integer counts in the same formula; NaN where either matrix is constant or holds a NaN)."""
    a = np.ravel(primary_matrix)
    first, second = np.triu_indices(a.size, k=1)  # every pair of heads once
    sign_a = np.sign(a[first] - a[second])        # (pairs,)
    total, ties_a = len(first), np.count_nonzero(sign_a == 0)
    out = np.empty(len(instance_matrices))
    for start in range(0, len(instance_matrices), chunk):
        b = np.asarray(instance_matrices[start:start + chunk], dtype=np.float64).reshape(-1, a.size)  # (C, heads)
        sign_b = np.sign(b[:, first] - b[:, second])   # (C, pairs)
        ties_b = np.count_nonzero(sign_b == 0, axis=1)
        with np.errstate(all="ignore"):  # NaN and constant rows: replaced below
            con_minus_dis = np.rint(sign_b @ sign_a).astype(np.int64)  # exact: a sum of +-1s
            tau = np.clip(con_minus_dis / np.sqrt(total - ties_a) / np.sqrt(total - ties_b), -1.0, 1.0)
        constant = (ties_b == total) | (ties_a == total) | np.isnan(b).any(axis=1) | np.isnan(a).any()
        out[start:start + len(b)] = np.where(constant, np.nan, tau)
    return out


def fg_keep(taus: np.ndarray, threshold: float = 0.42) -> np.ndarray:
    """GradTS-fg: indices of the auxiliary rows whose instance tau with the primary is >=
    threshold (an instance whose matrix is constant has tau NaN and is dropped)."""
    return np.flatnonzero(np.asarray(taus) >= threshold)


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


# ----------------------------------------------------------------------------- the three selections

def _ranking(exp: Experiment, primary: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
    return rank_candidates(primary, importance_matrices([primary, *candidates], exp), candidates)


def select_by_threshold(primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
                        **settings) -> SelectionResult:
    """GradTS-thres (`profile.gradts.threshold`), then one MTL run of the primary with the
    selected set (uniform ratio)."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)
    ranking = _ranking(exp, primary, candidates)
    selected = thres_select(ranking, exp.profile.gradts.threshold)
    run = MTLScorer(exp, [primary, *candidates]).run(selected)
    return SelectionResult(primary, ranking, selected, run)


def select_by_trials(primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
                     **settings) -> SelectionResult:
    """GradTS-trial: greedy in tau order from the single-task score, stopping at the first drop."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)
    ranking = _ranking(exp, primary, candidates)
    scorer = MTLScorer(exp, [primary, *candidates])
    selected, tried = greedy_prefix([t for t, _ in ranking], scorer)
    return SelectionResult(primary, ranking, selected, scorer.run(selected),
                           trials=scorer.trials(tried))


def filter_by_instances(primary: str, trial: SelectionResult, exp: Experiment) -> SelectionResult:
    """GradTS-fg: the tasks a finished GradTS-trial search kept (`select_by_trials`), their train
    rows filtered by instance tau with the primary's matrix (`profile.gradts.fg_threshold`), then
    one MTL run on the filtered data. Every row's tau is kept in `instance_taus`."""
    tasks = exp.tasks([primary, *trial.selected])
    primary_matrix = task_importance(tasks[0], exp)
    taus = {t.name: instance_taus(primary_matrix, task_instance_importance(t, exp)) for t in tasks[1:]}
    kept = {name: fg_keep(tau, exp.profile.gradts.fg_threshold) for name, tau in taus.items()}
    tasks = filter_tasks(tasks, kept)
    run = exp.run(tasks)
    return SelectionResult(primary, trial.order, [t.name for t in tasks[1:]], run,
                           trials=trial.trials, kept_fraction={t: len(kept[t]) / max(len(taus[t]), 1) for t in taus},
                           instance_taus={t: tau.tolist() for t, tau in taus.items()})
