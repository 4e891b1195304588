"""The results store: stable keys, atomic JSON/.npy round trips, corrupt-file tolerance."""

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from aux_select.runtime.store import SCHEMA_VERSION, Store, default_store, make_key, project_root

SPEC = {"task": "rte", "aux": ["mnli", "qnli"], "lr": 2e-5, "seed": 0, "opt": {"b1": 0.9, "b2": 0.999}}


@dataclasses.dataclass
class RunSpec:
    task: str
    aux: tuple
    lr: float


def test_key_stable_under_dict_reordering():
    reordered = {"opt": {"b2": 0.999, "b1": 0.9}, "seed": 0, "lr": 2e-5,
                 "aux": ["mnli", "qnli"], "task": "rte"}
    assert make_key("run", SPEC) == make_key("run", reordered)
    assert len(make_key("run", SPEC)) == 16
    int(make_key("run", SPEC), 16)  # hex


@pytest.mark.parametrize(
    "change",
    [{"task": "mrpc"}, {"aux": ["qnli", "mnli"]}, {"lr": 3e-5}, {"seed": 1}, {"opt": {"b1": 0.9, "b2": 0.99}},
     {"extra": None}],
)
def test_key_changes_with_any_value(change):
    assert make_key("run", {**SPEC, **change}) != make_key("run", SPEC)


def test_key_depends_on_kind_and_schema():
    assert make_key("run", SPEC) != make_key("gp_point", SPEC)
    assert isinstance(SCHEMA_VERSION, int)


def test_dataclass_tuple_path_numpy_normalisation():
    as_dict = {"task": "rte", "aux": ["mnli"], "lr": 0.5}
    assert make_key("run", RunSpec("rte", ("mnli",), 0.5)) == make_key("run", as_dict)
    assert make_key("run", {"spec": RunSpec("rte", ("mnli",), 0.5)}) == make_key("run", {"spec": as_dict})
    assert make_key("k", {"p": Path("data") / "rte"}) == make_key("k", {"p": "data/rte"})
    assert make_key("k", {"x": np.float64(0.5), "n": np.int64(3)}) == make_key("k", {"x": 0.5, "n": 3})
    assert make_key("k", {"a": np.array([[1, 2], [3, 4]])}) == make_key("k", {"a": [[1, 2], [3, 4]]})


def test_unjsonable_raises_type_error_naming_it():
    class Thing:
        pass

    with pytest.raises(TypeError, match=r"Thing"):
        make_key("run", {"model": Thing()})
    with pytest.raises(TypeError, match=r"\['model'\]"):
        make_key("run", {"model": Thing()})
    with pytest.raises(TypeError):
        make_key("run", {"s": {1, 2}})


def test_put_get_round_trip(tmp_path):
    store = Store(tmp_path / "store")
    assert not (tmp_path / "store").exists()  # created lazily
    assert store.get("run", SPEC) is None
    value = {"dev_acc": 0.71, "curve": [0.5, 0.6, 0.71], "best_step": 300}
    path = store.put("run", SPEC, value)
    key = make_key("run", SPEC)
    assert path == store.path("run", key) == tmp_path / "store" / "run" / f"{key}.json"
    assert store.get("run", SPEC) == value
    assert store.get("run", {**SPEC, "seed": 1}) is None
    record = json.loads(path.read_text())
    assert set(record) == {"kind", "key", "spec", "value", "created"}
    assert record["spec"] == SPEC and record["kind"] == "run"


def test_get_or_compute_computes_once(tmp_path):
    store, calls = Store(tmp_path), []

    def compute():
        calls.append(1)
        return {"loss": 1.25, "steps": (1, 2)}

    first = store.get_or_compute("run", SPEC, compute)
    second = store.get_or_compute("run", SPEC, compute)
    assert len(calls) == 1
    assert first == second == {"loss": 1.25, "steps": [1, 2]}
    assert Store(tmp_path).get_or_compute("run", SPEC, compute) == first  # a fresh process resumes
    assert len(calls) == 1


def test_a_value_computed_now_is_the_value_read_back_later_key_order_included(tmp_path):
    store = Store(tmp_path)
    computed = store.get_or_compute("stage1", {"a": 1}, lambda: {"utilities": {"MRPC": 0.6, "CoLA": 0.5}, "n": np.int64(3)})
    later = Store(tmp_path).get("stage1", {"a": 1})
    assert json.dumps(computed) == json.dumps(later)  # a summary written either way is the same file
    assert list(computed["utilities"]) == ["CoLA", "MRPC"]


