"""The data catalogue a context holds (`data.catalogue.TaskCatalogue`), the context's memo, and
what may change on a context: every task comes from one catalogue, shared by the context's copies
and by the contexts one process rebuilds from pickles; nothing reads another object's privates."""
import ast
import pickle
from pathlib import Path

import pytest

from aux_select.analysis.budget import study_experiment
from aux_select.data.catalogue import TaskCatalogue
from aux_select.experiment.context import Experiment, Memo, as_experiment, executor_for, warn_without_store
from aux_select.experiment.profiles import get_profile, override

PACKAGE = Path(__file__).resolve().parents[1] / "aux_select"


def test_a_catalogue_loads_each_task_once_and_serves_what_it_is_given(fixture_data_dir):
    smoke = get_profile("smoke")
    catalogue = TaskCatalogue(fixture_data_dir, smoke.data_kwargs())
    wnli = catalogue.task("WNLI")
    assert catalogue.task("WNLI") is wnli and len(wnli.train) == 48  # smoke's train cap
    assert catalogue.tasks(["WNLI", "RTE"])[0] is wnli
    assert catalogue.split_hash(wnli.train) == catalogue.split_hash(wnli.train)
    other = type(wnli)(**{**wnli.__dict__, "train": wnli.train.select(range(10))})
    catalogue.use_task(other)
    assert catalogue.task("WNLI") is other and catalogue.split_hash(other.train) != catalogue.split_hash(wnli.train)
    assert catalogue.candidates("RTE", pool="glue") == ["CoLA", "SST-2", "MRPC", "MNLI-proxy", "QNLI-proxy", "WNLI"]
    assert catalogue.serves(str(fixture_data_dir), None, smoke.data_kwargs(), smoke.controls)
    assert not catalogue.serves(fixture_data_dir, None, get_profile("cpu").data_kwargs(), smoke.controls)
    with pytest.raises(ValueError, match="name the primary"):
        TaskCatalogue(fixture_data_dir, controls="MRPC~clone")


def test_copies_of_a_context_share_its_catalogue_and_memo(fixture_data_dir):
    exp = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    assert isinstance(exp.memo, Memo) and not hasattr(exp, "_cache")
    for copy in (exp.with_seed(1), as_experiment(exp, store=None, progress=True)):
        assert copy.catalogue is exp.catalogue and copy.memo is exp.memo and copy.task("RTE") is exp.task("RTE")
    fresh = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    assert fresh.catalogue is not exp.catalogue and fresh.memo is not exp.memo
    with pytest.warns(UserWarning, match="without a store"):
        warn_without_store(exp, "this test")
    assert exp.memo.warned and exp.with_seed(2).memo.warned  # one warning for the context and its copies
    assert executor_for(exp).map(lambda e, x: x + 1, exp, [1]) == [2] and exp.memo.executors == {}  # serial: none kept


def test_the_budget_study_changes_the_profile_as_every_caller_does(fixture_data_dir):
    exp = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    study = study_experiment(exp, 1e-3, 8, 4)
    assert study.profile.train.max_steps == 8 and study.profile.train.patience is None
    assert study.catalogue is exp.catalogue and study.memo is exp.memo and study.seed == exp.seed
    assert as_experiment(exp, profile=study.profile).profile == study.profile
    with pytest.raises(ValueError, match="loads its data differently"):
        as_experiment(exp, profile=override("smoke", ["train_cap=10"]))
    with pytest.raises(ValueError, match="fixes data_dir and controls"):
        as_experiment(exp, controls="MRPC")


def test_contexts_rebuilt_in_one_process_share_one_catalogue(fixture_data_dir, tmp_path):
    exp = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    study = study_experiment(exp, 1e-3, 8, 4)  # another profile, the same data settings
    a, b = pickle.loads(pickle.dumps(exp)), pickle.loads(pickle.dumps(study.with_seed(5)))
    assert a.catalogue is b.catalogue and a.catalogue is not exp.catalogue and b.seed == 5
    assert (b.profile, b.data_dir) == (study.profile, fixture_data_dir) and a.memo is not b.memo
    assert a.task("WNLI").train.to_dict() == exp.task("WNLI").train.to_dict()
    controls = pickle.loads(pickle.dumps(Experiment("smoke", data_dir=fixture_data_dir, controls="MRPC")))
    assert controls.catalogue is not a.catalogue and controls.candidates("MRPC")[-1] == "MRPC~shuffle"


def test_nothing_reads_another_objects_private_attributes():
    """`x._name` only on self or cls (a library's own private, torch's, aside)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
                root = node.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                if not own and not (isinstance(root, ast.Name) and root.id == "torch"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found
