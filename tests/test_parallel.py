"""Dask executors: a LocalCluster of two single-threaded worker processes gives the serial run's
results, computes a key two workers need once, and survives a worker killed mid-run."""
import json
import os
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import torch

from aux_select.methods.gradts import importance as gradts
from aux_select.methods.autosem import stage2 as mixing
from aux_select.methods.registry import method_names
from aux_select.methods.run import run_methods
from aux_select.runtime.executor import DaskExecutor, UnitFailed, make_executor
from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import override
from aux_select.runtime.store import Store

pytest.importorskip("distributed")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module

POOL = ["WNLI", "MRPC", "CoLA"]
# smoke, shortened: every method still runs every part of its pipeline
SMOKE = override("smoke", ["gp.calls=3", "bandit.rounds=3", "importance.warmup_max_steps=4", "train.max_steps=6"])


@pytest.fixture(scope="module")
def local2():
    """One "local:2" cluster for the module (starting one costs seconds); a unit whose worker dies
    is retried once, then reported."""
    import dask
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        executor = make_executor("local:2")
    yield executor
    executor.close()


def contexts(tmp_path: Path, fixture_data_dir: Path, executor) -> tuple[Experiment, Experiment]:
    make = lambda name, ex: Experiment(SMOKE, data_dir=fixture_data_dir, store=Store(tmp_path / name),
                                       progress=False, executor=ex)
    return make("serial", "serial"), make("parallel", executor)


def outcome(result) -> dict:
    """A method's result without what it cost (wall time and memory differ from run to run)."""
    d = result.to_json()
    return d | {"parts": [p["what"] for p in d["parts"]]}


def test_every_method_on_two_workers_gives_the_serial_results(local2, fixture_data_dir, tmp_path):
    serial, parallel = contexts(tmp_path, fixture_data_dir, local2)
    names = ["RTE", *POOL]
    matrices = gradts.importance_matrices(names, parallel)  # fanned out: one unit per task
    expected = run_methods("RTE", None, [0, 1], POOL, serial)
    got = run_methods("RTE", None, [0, 1], POOL, parallel)
    assert [outcome(r) for r in got.results] == [outcome(r) for r in expected.results]  # scores, selections, ratios
    assert len(got.results) == 2 * len(method_names()) and {r.seed for r in got.results} == {0, 1}
    assert all(np.array_equal(matrices[n], gradts.importance_matrices(names, serial)[n]) for n in names)
    assert not list(parallel.store.root.rglob("*.lock")) and not (parallel.store.root / "run_checkpoints").exists()


def test_autosems_search_runs_on_the_driver_and_sends_each_point_as_a_unit(local2, fixture_data_dir, tmp_path,
                                                                             monkeypatch):
    serial, parallel = contexts(tmp_path, fixture_data_dir, local2)
    sent, real_map = [], DaskExecutor.map

    def recording_map(self, unit, exp, items, on_result=None):
        sent.extend((unit.__name__, item) for item in items)
        return real_map(self, unit, exp, items, on_result)

    monkeypatch.setattr(DaskExecutor, "map", recording_map)
    got = run_methods("RTE", ["AutoSeM"], [0], POOL, parallel)
    assert [outcome(r) for r in got.results] == [outcome(r) for r in run_methods("RTE", ["AutoSeM"], [0], POOL, serial).results]
    units = [name for name, _ in sent]
    assert units.count("_stage1_unit") == 1 and units.count("_trial_unit") == SMOKE.gp.calls  # a unit per point
    assert not any(name == "call" and item[2][2] == "AutoSeM" for name, item in sent)  # never the whole search


def test_a_batched_gp_search_on_two_workers_gives_its_serial_result(local2, fixture_data_dir, tmp_path):
    serial, parallel = contexts(tmp_path, fixture_data_dir, local2)
    expected = mixing.run_stage2("WNLI", ["MRPC", "CoLA"], serial, n_calls=4, batch_size=2)
    got = mixing.run_stage2("WNLI", ["MRPC", "CoLA"], parallel, n_calls=4, batch_size=2)
    assert got.to_json() == expected.to_json() and len({tuple(t.ratio) for t in got.trials}) == 4


def barrier_unit(exp: Experiment, item: tuple) -> dict:
    """Both units ask for one key; the first to compute it waits until the other has asked too."""
    me, other = item
    root = exp.store.root
    (root / f"asked-{me}").touch()

    def compute() -> dict:
        (root / f"computed-{me}").touch()
        for _ in range(600):  # the other unit is then blocked on the key's lock, or reads the result
            if (root / f"asked-{other}").exists():
                break
            time.sleep(0.05)
        return {"by": me}

    value = exp.store.get_or_compute("unit", {"key": "shared"}, compute)
    return {"value": value, "pid": os.getpid(), "torch_threads": torch.get_num_threads(),
            "omp": os.environ.get("OMP_NUM_THREADS")}


