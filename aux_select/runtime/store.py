"""Content-addressed results store: JSON records (and .npy arrays) on disk, no pickles.

Every expensive result (a training run, a head-importance matrix, a GP point, a bandit
trajectory) is filed under root/<kind>/<key>.json, where the key hashes everything that
determines it. Same spec -> same key -> the stored result is reused, so an interrupted
experiment resumes where it stopped. Several processes may share one store (Dask workers on a
shared filesystem, two notebooks): `get_or_compute` takes a lock file per key
(`locks.KeyLock`), so a result two of them need at once is computed by one and read by the other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, BinaryIO

import numpy as np
from datasets import Dataset

from aux_select.runtime.cost import Clock, PeakMemory
from aux_select.runtime.locks import KeyLock, LockConfig

# the code-schema version: bump when a stored format or the meaning of a result changes; it is
# part of every key, so results of older code are never read back
SCHEMA_VERSION = 4  # 3: the budget is the primary's steps, auxiliary batches on top; precision in keys.
                    # 4: keys hold the device and precision the profile asks for, not what they
                    # resolved to where the key was computed (`runtime.migrate` brings 3 up to 4)


def jsonable(obj: Any, where: str = "spec") -> Any:
    """`obj` as plain JSON types, the one normaliser of store keys, stored values and summaries:
    a result through its own `to_json()`, a dataclass as its fields, tuples as lists, numpy
    values as Python ones; raises TypeError naming the first thing that is not JSON (a table:
    convert it, choosing its orientation)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, JsonResult):
        return jsonable(obj.to_json(), where)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj), where)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            # json.dumps would silently turn 1 into "1" and make {1: x} and {"1": x} collide
            if not isinstance(k, str):
                raise TypeError(f"{where}: key {k!r} is {type(k).__name__}, not str")
            out[k] = jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, (np.generic, np.ndarray)) and obj.dtype.kind in "biufU":
        return obj.tolist()  # python scalars / nested lists, so np.float64(1) keys like 1.0
    raise TypeError(f"{where}: {type(obj).__name__} {obj!r:.80} is not JSON-serialisable")


class JsonResult:
    """A result dataclass that writes itself as plain JSON: `to_json()`, `from_json(d)` (results
    with nested results override it) and `write_json(path)`. Notebook summaries are these."""

    def to_json(self) -> dict:
        return jsonable(dataclasses.asdict(self), type(self).__name__)

    @classmethod
    def from_json(cls, d: Mapping):
        return cls(**d)

    def write_json(self, path: str | os.PathLike) -> Path:
        """Atomically write `to_json()` to `path` (NaN kept, as Python's json reads it back)."""
        text = json.dumps(self.to_json(), indent=1)
        return _atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")))


@dataclasses.dataclass
class Summary(JsonResult):
    """A notebook's summary: its named values, each a result (written by its own `to_json`), a
    dataclass, an array or plain JSON."""

    fields: dict

    def to_json(self) -> dict:
        return jsonable(self.fields, "summary")


def write_summary(path: str | os.PathLike, **fields) -> Path:
    """Write a notebook's summary (`Summary(fields)`) to `path`, atomically; returns the path."""
    return Summary(fields).write_json(path)


def content_hash(ds: Dataset) -> str:
    """sha256 (first 16 hex chars) of a dataset's rows and features: what a store key needs to
    know about data, computed from the content itself (not from `datasets`' private fingerprint,
    which tracks how a dataset was made, not what it holds)."""
    digest = hashlib.sha256(json.dumps(ds.features.to_dict(), sort_keys=True, default=str).encode())
    for batch in ds.iter(batch_size=10_000):  # bounded memory on a full-size hub task
        digest.update(json.dumps(batch, sort_keys=True, ensure_ascii=True, default=str).encode())
    return digest.hexdigest()[:16]