def test_atomic_write_leaves_no_temp_files(tmp_path):
    store = Store(tmp_path)
    for seed in range(3):
        store.put("run", {**SPEC, "seed": seed}, {"acc": seed})
    store.put_array("heads", SPEC, np.zeros((2, 3)))
    assert sorted(p.suffix for p in (tmp_path / "run").iterdir()) == [".json"] * 3
    assert [p.suffix for p in (tmp_path / "heads").iterdir()] == [".npy"]


def test_failed_write_keeps_old_file_and_no_temp(tmp_path):
    store = Store(tmp_path)
    path = store.put("run", SPEC, {"acc": 1})
    with pytest.raises(TypeError):
        store.put("run", SPEC, {"acc": object()})
    assert store.get("run", SPEC) == {"acc": 1}
    assert list(path.parent.iterdir()) == [path]


def test_truncated_json_is_missing_with_warning(tmp_path):
    store = Store(tmp_path)
    path = store.put("run", SPEC, {"acc": 0.7})
    path.write_text(path.read_text()[:20])  # what a crash mid-write would have left
    with pytest.warns(UserWarning, match=path.name):
        assert store.get("run", SPEC) is None
    with pytest.warns(UserWarning):
        assert store.records("run") == []
    with pytest.warns(UserWarning):
        assert store.get_or_compute("run", SPEC, lambda: {"acc": 0.8}) == {"acc": 0.8}
    assert store.get("run", SPEC) == {"acc": 0.8}  # recomputed and rewritten


ARRAYS = [
    np.random.default_rng(0).normal(size=(12, 12)).astype(np.float32),  # a head-importance matrix
    np.arange(6, dtype=np.int64).reshape(2, 3),
    np.array([np.nan, np.inf, -0.0]),
]


@pytest.mark.parametrize("array", ARRAYS)
def test_array_round_trip_exact(tmp_path, array):
    store = Store(tmp_path)
    assert store.get_array("heads", SPEC) is None
    path = store.put_array("heads", SPEC, array)
    assert path.suffix == ".npy" and path.parent == store.path("heads", "k").parent
    loaded = store.get_array("heads", SPEC)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    np.load(path, allow_pickle=False)  # a plain .npy, no pickle inside


def test_object_array_refused(tmp_path):
    with pytest.raises(ValueError):
        Store(tmp_path).put_array("heads", SPEC, np.array([{"a": 1}], dtype=object))
    assert not list((tmp_path / "heads").iterdir())


def test_records_returns_all_of_a_kind_in_creation_order(tmp_path):
    store = Store(tmp_path)
    assert store.records("run") == []
    base = time.time_ns()
    for i, seed in enumerate([3, 1, 2]):
        path = store.put("run", {**SPEC, "seed": seed}, {"acc": seed / 10})
        # set mtimes a second apart: coarse filesystem clocks must not make this test flaky
        os.utime(path, ns=(base + i * 10**9, base + i * 10**9))
    store.put("gp_point", SPEC, {"y": 1.0})
    records = store.records("run")
    assert [r["spec"]["seed"] for r in records] == [3, 1, 2]
    assert [r["value"]["acc"] for r in records] == [0.3, 0.1, 0.2]
    assert all(r["kind"] == "run" and r["key"] == make_key("run", r["spec"]) for r in records)


def test_nan_survives_round_trip(tmp_path):
    store = Store(tmp_path)
    store.put("run", SPEC, {"loss": float("nan"), "grad_norm": float("inf"), "curve": [1.0, float("nan")]})
    value = store.get("run", SPEC)
    assert math.isnan(value["loss"]) and value["grad_norm"] == math.inf and math.isnan(value["curve"][1])


def test_bad_kind_rejected(tmp_path):
    with pytest.raises(ValueError):
        Store(tmp_path).path("../escape", "k")


def test_default_store(tmp_path, monkeypatch):
    monkeypatch.delenv("AUX_SELECT_STORE", raising=False)
    monkeypatch.chdir(tmp_path)  # in a checkout, its own results/ wherever the kernel runs (notebooks/)
    checkout = Path(__file__).resolve().parents[1]
    assert project_root() == checkout
    assert default_store().root == checkout / "results" / "cpu" / "store"
    assert default_store(profile="smoke").root == checkout / "results" / "smoke" / "store"
    monkeypatch.setenv("AUX_SELECT_STORE", str(tmp_path / "env"))
    assert default_store().root == tmp_path / "env"
    assert default_store(tmp_path / "arg").root == tmp_path / "arg"


def test_get_or_compute_array_computes_once(tmp_path):
    store, calls = Store(tmp_path), []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    first = store.get_or_compute_array("m", {"task": "RTE"}, compute)
    again = store.get_or_compute_array("m", {"task": "RTE"}, compute)
    assert len(calls) == 1 and np.array_equal(first, again) and again.dtype == np.float32


