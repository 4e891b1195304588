"""One experiment context: profile, seed, data, store and progress, in one object.

    exp = Experiment("cpu", seed=0, store=default_store(profile="cpu"))
    rte = exp.task("RTE")                       # loaded once per context, with the profile's splits
    pool = exp.candidates("RTE")                # the GLUE pool the data provides, checked
    run = exp.run(["RTE", "MRPC"], [2, 2])      # trained once, stored as the canonical [1, 1]

Every public function of the library takes an `Experiment` or builds one from the same
keywords (`single_task("RTE", profile="cpu", store=store)`), through `as_experiment`. The
context owns the split rules (a primary's own proxy is never its candidate; report data
decides nothing: it enters a store key only where a result holds report scores) and the
store-key policy (`Experiment.spec`): the data's content hashes, the encoder's identity,
the resolved device kind and the code-schema version, so a key changes exactly when the result
would.

The context also says where independent units of work run (`executor`: "serial", the default,
here one after another; or a Dask `Client`, a scheduler address or "local:N"; see
`aux_select.runtime.executor` and `Experiment.map`). A context crosses to a worker as its settings
only, and each worker loads its own tasks; results come back through the shared store.
"""
from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aux_select.data.controls import cut_controls
from aux_select.data.loading import TaskData, available_tasks, load_task
from aux_select.data.registry import POOLS, control_names, get_task
from aux_select.experiment.profiles import Profile, get_profile
from aux_select.model.encoders import encoder_identity
from aux_select.runtime.executor import DaskExecutor, SerialExecutor, is_serial, make_executor
from aux_select.runtime.store import Store, content_hash, default_store, make_key, project_root
from aux_select.train.config import pick_device, resolve_precision, result_settings
from aux_select.train.run import RunResult, run_mtl
from aux_select.train.schedule import canonical_ratio, validate_ratio

SPLITS = ("train", "select", "report")