def make_key(kind: str, spec: Mapping[str, Any], schema: int = SCHEMA_VERSION) -> str:
    """sha256 (first 16 hex chars) of canonical JSON of {"kind", "schema", "spec"} (`schema`: this
    code's, or an older one's for `runtime.migrate`).

    Dataclasses (via dataclasses.asdict), tuples, Paths and numpy scalars/arrays are
    normalised, and dict order is irrelevant, so equal specs give equal keys. Anything
    not JSON-able raises TypeError naming it.
    """
    payload = {"kind": kind, "schema": schema, "spec": jsonable(spec)}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write via a temp file in the same directory + fsync + os.replace: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # ".tmp" suffix so a leftover from a killed process never matches *.json / *.npy
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # data on disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _read_json(path: Path) -> dict | None:
    """The JSON record at `path`, or None if it is missing or corrupt (with a warning)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        warnings.warn(f"ignoring corrupt store file {path} ({e}); it will be recomputed",
                      stacklevel=3)
        return None


class Store:
    """A directory of results keyed by make_key(kind, spec); root is created on first write."""

    def __init__(self, root: str | os.PathLike, lock: LockConfig = LockConfig()) -> None:
        self.root = Path(root)
        self.lock_config = lock

    def lock(self, kind: str, key: str) -> KeyLock:
        """The lock of result `key` of `kind` (root/kind/key.lock): hold it while computing it."""
        return KeyLock(self.path(kind, key, ".lock"), self.lock_config)

    def path(self, kind: str, key: str, suffix: str = ".json") -> Path:
        """Where the result `key` of `kind` lives: root/kind/key+suffix."""
        if not kind or Path(kind).name != kind:
            raise ValueError(f"kind must be a plain directory name, got {kind!r}")
        return self.root / kind / f"{key}{suffix}"

    def get(self, kind: str, spec: Mapping) -> dict | None:
        """The stored value for (kind, spec), or None if there is none (or it is corrupt)."""
        record = _read_json(self.path(kind, make_key(kind, spec)))
        return None if record is None else record["value"]

    def put(self, kind: str, spec: Mapping, value: Mapping, created: str | None = None) -> Path:
        """Atomically store {"kind","key","spec","value","created"} (`created`: now, unless a record
        moved to a new key keeps its own); returns the file path.

        `value` must be JSON-able (numpy scalars/arrays and tuples are converted). NaN and
        inf are allowed (Python's json default allow_nan=True) so a diverged run can
        still record its NaN loss; the file is then not strict JSON, but json.load reads it.
        """
        key = make_key(kind, spec)
        record = {"kind": kind, "key": key, "spec": jsonable(spec),
                  "value": jsonable(value, "value"),
                  "created": created or datetime.now(timezone.utc).isoformat()}
        text = json.dumps(record, indent=1, sort_keys=True)
        return _atomic_write(self.path(kind, key), lambda f: f.write(text.encode("utf-8")))

    def get_or_compute(self, kind: str, spec: Mapping, compute: Callable[[], Mapping], *,
                       stale: Callable[[dict], bool] | None = None) -> dict:
        """The stored value for (kind, spec); on a miss, or when `stale(value)` says a stored
        value lacks what is needed now, call compute(), store and return it."""
        def missing(value: dict | None) -> bool:
            return value is None or (stale is not None and stale(value))

        value = self.get(kind, spec)
        if missing(value):
            with self.lock(kind, make_key(kind, spec)):
                value = self.get(kind, spec)  # another process may have stored it while we waited
                if missing(value):
                    self.put(kind, spec, compute())
                    value = self.get(kind, spec)  # what a later get() returns, to the key order: a
                    # result computed now and one read back are one result, byte for byte
        return value

    def records(self, kind: str) -> list[dict]:
        """Every stored record of `kind` (full records, with spec), oldest first.

        Order is file mtime then name; re-putting a spec rewrites its file and so moves it last.
        """
        files = self.path(kind, "x").parent.glob("*.json")
        files = sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))
        return [r for r in map(_read_json, files) if r is not None]

    def put_array(self, kind: str, spec: Mapping, array: np.ndarray) -> Path:
        """Atomically store `array` as root/kind/key.npy (no pickle: object arrays are refused)."""
        array = np.asarray(array)
        path = self.path(kind, make_key(kind, spec), ".npy")
        return _atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))

    def get_array(self, kind: str, spec: Mapping) -> np.ndarray | None:
        """The array stored for (kind, spec), or None; loaded with allow_pickle=False."""
        path = self.path(kind, make_key(kind, spec), ".npy")
        return np.load(path, allow_pickle=False) if path.exists() else None

    def get_or_compute_array(self, kind: str, spec: Mapping, compute: Callable[[], np.ndarray],
                             device: str = "cpu") -> np.ndarray:
        """The stored array for (kind, spec); on a miss, call compute() (which runs on `device`, a
        profile's name for it: its peak memory is measured there), store and return it, with what
        computing it cost beside it (see `cost`)."""
        array = self.get_array(kind, spec)
        if array is None:
            with self.lock(kind, make_key(kind, spec)):
                array = self.get_array(kind, spec)  # stored by another process while we waited?
                if array is None:
                    start = Clock()
                    with PeakMemory(device) as memory:
                        array = np.asarray(compute())
                    wall_s, cpu_s = start.since()
                    # the cost record first: an .npy present always has its cost beside it
                    self.put(kind, spec, {"wall_time_s": wall_s, "cpu_time_s": cpu_s,
                                          "peak_memory_mb": memory.peak_mb, "device_memory_mb": memory.device_peak_mb,
                                          "device": str(memory.device), "shape": list(array.shape)})
                    self.put_array(kind, spec, array)
        return array

    def cost(self, kind: str, spec: Mapping) -> dict | None:
        """{"wall_time_s", "cpu_time_s", "peak_memory_mb", …} of a stored array's computation (the JSON record
        beside its .npy), or None where it was stored without one."""
        return self.get(kind, spec)


def project_root() -> Path:
    """The checkout this package runs from (it has notebooks/ beside the package), else the
    working directory: default output folders are its results/ and figures/, so a JupyterLab
    kernel in notebooks/ writes where papermill run from the checkout does."""
    checkout = Path(__file__).resolve().parents[2]  # aux_select/runtime/store.py -> the checkout
    return checkout if (checkout / "notebooks").is_dir() else Path.cwd()


def default_store(path: str | os.PathLike | None = None, profile: str = "cpu") -> Store:
    """The Store at `path`, else at $AUX_SELECT_STORE, else at <project_root>/results/<profile>/store.

    One folder per profile keeps smoke runs (git-ignored) away from committed real results.
    """
    root = path or os.environ.get("AUX_SELECT_STORE") or project_root() / "results" / profile / "store"
    return Store(root)
