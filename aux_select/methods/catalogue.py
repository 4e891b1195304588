"""The ten methods of the two papers, registered in the papers' order (the order of every table):
Single-Task, NO-SEL, AutoSeM-p1, AutoSeM, GradTS-thres, GradTS-trial, GradTS-fg, HEU-Size,
HEU-Type, HEU-Len; and the two pieces of shared work they lean on. Each method is one function
from (context, primary, candidates) to a `MethodResult` built from its final run, its own work
(`parts`), the shared work it used and its ranking of the candidates."""
from __future__ import annotations

import math
from typing import Sequence

from aux_select.experiment.context import Experiment
from aux_select.methods.autosem.stage1 import Stage1Result, run_stage1
from aux_select.methods.autosem.stage2 import run_stage2, trial_run
from aux_select.methods.baselines import heuristic_search
from aux_select.methods.gradts import importance as gradts
from aux_select.methods.gradts.select import filter_by_instances, select_by_threshold, select_by_trials
from aux_select.methods.greedy import MTLScorer, SelectionResult
from aux_select.methods.registry import (
    HEAD_MATRICES,
    SINGLE_TASK_RUN,
    MethodResult,
    SharedWork,
    method_result,
    register_method,
    register_shared,
    run_name,
    run_part,
)
from aux_select.runtime.cost import Part, peak
from aux_select.train.run import RunResult

# ----------------------------------------------------------------------------- shared work


def train_alone(primary: str, *, exp: Experiment) -> RunResult:
    """The primary trained alone: the start of every greedy search and the baseline of every gain."""
    return exp.run([primary], [1])


def _single_task_cost(exp: Experiment, primary: str, candidates: Sequence[str]) -> Part:
    part = run_part(train_alone(primary, exp=exp), SINGLE_TASK_RUN)
    part.shared = SINGLE_TASK_RUN
    return part


def _matrices_cost(exp: Experiment, primary: str, candidates: Sequence[str]) -> Part:
    costs = [gradts.importance_cost(t, exp) for t in exp.tasks([primary, *candidates])]
    return Part(f"{HEAD_MATRICES} ({1 + len(candidates)} tasks)", _total(costs, "wall_time_s"),
                peak(c.get("peak_memory_mb", math.nan) for c in costs), HEAD_MATRICES, _total(costs, "cpu_time_s"),
                _total(costs, "steps"))


def _total(costs: Sequence[dict], key: str) -> float:
    return sum(c.get(key, math.nan) for c in costs)


register_shared(SharedWork(SINGLE_TASK_RUN, lambda primary, candidates: [(train_alone, (primary,))], _single_task_cost))
register_shared(SharedWork(HEAD_MATRICES, lambda primary, candidates: [(gradts.task_importance, (t,))
                                                                       for t in (primary, *candidates)],
                           _matrices_cost))

# ----------------------------------------------------------------------------- what results hold


def _greedy_parts(exp: Experiment, primary: str, candidates: list[str], selection: SelectionResult) -> list[Part]:
    """The runs of a greedy search, read back (the empty set, the single-task run, is shared and
    never among its trials)."""
    scorer = MTLScorer(exp, [primary, *candidates])
    return [run_part(scorer.run(t.tasks, t.reference)) for t in selection.trials]


def _selection_details(selection: SelectionResult) -> dict:
    return {"order": [list(o) for o in selection.order],
            "trials": [{"tasks": t.tasks, "select_score": t.select_score, "stopped_at": t.stopped_at}
                       for t in selection.trials]}


def stage1_part(stage1: Stage1Result) -> Part:
    return Part(f"stage 1: {len(stage1.trajectory)} bandit rounds", stage1.wall_time_s, stage1.peak_memory_mb,
                cpu_time_s=stage1.cpu_time_s, steps=len(stage1.trajectory) * stage1.settings["batches_per_round"])


# ----------------------------------------------------------------------------- the ten methods


