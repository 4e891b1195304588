"""Baselines every method is compared against: single-task and NO-SEL (all candidates, uniform)."""
from __future__ import annotations

import os
from typing import Sequence

from .data import available_tasks
from .experiment import check_pool, mtl_run
from .profiles import Profile
from .store import Store
from .train import RunResult


def single_task(primary: str, *, profile: str | Profile = "cpu", seed: int = 0,
                data_dir: str | os.PathLike | None = None, store: Store | None = None,
                progress: bool = True) -> RunResult:
    """The primary trained alone."""
    return mtl_run([primary], [1], profile=profile, seed=seed, data_dir=data_dir, store=store,
                   progress=progress)


def default_candidates(primary: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """The GLUE classification pool that the data can provide, minus the primary."""
    return [t for t in available_tasks(data_dir) if t != primary]


def no_sel(primary: str, candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
           seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None,
           progress: bool = True) -> RunResult:
    """NO-SEL: the primary with every candidate at a uniform 1:1:…:1 ratio."""
    candidates = list(candidates) if candidates is not None else default_candidates(primary, data_dir)
    check_pool(primary, candidates)
    return mtl_run([primary, *candidates], [1] * (1 + len(candidates)), profile=profile, seed=seed,
                   data_dir=data_dir, store=store, progress=progress)
