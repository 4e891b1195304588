import pytest

from aux_select import experiment
from aux_select.baselines import default_candidates, no_sel, single_task
from aux_select.experiment import check_pool, load_tasks, mtl_run
from aux_select.profiles import PROFILES, get_profile
from aux_select.store import Store


def test_profiles():
    assert set(PROFILES) == {"smoke", "cpu", "paper"}
    assert get_profile("cpu").encoder.name == "minilm" and get_profile("smoke").encoder.name == "tiny-bert"
    assert get_profile(PROFILES["cpu"]) is PROFILES["cpu"]
    with pytest.raises(ValueError, match="choose one of smoke, cpu, paper"):
        get_profile("gpu")


@pytest.mark.parametrize("primary, candidates, message", [
    ("RTE", ["MRPC", "RTE"], "among its own candidates"),
    ("RTE", ["MRPC", "MRPC"], "name a task twice"),
    ("RTE", [], "at least one"),
])
def test_bad_pools_stop_before_training(primary, candidates, message):
    with pytest.raises(ValueError, match=message):
        check_pool(primary, candidates)


@pytest.mark.data
def test_profile_caps_apply(data_dir):
    rte, = load_tasks(["RTE"], "smoke", data_dir)
    smoke = get_profile("smoke")
    assert (len(rte.train), len(rte.select), len(rte.report)) == (smoke.train_cap, smoke.select_cap, smoke.report_cap)


@pytest.mark.data
def test_runs_are_stored_and_reused(data_dir, tmp_path, monkeypatch):
    store = Store(tmp_path)
    first = single_task("WNLI", profile="smoke", data_dir=data_dir, store=store, progress=False)
    assert len(store.records("run")) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(experiment, "run_mtl", no_training)
    again = single_task("WNLI", profile="smoke", data_dir=data_dir, store=store, progress=False)
    assert again == first
    with pytest.raises(AssertionError, match="trained again"):  # another seed is another run
        single_task("WNLI", profile="smoke", seed=1, data_dir=data_dir, store=store, progress=False)


@pytest.mark.data
def test_a_run_stored_without_report_predictions_is_trained_again(data_dir, tmp_path):
    store = Store(tmp_path)
    first = single_task("WNLI", profile="smoke", data_dir=data_dir, store=store, progress=False)
    record = store.records("run")[0]
    old = {k: v for k, v in record["value"].items() if k not in ("report_predictions", "report_labels")}
    store.put("run", record["spec"], old)  # as runs were stored before predictions were kept
    again = single_task("WNLI", profile="smoke", data_dir=data_dir, store=store, progress=False)
    assert again.report_predictions == first.report_predictions and len(again.report_predictions) == 32
    assert "report_predictions" in store.records("run")[0]["value"]


@pytest.mark.data
def test_no_sel_uses_every_available_candidate_uniformly(data_dir):
    candidates = default_candidates("RTE", data_dir)
    assert "RTE" not in candidates and "MNLI-proxy" in candidates and "QQP" not in candidates
    result = no_sel("RTE", ["WNLI", "MRPC"], profile="smoke", data_dir=data_dir, progress=False)
    assert result.tasks == ["RTE", "WNLI", "MRPC"] and result.ratio == [1, 1, 1]
    assert set(result.examples_seen) == {"RTE", "WNLI", "MRPC"}
    with pytest.raises(ValueError, match="among its own candidates"):
        no_sel("RTE", ["RTE"], profile="smoke", data_dir=data_dir)


@pytest.mark.data
def test_mtl_run_rejects_bad_ratio_before_loading(data_dir):
    with pytest.raises(ValueError, match="primary's entry must be >= 1"):
        mtl_run(["RTE", "WNLI"], [0, 1], profile="smoke", data_dir=data_dir)
