"""Where independent units of work run: here, one after another, or on Dask workers.

    Experiment("cpu", store=store)                              # "serial": today's behaviour
    Experiment("cpu", store=store, executor="local:2")          # 2 single-threaded processes (a GPU each, if several)
    Experiment("cpu", store=store, executor=client)             # a dask.distributed Client (a SLURMCluster's)
    Experiment("cpu", store=store, executor="tcp://head:8786")  # a running scheduler

A unit is a module-level function `unit(exp, item)` that a worker can import: one MTL run or GP
point, one head-importance matrix, one bandit trajectory, one method at one seed. It stores what
it computes, so little crosses: the context as its settings
(`Experiment.__reduce__`: each worker loads its own tasks), the item and the unit's small return
value. Workers share results through the store, which must be a folder all of them see (on a
cluster, a shared filesystem); its per-key locks keep two workers from training one key twice.

A worker that dies (OOM, preemption, a kill) is restarted and its unit retried by Dask, up to
`distributed.scheduler.allowed-failures` times (3 by default); a unit that still fails is
reported, naming it, once the others have finished, and a rerun of the same command does only
what is not stored yet. Dask is imported here only, and only for a Dask executor.
"""
from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

Context = Any  # an `aux_select.experiment.Experiment` (a layer above: only passed through, and its `store` read)
Unit = Callable[[Context, Any], Any]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class LocalSettings:
    """The local cluster of "local:N"."""
    threads: int = 1                  # torch and OpenMP threads per worker process
    worker_saturation: float = 1.0    # units handed to a busy worker ahead of time, per thread: 1
                                      # keeps long units on the scheduler for whichever worker frees first
    memory_limit: str = "auto"        # per worker (the machine's memory / N); past it the worker is restarted


class UnitFailed(RuntimeError):
    """Units that failed on the workers (after Dask's retries), each named with its error; every
    other unit finished and stored what it computed."""

    def __init__(self, failures: Sequence[tuple[str, BaseException]], total: int):
        self.failures = list(failures)
        lines = "\n".join(f"  {what}: {type(e).__name__}: {e}" for what, e in self.failures)
        super().__init__(f"{len(self.failures)} of {total} units failed (the rest are stored; run the same "
                         f"command again to do only what is missing):\n{lines}")


class SerialExecutor:
    """Every unit here, in this very context, one after another: the behaviour without Dask."""

    def map(self, unit: Unit, exp: Context, items: Sequence, on_result=None) -> list:
        results = []
        for i, item in enumerate(items):
            results.append(unit(exp, item))
            if on_result is not None:
                on_result(i, results[-1])
        return results

    def close(self) -> None:
        pass