@dataclass(frozen=True)
class Experiment:
    profile: Profile | str = "cpu"   # a Profile or the name of one (resolved on creation)
    seed: int = 0                    # model initialisation, batch order, the bandit's and GP's draws
    data_dir: str | os.PathLike | None = None  # None: AUX_SELECT_DATA, then the hub
    store: Store | None = None       # None: results live for this context only (in memory)
    progress: bool = True            # tqdm bars on long steps
    executor: Any = "serial"         # where `map` runs units: "serial" (here, in turn), a Dask Client,
                                     # a scheduler address or "local:N" (aux_select.runtime.executor)
    controls: str | None = None      # a primary whose control tasks this context serves
                                     # (aux_select.data.controls): P~clone, P~flip, P~shuffle are then
                                     # candidates, and P trains on the train rows the clone leaves
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # tasks, hashes, memo, executors

    def __post_init__(self):
        object.__setattr__(self, "profile", get_profile(self.profile))
        if self.controls is not None and get_task(self.controls).control_of is not None:
            raise ValueError(f"controls={self.controls!r}: name the primary (e.g. {get_task(self.controls).control_of!r})")

    def __reduce__(self):
        # pickled (sent to a Dask worker) as its settings only: no loaded data, no executor; the
        # other side loads its own tasks, once per process (`_rebuild`)
        return _rebuild, (self.profile, self.seed, self.data_dir, self.store, self.progress, self.controls)

    # ------------------------------------------------------------------ parallel units

    @property
    def parallel(self) -> bool:
        """True if `map` sends units to Dask workers instead of running them here."""
        return not is_serial(self.executor)

    def map(self, unit: Callable[["Experiment", Any], Any], items: Sequence,
            on_result: Callable[[int, Any], None] | None = None) -> list:
        """[unit(self, item) for item in items], in order, by this context's executor; a unit is a
        module-level function (a worker imports it) that stores what it computes. `on_result(i,
        result)` runs here as each one finishes. Serial: this very context, in turn (today's
        behaviour); Dask: a copy of it per worker, `runtime.executor.DaskExecutor.map`."""
        context = self if not self.parallel else as_experiment(self, progress=False)  # bars on workers would only fill their logs
        return executor_for(self).map(unit, context, list(items), on_result)

    def with_seed(self, seed: int) -> "Experiment":
        """The same context at another seed (loaded tasks are shared: they do not depend on it)."""
        return replace(self, seed=seed, _cache=self._cache)

    # ------------------------------------------------------------------ tasks and pools

    def task(self, name: str) -> TaskData:
        """The named task with the profile's splits and caps, loaded once per context."""
        tasks = self._cache.setdefault("tasks", {})
        if name not in tasks:
            if self.controls is not None and self.controls in (name, get_task(name).control_of):
                # P and its controls come from one cut of P's train split, loaded together
                primary = load_task(self.controls, self.data_dir, **self.profile.data_kwargs())
                tasks.update(cut_controls(primary, self.profile.controls))
            else:
                tasks[name] = load_task(name, self.data_dir, **self.profile.data_kwargs())
        return tasks[name]

    def tasks(self, names: Sequence[str]) -> list[TaskData]:
        return [self.task(n) for n in names]

    def use_task(self, task: TaskData) -> None:
        """Serve `task` under its name from now on (your own splits, or a test's altered ones);
        its store keys follow its content."""
        self._cache.setdefault("tasks", {})[task.name] = task

    def candidates(self, primary: str, candidates: Sequence[str] | None = None, pool: str = "glue") -> list[str]:
        """The candidate auxiliary tasks of `primary`, checked (`check_pool`): `candidates` as
        given, else the tasks of `data.POOLS[pool]` the data can provide (a dev-only task as
        its proxy), minus the primary and its own proxy; in a context with `controls=primary`,
        its three control tasks after them."""
        if candidates is None:
            if pool not in POOLS:
                raise ValueError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")
            candidates = [t for t in available_tasks(self.data_dir, POOLS[pool])
                          if t != primary and not same_data(primary, t)]
            if self.controls == primary:
                candidates += control_names(primary)
        candidates = list(candidates)
        check_pool(primary, candidates)
        return candidates

    # ------------------------------------------------------------------ store keys

    @property
    def device_kind(self) -> str:
        """cpu, cuda or mps: where this context trains."""
        return pick_device(self.profile.train.device).type

    def task_key(self, task: TaskData, splits: Sequence[str] = SPLITS) -> dict:
        """A task's part of a store key: its name and the content hash of each split that the
        result depends on (head importance reads train only, stage 1 train and select)."""
        hashes = self._cache.setdefault("hashes", {})
        out = {"name": task.name}
        for split in splits:
            ds = getattr(task, split)
            if id(ds) not in hashes:
                hashes[id(ds)] = (ds, content_hash(ds))  # the dataset is held, so its id stays its own
            out[split] = hashes[id(ds)][1]
        return out

    @property
    def precision(self) -> str:
        """fp32 or bf16: the profile's precision as resolved on this context's device."""
        return resolve_precision(self.profile.train.precision, pick_device(self.profile.train.device))

    def spec(self, **content) -> dict:
        """A store key's content: `content` plus the encoder (its settings and identity), the
        device kind and the resolved precision. (The code-schema version is added by
        `store.make_key`.)"""
        encoder = self.profile.encoder
        return {**content, "encoder": asdict(encoder) | {"identity": encoder_identity(encoder)},
                "device": self.device_kind, "precision": self.precision}

    def get_or_compute(self, kind: str, spec: Mapping, compute: Callable[[], Mapping], *,
                       stale: Callable[[dict], bool] | None = None) -> dict:
        """`store.get_or_compute`, or without a store a memo that lives as long as this context."""
        if self.store is not None:
            return self.store.get_or_compute(kind, spec, compute, stale=stale)
        memo = self._cache.setdefault("memo", {})
        key = make_key(kind, spec)
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def put(self, kind: str, spec: Mapping, value: Mapping) -> None:
        """Store (or, without a store, memoise) `value` under (kind, spec), replacing what was there:
        a result that grows, like a GP search recorded point by point."""
        if self.store is not None:
            self.store.put(kind, spec, value)
        else:
            self._cache.setdefault("memo", {})[make_key(kind, spec)] = value

    def get_or_compute_array(self, kind: str, spec: Mapping, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if self.store is not None:
            return self.store.get_or_compute_array(kind, spec, compute, device=self.device_kind)
        return np.asarray(self.get_or_compute(kind, spec, lambda: {"array": compute()})["array"])

    # ------------------------------------------------------------------ MTL runs

    def run(self, names: Sequence[str | TaskData], ratio: Sequence[int]) -> RunResult:
        """Train `names[0]` with the others mixed by `ratio` (names or loaded tasks, e.g. the
        rows GradTS-fg kept), or read the run back. A mix is trained in its canonical form:
        zero entries dropped, the ratio divided by its gcd, the auxiliaries in name order. So
        [2, 2], [1, 1] and [1, 1, 0] are one run, [3, 0] is the single-task run, and RTE+MRPC+CoLA
        is RTE+CoLA+MRPC. The primary trains its own budget (`Profile.train_config`); the
        auxiliaries' batches come on top."""
        ratio = validate_ratio(ratio, len(names))
        kept = [(n if isinstance(n, TaskData) else self.task(n), r) for n, r in zip(names, ratio) if r > 0]
        kept = kept[:1] + sorted(kept[1:], key=lambda p: p[0].name)  # one mix, one run: auxiliaries by name
        tasks, ratio = [t for t, _ in kept], canonical_ratio([r for _, r in kept])
        config = self.profile.train_config(tasks[0].name, self.seed)
        spec = self.spec(tasks=[self.task_key(t) for t in tasks], ratio=ratio, train=result_settings(config))
        # a killed run resumes from its checkpoint (`TrainConfig.checkpoint_every`), kept until it is stored
        checkpoints = self.store.root / "run_checkpoints" / make_key("run", spec) if self.store is not None else None

        def train() -> dict:
            return run_mtl(tasks, ratio, encoder=self.profile.encoder, config=config,
                           progress=self.progress, checkpoint_dir=checkpoints).to_json()

        result = RunResult.from_json(self.get_or_compute("run", spec, train))
        if checkpoints is not None and checkpoints.exists():
            shutil.rmtree(checkpoints, ignore_errors=True)  # the stored run replaces it
        return result


_CONTEXTS: dict[str, dict] = {}  # this process's caches of contexts rebuilt from settings


def _rebuild(profile: Profile, seed: int, data_dir, store: Store | None, progress: bool,
             controls: str | None = None) -> Experiment:
    """A pickled context on the other side: the contexts rebuilt in one process with one profile
    and data folder share their loaded tasks (as `with_seed` copies do; nothing cached depends on
    the seed or the store: the memo holds store keys)."""
    key = make_key("context", {"profile": asdict(profile), "data_dir": str(data_dir), "controls": controls})
    return Experiment(profile, seed=seed, data_dir=data_dir, store=store, progress=progress, controls=controls,
                      _cache=_CONTEXTS.setdefault(key, {}))


CHANGEABLE = {"seed", "progress", "store", "executor"}  # what `as_experiment` may change on a context


def as_experiment(exp: Experiment | None = None, **settings) -> Experiment:
    """`exp` as it is, or with the given settings changed (`seed=1`), or, without one, a new
    context from the keywords (`profile`, `seed`, `data_dir`, `store`, `progress`, `executor`):
    the flat call `single_task("RTE", profile="cpu", store=store)` and `single_task("RTE", exp)`
    are one."""
    if exp is None:
        return Experiment(**settings)
    if not settings:
        return exp
    if set(settings) - CHANGEABLE:
        raise ValueError(f"an Experiment fixes profile, data_dir and controls; build a new one instead of "
                         f"changing {sorted(set(settings) - CHANGEABLE)}")
    return replace(exp, **settings, _cache=exp._cache)


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


def output_dirs(profile: str | Profile, out_dir: str | os.PathLike | None = None,
                figures_dir: str | os.PathLike | None = None,
                store_dir: str | os.PathLike | None = None) -> tuple[Path, Path, Store]:
    """Where a notebook writes, unless told (under `store.project_root()`: the checkout, else the
    working directory): JSON to results/<label>/, figures to figures/<label>/ (the label is the profile's name, with a hash of any overrides), stored runs
    to AUX_SELECT_STORE or results/<name>/store (an override shares the store: keys keep results
    of other settings apart). The smoke folders are git-ignored, so a smoke run never overwrites
    a real run's committed output."""
    profile = get_profile(profile)
    root = project_root()
    return (Path(out_dir or root / "results" / profile.label), Path(figures_dir or root / "figures" / profile.label),
            default_store(store_dir, profile.name))


def warn_without_store(exp: Experiment, what: str) -> None:
    """One warning per context that `what` keeps its results in memory only."""
    if exp.store is None and not exp._cache.get("warned"):
        exp._cache["warned"] = True
        warnings.warn(f"{what} without a store: every run is kept in memory for this context only and "
                      "trained again in a new one; pass store=default_store(profile=...) to keep them",
                      stacklevel=3)


def executor_for(exp: "Experiment") -> SerialExecutor | DaskExecutor:
    """The context's executor, made on first use and shared by its copies (`with_seed`)."""
    if is_serial(exp.executor):
        return SerialExecutor()
    made = exp._cache.setdefault("executors", {})
    key = exp.executor if isinstance(exp.executor, str) else id(exp.executor)
    if key not in made:
        made[key] = make_executor(exp.executor)
    return made[key]