def test_two_workers_asked_for_one_key_compute_it_once(local2, tmp_path):
    exp = Experiment("smoke", store=Store(tmp_path), progress=False, executor=local2)
    a, b = exp.map(barrier_unit, [("a", "b"), ("b", "a")])
    assert a["value"] == b["value"] and len(list(tmp_path.glob("computed-*"))) == 1
    assert a["pid"] != b["pid"] and os.getpid() not in (a["pid"], b["pid"])  # two worker processes
    assert (a["torch_threads"], a["omp"]) == (b["torch_threads"], b["omp"]) == (1, "1")


def dying_unit(exp: Experiment, item: tuple) -> dict:
    """A unit whose worker process dies mid-computation: "once" on its first attempt only,
    "while-told" as long as the file `kill` exists. Every attempt is counted in a file."""
    name, mode = item
    root = exp.store.root

    def compute() -> dict:
        with open(root / f"attempts-{name}", "a") as f:
            f.write("x")
        once = mode == "once" and not (root / f"died-{name}").exists()
        if once or (mode == "while-told" and (root / "kill").exists()):
            (root / f"died-{name}").touch()
            os._exit(1)  # as an OOM kill or a preemption would: no cleanup, the key's lock left behind
        return {"name": name}

    return exp.store.get_or_compute("unit", {"name": name}, compute)


def test_a_killed_worker_is_retried_or_reported_and_a_rerun_finishes(local2, tmp_path):
    exp = Experiment("smoke", store=Store(tmp_path), progress=False, executor=local2)
    items = [("a", "never"), ("b", "once"), ("c", "while-told")]
    (tmp_path / "kill").touch()
    with pytest.raises(UnitFailed, match=r"1 of 3 units failed.*\n  dying_unit\(\('c', 'while-told'\)\): KilledWorker"):
        exp.map(dying_unit, items)
    attempts = lambda name: len((tmp_path / f"attempts-{name}").read_text())
    assert (attempts("a"), attempts("b"), attempts("c")) == (1, 2, 2)  # b retried by Dask; c once, then reported
    assert exp.store.get("unit", {"name": "b"}) == {"name": "b"} and exp.store.get("unit", {"name": "c"}) is None
    assert len(list((tmp_path / "unit").glob("*.lock"))) == 1  # c's, held by a dead process
    (tmp_path / "kill").unlink()
    assert exp.map(dying_unit, items) == [{"name": n} for n in "abc"]  # the rerun of the same command
    assert (attempts("a"), attempts("b"), attempts("c")) == (1, 2, 3)  # only c was computed again
    assert not list((tmp_path / "unit").glob("*.lock"))


def test_a_dask_executor_needs_a_store(local2):
    with pytest.raises(ValueError, match="needs a store"):
        Experiment("smoke", executor=local2).map(barrier_unit, [("a", "b")])
    assert make_executor(local2) is local2 and isinstance(make_executor(local2.client), DaskExecutor)


def test_reproduce_fans_each_primary_out_on_the_executor_then_reads_it_back(fixture_data_dir, tmp_path, monkeypatch):
    from aux_select.experiment import context as experiment
    from aux_select.reproduce import cli
    methods = ["Single-Task", "NO-SEL"]
    monkeypatch.setattr(cli, "aggregate", lambda *args, **kwargs: {})
    cli.main(["--primaries", "WNLI", "--seeds", "0", "1", "--profile", "smoke", "--executor", "local:2",
              "--methods", *methods, "--set", *SMOKE.overrides, "--data-dir", str(fixture_data_dir),
              "--out-dir", str(tmp_path / "out"), "--figures-dir", str(tmp_path / "figures"),
              "--store-dir", str(tmp_path / "store")])
    monkeypatch.setattr(experiment, "run_mtl", lambda *a, **k: pytest.fail("a stored run was trained again"))
    exp = Experiment(SMOKE, data_dir=fixture_data_dir, store=Store(tmp_path / "store"), progress=False)
    again = run_methods("WNLI", methods, [0, 1], None, exp)
    written = json.loads(next((tmp_path / "out").glob("compare_WNLI.json")).read_text())
    assert [r["select_score"] for r in written["results"]] == [r.select_score for r in again.results]
