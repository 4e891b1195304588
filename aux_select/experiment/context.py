"""One experiment context: profile, seed, data, store and executor, in one object.

    exp = Experiment("cpu", seed=0, store=default_store(profile="cpu"))
    rte = exp.task("RTE")                       # loaded once, by the context's data catalogue
    pool = exp.candidates("RTE")                # the GLUE pool the data provides, checked
    run = exp.run(["RTE", "MRPC"], [2, 2])      # trained once, stored as the canonical [1, 1]

Every public function of the library takes an `Experiment` or builds one from the same
keywords (`run_method("NO-SEL", "RTE", profile="cpu", store=store)`), through `as_experiment`. The
context asks its data catalogue (`aux_select.data.catalogue.TaskCatalogue`: the data root, the
profile's data settings, the split rules, your own registered tasks) for every task, and owns
the store-key policy (`Experiment.spec`): the data's content hashes, the encoder's identity, the
device and precision the profile asks for and the code-schema version, so a key changes exactly
when the result would (and not with the machine that looks it up).
What else it keeps in memory (results without a store, fine-tuned weights, executors) is in its
`memo`; its copies (`with_seed`, `as_experiment`) share the catalogue and the memo.

The context also says where independent units of work run (`executor`: "serial", the default,
here one after another; or a Dask `Client`, a scheduler address or "local:N"; see
`aux_select.runtime.executor` and `Experiment.map`). A context crosses to a worker as its settings
only (the catalogue as its settings and your own tasks' specs), and each worker loads its own
tasks; results come back through the shared store.
"""
from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aux_select.data.catalogue import TaskCatalogue, check_pool, same_data
from aux_select.data.loading import TaskData
from aux_select.experiment.profiles import Profile, get_profile
from aux_select.model.encoders import encoder_identity
from aux_select.runtime.devices import pick_device, resolve_precision
from aux_select.runtime.executor import DaskExecutor, SerialExecutor, is_serial, make_executor
from aux_select.runtime.store import Store, default_store, make_key, project_root
from aux_select.train.config import TrainConfig, result_settings
from aux_select.train.run import RunResult, run_mtl
from aux_select.train.schedule import canonical_ratio, check_fits, uniform_mix, validate_ratio
from aux_select.train.stopping import StopRule

__all__ = ["Experiment", "Memo", "as_experiment", "check_pool", "same_data", "output_dirs", "warn_without_store",
           "executor_for"]
SPLITS = ("train", "select", "report")


