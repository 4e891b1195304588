"""The method registry: every selection method is one function from (context, primary,
candidates) to one `MethodResult`, registered with what it leans on.

    @register_method("My-Method", shares=[SINGLE_TASK_RUN])
    def my_method(exp: Experiment, primary: str, candidates: list[str]) -> MethodResult:
        run = exp.run([primary, candidates[0]], [1, 1])
        return method_result("My-Method", exp, run, parts=[run_part(run)], ranking=candidates)

`run_methods`, `reproduce --methods` (and `--plugin mymodule` for a module of your own), the
notebooks and the tables look methods up here, so a registered method appears in all of them.
A result names its own work (`parts`) and the shared work it used (`shared`); the shared work
itself (`register_shared`: the single-task run, the head-importance matrices) is computed once
per seed and counted once. What a method declares (`shares`, `after`) is what the Dask fan-out
(`methods.fanout`) reads to send each unit in the right wave.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from aux_select.experiment.context import Experiment
from aux_select.runtime.cost import Part, peak
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
    parts: list[Part]                # the method's own work, with what each part cost
    shared: list[str] = field(default_factory=list)  # shared work it used (SINGLE_TASK_RUN, HEAD_MATRICES)
    ratio: list[int] = field(default_factory=list)   # the final run's mixing ratio, primary first
    fractions: dict[str, float] = field(default_factory=dict)  # share of each selected task's train
                                                    # rows the final run used (1.0 but for GradTS-fg)
    details: dict = field(default_factory=dict)     # what the method decided on: trials, utilities,
                                                    # taus (JSON; see each method)
    ranking: list[str] | None = None  # the candidates best first, as the method ranked them
                                      # (utilities, tau, a heuristic's key); None: it ranks nothing

    def __post_init__(self):
        self.parts = [p if isinstance(p, Part) else Part.from_json(p) for p in self.parts]

    @property
    def wall_time_s(self) -> float:
        """The method's own work; NaN if a part's time is unknown."""
        return float(sum(p.wall_time_s for p in self.parts))

    @property
    def peak_memory_mb(self) -> float:
        """The highest peak among its own parts that recorded one (NaN if none did; 0 with no
        parts of its own)."""
        return peak(p.peak_memory_mb for p in self.parts) if self.parts else 0.0


Method = Callable[[Experiment, str, list[str]], MethodResult]


@dataclass(frozen=True)
class MethodInfo:
    name: str
    run: Method
    shares: tuple[str, ...] = ()    # shared work it may use (names given to `register_shared`)
    after: tuple[str, ...] = ()     # methods whose stored work it reads (AutoSeM: AutoSeM-p1's stage 1)
    mixed_pools: bool = False       # compared on the larger pools of GradTS Tables 4 and 5
    baseline: bool = False          # the method every gain is measured against (Single-Task)
    claimed_rank: int | None = None  # its place in the papers' claimed order, 1 = best (GradTS Tables 2, 4)
    drives: bool = False            # its search runs on the driver and sends each run to the workers as a
                                    # unit of its own (AutoSeM's GP points): a worker killed mid-search
                                    # loses one point's minutes, never the search (`fanout`)


@dataclass(frozen=True)
class SharedWork:
    """Work several methods lean on, computed once per seed: `units(primary, candidates)` are the
    store-filling calls `(function, args)`, each run as `function(*args, exp=exp)`, that compute
    it (one Dask unit each); `cost(exp, primary, candidates)` is what it cost, as recorded."""
    name: str
    units: Callable[[str, Sequence[str]], list[tuple[Callable, tuple]]]
    cost: Callable[[Experiment, str, Sequence[str]], Part]


REGISTRY: dict[str, MethodInfo] = {}
SHARED: dict[str, SharedWork] = {}


def register_method(name: str, *, shares: Sequence[str] = (), after: Sequence[str] = (), mixed_pools: bool = False,
                    baseline: bool = False, claimed_rank: int | None = None,
                    drives: bool = False) -> Callable[[Method], Method]:
    """Register `fn(exp, primary, candidates) -> MethodResult` under `name` (the papers' order
    is registration order); the keywords are `MethodInfo`'s."""
    def add(fn: Method) -> Method:
        if name in REGISTRY:
            raise ValueError(f"method {name!r} is already registered")
        unknown = [s for s in shares if s not in SHARED]
        if unknown:
            raise ValueError(f"{name}: unknown shared work {unknown}; choose from {', '.join(SHARED)}")
        REGISTRY[name] = MethodInfo(name, fn, tuple(shares), tuple(after), mixed_pools, baseline, claimed_rank, drives)
        return fn
    return add


