"""What fans out to a Dask executor's workers, and in which waves (`aux_select.runtime.executor`).

The functions here only fill the store. They send whole units (one MTL run, one head-importance
matrix, one method at one seed) in waves, each wave after the one whose results it reads, as the
methods declare it at registration (`register_method(shares=..., after=...)`); the caller then
runs its usual serial code, which reads every result back. So a parallel run gives the serial
run's results by construction: the same store keys, each computed by the same code, once (the
store's locks see to that when two units need one result, like stage 1 of AutoSeM-p1 and AutoSeM).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from aux_select.experiment.context import Experiment
from aux_select.methods.registry import SHARED, MethodInfo, get_method, method_info

Job = tuple[int, Callable, tuple]  # (seed, function(*args, exp=...), args)


def call(exp: Experiment, job: Job) -> None:
    """The unit every job is: `function(*args, exp=exp at the job's seed)`; its result is stored."""
    seed, function, args = job
    function(*args, exp=exp.with_seed(seed))


def method(primary: str, candidates: Sequence[str], name: str, *, exp: Experiment) -> None:
    get_method(name)(exp, primary, list(candidates))


def waves(exp: Experiment, jobs: Sequence[Job], driven: Sequence[Job] = ()) -> None:
    """Run `jobs` on the executor, each once (the first of equal jobs), and each `driven` job here,
    in a thread of its own, beside them: its search sends its own runs to the workers (`MethodInfo.drives`)."""
    if not driven:
        exp.map(call, list(dict.fromkeys(jobs)))
        return
    with ThreadPoolExecutor(max_workers=1 + len(driven)) as threads:
        done = [threads.submit(exp.map, call, list(dict.fromkeys(jobs)))]
        done += [threads.submit(call, exp, job) for job in dict.fromkeys(driven)]
        for future in done:
            future.result()


def method_waves(methods: Sequence[str]) -> list[list[MethodInfo]]:
    """The methods in waves: each method after every method it reads (`after`) that is among them."""
    pending, out = [method_info(m) for m in methods], []
    while pending:
        names = {info.name for info in pending}
        ready = [info for info in pending if not set(info.after) & names]
        if not ready:
            raise ValueError(f"the methods {sorted(names)} wait on each other (`after`); break the cycle")
        out.append(ready)
        pending = [info for info in pending if info not in ready]
    return out


def prefetch_methods(exp: Experiment, primary: str, methods: Sequence[str], seeds: Sequence[int],
                     candidates: Sequence[str]) -> None:
    """Store the work of every method at every seed (`run_methods`), in waves: (1) the shared
    work the methods declare, one unit per piece (the single-task run; one head-importance matrix
    per task of the pool); (2) every method that reads no other one's work, one unit per method
    and seed; (3, ...) the methods that do (AutoSeM after AutoSeM-p1, GradTS-fg after GradTS-trial).
    A method that `drives` its search (AutoSeM) runs here instead, one thread per seed, each of its
    runs a unit on the workers."""
    candidates = tuple(candidates)
    shared = dict.fromkeys(s for m in methods for s in method_info(m).shares)
    waves(exp, [(seed, function, args) for seed in seeds for name in shared
                for function, args in SHARED[name].units(primary, candidates)])
    exp.tasks([primary, *candidates])  # loaded once here, before threads of driven searches read them
    for wave in method_waves(methods):
        jobs = {drives: [(seed, method, (primary, candidates, info.name)) for seed in seeds for info in wave
                         if info.drives == drives] for drives in (False, True)}
        waves(exp, jobs[False], jobs[True])