class DaskExecutor:
    """Units as tasks of a dask.distributed `client`; `cluster` (one it started) is closed with it."""

    def __init__(self, client, cluster=None, owns_client: bool = False):
        self.client, self.cluster, self.owns_client = client, cluster, owns_client or cluster is not None

    @classmethod
    def local(cls, n_workers: int, settings: LocalSettings = LocalSettings()) -> "DaskExecutor":
        """A local cluster of `n_workers` processes of one Dask thread and `settings.threads` torch
        threads, each seeing one GPU of this machine's (in turn) if it has several (`worker_env`)."""
        import dask
        from distributed import Client, Nanny, Scheduler, SpecCluster
        gpus = torch.cuda.device_count()
        local = {"host": "127.0.0.1"}
        workers = {i: {"cls": Nanny, "options": local | {"nthreads": 1, "env": worker_env(i, settings.threads, gpus),
                                                         "memory_limit": settings.memory_limit, "dashboard": False,
                                                         "silence_logs": logging.WARNING}}
                   for i in range(n_workers)}
        scheduler = {"cls": Scheduler, "options": local | {"dashboard": False, "dashboard_address": ":0"}}  # no fixed port
        with dask.config.set({"distributed.scheduler.worker-saturation": settings.worker_saturation}):
            cluster = SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.WARNING)
        return cls(Client(cluster), cluster)

    def map(self, unit: Unit, exp: Context, items: Sequence, on_result=None) -> list:
        """Submit every item at once; return the results in order, calling `on_result(i, result)`
        as each finishes; raise `UnitFailed` (after all have finished) if any failed."""
        from distributed import as_completed
        if exp.store is None:
            raise ValueError("a Dask executor needs a store: the workers hand their results over through it "
                             "(pass store=default_store(profile=...), a folder every worker can read)")
        batch = uuid.uuid4().hex[:8]
        futures = [self.client.submit(run_unit, unit, exp, item, pure=False, key=f"{unit.__name__}-{batch}-{i}")
                   for i, item in enumerate(items)]
        position = {f.key: i for i, f in enumerate(futures)}
        results, failures = [None] * len(items), []
        for future in as_completed(futures):
            i = position[future.key]
            try:
                results[i] = future.result()
            except Exception as error:  # the unit's own error, KilledWorker, a cancelled or lost task
                failures.append((describe(unit, items[i]), error))
                continue
            if on_result is not None:
                on_result(i, results[i])
        if failures:
            raise UnitFailed(failures, len(items)) from failures[0][1]
        return results

    def close(self) -> None:
        """Close the client and the cluster if this executor made them."""
        if self.owns_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def worker_env(index: int, threads: int, gpus: int) -> dict[str, str]:
    """The environment of local worker `index`: its torch and OpenMP threads and, on a machine with
    several GPUs, one of them (CUDA_VISIBLE_DEVICES, round robin), so "cuda" on each worker is its own card."""
    env = {name: str(threads) for name in THREAD_VARIABLES}
    return env | {"CUDA_VISIBLE_DEVICES": str(index % gpus)} if gpus > 1 else env


def run_unit(unit: Unit, exp: Context, item: Any) -> Any:
    """A unit on a worker, with AUX_SELECT_WORKER_THREADS torch threads, else as many as
    OMP_NUM_THREADS says (which Dask's nannies set to 1): several single-threaded workers share a
    machine's cores, and a cluster job that reserves more cores for its one worker says so."""
    threads = os.environ.get("AUX_SELECT_WORKER_THREADS") or os.environ.get("OMP_NUM_THREADS") or "1"
    torch.set_num_threads(int(threads))
    return unit(exp, item)


def describe(unit: Unit, item: Any) -> str:
    text = repr(item)
    return f"{unit.__name__}({text if len(text) <= 200 else text[:197] + '...'})"


def make_executor(setting: Any) -> SerialExecutor | DaskExecutor:
    """The executor a setting names: "serial", "local:N", a scheduler address ("tcp://host:8786"),
    a dask.distributed Client, or an executor made before (returned as it is)."""
    if isinstance(setting, (SerialExecutor, DaskExecutor)):
        return setting
    if isinstance(setting, str):
        if setting == "serial":
            return SerialExecutor()
        if setting.startswith("local:"):
            n = setting.removeprefix("local:")
            if not n.isdigit() or int(n) < 1:
                raise ValueError(f"executor {setting!r}: write local:N with N >= 1 worker processes, e.g. local:2")
            return DaskExecutor.local(int(n))
        if "://" in setting:
            from distributed import Client
            return DaskExecutor(Client(setting), owns_client=True)
        raise ValueError(f"executor {setting!r}: use 'serial', 'local:N' or a scheduler address like tcp://host:8786")
    from distributed import Client
    if isinstance(setting, Client):
        return DaskExecutor(setting)
    raise TypeError(f"executor {setting!r}: use 'serial', 'local:N', a scheduler address or a dask.distributed Client")


def is_serial(setting: Any) -> bool:
    """Whether `setting` runs units here, without Dask (decided without importing it)."""
    return isinstance(setting, SerialExecutor) or (isinstance(setting, str) and setting == "serial")