def register_shared(work: SharedWork) -> SharedWork:
    SHARED[work.name] = work
    return work


def method_names(mixed_pools: bool = False) -> list[str]:
    """Every registered method (mixed_pools=True: those of GradTS Tables 4/5), in order."""
    return [name for name, info in REGISTRY.items() if info.mixed_pools or not mixed_pools]


def check_methods(methods: Sequence[str]) -> None:
    """ValueError naming the known methods if any of `methods` is not one."""
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(REGISTRY)} "
                         "(a method of your own: import the module that registers it, e.g. reproduce --plugin)")


def method_info(name: str) -> MethodInfo:
    check_methods([name])
    return REGISTRY[name]


def get_method(name: str) -> Method:
    return method_info(name).run


def baseline_method() -> str:
    """The name of the method gains are measured against."""
    return next(name for name, info in REGISTRY.items() if info.baseline)


def claimed_order() -> list[str]:
    """The methods of the papers' claimed order, best first."""
    ranked = [info for info in REGISTRY.values() if info.claimed_rank is not None]
    return [info.name for info in sorted(ranked, key=lambda info: info.claimed_rank)]


# ----------------------------------------------------------------------------- building results

def run_name(tasks: Sequence[str], ratio: Sequence[int]) -> str:
    """The name of an MTL run's part, the same for the same experiment whichever method ran it:
    the primary alone is the shared single-task run; with one batch of each auxiliary per cycle
    (a uniform mix, `Experiment.uniform_mix`) the auxiliaries are sorted and the primary's
    batches named; a ratio is named by its canonical form ([2, 2] is [1, 1])."""
    ratio = canonical_ratio(ratio)
    if len(tasks) == 1:
        return SINGLE_TASK_RUN
    if all(r == 1 for r in ratio[1:]):
        return f"MTL run {tasks[0]}+{'+'.join(sorted(tasks[1:]))} uniform, primary {ratio[0]}:1"
    return f"MTL run {'+'.join(tasks)} {':'.join(map(str, ratio))}"


def run_part(run: RunResult, what: str | None = None) -> Part:
    """The run as a part of a method's work (named `run_name` unless `what` is given; a run a
    search stopped early is another part than the mix's full run)."""
    what = what or run_name(run.tasks, run.ratio)
    what += f", stopped at primary step {run.stopped_at}" if run.stopped_at is not None else ""
    return Part(what, run.wall_time_s, run.peak_memory_mb, cpu_time_s=run.cpu_time_s, steps=run.steps)


def method_result(method: str, exp: Experiment, run: RunResult, parts: Sequence[Part] = (),
                  shared: Sequence[str] = (), fractions: dict[str, float] | None = None,
                  details: dict | None = None, ranking: Sequence[str] | None = None) -> MethodResult:
    """A method's result from its final run."""
    selected = list(run.tasks[1:])
    fractions = {t: 1.0 for t in selected} | {t: f for t, f in (fractions or {}).items() if t in selected}
    return MethodResult(method, run.tasks[0], exp.seed, selected=selected, select_score=run.select_score,
                        report=dict(run.report), report_predictions=run.report_predictions,
                        report_labels=run.report_labels, parts=list(parts), shared=list(shared),
                        ratio=list(run.ratio), fractions=fractions, details=details or {},
                        ranking=None if ranking is None else list(ranking))
