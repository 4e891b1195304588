"""What fans out to a Dask executor's workers, and in which waves (`aux_select.runtime.executor`).

The functions here only fill the store. Each sends whole units (one MTL run, one head-importance
matrix, one bandit trajectory, one greedy or GP search, one (primary, seed) pipeline) in waves,
each wave after the one whose results it reads; the caller then runs its usual serial code, which
reads every result back. So a parallel run gives the serial run's results by construction: the
same store keys, each computed by the same code, once (the store's locks see to that when two
units need one result, like the single-task run every greedy search starts from).
"""
from __future__ import annotations

from typing import Callable, Sequence

from aux_select.experiment.context import Experiment
from aux_select.methods import baselines
from aux_select.methods.autosem import stage1 as autosem
from aux_select.methods.gradts import importance as gradts
from aux_select.methods.gradts import select as gradts_select
from aux_select.methods.registry import get_method

Job = tuple[int, Callable, tuple]  # (seed, function(*args, exp=...), args)

# the methods whose whole work is one unit once the shared work is stored, by wave; any other
# registered method runs in the second wave
FIRST_WAVE = ("NO-SEL", "HEU-Size", "HEU-Type", "HEU-Len")   # independent runs and greedy searches
LAST_WAVE = ("GradTS-fg",)                                   # needs GradTS-trial's selection


def call(exp: Experiment, job: Job) -> None:
    """The unit every job is: `function(*args, exp=exp at the job's seed)`; its result is stored."""
    seed, function, args = job
    function(*args, exp=exp.with_seed(seed))


def method(primary: str, candidates: Sequence[str], name: str, *, exp: Experiment) -> None:
    get_method(name)(exp, primary, list(candidates))


def waves(exp: Experiment, jobs: Sequence[Job]) -> None:
    """Run `jobs` on the executor, each once (the first of equal jobs), in the order given."""
    exp.map(call, list(dict.fromkeys(jobs)))


def prefetch_methods(exp: Experiment, primary: str, methods: Sequence[str], seeds: Sequence[int],
                     candidates: Sequence[str]) -> None:
    """Store the work of every method at every seed (`run_methods`), in waves: (1) the
    single-task runs, stage 1, the pool's head-importance matrices, NO-SEL and the HEU searches;
    (2) AutoSeM-p1's run, AutoSeM's GP search, GradTS-thres's run and GradTS-trial's search;
    (3) GradTS-fg's instance matrices, then its run."""
    candidates, methods = tuple(candidates), list(methods)
    gradts_methods = [m for m in methods if m.startswith("GradTS")]
    first: list[Job] = [(s, baselines.single_task, (primary,)) for s in seeds]  # every greedy search's start
    if {"AutoSeM-p1", "AutoSeM"} & set(methods):
        first += [(s, autosem.run_stage1, (primary, candidates)) for s in seeds]
    if gradts_methods:
        first += [(s, gradts.task_importance, (t,)) for s in seeds for t in (primary, *candidates)]
    first += [(s, method, (primary, candidates, m)) for s in seeds for m in methods if m in FIRST_WAVE]
    waves(exp, first)
    second = [m for m in methods if m not in FIRST_WAVE + LAST_WAVE] + \
        (["GradTS-trial"] if "GradTS-fg" in methods else [])
    waves(exp, [(s, method, (primary, candidates, m)) for s in seeds for m in second if m != "Single-Task"])
    if "GradTS-fg" in methods:
        selected = {s: gradts_select.gradts_trial(primary, candidates, exp.with_seed(s)).selected for s in seeds}
        waves(exp, [(s, gradts.task_instance_importance, (t,)) for s in seeds for t in selected[s]])
        waves(exp, [(s, method, (primary, candidates, "GradTS-fg")) for s in seeds])
