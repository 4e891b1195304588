"""Loading, splitting and subsampling (tokenising and batching: `aux_select.data.batching`).

Every task becomes three `datasets.Dataset`s with columns `text_a`, [`text_b`,] `label`
(tagging: `words` and `label`, one tag id per word):
  train  - what models learn from (seeded subsample of the source's train split),
  select - held out from train with a seed; every selection decision is made on it,
  report - the dev set (GLUE dev, CoNLL-2003 testa, UD dev, MELD dev); used only for final
           numbers. Without a dev file (CoNLL-2000, proxies) it is held out with a seed.
Sources, in order: `data_dir` argument, `AUX_SELECT_DATA`, the Hugging Face hub.

Local files have their row (tagging: sentence and word) counts checked against the official
files. A data root that holds a file named `SAMPLE` (readers.SAMPLE_MARKER; its text says what
the sample is) declares itself a sample rather than the official data, like the test fixtures
in tests/fixtures/data: those checks are skipped for files under it, and the task's notes say
"sample data root …" with the rows found, instead of calling the data complete or partial.
Any other root keeps its checks.

From the hub, columns are renamed to ours and class ids mapped to our labels by name
(`_hub_to_ours`); a schema that does not fit raises `HubSchemaError`. Only a network or
offline failure is reported as "the hub could not be reached".
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, Features, List, Value

from aux_select.data.readers import SAMPLE_MARKER, is_sample_root, read_local_file
from aux_select.data.registry import TAGGING, TaskSpec, get_task

HELD_OUT_REPORT_FRACTION = 0.2  # share of the source kept back as report when there is no dev file
                                # (proxies: of the dev file; chunking: of the train file)


class DataNotFoundError(FileNotFoundError):
    """No source has the task; the message names every way to provide it."""


class HubSchemaError(ValueError):
    """A hub dataset whose columns or label names do not fit the task's TaskSpec."""


@dataclass
class TaskData:
    spec: TaskSpec
    train: Dataset
    select: Dataset
    report: Dataset
    source: str        # "local:<path>" or "hub:<path>/<config>"
    notes: str         # partial data, proxies and subsampling, in words
    beside: Dataset | None = None  # a second dev set scored beside report (`TaskSpec.beside_report`:
                                   # MNLI's mismatched), where the data has it

    @property
    def name(self) -> str:
        return self.spec.name


# ----------------------------------------------------------------------------- datasets

def task_features(spec: TaskSpec) -> Features:
    """Our columns and features for a task, whatever the source (local files or the hub)."""
    if spec.objective == TAGGING:  # a sentence per row: its words and one tag id per word
        features = {"words": List(Value("string")), "label": List(ClassLabel(names=list(spec.labels)))}
    else:
        features = {"text_a": Value("string")} | ({"text_b": Value("string")} if spec.is_pair else {})
        features["label"] = ClassLabel(names=list(spec.labels)) if spec.labels else Value("float32")
    return Features(features)


def rows_to_dataset(rows: list[dict], spec: TaskSpec) -> Dataset:
    """Rows in our columns (`readers.convert_row`) as a Dataset with the task's label features."""
    features = task_features(spec)
    columns = {k: [r[k] for r in rows] for k in features}
    return Dataset.from_dict(columns, features=features)


# ----------------------------------------------------------------------------- sources

