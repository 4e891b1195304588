"""Named tasks + a profile -> loaded data and stored, reusable MTL runs.

Every method (baselines, AutoSeM, GradTS) trains through `mtl_run`, so a run that any of
them has already done (same data, encoder, budget, ratio and seed) is read from the store
instead of trained again.
"""
from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Sequence

from .data import TaskData, load_task
from .profiles import Profile, get_profile
from .store import Store, default_store
from .tasks import get_task
from .train import RunResult, run_mtl, validate_ratio

_TASK_CACHE: dict[tuple, TaskData] = {}


def load_tasks(names: Sequence[str], profile: str | Profile = "cpu",
               data_dir: str | os.PathLike | None = None) -> list[TaskData]:
    """Each named task loaded with the profile's splits and caps (memoised per process)."""
    profile = get_profile(profile)
    kwargs = profile.data_kwargs()
    out = []
    for name in names:
        key = (name, str(data_dir), tuple(sorted(kwargs.items())))
        if key not in _TASK_CACHE:
            _TASK_CACHE[key] = load_task(name, data_dir, **kwargs)
        out.append(_TASK_CACHE[key])
    return out


def output_dirs(profile: str | Profile, out_dir: str | os.PathLike | None = None,
                figures_dir: str | os.PathLike | None = None,
                store_dir: str | os.PathLike | None = None) -> tuple[Path, Path, Store]:
    """Where a notebook writes, unless told: JSON to results/<profile>/, figures to
    figures/<profile>/, stored runs to AUX_SELECT_STORE or results/<profile>/store. The smoke
    folders are git-ignored, so a smoke run never overwrites a real run's committed output."""
    name = get_profile(profile).name
    return (Path(out_dir or Path("results") / name), Path(figures_dir or Path("figures") / name),
            default_store(store_dir, name))


def check_pool(primary: str, candidates: Sequence[str]) -> None:
    """Reject unknown tasks, a primary among its own candidates, duplicates or an empty pool,
    before any data is loaded or model trained."""
    for name in (primary, *candidates):
        get_task(name)  # an unknown name raises, listing the known ones
    if primary in candidates:
        raise ValueError(f"the primary task {primary!r} is among its own candidates; remove it from candidates")
    if len(set(candidates)) != len(candidates):
        raise ValueError(f"candidates {list(candidates)} name a task twice")
    if not candidates:
        raise ValueError("no candidate auxiliary tasks; give at least one")


def task_fingerprint(task: TaskData) -> dict:
    """What identifies a task's data: its name and the content hashes of its splits."""
    return {"name": task.name, "train": task.train._fingerprint,
            "select": task.select._fingerprint, "report": task.report._fingerprint}


def run_spec(tasks: Sequence[TaskData], ratio: Sequence[int], profile: Profile, seed: int) -> dict:
    """Everything that determines an MTL run's result: the store key's content."""
    return {"tasks": [task_fingerprint(t) for t in tasks], "ratio": list(ratio),
            "encoder": asdict(profile.encoder), "train": asdict(replace(profile.train, seed=seed))}


def mtl_run(names: Sequence[str], ratio: Sequence[int], *, profile: str | Profile = "cpu",
            seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None,
            progress: bool = True) -> RunResult:
    """Train `names[0]` with the other tasks mixed by `ratio` under `profile`; reuse the stored
    result when the same run was done before."""
    profile = get_profile(profile)
    ratio = validate_ratio(ratio, len(names))
    tasks = load_tasks(names, profile, data_dir)
    return mtl_run_tasks(tasks, ratio, profile=profile, seed=seed, store=store, progress=progress)


def mtl_run_tasks(tasks: Sequence[TaskData], ratio: Sequence[int], *, profile: str | Profile = "cpu",
                  seed: int = 0, store: Store | None = None, progress: bool = True) -> RunResult:
    """`mtl_run` on tasks already loaded (e.g. with filtered train splits, as GradTS-fg makes);
    the store key comes from the data's fingerprints, so filtered data gets its own key."""
    profile = get_profile(profile)
    ratio = validate_ratio(ratio, len(tasks))
    spec = run_spec(tasks, ratio, profile, seed)

    def train() -> dict:
        return run_mtl(tasks, ratio, encoder=profile.encoder, config=replace(profile.train, seed=seed),
                       progress=progress).to_dict()

    if store is None:
        return RunResult.from_dict(train())
    # runs stored before report predictions were kept are trained again
    return RunResult.from_dict(store.get_or_compute("run", spec, train, stale=lambda v: "report_predictions" not in v))
