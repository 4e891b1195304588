"""The method registry: every selection method is one function from (context, primary,
candidates) to one `MethodResult`.

    @register_method("My-Method")
    def my_method(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
        run = exp.run([primary, candidates[0]], [1, 1])
        return method_result("My-Method", exp, run, parts=[run_part(run)])

`run_methods`, `python -m aux_select.reproduce --methods` and the notebooks look methods
up here, so a registered method appears in all of them. A result names its own work (`parts`:
MTL runs, the bandit, instance matrices, with the wall time and peak memory they recorded) and
the shared work it leans on (`shared`: the single-task run and the head-importance matrices,
which several methods use and the cost table counts once, in rows of their own).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from aux_select.experiment.context import Experiment
from aux_select.runtime.cost import peak
from aux_select.runtime.store import JsonResult
from aux_select.train.run import RunResult
from aux_select.train.schedule import canonical_ratio

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
