"""The budget rule (DESIGN §4): every run of every method gives the primary all its own steps,
auxiliary batches on top, and no run trains more than the profile's K times them (to within the
cycle it ends in); `largest_runs` says what that allows each kind of mix."""
import json

import pytest

from aux_select.experiment.context import Experiment
from aux_select.methods.registry import method_names
from aux_select.methods.run import run_methods
from aux_select.runtime.store import Store


@pytest.mark.slow
def test_no_stored_run_of_any_method_gives_the_primary_fewer_own_steps_than_single_task(fixture_data_dir, tmp_path):
    store = Store(tmp_path / "store")
    exp = Experiment("smoke", data_dir=fixture_data_dir, store=store, progress=False)
    candidates = exp.candidates("RTE")
    assert len(candidates) >= 4  # NO-SEL's 1:1:…:1 would pass K = 4: its mix must give the primary more
    comparison = run_methods("RTE", candidates=candidates, exp=exp)
    assert [r.method for r in comparison.results] == method_names()
    runs = [json.loads(p.read_text())["value"] for p in (tmp_path / "store" / "run").glob("*.json")]
    alone = [r for r in runs if r["tasks"] == ["RTE"]]
    assert len(alone) == 1 and len(runs) > 10
    k, steps = exp.profile.train.max_total_factor, alone[0]["primary_steps"]
    assert steps == exp.profile.train_config("RTE", 0).max_steps  # smoke stops no run early
    for run in runs:
        assert run["primary_steps"] >= steps, run["ratio"]
        # K bounds the batches of each cycle: the last cycle, cut where the primary's steps end, can
        # hold a few more auxiliary batches than its share (round-robin puts them first)
        assert run["steps"] <= k * run["primary_steps"] + sum(run["ratio"]), run["ratio"]
    no_sel = next(r for r in comparison.results if r.method == "NO-SEL")
    assert no_sel.ratio[0] > 1 and sum(no_sel.ratio) / no_sel.ratio[0] <= k


def test_largest_runs_name_every_kind_of_mix_and_none_passes_k_by_more_than_a_cycle():
    from aux_select.analysis.budget import largest_runs
    from aux_select.experiment.profiles import get_profile
    smoke = get_profile("smoke")
    table = largest_runs(smoke, "RTE", n_candidates=5, max_selected=2)
    steps, k = smoke.train_config("RTE", 0).max_steps, smoke.train.max_total_factor
    assert table.loc["single-task", "steps"] == steps
    assert table.loc["uniform, 5 auxiliaries", "ratio"] == [2, 1, 1, 1, 1, 1]
    assert all(row.steps <= k * steps + sum(row.ratio) for row in table.itertuples())
    assert table.loc["GP's longest, 2 selected", "steps"] > table.loc["uniform, 2 auxiliaries", "steps"]
