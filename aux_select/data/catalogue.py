"""A data catalogue: the tasks one data root serves under one set of data settings, each loaded once.

    catalogue = TaskCatalogue("../shared/data", load=dict(seed=0, select_cap=500, train_cap=4000))
    rte = catalogue.task("RTE")                  # loaded once, then served from memory
    catalogue.candidates("RTE")                  # the GLUE pool this data provides, checked
    catalogue.use_task(my_rte)                   # your own splits (or a test's) under the name

An `Experiment` holds one and asks it for every task (`exp.task`, `exp.candidates`); its seed
copies share it. The catalogue owns the split rules: a primary's own proxy is never its
candidate, and with `controls=P` it serves P's control tasks (aux_select.data.controls) and P on
the train rows they leave. It also holds your own tasks (`data.task_from_file`) registered
before it was made, as their specs: a catalogue crosses to a Dask worker as its settings and
those specs (`__reduce__`), and each worker process loads its own data, once.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from typing import Mapping, Sequence

from datasets import Dataset

from aux_select.data.controls import ControlConfig, cut_controls
from aux_select.data.loading import TaskData, available_tasks, load_task
from aux_select.data.overlap import without_report_text
from aux_select.data.registry import POOLS, TaskSpec, control_names, get_task, own_tasks, register_task
from aux_select.runtime.store import content_hash, make_key


class TaskCatalogue:
    """Tasks of `data_dir` (None: AUX_SELECT_DATA, then the hub) split by `load` (keyword
    arguments of `data.load_task`: seed, select_fraction, caps), each loaded once."""

    def __init__(self, data_dir: str | os.PathLike | None = None, load: Mapping | None = None,
                 control_config: ControlConfig = ControlConfig(), controls: str | None = None,
                 own: Sequence[TaskSpec] | None = None):
        self.data_dir = data_dir
        self.load = dict(load or {})
        self.control_config = control_config      # how P's train split is cut into its controls
        self.controls = controls                  # the primary P whose control tasks are served
        self.own = own_tasks() if own is None else tuple(own)  # None: every own task registered now
        for spec in self.own:  # a worker's registry learns them from here (`get_task` everywhere)
            register_task(spec)
        if controls is not None and get_task(controls).control_of is not None:
            raise ValueError(f"controls={controls!r}: name the primary (e.g. {get_task(controls).control_of!r})")
        self._loaded: dict[str, TaskData] = {}
        self._hashes: dict[int, tuple[Dataset, str]] = {}
        self._cleaned: dict[tuple[int, int], tuple[TaskData, TaskData, TaskData, int]] = {}

    def __reduce__(self):
        # settings and own specs only: the other side loads its own data (`shared_catalogue`)
        return shared_catalogue, (self.data_dir, self.load, self.control_config, self.controls, self.own)

    def serves(self, data_dir, controls: str | None, load: Mapping, control_config: ControlConfig) -> bool:
        """Whether this catalogue's tasks are those of these settings (a context may hold it)."""
        return (str(data_dir), controls, dict(load), control_config) == (
            str(self.data_dir), self.controls, self.load, self.control_config)

    # ------------------------------------------------------------------ tasks

    def spec(self, name: str) -> TaskSpec:
        """The spec this catalogue loads `name` by: its own copy of an own task, else the registry's."""
        return next((s for s in self.own if s.name == name), None) or get_task(name)

    def task(self, name: str) -> TaskData:
        """The named task with this catalogue's splits, loaded once."""
        if name not in self._loaded:
            if self.controls is not None and self.controls in (name, get_task(name).control_of):
                # P and its controls come from one cut of P's train split, loaded together
                primary = load_task(self.spec(self.controls), self.data_dir, **self.load)
                self._loaded.update(cut_controls(primary, self.control_config))
            else:
                self._loaded[name] = load_task(self.spec(name), self.data_dir, **self.load)
        return self._loaded[name]

    def tasks(self, names: Sequence[str]) -> list[TaskData]:
        return [self.task(n) for n in names]

    def use_task(self, task: TaskData) -> None:
        """Serve `task` under its name from now on (your own splits, or a test's altered ones);
        its store keys follow its content."""
        self._loaded[task.name] = task

    def for_primary(self, task: TaskData, primary: TaskData) -> tuple[TaskData, int]:
        """`task` as a run of `primary` trains it: without the train rows that share a sentence with
        the primary's report split (`data.overlap.without_report_text`), and how many went; once per pair."""
        key = (id(task), id(primary))
        if key not in self._cleaned:  # both held, so their ids stay theirs
            self._cleaned[key] = (task, primary, *without_report_text(task, primary))
        return self._cleaned[key][2:]

    def split_hash(self, ds: Dataset) -> str:
        """`runtime.store.content_hash` of a loaded split, computed once."""
        if id(ds) not in self._hashes:
            self._hashes[id(ds)] = (ds, content_hash(ds))  # the dataset is held, so its id stays its own
        return self._hashes[id(ds)][1]

    # ------------------------------------------------------------------ pools

    def available(self, pool: Sequence[str]) -> list[str]:
        """The tasks of `pool` this data provides (a dev-only task as its proxy; no local data: all)."""
        return available_tasks(self.data_dir, tuple(pool))

    def candidates(self, primary: str, candidates: Sequence[str] | None = None, pool: str = "glue") -> list[str]:
        """The candidate auxiliary tasks of `primary`, checked (`check_pool`): `candidates` as
        given, else the tasks of `data.POOLS[pool]` the data can provide (a dev-only task as
        its proxy), minus the primary and its own proxy; when serving `primary`'s controls,
        its three control tasks after them."""
        if candidates is None:
            if pool not in POOLS:
                raise ValueError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")
            candidates = [t for t in self.available(POOLS[pool]) if t != primary and not same_data(primary, t)]
            if self.controls == primary:
                candidates += control_names(primary)
        candidates = list(candidates)
        check_pool(primary, candidates)
        return candidates


