"""Your own task in one call (`data.task_from_file`, `data.task_from_dataset`): the readers' checks,
labels found from the data, regression, a Dataset, and the task wherever a built-in one goes: as
the primary with GLUE candidates, in store keys, in a pickled context in another process, on a
Dask worker and through notebook 03 (README "Your own task")."""
import json
import pickle
import subprocess
import sys
from pathlib import Path

import papermill
import pytest
from datasets import ClassLabel, Dataset, Features, Value

from aux_select.data import TaskCatalogue, get_task, own_tasks, task_from_dataset, task_from_file
from aux_select.data.own_task import OBJECTIVE_METRICS
from aux_select.data.readers import DataFormatError
from aux_select.data.registry import REGISTRY
from aux_select.experiment.context import Experiment
from aux_select.runtime.store import Store, content_hash
from aux_select.train.metrics import METRICS

MY_TASK = Path(__file__).resolve().parent / "fixtures" / "my_task.csv"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# what the fixture data provides of the GLUE pool (QQP has no files; MNLI and QNLI only dev files)
GLUE = ["CoLA", "SST-2", "MRPC", "MNLI-proxy", "QNLI-proxy", "RTE", "WNLI"]

pytestmark = pytest.mark.usefixtures("registry_guard")  # every task registered here is forgotten after


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_becomes_a_task_with_labels_found_in_the_data():
    spec = task_from_file(MY_TASK, "MyTask")
    assert get_task("MyTask") == spec and own_tasks() == (spec,)
    assert spec.labels == ("negative", "positive") and spec.text_keys == ("sentence",)
    assert (spec.selection_metric, spec.glue_type, spec.train_size) == ("accuracy", "single-sentence", 80)
    assert task_from_file(MY_TASK, "MyTask") == spec  # the same file again: nothing changes
    with pytest.raises(ValueError, match="'RTE' is already registered"):
        task_from_file(MY_TASK, "RTE")


def test_numeric_labels_sort_as_numbers_and_an_own_task_can_be_replaced(tmp_path):
    path = write(tmp_path / "n.tsv", "sentence\tlabel\n" + "".join(f"s {i}\t{i % 3 * 5}\n" for i in range(30)))
    assert task_from_file(path, "Numbers").labels == ("0", "5", "10")
    write(path, "sentence\tlabel\n" + "".join(f"s {i}\t{i % 2}\n" for i in range(30)))
    assert task_from_file(path, "Numbers").labels == ("0", "1") == get_task("Numbers").labels  # the file changed


def test_a_bad_row_names_its_file_and_line(tmp_path):
    rows = "".join(f"row {i},positive\n" for i in range(5))
    bad = write(tmp_path / "short.csv", "sentence,label\n" + rows + "no label here\n")
    with pytest.raises(DataFormatError, match=rf"{bad}:7: expected 2 comma-separated columns, found 1"):
        task_from_file(bad, "Bad")
    blank = write(tmp_path / "blank.csv", "sentence,label\n" + rows + "a row with no label,\n" + "x,negative\n")
    with pytest.raises(DataFormatError, match=rf"{blank}:7: label '' is not one of \['negative', 'positive'\]"):
        task_from_file(blank, "Blank")
    with pytest.raises(DataFormatError, match=rf"{blank}:2: label 'positive' is not one of \['neg', 'pos'\]"):
        task_from_file(blank, "Blank", labels=["neg", "pos"])
    score = write(tmp_path / "score.jsonl", '{"s": "a", "y": 0.5}\n{"s": "b", "y": "high"}\n')
    with pytest.raises(DataFormatError, match=rf"{score}:2: score 'high' is not a number"):
        task_from_file(score, "Score", text="s", label="y", objective="regression")
    report = write(tmp_path / "report.csv", "sentence,label\nfine,positive\nodd,neutral\n")
    with pytest.raises(DataFormatError, match=rf"{report}:3: label 'neutral'"):  # the report file too
        task_from_file(MY_TASK, "WithReport", report_file=report)
    assert "Bad" not in REGISTRY and "WithReport" not in REGISTRY  # nothing registered from a bad file


def test_an_unknown_column_names_the_columns_there_are(tmp_path):
    with pytest.raises(DataFormatError, match=r"my_task.csv:2: no column 'text'; columns are \['label', 'sentence'\]"):
        task_from_file(MY_TASK, "MyTask", text="text")
    with pytest.raises(DataFormatError, match=r"no column 'y'; columns are \['label', 'sentence'\]"):
        task_from_file(MY_TASK, "MyTask", label="y")
    one = write(tmp_path / "one.csv", "sentence,label\na,x\nb,x\n")
    with pytest.raises(DataFormatError, match="one class"):
        task_from_file(one, "One")


def test_settings_that_cannot_fit_are_refused():
    with pytest.raises(ValueError, match="does not score classification"):
        task_from_file(MY_TASK, "MyTask", metric="pearson")
    with pytest.raises(ValueError, match="classification or regression"):
        task_from_file(MY_TASK, "MyTask", objective="tagging")
    with pytest.raises(ValueError, match="csv, tsv, jsonl"):
        task_from_file(MY_TASK.with_suffix(".txt"), "MyTask")
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        task_from_file(MY_TASK.with_name("nowhere.csv"), "MyTask")
    assert {m for ms in OBJECTIVE_METRICS.values() for m in ms} <= set(METRICS)  # each one a metric the trainer has