@register_method("Single-Task", shares=[SINGLE_TASK_RUN], mixed_pools=True, baseline=True, claimed_rank=5)
def single_task(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    return method_result("Single-Task", exp, train_alone(primary, exp=exp), shared=[SINGLE_TASK_RUN])


@register_method("NO-SEL")
def no_sel(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """Every candidate, mixed uniformly within the profile's K (`Experiment.uniform_mix`)."""
    run = exp.run([primary, *candidates])
    return method_result("NO-SEL", exp, run, [run_part(run)])


@register_method("AutoSeM-p1", mixed_pools=True, claimed_rank=4)
def autosem_p1(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """Stage 1's selection, mixed uniformly within the profile's K."""
    stage1 = run_stage1(primary, candidates, exp)
    run = exp.run([primary, *stage1.selected])
    return method_result("AutoSeM-p1", exp, run, [stage1_part(stage1), run_part(run)],
                         details={"utilities": stage1.utilities, "pulls": stage1.pulls},
                         ranking=stage1.ranking)


@register_method("AutoSeM", after=["AutoSeM-p1"], mixed_pools=True, claimed_rank=3, drives=True)
def autosem(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """Stage 1 picks the tasks, stage 2 their ratio; the final model is the best stage-2 trial,
    whose run was already scored on report, so nothing is retrained."""
    stage1 = run_stage1(primary, candidates, exp)
    stage2 = run_stage2(primary, stage1.selected, exp)
    if stage2.best_ratio is None:
        raise RuntimeError(f"every GP trial for {primary} failed (seed {exp.seed}); see the trials in notebook 03")
    runs = [trial_run(exp, stage2.tasks, t) for t in stage2.trials]  # stored: read back
    best = next(r for t, r in zip(stage2.trials, runs) if t.finished and t.ratio == stage2.best_ratio)
    return method_result("AutoSeM", exp, best, [stage1_part(stage1), *map(run_part, runs)],
                         details={"utilities": stage1.utilities, "pulls": stage1.pulls,
                                  "trials": [{"ratio": t.ratio, "select_score": t.select_score, "failure": t.failure,
                                              "stopped_at": t.stopped_at} for t in stage2.trials]},
                         ranking=stage1.ranking)


@register_method("GradTS-thres", shares=[HEAD_MATRICES], mixed_pools=True)
def gradts_thres(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    selection = select_by_threshold(primary, candidates, exp)
    if not selection.selected:  # nothing passed the threshold: its run is the single-task run
        return method_result("GradTS-thres", exp, selection.run, [], [SINGLE_TASK_RUN, HEAD_MATRICES],
                             details=_selection_details(selection), ranking=selection.ranking)
    return method_result("GradTS-thres", exp, selection.run, [run_part(selection.run)], [HEAD_MATRICES],
                         details=_selection_details(selection), ranking=selection.ranking)


@register_method("GradTS-trial", shares=[SINGLE_TASK_RUN, HEAD_MATRICES], mixed_pools=True, claimed_rank=2)
def gradts_trial(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    trial = select_by_trials(primary, candidates, exp)
    return method_result("GradTS-trial", exp, trial.run, _greedy_parts(exp, primary, candidates, trial),
                         [SINGLE_TASK_RUN, HEAD_MATRICES], details=_selection_details(trial), ranking=trial.ranking)


@register_method("GradTS-fg", shares=[SINGLE_TASK_RUN, HEAD_MATRICES], after=["GradTS-trial"], mixed_pools=True,
                 claimed_rank=1)
def gradts_fg(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """GradTS-trial's search (its runs are parts of this method too), the instance matrices of
    the tasks it kept, and one run on the rows they kept."""
    trial = select_by_trials(primary, candidates, exp)
    fg = filter_by_instances(primary, trial, exp)
    parts = _greedy_parts(exp, primary, candidates, trial)
    for task in exp.tasks(trial.selected):
        cost = gradts.importance_cost(task, exp, instances=True)
        parts.append(Part(f"instance matrices {task.name}", cost.get("wall_time_s"), cost.get("peak_memory_mb"),
                          cpu_time_s=cost.get("cpu_time_s"), steps=cost.get("steps")))
    if fg.selected:  # otherwise its run is the single-task run, already shared
        parts.append(run_part(fg.run, f"{run_name(fg.run.tasks, fg.run.ratio)} on the rows GradTS-fg kept"))
    return method_result("GradTS-fg", exp, fg.run, parts, [SINGLE_TASK_RUN, HEAD_MATRICES], fractions=fg.kept_fraction,
                         details=_selection_details(fg) | {"kept_fraction": fg.kept_fraction}, ranking=fg.ranking)


def _heuristic(name: str, kind: str, exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    selection = heuristic_search(kind, primary, candidates, exp)
    return method_result(name, exp, selection.run, _greedy_parts(exp, primary, candidates, selection),
                         [SINGLE_TASK_RUN], details=_selection_details(selection), ranking=selection.ranking)


@register_method("HEU-Size", shares=[SINGLE_TASK_RUN])
def heu_size(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """GradTS-trial's greedy search, largest candidates first."""
    return _heuristic("HEU-Size", "size", exp, primary, candidates)


@register_method("HEU-Type", shares=[SINGLE_TASK_RUN])
def heu_type(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """... candidates of the primary's GLUE type first (then by size)."""
    return _heuristic("HEU-Type", "type", exp, primary, candidates)


@register_method("HEU-Len", shares=[SINGLE_TASK_RUN])
def heu_len(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """... candidates closest to the primary's average length in words first."""
    return _heuristic("HEU-Len", "len", exp, primary, candidates)
