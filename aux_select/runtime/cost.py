"""What a result cost to compute: wall and process CPU seconds (`Clock`), peak memory while a block
runs (`PeakMemory`) and the batches trained. MTL runs, stage 1 and stored arrays (head-importance
matrices) record them, so a method's cost can be added up from the store whether its parts were
computed now or long ago. Memory is the host's (the process's resident set), on a GPU too. CPU
seconds count every thread of the process: a busy machine inflates them far less than it inflates
wall time, so they are what costs measured at different times compare on."""
from __future__ import annotations

import math
import os
import resource
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from aux_select.runtime.devices import pick_device


@dataclass
class Part:
    """One piece of work and what it cost (NaN where no record of it is left): an MTL run, stage
    1's rounds, a set of head matrices. `shared` names work several methods lean on (the
    single-task run, the head matrices), which a cost table counts once per seed, in a row of its own."""

    what: str
    wall_time_s: float = math.nan
    peak_memory_mb: float = math.nan
    shared: str | None = None
    cpu_time_s: float = math.nan     # process CPU seconds (NaN: recorded before they were kept)
    steps: float = math.nan          # batches trained (optimiser steps of every task; NaN: unknown)

    def __post_init__(self):
        for name in ("wall_time_s", "peak_memory_mb", "cpu_time_s", "steps"):
            value = getattr(self, name)
            setattr(self, name, math.nan if value is None else float(value))

    @classmethod
    def from_json(cls, d: Mapping) -> "Part":
        return cls(d["what"], d["wall_time_s"], d["peak_memory_mb"], d.get("shared"), d.get("cpu_time_s"),
                   d.get("steps"))


class Clock:
    """Wall (perf_counter) and process CPU seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def since(self, earlier: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
        """(wall, CPU) seconds since it was made, plus `earlier` (what earlier calls of a resumed job spent)."""
        return earlier[0] + time.perf_counter() - self.wall, earlier[1] + time.process_time() - self.cpu


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds one call of `fn` takes (perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak(values) -> float:
    """The largest value that is not NaN (NaN if none is): `max` over NaNs depends on their order."""
    finite = [float(v) for v in values if not math.isnan(v)]
    return max(finite) if finite else math.nan


class PeakMemory:
    """Peak memory while a block runs: the process's resident set (host memory), sampled every
    `interval` seconds from /proc (the process-wide ru_maxrss cannot be reset, so in a long-lived
    kernel it would report the largest run so far; it is the fallback where /proc is missing); on
    CUDA also the allocator's peak (`device_peak_mb`). `device` is a torch device or a profile's
    name for one ("auto", "cuda": `devices.pick_device`, which refuses a GPU this machine lacks)."""

    def __init__(self, device: str | torch.device = "cpu", interval: float = 0.05):
        self.device = pick_device(device) if isinstance(device, str) else torch.device(device)
        self.interval, self.peak_mb = interval, 0.0
        self.device_peak_mb: float | None = None  # CUDA only
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _rss_mb() -> float:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux/BSD: KiB

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.peak_mb = self._rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())
        if self.device.type == "cuda":
            self.device_peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