def test_a_regression_pair_loads_with_report_held_out(tmp_path):
    lines = "".join(f"a {i}\tb {i}\t{i / 10}\n" for i in range(50))
    path = write(tmp_path / "pairs.tsv", "s1\ts2\tscore\n" + lines)
    spec = task_from_file(path, "Pairs", text="s1,s2", label="score", objective="regression")
    assert (spec.labels, spec.metrics, spec.glue_type, spec.is_pair) == (None, ("pearson",), "sentence pair", True)
    task = Experiment("smoke", progress=False).task("Pairs")  # no data root needed: the file is named in full
    assert (len(task.report), len(task.select) + len(task.train)) == (10, 40)  # 20 % held out as report
    assert "no dev file" in task.notes and task.train.features["label"].dtype == "float32"


def test_a_dataset_becomes_a_task_through_a_file(tmp_path):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["bad", "good"])})
    ds = Dataset.from_dict({"text": [f"t {i}" for i in range(40)], "label": [i % 2 for i in range(40)]}, features)
    report = ds.select(range(10))
    spec = task_from_dataset(ds, "FromDataset", report=report, text="text", folder=tmp_path)
    assert spec.labels == ("bad", "good") and Path(spec.local_train.path).parent == tmp_path
    assert task_from_dataset(ds, "FromDataset", report=report, text="text", folder=tmp_path) == spec  # written once
    task = Experiment("smoke", progress=False).task("FromDataset")
    assert list(task.report["label"]) == list(report["label"]) and list(task.report["text_a"]) == list(report["text"])
    with pytest.raises(DataFormatError, match=r"no column 'sentence'; columns are \['label', 'text'\]"):
        task_from_dataset(ds, "NoText", folder=tmp_path)


def test_the_primary_with_glue_candidates_and_store_keys_by_content(fixture_data_dir, tmp_path):
    task_from_file(MY_TASK, "MyTask")
    exp = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    assert exp.candidates("MyTask") == GLUE
    task = exp.task("MyTask")
    assert (len(task.select), len(task.report)) == (6, 16)  # 80 rows: 16 held out as report, 10 % of the rest
    assert exp.task_key(task) == {"name": "MyTask"} | {s: content_hash(getattr(task, s)) for s in
                                                        ("train", "select", "report")}
    moved = write(tmp_path / "moved.csv", MY_TASK.read_text())
    task_from_file(moved, "MyTask")  # the same rows elsewhere: the same keys (a key names content, not a path)
    assert exp.task_key(Experiment("smoke", data_dir=fixture_data_dir).task("MyTask")) == exp.task_key(task)
    task_from_file(write(tmp_path / "lower.csv", MY_TASK.read_text().lower()), "MyTask")
    lower = exp.task_key(Experiment("smoke", data_dir=fixture_data_dir).task("MyTask"))
    assert all(lower[s] != exp.task_key(task)[s] for s in ("train", "select", "report"))  # every row changed


def test_a_context_sends_the_spec_and_another_process_reads_the_file(fixture_data_dir, tmp_path):
    task_from_file(MY_TASK, "MyTask")
    exp = Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path), progress=False)
    sent = pickle.dumps(exp)
    assert str(MY_TASK).encode() in sent and b"exhibit" not in sent  # the spec, not the rows
    code = ("import pickle, sys; exp = pickle.loads(sys.stdin.buffer.read()); t = exp.task('MyTask'); "
            "print(t.spec.labels, len(t.train), exp.task_key(t)['train'])")
    out = subprocess.run([sys.executable, "-c", code], input=sent, capture_output=True, check=True).stdout.decode()
    task = exp.task("MyTask")
    assert out.split() == ["('negative',", "'positive')", str(len(task.train)), exp.task_key(task)["train"]]


def test_a_catalogue_made_before_the_registration_does_not_hold_it(fixture_data_dir):
    before = TaskCatalogue(fixture_data_dir)
    spec = task_from_file(MY_TASK, "MyTask")
    assert before.own == () and TaskCatalogue(fixture_data_dir).own == (spec,)


def load_my_task(exp: Experiment, name: str) -> tuple:
    task = exp.task(name)
    return len(task.train), exp.task_key(task)


@pytest.mark.slow
def test_an_own_task_on_a_dask_worker(fixture_data_dir, tmp_path):
    pytest.importorskip("distributed")
    import cloudpickle
    from aux_select.runtime.executor import make_executor
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker cannot import this test module
    task_from_file(MY_TASK, "MyTask")
    executor = make_executor("local:1")
    try:
        exp = Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path), progress=False, executor=executor)
        assert exp.map(load_my_task, ["MyTask"]) == [load_my_task(exp, "MyTask")]
    finally:
        executor.close()


@pytest.mark.slow
def test_notebook_03_with_a_csv_as_the_primary(fixture_data_dir, tmp_path):
    """The README's command: papermill notebooks/03_gp_mixing.ipynb out.ipynb -p task_file my.csv -p primary MyTask."""
    out_dir = tmp_path / "out"
    papermill.execute_notebook(str(NOTEBOOKS / "03_gp_mixing.ipynb"), str(tmp_path / "03.ipynb"), progress_bar=False,
                               execution_timeout=300,
                               parameters={"task_file": str(MY_TASK), "primary": "MyTask", "profile": "smoke",
                                           "data_dir": str(fixture_data_dir), "out_dir": str(out_dir),
                                           "figures_dir": str(tmp_path / "figures"),
                                           "store_dir": str(tmp_path / "store")})
    summary = json.loads((out_dir / "gp_mixing_MyTask.json").read_text())
    assert summary["primary"] == "MyTask" and summary["candidates"] == GLUE
    assert summary["stage2"]["tasks"][0] == "MyTask" and set(summary["stage2"]["tasks"][1:]) <= set(GLUE)
    runs = Store(tmp_path / "store").records("run")
    assert runs and all(r["spec"]["tasks"][0]["name"] == "MyTask" for r in runs)