_SHARED: dict[str, TaskCatalogue] = {}  # this process's catalogues rebuilt from settings


def shared_catalogue(data_dir, load: Mapping, control_config: ControlConfig, controls: str | None,
                     own: Sequence[TaskSpec]) -> TaskCatalogue:
    """The catalogue of these settings in this process, made once: every context unpickled here
    with the same data settings shares its loaded tasks (as `with_seed` copies do)."""
    key = make_key("catalogue", {"data_dir": str(data_dir), "load": dict(load), "controls": controls,
                                 "control_config": asdict(control_config), "own": list(own)})
    if key not in _SHARED:
        _SHARED[key] = TaskCatalogue(data_dir, load, control_config, controls, own)
    return _SHARED[key]


def same_data(a: str, b: str) -> bool:
    """True if one task is the other's proxy (QNLI and QNLI-proxy): their data overlap (with the
    hub, QNLI's report set is the dev file QNLI-proxy trains on)."""
    return get_task(a).proxy_of == b or get_task(b).proxy_of == a


def check_pool(primary: str, candidates: Sequence[str]) -> None:
    """Reject unknown tasks, a primary among its own candidates or its proxy there, duplicates
    or an empty pool, before any data is loaded or model trained."""
    for name in (primary, *candidates):
        get_task(name)  # an unknown name raises, listing the known ones
    if primary in candidates:
        raise ValueError(f"the primary task {primary!r} is among its own candidates; remove it from candidates")
    shared = [c for c in candidates if same_data(primary, c)]
    if shared:
        raise ValueError(f"candidate {shared[0]!r} is built from the same data as the primary {primary!r} "
                         "(one is the other's proxy), so it would train on the primary's report rows; remove it")
    if len(set(candidates)) != len(candidates):
        raise ValueError(f"candidates {list(candidates)} name a task twice")
    if not candidates:
        raise ValueError("no candidate auxiliary tasks; give at least one")