def data_root(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data root: the argument, else AUX_SELECT_DATA, else None (hub only)."""
    root = data_dir if data_dir is not None else os.environ.get("AUX_SELECT_DATA")
    return Path(root).expanduser() if root else None


def _load_from_hub(spec: TaskSpec, split: str) -> Dataset:
    from datasets import load_dataset
    return load_dataset(*spec.hub, split=split)


def _hub_to_ours(ds: Dataset, spec: TaskSpec, split: str | None = None) -> Dataset:
    """A hub split in our columns and features (`task_features`, as local data gets).

    The text columns (`hub_text_keys`, else `text_keys`) become text_a[/text_b]. Class ids are
    mapped to ours by label name, since the hub's ClassLabel may list the names in another order
    (MRPC's F1 counts `equivalent` as positive whichever source the rows came from); -1 (no
    label) stays -1. A missing column, a label column without class names, or names that differ
    from `spec.labels` raise `HubSchemaError` naming what was found and what was expected."""
    where = f"{spec.name} from the hub ({'/'.join(spec.hub or ())}{f', split {split!r}' if split else ''})"
    keys = list(spec.hub_text_keys or spec.text_keys)
    missing = [c for c in (*keys, "label") if c not in ds.column_names]
    if missing:
        raise HubSchemaError(f"{where}: no column {', '.join(map(repr, missing))}; its columns are "
                             f"{ds.column_names}, expected text {keys} (TaskSpec.hub_text_keys) and 'label'")
    ds = ds.select_columns([*keys, "label"]).rename_columns(dict(zip(keys, ["text_a", "text_b"])))
    ours, feature = task_features(spec), ds.features["label"]
    if spec.labels is None:  # regression: a numeric score
        if not (isinstance(feature, Value) and feature.dtype.startswith(("float", "int"))):
            raise HubSchemaError(f"{where}: label column is {feature}, expected a numeric score")
        return ds.cast(ours)
    if not isinstance(feature, ClassLabel):
        raise HubSchemaError(f"{where}: label column is {feature}, not a ClassLabel, so its ids cannot "
                             f"be mapped by name to ours {list(spec.labels)}")
    theirs = list(feature.names)
    if sorted(theirs) != sorted(spec.labels):
        raise HubSchemaError(f"{where}: the hub's label names {theirs} do not match ours "
                             f"{list(spec.labels)} (TaskSpec.labels)")
    if theirs == list(spec.labels):
        return ds.cast(ours)
    to_ours = [spec.labels.index(name) for name in theirs]  # hub id -> our id
    return ds.map(lambda batch: {"label": [to_ours[i] if i >= 0 else i for i in batch["label"]]},
                  batched=True, features=ours, desc=f"{spec.name}: hub label ids to ours")


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean the hub could not be reached (offline, DNS, refused, timeout)."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]  # datasets: "Couldn't reach"
    try:
        import requests
        types += [requests.exceptions.ConnectionError, requests.exceptions.Timeout]
    except ImportError:
        pass
    try:
        import httpx  # huggingface_hub >= 1.0
        types += [httpx.TransportError]  # ConnectError, TimeoutException, NetworkError, ProxyError
    except ImportError:
        pass
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
        types += [OfflineModeIsEnabled, LocalEntryNotFoundError]  # offline and not in the cache
    except ImportError:
        pass
    return tuple(types)


_OFFLINE_WORDS = ("offline", "connection", "couldn't reach", "could not reach", "timed out",
                  "name or service not known", "network is unreachable")


def _is_network_error(e: BaseException | None) -> bool:
    """Whether `e`, or an exception it was raised from, says the hub could not be reached."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, _network_errors()):
            return True
        local = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
        if (isinstance(e, OSError) and not isinstance(e, local)  # a local file's path may say "offline"
                and any(w in str(e).lower() for w in _OFFLINE_WORDS)):
            return True
        e = e.__cause__
    return False


def _load_sources(spec: TaskSpec, root: Path | None,
                  check_rows: bool) -> tuple[Dataset, Dataset | None, str]:
    """(train source, report source or None when it is held out of train, description)."""
    if spec.proxy_of is not None:
        dev_file = spec.report_file(root) if root is not None else spec.local_report
        if root is None or not (root / dev_file.path).exists():
            raise DataNotFoundError(
                f"{spec.name} is built from {dev_file.path}, which was not found under "
                f"{root or '(no data_dir)'}; pass data_dir= or set AUX_SELECT_DATA to a folder "
                f"holding it, or use the real task {spec.proxy_of!r} from the hub")
        dev = rows_to_dataset(read_local_file(root, dev_file, spec, check_rows), spec)
        return dev, None, f"local:{root / dev_file.path}"
    if root is not None and (root / spec.local_train.path).exists():
        train = rows_to_dataset(read_local_file(root, spec.local_train, spec, check_rows), spec)
        report_file = spec.report_file(root)
        report = (None if report_file is None else
                  rows_to_dataset(read_local_file(root, report_file, spec, check_rows), spec))
        return train, report, f"local:{root / spec.local_train.path.rsplit('/', 1)[0]}"
    where = (f"{spec.local_train.path} is not under data_dir/AUX_SELECT_DATA "
             f"({root or 'neither is set'})")
    if spec.hub is None:
        raise DataNotFoundError(
            f"no data for {spec.name}: {where}, and it has no Hugging Face hub source here. Pass "
            f"data_dir= or set AUX_SELECT_DATA to a folder holding {spec.local_train.path} "
            "(the layout of ../shared/data, see its README)")
    try:
        hub = [_load_from_hub(spec, s) for s in spec.hub_splits]
    except Exception as e:
        if not _is_network_error(e):  # e.g. no such config: its own error, not "unreachable"
            e.add_note(f"while loading {spec.name} from the Hugging Face hub ({'/'.join(spec.hub)})")
            raise
        # offline or hub down: one message naming every fix
        proxy = f"{spec.name}-proxy"
        hint = (f"; offline, the labelled stand-in {proxy!r} (built from the dev file) can be used"
                if root is not None and proxy in _proxies() else "")
        raise DataNotFoundError(
            f"no data for {spec.name}: {where} and the Hugging Face hub ({'/'.join(spec.hub)}) could "
            f"not be reached ({type(e).__name__}). Pass data_dir=, set AUX_SELECT_DATA to a folder "
            f"in the classic GLUE layout, or go online{hint}") from e
    train, report = (_hub_to_ours(ds, spec, s) for ds, s in zip(hub, spec.hub_splits))
    return train, report, f"hub:{'/'.join(spec.hub)}"


def _proxies() -> set[str]:
    from aux_select.data.registry import REGISTRY
    return {n for n, s in REGISTRY.items() if s.proxy_of}


# ----------------------------------------------------------------------------- splits

def _take(n: int, fraction: float | None, cap: int | None) -> int:
    if fraction is not None:
        n = round(n * fraction)
    return n if cap is None else min(n, cap)


def load_task(name: str | TaskSpec, data_dir: str | os.PathLike | None = None, *, seed: int = 0,
              select_fraction: float = 0.1, select_cap: int | None = 1000,
              train_fraction: float | None = None, train_cap: int | None = None,
              report_cap: int | None = None, check_rows: bool = True) -> TaskData:
    """Load a task as train / select / report splits.

    select: `select_fraction` of the train source (at most `select_cap` rows), held out with
    `seed`. train: the rest, optionally subsampled by `train_fraction` and/or `train_cap`.
    Subsamples are prefixes of one seeded permutation, so a smaller sample is always a subset
    of a larger one and the same arguments always give the same rows. `name` may be a spec (your
    own task's, `data.task_from_file`: its files are named in full, so any data root serves it).
    """
    spec = name if isinstance(name, TaskSpec) else get_task(name)
    if spec.control_of is not None:
        raise ValueError(f"{spec.name} is a control task, cut from {spec.control_of}'s train split: a context with "
                         f"controls={spec.control_of!r} serves it (Experiment(..., controls={spec.control_of!r}))")
    own = spec.local_train is not None and Path(spec.local_train.path).is_absolute()
    root = Path(spec.local_train.path).parent if own else data_root(data_dir)  # root / an absolute path = the path
    train_src, report_src, source = _load_sources(spec, root, check_rows)
    rng = np.random.default_rng(seed)
    notes = []
    if spec.proxy_of is not None:  # said first, wherever the notes are shown
        notes.append(f"PROXY for {spec.proxy_of}: built from its dev file only; "
                     f"never report it as {spec.proxy_of}")
    if source.startswith("local:") and is_sample_root(root) and not own:  # not the official files: say so
        found = (f"{len(train_src)} train and {len(report_src)} dev rows" if report_src is not None else
                 f"{len(train_src)} rows in the {'dev' if spec.proxy_of else 'train'} file")
        notes.append(f"sample data root ({root / SAMPLE_MARKER}): {found}, not the official files "
                     f"(official: {spec.train_size} {'dev' if spec.proxy_of else 'train'} rows); "
                     "official row counts not checked")
    elif spec.proxy_of is None and len(train_src) < spec.train_size:
        notes.append(f"partial: {len(train_src)} of {spec.train_size} official train rows")
    if report_src is None:
        order = rng.permutation(len(train_src))
        n_report = round(len(order) * HELD_OUT_REPORT_FRACTION)
        report_src, train_src = train_src.select(order[:n_report]), train_src.select(order[n_report:])
        notes.append(f"report: {n_report} rows of that dev file held out (seed {seed}), the rest as train/select"
                     if spec.proxy_of else f"no dev file: {n_report} rows held out of the source as report "
                     f"(seed {seed}), the rest as train/select")
    order = rng.permutation(len(train_src))
    n_select = _take(len(order), select_fraction, select_cap)
    select, pool = order[:n_select], order[n_select:]
    n_train = _take(len(pool), train_fraction, train_cap)
    if n_train < len(pool):
        notes.append(f"subsampled: {n_train} of {len(pool)} train rows (seed {seed})")
    report = report_src
    if report_cap is not None and report_cap < len(report_src):
        report = report_src.select(np.random.default_rng(seed).permutation(len(report_src))[:report_cap])
        notes.append(f"report capped at {report_cap} of {len(report_src)} rows")
    splits = {"train": train_src.select(np.sort(pool[:n_train])),
              "select": train_src.select(np.sort(select)), "report": report}
    beside = _load_beside(spec, root, source, check_rows)
    if beside is not None:
        notes.append(f"{spec.beside_report[0]} dev set ({len(beside)} rows) scored beside report")
        if report_cap is not None and report_cap < len(beside):
            beside = beside.select(np.random.default_rng(seed).permutation(len(beside))[:report_cap])
    note = "; ".join(notes) or "complete"
    for split in [*splits.values(), *([beside] if beside is not None else [])]:
        split.info.description = f"{spec.name} ({source}): {note}"
    return TaskData(spec, **splits, source=source, notes=note, beside=beside)


def _load_beside(spec: TaskSpec, root: Path | None, source: str, check_rows: bool) -> Dataset | None:
    """The task's second dev set (`TaskSpec.beside_report`) from where its train came, if it is there."""
    if spec.beside_report is None:
        return None
    _, file, hub_split = spec.beside_report
    if source.startswith("hub:"):
        return _hub_to_ours(_load_from_hub(spec, hub_split), spec, hub_split)
    if root is None or not (root / file.path).exists():
        return None
    return rows_to_dataset(read_local_file(root, file, spec, check_rows), spec)


def available_tasks(data_dir: str | os.PathLike | None = None,
                    pool: tuple[str, ...] | None = None) -> list[str]:
    """The tasks of `pool` (default: the GLUE classification pool) that local data can provide,
    with dev-only tasks replaced by their proxies. Without local data, the whole pool (hub)."""
    from aux_select.data.registry import GLUE_CLASSIFICATION
    pool = pool or GLUE_CLASSIFICATION
    root = data_root(data_dir)
    if root is None:
        return list(pool)
    names = []
    for name in pool:
        spec = get_task(name)
        if spec.local_train is not None and (root / spec.local_train.path).exists():
            names.append(name)
        elif f"{name}-proxy" in _proxies() and (root / spec.report_file(root).path).exists():
            names.append(f"{name}-proxy")
    return names
