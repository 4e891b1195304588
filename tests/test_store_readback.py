"""Nothing about a committed result changes with the code's layout: every summary under results/cpu
is recomputed from the committed store alone (a store that refuses to train or to store anything
new), equals what is committed, and every entry of the store is read back under the key the
current code computes, but those listed in the store's SUPERSEDED file (made by the code before
issue 29, whose summaries are kept apart in results/cpu-capped)."""
from __future__ import annotations

import json
from operator import itemgetter
from pathlib import Path

import pytest

from aux_select.analysis import run_control_benchmark
from aux_select.experiment import Experiment, override
from aux_select.methods import run_methods
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.autosem.stage2 import run_stage2, trial_run
from aux_select.runtime.store import Store, jsonable, make_key

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "results" / "cpu" / "store"
# each committed summary folder and the profile settings it was made with (README "Precision")
SUMMARIES = {"cpu": []}


class ReadOnlyStore(Store):
    """The committed store, read only: a result it lacks raises (naming the key) instead of being
    computed, and every key read is recorded."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.read: set[tuple[str, str]] = set()

    def get(self, kind, spec):
        value = super().get(kind, spec)
        if value is not None:
            self.read.add((kind, make_key(kind, spec)))
        return value

    def get_array(self, kind, spec):
        array = super().get_array(kind, spec)
        if array is not None:
            self.read.add((kind, make_key(kind, spec)))
        return array

    def put(self, kind, spec, value):
        if self.get(kind, spec) != jsonable(value, "value"):  # re-putting what is stored is a no-op
            raise LookupError(f"{kind} {make_key(kind, spec)} is not in the committed store: the current code "
                              f"computes another key (or another value) for {json.dumps(jsonable(spec))[:300]}")
        return self.path(kind, make_key(kind, spec))

    def put_array(self, kind, spec, array):
        raise LookupError(f"{kind} array {make_key(kind, spec)} is not in the committed store")


def stored_keys(root: Path) -> set[tuple[str, str]]:
    return {(p.parent.name, p.stem) for p in root.glob("*/*.json")}


def comparison_summaries() -> list[tuple[str, Path]]:
    return [(label, p) for label in SUMMARIES for p in sorted((ROOT / "results" / label).glob("compare_*.json"))]


@pytest.mark.slow
@pytest.mark.data
def test_every_committed_summary_and_store_entry_is_read_back_unchanged(data_dir):
    store = ReadOnlyStore(STORE)
    for label, path in comparison_summaries():
        committed = json.loads(path.read_text())
        settings = committed["settings"]
        exp = Experiment(override("cpu", SUMMARIES[label]), data_dir=data_dir, store=store, progress=False)
        for seed in settings["seeds"]:  # a merged summary may hold more methods at one seed than another
            held = [r for r in committed["results"] if r["seed"] == seed]
            methods = [m for m in settings["methods"] if any(r["method"] == m for r in held)]
            again = run_methods(committed["primary"], methods, [seed], settings["candidates"], exp)
            by_method = itemgetter("method", "seed")
            assert json.dumps(sorted(again.to_json()["results"], key=by_method)) == \
                json.dumps(sorted(held, key=by_method)), f"{path.name} seed {seed}"  # NaN-safe
    for path in sorted((ROOT / "results" / "cpu").glob("controls_*.json")):
        committed = json.loads(path.read_text())
        settings = committed["comparison"]["settings"]
        exp = Experiment("cpu", data_dir=data_dir, store=store, progress=False)
        candidates = [c for c in settings["candidates"] if "~" not in c]
        again = run_control_benchmark(committed["primary"], settings["methods"], committed["seeds"], candidates, exp)
        same = json.dumps(again.to_json()["runs"]) == json.dumps(committed["runs"])  # NaN (CPU not recorded) != NaN
        assert same and again.truth == committed["truth"], path.name
        assert again.comparison.to_json()["results"] == committed["comparison"]["results"], path.name
    # the main job (`make demo`: notebook 03 for RTE) stores no summary of its own under results/cpu
    exp = Experiment("cpu", data_dir=data_dir, store=store, progress=False)
    run_methods("RTE", ["Single-Task", "AutoSeM-p1", "AutoSeM"], [0], None, exp)
    # stage 2 at full fidelity beside the profile's stopped search (benchmarks/multi_fidelity.py; RTE's
    # is the demo's search from before search_stop), its points' runs included
    whole = Experiment(override("cpu", ["search_stop.enabled=false"]), data_dir=data_dir, store=store, progress=False)
    for primary in ("MRPC", "RTE"):
        search = run_stage2(primary, run_stage1(primary, whole.candidates(primary), whole).selected, whole)
        assert all(trial_run(whole, search.tasks, t).stopped_at is None for t in search.trials)
    superseded = {tuple(line.split("/")) for line in (STORE / "SUPERSEDED").read_text().splitlines()
                  if line and not line.startswith("#")}
    unread = sorted(stored_keys(STORE) - store.read - superseded)
    assert not unread, f"{len(unread)} committed store entries are not read back under the current keys: {unread[:10]}"