@dataclass
class Memo:
    """What a context and its copies keep in memory besides tasks, each in its named place."""
    results: dict = field(default_factory=dict)    # store key -> result, for a context without a store
    weights: dict = field(default_factory=dict)    # store key -> model weights trained once without a
                                                   # store (GradTS's fine-tuned encoders)
    executors: dict = field(default_factory=dict)  # executor setting -> the executor made for it
    warned: bool = False                           # said once that results live in memory only


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
                                     # (aux_select.data.controls): P~clone, P~contra, P~shuffle are then
                                     # candidates, and P trains on the train rows the clone leaves
    catalogue: TaskCatalogue | None = field(default=None, repr=False, compare=False)  # where tasks come
                                     # from; None: a new one for data_dir, controls and the profile's data settings
    memo: Memo = field(default_factory=Memo, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "profile", get_profile(self.profile))
        data = (self.profile.data_kwargs(), self.profile.controls)
        if self.catalogue is None:
            object.__setattr__(self, "catalogue", TaskCatalogue(self.data_dir, *data, controls=self.controls))
        elif not self.catalogue.serves(self.data_dir, self.controls, *data):
            raise ValueError(f"profile {self.profile.label!r} loads its data differently from this context's "
                             f"catalogue (data_dir, controls or the data settings {data[0]}); build a new Experiment")

    def __reduce__(self):
        # pickled (sent to a Dask worker) as its settings only: no loaded data, no executor; the
        # other side loads its own tasks, once per process (`data.catalogue.shared_catalogue`)
        return _rebuild, (self.profile, self.seed, self.store, self.progress, self.catalogue)

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
        """The same context at another seed, sharing its catalogue and memo (loaded tasks do not
        depend on the seed; the memo holds store keys, which name it)."""
        return replace(self, seed=seed)

    # ------------------------------------------------------------------ tasks and pools: the catalogue's

    def task(self, name: str) -> TaskData:
        """The named task with the profile's splits and caps, loaded once per catalogue."""
        return self.catalogue.task(name)

    def tasks(self, names: Sequence[str]) -> list[TaskData]:
        return self.catalogue.tasks(names)

    def training_tasks(self, names: Sequence[str | TaskData]) -> tuple[list[TaskData], dict[str, int]]:
        """The tasks (names or loaded tasks; the primary first) as a run of the primary trains them:
        every train split, the primary's own included, without the rows that share a sentence with
        the primary's report split (`TaskCatalogue.for_primary`); and how many rows each lost."""
        tasks = [n if isinstance(n, TaskData) else self.task(n) for n in names]
        cleaned = [self.catalogue.for_primary(t, tasks[0]) for t in tasks]
        return [t for t, _ in cleaned], {t.name: n for t, n in cleaned}

    def use_task(self, task: TaskData) -> None:
        """Serve `task` under its name from now on (your own splits, or a test's altered ones);
        its store keys follow its content."""
        self.catalogue.use_task(task)

    def candidates(self, primary: str, candidates: Sequence[str] | None = None, pool: str = "glue") -> list[str]:
        """The candidate auxiliary tasks of `primary`, checked (`check_pool`): `candidates` as
        given, else the tasks of `data.POOLS[pool]` the data can provide (a dev-only task as
        its proxy), minus the primary and its own proxy; in a context with `controls=primary`,
        its three control tasks after them."""
        return self.catalogue.candidates(primary, candidates, pool)

    # ------------------------------------------------------------------ store keys

    def task_key(self, task: TaskData, splits: Sequence[str] = SPLITS) -> dict:
        """A task's part of a store key: its name and the content hash of each split that the
        result depends on (head importance reads train only, stage 1 train and select)."""
        key = {"name": task.name} | {split: self.catalogue.split_hash(getattr(task, split)) for split in splits}
        beside = task.beside is not None and "report" in splits  # scored with report (MNLI's mismatched)
        return key | ({"beside": self.catalogue.split_hash(task.beside)} if beside else {})

    @property
    def precision(self) -> str:
        """fp32, bf16 or fp16: the profile's precision as this machine would resolve it (for display:
        keys hold what the profile asks for, and each run records what its trainer resolved)."""
        return resolve_precision(self.profile.train.precision, pick_device(self.profile.train.device))

    def spec(self, **content) -> dict:
        """A store key's content: `content` plus the encoder (its settings and identity), and the device
        and precision the profile asks for (never what they resolve to where the key is computed: a
        driver without a GPU reads back what GPU workers trained). The code-schema version is added
        by `store.make_key`."""
        encoder, train = self.profile.encoder, self.profile.train
        return {**content, "encoder": asdict(encoder) | {"identity": encoder_identity(encoder)},
                "device": train.device, "precision": train.precision}

    def get_or_compute(self, kind: str, spec: Mapping, compute: Callable[[], Mapping], *,
                       stale: Callable[[dict], bool] | None = None) -> dict:
        """`store.get_or_compute`, or without a store a memo that lives as long as this context."""
        if self.store is not None:
            return self.store.get_or_compute(kind, spec, compute, stale=stale)
        key = make_key(kind, spec)
        if key not in self.memo.results:
            self.memo.results[key] = compute()
        return self.memo.results[key]

    def put(self, kind: str, spec: Mapping, value: Mapping) -> None:
        """Store (or, without a store, memoise) `value` under (kind, spec), replacing what was there:
        a result that grows, like a GP search recorded point by point."""
        if self.store is not None:
            self.store.put(kind, spec, value)
        else:
            self.memo.results[make_key(kind, spec)] = value

    def get_or_compute_array(self, kind: str, spec: Mapping, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if self.store is not None:
            return self.store.get_or_compute_array(kind, spec, compute, device=self.profile.train.device)
        return np.asarray(self.get_or_compute(kind, spec, lambda: {"array": compute()})["array"])

    # ------------------------------------------------------------------ MTL runs

    def train_config(self, primary: str) -> TrainConfig:
        """The training settings of a run whose primary is `primary` at this context's seed
        (`Profile.train_config`; a budget in epochs counts the train rows a run of it trains on)."""
        rows = len(self.training_tasks([primary])[0][0].train) if self.profile.epochs is not None else None
        return self.profile.train_config(primary, self.seed, rows)

    def uniform_mix(self, n_tasks: int) -> list[int]:
        """The uniform mix of a primary and `n_tasks - 1` auxiliaries that fits this profile's K
        (`train.schedule.uniform_mix`): what NO-SEL and every selection's final run train."""
        return uniform_mix(n_tasks, self.profile.train.max_total_factor)

    def run(self, names: Sequence[str | TaskData], ratio: Sequence[int] | None = None,
            stop: StopRule | None = None) -> RunResult:
        """Train `names[0]` with the others mixed by `ratio` (None: `uniform_mix`), names or loaded
        tasks (e.g. the rows GradTS-fg kept), or read the run back. A mix is trained in its
        canonical form: zero entries dropped, the ratio divided by its gcd, the auxiliaries in
        name order. So [2, 2], [1, 1] and [1, 1, 0] are one run, [3, 0] is the single-task run,
        and RTE+MRPC+CoLA is RTE+CoLA+MRPC. The primary trains its whole budget
        (`Profile.train_config`), the auxiliaries' batches on top, at most K times its steps in all
        (a mix over K is refused); no train split holds the primary's report text
        (`training_tasks`: the counts are in the run's `report_text_dropped`).

        With `stop` (a search's `StopRule`) a run the rule stops is stored under the rule, so it is
        never read back as a finished run; one that finishes under it is the whole run and is stored
        as that (`_run_under`)."""
        ratio = validate_ratio(ratio, len(names)) if ratio is not None else self.uniform_mix(len(names))
        cleaned, dropped = self.training_tasks(names)
        kept = [(t, r) for t, r in zip(cleaned, ratio) if r > 0]
        kept = kept[:1] + sorted(kept[1:], key=lambda p: p[0].name)  # one mix, one run: auxiliaries by name
        tasks, ratio = [t for t, _ in kept], canonical_ratio([r for _, r in kept])
        config = self.train_config(tasks[0].name)
        check_fits(ratio, config.max_total_factor)  # before the store: a stored run of a larger K is not this profile's
        full = self.spec(tasks=[self.task_key(t) for t in tasks], ratio=ratio, train=result_settings(config))
        spec = full if stop is None else {**full, "stop": stop.key()}
        # a killed run resumes from its checkpoint (`TrainConfig.checkpoint_every`), kept until it is stored
        checkpoints = self.store.root / "run_checkpoints" / make_key("run", spec) if self.store is not None else None

        def train() -> dict:
            run = run_mtl(tasks, ratio, encoder=self.profile.encoder, config=config,
                          progress=self.progress, checkpoint_dir=checkpoints, stop=stop)
            return replace(run, report_text_dropped={t.name: dropped[t.name] for t in tasks}).to_json()

        if stop is None:
            result = RunResult.from_json(self.get_or_compute("run", spec, train))
        else:
            result = RunResult.from_json(self._run_under(stop, full, spec, config.max_steps, train))
        if checkpoints is not None and checkpoints.exists():
            shutil.rmtree(checkpoints, ignore_errors=True)  # the stored run replaces it
        return result

    def _run_under(self, stop: StopRule, full: dict, spec: dict, max_steps: int, train: Callable[[], dict]) -> dict:
        """A run under a search's stop rule, read from where it is stored: under the rule's key if the
        rule stopped it, under the whole run's if it finished (a stored whole run that the rule would
        not have stopped is the answer, so nothing is stored twice). No lock: two processes that miss
        together train the same run twice, with one result."""
        stopped = self._stored("run", spec)
        if stopped is not None:
            return stopped
        whole = self._stored("run", full)
        if whole is not None and stop.first_stop(whole["history"], max_steps) is None:
            return whole
        value = train()
        self.put("run", spec if value["stopped_at"] is not None else full, value)
        return value

    def _stored(self, kind: str, spec: Mapping) -> dict | None:
        return self.store.get(kind, spec) if self.store is not None else self.memo.results.get(make_key(kind, spec))


def _rebuild(profile: Profile, seed: int, store: Store | None, progress: bool, catalogue: TaskCatalogue) -> Experiment:
    """A pickled context on the other side, holding the catalogue its settings name in this process
    (`data.catalogue.shared_catalogue`: contexts rebuilt here share loaded tasks, as `with_seed` copies do)."""
    return Experiment(profile, seed=seed, data_dir=catalogue.data_dir, store=store, progress=progress,
                      controls=catalogue.controls, catalogue=catalogue)


CHANGEABLE = {"seed", "progress", "store", "executor", "profile"}  # what `as_experiment` may change on a context


def as_experiment(exp: Experiment | None = None, **settings) -> Experiment:
    """`exp` as it is, or with the given settings changed (`seed=1`), or, without one, a new
    context from the keywords (`profile`, `seed`, `data_dir`, `store`, `progress`, `executor`):
    the flat call `run_stage1("RTE", profile="cpu", store=store)` and `run_stage1("RTE", exp=exp)`
    are one. A changed context shares `exp`'s catalogue and memo: another profile must load the
    data as `exp`'s does (it may change training and method settings, as the budget study does)."""
    if exp is None:
        return Experiment(**settings)
    if not settings:
        return exp
    if set(settings) - CHANGEABLE:
        raise ValueError(f"an Experiment fixes data_dir and controls; build a new one instead of "
                         f"changing {sorted(set(settings) - CHANGEABLE)}")
    return replace(exp, **settings)


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
    if exp.store is None and not exp.memo.warned:
        exp.memo.warned = True
        warnings.warn(f"{what} without a store: every run is kept in memory for this context only and "
                      "trained again in a new one; pass store=default_store(profile=...) to keep them",
                      stacklevel=3)


def executor_for(exp: "Experiment") -> SerialExecutor | DaskExecutor:
    """The context's executor, made on first use and shared by its copies (`with_seed`)."""
    if is_serial(exp.executor):
        return SerialExecutor()
    made = exp.memo.executors
    key = exp.executor if isinstance(exp.executor, str) else id(exp.executor)
    if key not in made:
        made[key] = make_executor(exp.executor)
    return made[key]

