"""The ten methods of the two papers, registered in the papers' order (the order of every table):
Single-Task, NO-SEL, AutoSeM-p1, AutoSeM, GradTS-thres, GradTS-trial, GradTS-fg, HEU-Size,
HEU-Type, HEU-Len. Each is one function from (context, primary, candidates) to a `MethodResult`
built from its final run, its own work (`parts`) and the shared work it used."""
from __future__ import annotations

from aux_select.experiment.context import Experiment
from aux_select.methods import baselines
from aux_select.methods.autosem import stage1 as autosem
from aux_select.methods.autosem import stage2 as mixing
from aux_select.methods.gradts import importance as gradts
from aux_select.methods.gradts import select as gradts_select
from aux_select.methods.greedy import SelectionResult
from aux_select.methods.registry import (
    HEAD_MATRICES,
    SINGLE_TASK_RUN,
    MethodResult,
    method_result,
    part,
    register_method,
    run_name,
    run_part,
)


def _greedy_parts(primary: str, selection: SelectionResult) -> list[dict]:
    """The runs of a greedy search, as its trials recorded them (the empty set, the single-task
    run, is shared and never among them)."""
    return [part(run_name([primary, *t["tasks"]]), t["wall_time_s"], t["peak_memory_mb"]) for t in selection.trials]


def _selection_details(selection: SelectionResult) -> dict:
    return {"order": [list(o) for o in selection.order],
            "trials": [{"tasks": t["tasks"], "select_score": t["select_score"]} for t in selection.trials]}


def _stage1_part(stage1: autosem.Stage1Result) -> dict:
    return part(f"stage 1: {len(stage1.trajectory)} bandit rounds", stage1.wall_time_s, stage1.peak_memory_mb)


# ----------------------------------------------------------------------------- the ten methods

@register_method("Single-Task", mixed_pools=True)
def single_task(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    return method_result("Single-Task", exp, baselines.single_task(primary, exp), shared=[SINGLE_TASK_RUN])


@register_method("NO-SEL")
def no_sel(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    run = baselines.no_sel(primary, candidates, exp)
    return method_result("NO-SEL", exp, run, [run_part(run)])


@register_method("AutoSeM-p1", mixed_pools=True)
def autosem_p1(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    stage1 = autosem.run_stage1(primary, candidates, exp)
    run = autosem.autosem_p1(primary, stage1.selected, exp)
    return method_result("AutoSeM-p1", exp, run, [_stage1_part(stage1), run_part(run)],
                         details={"utilities": stage1.utilities, "pulls": stage1.pulls})


@register_method("AutoSeM", mixed_pools=True)
def autosem_full(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """Stage 1 picks the tasks, stage 2 their ratio; the final model is the best stage-2 trial,
    whose run was already scored on report, so nothing is retrained."""
    stage1 = autosem.run_stage1(primary, candidates, exp)
    stage2 = mixing.run_stage2(primary, stage1.selected, exp)
    if stage2.best_ratio is None:
        raise RuntimeError(f"every GP trial for {primary} failed (seed {exp.seed}); see the trials in notebook 03")
    runs = [exp.run(stage2.tasks, t.ratio) for t in stage2.trials]  # stored: read back
    best = runs[[t.ratio for t in stage2.trials].index(stage2.best_ratio)]
    return method_result("AutoSeM", exp, best, [_stage1_part(stage1), *map(run_part, runs)],
                         details={"utilities": stage1.utilities, "pulls": stage1.pulls,
                                  "trials": [{"ratio": t.ratio, "select_score": t.select_score, "failure": t.failure}
                                             for t in stage2.trials]})


@register_method("GradTS-thres", mixed_pools=True)
def gradts_thres(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    selection = gradts_select.gradts_thres(primary, candidates, exp)
    if not selection.selected:  # nothing passed the threshold: its run is the single-task run
        return method_result("GradTS-thres", exp, selection.run, [], [SINGLE_TASK_RUN, HEAD_MATRICES],
                             details=_selection_details(selection))
    return method_result("GradTS-thres", exp, selection.run, [run_part(selection.run)], [HEAD_MATRICES],
                         details=_selection_details(selection))


@register_method("GradTS-trial", mixed_pools=True)
def gradts_trial(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    trial = gradts_select.gradts_trial(primary, candidates, exp)
    return method_result("GradTS-trial", exp, trial.run, _greedy_parts(primary, trial), [SINGLE_TASK_RUN, HEAD_MATRICES],
                         details=_selection_details(trial))


@register_method("GradTS-fg", mixed_pools=True)
def gradts_fg(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """GradTS-trial's search (its runs are parts of this method too), the instance matrices of
    the tasks it kept, and one run on the rows they kept."""
    trial = gradts_select.gradts_trial(primary, candidates, exp)
    fg = gradts_select.gradts_fg(primary, candidates, exp, trial=trial)
    parts = _greedy_parts(primary, trial)
    for task in exp.tasks(trial.selected):
        cost = gradts.importance_cost(task, exp, instances=True)
        parts.append(part(f"instance matrices {task.name}", cost.get("wall_time_s"), cost.get("peak_memory_mb")))
    if fg.selected:  # otherwise its run is the single-task run, already shared
        parts.append({**run_part(fg.run), "what": f"{run_name(fg.run.tasks)} on the rows GradTS-fg kept"})
    return method_result("GradTS-fg", exp, fg.run, parts, [SINGLE_TASK_RUN, HEAD_MATRICES], fractions=fg.kept_fraction,
                         details=_selection_details(fg) | {"kept_fraction": fg.kept_fraction})


def _heuristic(kind: str, exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    selection = baselines.heuristic(kind, primary, candidates, exp)
    return method_result(selection.method, exp, selection.run, _greedy_parts(primary, selection), [SINGLE_TASK_RUN],
                         details=_selection_details(selection))


@register_method("HEU-Size")
def heu_size(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """GradTS-trial's greedy search, largest candidates first."""
    return _heuristic("size", exp, primary, candidates)


@register_method("HEU-Type")
def heu_type(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """... candidates of the primary's GLUE type first (then by size)."""
    return _heuristic("type", exp, primary, candidates)


@register_method("HEU-Len")
def heu_len(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
    """... candidates closest to the primary's average length in words first."""
    return _heuristic("len", exp, primary, candidates)