def test_a_computed_array_records_its_cost(tmp_path, monkeypatch):
    from aux_select.runtime import cost as cost_module
    store, clock = Store(tmp_path), iter([100.0, 102.5])  # the computation starts, then ends 2.5 s later
    monkeypatch.setattr(cost_module.time, "perf_counter", lambda: next(clock))
    store.get_or_compute_array("m", {"task": "RTE"}, lambda: np.ones((4, 8)))
    monkeypatch.undo()
    cost = store.cost("m", {"task": "RTE"})
    assert cost["wall_time_s"] == 2.5 and cost["peak_memory_mb"] > 0 and cost["shape"] == [4, 8]
    assert cost["cpu_time_s"] >= 0  # process CPU seconds beside the wall time
    store.put_array("m", {"task": "MRPC"}, np.ones(3))  # stored without computing: no cost known
    assert store.cost("m", {"task": "MRPC"}) is None


def test_a_stale_value_is_computed_again(tmp_path):
    store = Store(tmp_path)
    store.put("run", SPEC, {"acc": 0.5})
    fresh = store.get_or_compute("run", SPEC, lambda: {"acc": 0.5, "predictions": [1]},
                                 stale=lambda v: "predictions" not in v)
    assert fresh == store.get("run", SPEC) == {"acc": 0.5, "predictions": [1]}
    assert store.get_or_compute("run", SPEC, lambda: {"acc": 0.0}, stale=lambda v: "predictions" not in v) == fresh


def test_content_hash_is_the_rows_not_the_history():
    from datasets import Dataset
    from aux_select.runtime.store import content_hash
    a = Dataset.from_dict({"text_a": ["x", "y", "z"], "label": [0, 1, 0]})
    same = Dataset.from_dict({"text_a": ["w", "x", "y", "z"], "label": [1, 0, 1, 0]}).select([1, 2, 3])
    assert a._fingerprint != same._fingerprint and content_hash(a) == content_hash(same)
    assert content_hash(a) != content_hash(a.select([0, 1]))
    assert content_hash(a) != content_hash(a.map(lambda r: {"label": 1 - r["label"]}))


def test_a_cpu_result_never_reads_cuda_memory(tmp_path, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with a GPU ...
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: pytest.fail("read CUDA for a CPU run"))
    array = Store(tmp_path).get_or_compute_array("m", {"x": 1}, lambda: np.ones(3), device="cpu")  # ... a CPU run
    assert array.tolist() == [1.0, 1.0, 1.0] and Store(tmp_path).cost("m", {"x": 1})["peak_memory_mb"] > 0


# ----------------------------------------------------------------------------- several writers

def test_a_result_stored_while_waiting_for_its_lock_is_read_not_computed(tmp_path, monkeypatch):
    import threading
    from aux_select.runtime.locks import KeyLock, LockConfig
    store = Store(tmp_path, LockConfig(poll_s=0.01))
    waiting, got, computed = threading.Event(), [], []
    stale = KeyLock._stale
    monkeypatch.setattr(KeyLock, "_stale", lambda self: waiting.set() or stale(self))  # a waiter looked

    with store.lock("run", make_key("run", SPEC)):  # another writer is computing it
        reader = threading.Thread(target=lambda: got.append(
            store.get_or_compute("run", SPEC, lambda: computed.append(1) or {"acc": 0.0})))
        reader.start()
        assert waiting.wait(30)
        store.put("run", SPEC, {"acc": 0.7})
    reader.join(30)
    assert got == [{"acc": 0.7}] and not computed
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [f"{make_key('run', SPEC)}.json"]  # no lock left


def test_a_lock_whose_holder_is_gone_is_broken(tmp_path):
    import socket
    import subprocess
    import sys
    from aux_select.runtime.locks import LockConfig
    store = Store(tmp_path, LockConfig(stale_after_s=0.2, poll_s=0.01))
    key = make_key("run", SPEC)
    lock = store.path("run", key, ".lock")
    lock.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # exited and reaped: its pid is free
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "time": 0, "token": "x"}))
    assert store.get_or_compute("run", SPEC, lambda: {"acc": 1}) == {"acc": 1}  # killed on this host
    assert not lock.exists()
    # another host's lock is judged by its heartbeat: one that stopped being touched is stale
    spec = {**SPEC, "seed": 9}
    other = store.path("run", make_key("run", spec), ".lock")
    other.write_text(json.dumps({"host": "elsewhere", "pid": 1, "time": 0, "token": "z"}))
    assert store.get_or_compute("run", spec, lambda: {"acc": 2}) == {"acc": 2}
    assert sorted(p.suffix for p in (tmp_path / "run").iterdir()) == [".json", ".json"]


