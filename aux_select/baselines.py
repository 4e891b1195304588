"""Baselines every method is compared against: single-task, NO-SEL (all candidates, uniform) and
GradTS §5.3's greedy heuristics HEU-Size, HEU-Type and HEU-Len."""
from __future__ import annotations

import os
from typing import Sequence

from .data import available_tasks, task_statistics
from .experiment import check_pool, load_tasks, mtl_run
from .profiles import Profile
from .selection import MTLScorer, SelectionResult, greedy_prefix
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


# ----------------------------------------------------------------------------- GradTS §5.3 heuristics

HEURISTICS = ("size", "type", "len")


def heuristic_order(kind: str, primary: str, stats: dict[str, dict]) -> list[tuple[str, float]]:
    """Candidates (every task in `stats` but the primary) in HEU order, each with its key:
    size: official train size, largest first; type: same GLUE type as the primary first (key 1),
    then by size; len: closest average length in words to the primary's first (key: the gap).
    Ties go to the larger task, then by name. `stats` as `data.task_statistics` gives them."""
    if kind not in HEURISTICS:
        raise ValueError(f"unknown heuristic {kind!r}; choose one of {', '.join(HEURISTICS)}")
    me = stats[primary]
    rows = []
    for task, s in stats.items():
        if task == primary:
            continue
        size = float(s["official_train_size"])
        key = {"size": size, "type": float(s["type"] == me["type"]),
               "len": abs(s["avg_words"] - me["avg_words"])}[kind]
        sort = {"size": (-size,), "type": (-key, -size), "len": (key, -size)}[kind]
        rows.append((sort + (task,), task, key))
    return [(task, key) for _, task, key in sorted(rows)]


def heuristic(kind: str, primary: str, candidates: Sequence[str] | None = None, *,
              profile: str | Profile = "cpu", seed: int = 0, data_dir: str | os.PathLike | None = None,
              store: Store | None = None, progress: bool = True) -> SelectionResult:
    """HEU-Size / HEU-Type / HEU-Len: GradTS-trial's greedy search (`selection.greedy_prefix`:
    candidates added one MTL run at a time, stopping at the first drop in the select score) in
    the heuristic's order instead of Kendall's tau."""
    candidates = list(candidates) if candidates is not None else default_candidates(primary, data_dir)
    check_pool(primary, candidates)
    tasks = load_tasks([primary, *candidates], profile, data_dir)
    order = heuristic_order(kind, primary, {t.name: task_statistics(t) for t in tasks})
    scorer = MTLScorer(tasks, profile=profile, seed=seed, store=store, progress=progress)
    greedy = greedy_prefix([t for t, _ in order], scorer)
    return SelectionResult(f"HEU-{kind.capitalize()}", primary, order, greedy.selected,
                           scorer.run(greedy.selected), trials=scorer.with_costs(greedy.trials))


def heu_size(primary: str, candidates: Sequence[str] | None = None, **kw) -> SelectionResult:
    """HEU-Size: largest candidates first."""
    return heuristic("size", primary, candidates, **kw)


def heu_type(primary: str, candidates: Sequence[str] | None = None, **kw) -> SelectionResult:
    """HEU-Type: candidates of the primary's GLUE type first."""
    return heuristic("type", primary, candidates, **kw)


def heu_len(primary: str, candidates: Sequence[str] | None = None, **kw) -> SelectionResult:
    """HEU-Len: candidates closest to the primary's average length first."""
    return heuristic("len", primary, candidates, **kw)
