"""The method registry: every selection method is one function from (context, primary,
candidates) to one `MethodResult`.

    @register_method("My-Method")
    def my_method(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
        run = exp.run([primary, candidates[0]], [1, 1])
        return method_result("My-Method", exp, run, parts=[run_part(run)])

`compare.run_methods`, `python -m aux_select.reproduce --methods` and the notebooks look methods
up here, so a registered method appears in all of them. A result names its own work (`parts`:
MTL runs, the bandit, instance matrices, with the wall time and peak memory they recorded) and
the shared work it leans on (`shared`: the single-task run and the head-importance matrices,
which several methods use and the cost table counts once, in rows of their own).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import autosem, baselines, gradts, gradts_select, mixing
from .cost import peak
from .experiment import Experiment
from .selection import SelectionResult
from .store import JsonResult
from .train import RunResult, canonical_ratio

SINGLE_TASK_RUN, HEAD_MATRICES = "single-task run", "head-importance matrices"


@dataclass
class MethodResult(JsonResult):
    method: str
    primary: str
    seed: int
    selected: list[str]              # the auxiliary tasks of the final run
    select_score: float              # the final run's selection metric on select
    report: dict[str, float]         # every official metric of the primary on report
    report_predictions: list | None  # the final run's, row by row: paired bootstraps
    report_labels: list | None
    parts: list[dict]                # the method's own work: {"what", "wall_time_s", "peak_memory_mb"}
    shared: list[str] = field(default_factory=list)  # shared work it used (SINGLE_TASK_RUN, HEAD_MATRICES)
    ratio: list[int] = field(default_factory=list)   # the final run's mixing ratio, primary first
    fractions: dict[str, float] = field(default_factory=dict)  # share of each selected task's train
                                                    # rows the final run used (1.0 but for GradTS-fg)
    details: dict = field(default_factory=dict)     # what the method decided on: ranking, trials,
                                                    # utilities (JSON; see each method)

    @property
    def wall_time_s(self) -> float:
        """The method's own work; NaN if a part's time is unknown."""
        return float(sum(p["wall_time_s"] for p in self.parts))

    @property
    def peak_memory_mb(self) -> float:
        """The highest peak among its own parts that recorded one (NaN if none did; 0 with no
        parts of its own)."""
        return peak(p["peak_memory_mb"] for p in self.parts) if self.parts else 0.0


Method = Callable[[Experiment, str, list[str]], MethodResult]
REGISTRY: dict[str, Method] = {}
MIXED_POOLS: list[str] = []  # the methods GradTS Tables 4 and 5 compare on the larger pools


def register_method(name: str, *, mixed_pools: bool = False) -> Callable[[Method], Method]:
    """Register `fn(exp, primary, candidates) -> MethodResult` under `name` (in the papers'
    order: registration order); mixed_pools=True lists it in GradTS Tables 4/5 as well."""
    def add(fn: Method) -> Method:
        if name in REGISTRY:
            raise ValueError(f"method {name!r} is already registered")
        REGISTRY[name] = fn
        if mixed_pools:
            MIXED_POOLS.append(name)
        return fn
    return add


def method_names(mixed_pools: bool = False) -> list[str]:
    """Every registered method (mixed_pools=True: those of GradTS Tables 4/5), in order."""
    return list(MIXED_POOLS if mixed_pools else REGISTRY)


def check_methods(methods: Sequence[str]) -> None:
    """ValueError naming the known methods if any of `methods` is not one."""
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(REGISTRY)}")


def get_method(name: str) -> Method:
    check_methods([name])
    return REGISTRY[name]


# ----------------------------------------------------------------------------- building results

def part(what: str, wall_time_s: float | None, peak_memory_mb: float | None = None) -> dict:
    nan = math.nan
    return {"what": what, "wall_time_s": nan if wall_time_s is None else float(wall_time_s),
            "peak_memory_mb": nan if peak_memory_mb is None else float(peak_memory_mb)}


def run_name(tasks: Sequence[str], ratio: Sequence[int] | None = None) -> str:
    """The name of an MTL run's part, the same for the same experiment whichever method ran it:
    the primary alone is the shared single-task run; at a uniform ratio the auxiliaries are
    sorted; a ratio is named by its canonical form ([2, 2] is [1, 1])."""
    ratio = canonical_ratio(ratio) if ratio is not None else [1] * len(tasks)
    if len(tasks) == 1:
        return SINGLE_TASK_RUN
    if len(set(ratio)) == 1:
        return f"MTL run {tasks[0]}+{'+'.join(sorted(tasks[1:]))} uniform"
    return f"MTL run {'+'.join(tasks)} {':'.join(map(str, ratio))}"


def run_part(run: RunResult) -> dict:
    return part(run_name(run.tasks, run.ratio), run.wall_time_s, run.peak_memory_mb)


def method_result(method: str, exp: Experiment, run: RunResult, parts: Sequence[dict] = (),
                  shared: Sequence[str] = (), fractions: dict[str, float] | None = None,
                  details: dict | None = None) -> MethodResult:
    """A method's result from its final run."""
    selected = list(run.tasks[1:])
    fractions = {t: 1.0 for t in selected} | {t: f for t, f in (fractions or {}).items() if t in selected}
    return MethodResult(method, run.tasks[0], exp.seed, selected=selected, select_score=run.select_score,
                        report=dict(run.report), report_predictions=run.report_predictions,
                        report_labels=run.report_labels, parts=list(parts), shared=list(shared),
                        ratio=list(run.ratio), fractions=fractions, details=details or {})


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