def test_a_failed_computation_leaves_no_record_and_no_lock(tmp_path):
    store = Store(tmp_path)

    def crash():
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        store.get_or_compute("run", SPEC, crash)
    assert store.get("run", SPEC) is None and not list((tmp_path / "run").iterdir())
    assert store.get_or_compute("run", SPEC, lambda: {"acc": 1}) == {"acc": 1}  # the rerun is not blocked


def test_a_schema_3_store_moves_to_schema_4_keys_with_nothing_recomputed(tmp_path):
    from aux_select.runtime.migrate import migrate_store
    store = Store(tmp_path)
    train = {"device": "auto", "precision": "auto", "lr": 1e-3}
    old = {"tasks": ["RTE"], "train": train, "device": "cpu", "precision": "bf16"}  # resolved where keyed

    def write_schema_3(kind: str, spec: dict, value: dict) -> str:
        key = make_key(kind, spec, schema=3)
        record = {"kind": kind, "key": key, "spec": spec, "value": value, "created": "2026-11-01T00:00:00+00:00"}
        store.path(kind, key).parent.mkdir(parents=True, exist_ok=True)
        store.path(kind, key).write_text(json.dumps(record))
        return key

    run_key = write_schema_3("run", old, {"select_score": 0.7})
    matrix_key = write_schema_3("head_importance", {**old, "tasks": ["MRPC"]}, {"wall_time_s": 3.0})
    np.save(store.path("head_importance", matrix_key, ".npy"), np.eye(2))
    odd = store.path("run", "0123456789abcdef")
    odd.write_text(json.dumps({"kind": "run", "key": "0123456789abcdef", "spec": {"x": 1}, "value": {}, "created": ""}))
    (tmp_path / "SUPERSEDED").write_text(f"# made by older code\nrun/{run_key}\n")

    done = migrate_store(store, progress=False)
    new = {**old, "device": "auto", "precision": "auto"}  # what the profile asked for
    assert store.get("run", new) == {"select_score": 0.7} and store.get("run", old) is None
    assert json.loads(store.path("run", make_key("run", new)).read_text())["created"] == "2026-11-01T00:00:00+00:00"
    assert np.array_equal(store.get_array("head_importance", {**new, "tasks": ["MRPC"]}), np.eye(2))
    assert not store.path("head_importance", matrix_key, ".npy").exists()
    assert done.unknown == ["run/0123456789abcdef"] and odd.exists()  # not guessed at
    assert (tmp_path / "SUPERSEDED").read_text() == f"# made by older code\nrun/{make_key('run', new)}\n"
    again = migrate_store(store, progress=False)
    assert (again.moved, again.current) == ({}, 2)  # a second pass moves nothing


def test_dropping_patience_rekeys_only_runs_it_never_stopped(tmp_path):
    from aux_select.runtime.migrate import drop_patience
    store = Store(tmp_path)
    train = {"max_steps": 300, "eval_every": 50, "patience": 3}
    curve = [{"primary_step": s, "select_score": 0.5} for s in range(50, 301, 50)]
    whole = store.put("run", {"tasks": ["RTE"], "train": train}, {"history": curve, "stopped_at": None})
    searched = store.put("run", {"tasks": ["RTE", "MRPC"], "train": train},
                         {"history": curve[:3], "stopped_at": 150})        # the search rule's stop
    patient = store.put("run", {"tasks": ["CoLA"], "train": train},
                        {"history": curve[:4], "stopped_at": None})       # patience's stop
    search = store.put("gp_search", {"tasks": ["RTE", "MRPC"], "train": train}, {"trials": []})
    old = store.put("run", {"tasks": ["SST-2"], "train": train}, {"history": curve[:1], "stopped_at": None})
    (tmp_path / "SUPERSEDED").write_text(f"# older code\nrun/{old.stem}\n")

    done = drop_patience(store, progress=False)
    free = {**train, "patience": None}
    assert store.get("run", {"tasks": ["RTE"], "train": free})["history"] == curve
    assert store.get("run", {"tasks": ["RTE", "MRPC"], "train": free})["stopped_at"] == 150
    assert store.get("run", {"tasks": ["CoLA"], "train": free}) is None and not patient.exists()
    assert not search.exists() and not whole.exists() and not searched.exists() and old.exists()
    assert sorted(done.dropped) == sorted([f"run/{patient.stem}", f"gp_search/{search.stem}"])
    assert drop_patience(store, progress=False).moved == {}  # a second pass moves nothing
