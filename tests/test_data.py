import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value
from transformers import AutoTokenizer

from aux_select.data import loading as data_mod
from aux_select.data.batching import make_loader, tokenize
from aux_select.data.loading import DataNotFoundError, HubSchemaError, available_tasks, load_task
from aux_select.data.statistics import task_statistics
from aux_select.experiment.profiles import get_profile
from aux_select.model.encoders import bundled_minilm_path
from aux_select.data.readers import DataFormatError, read_local_file
from aux_select.data.synthetic import synthetic_task
from aux_select.data.registry import (GLUE_CLASSIFICATION, POOLS, LocalFile, TaskSpec, get_task, register_task, task_names)

# official row counts (../shared/data/README.md): train, dev
REAL_COUNTS = {"CoLA": (8551, 1043), "SST-2": (67349, 872), "MRPC": (3668, 408),
               "STS-B": (5749, 1500), "RTE": (2490, 277), "WNLI": (635, 71)}


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(bundled_minilm_path())


# ------------------------------------------------------------------ registry

def test_registry_has_the_nine_glue_tasks():
    glue = {"CoLA", "SST-2", "MRPC", "QQP", "STS-B", "MNLI", "QNLI", "RTE", "WNLI"}
    assert glue <= set(task_names())
    assert set(GLUE_CLASSIFICATION) == glue - {"STS-B"}
    assert get_task("STS-B").objective == "regression" and get_task("STS-B").labels is None
    assert get_task("MNLI").num_labels == 3
    assert {get_task(t).glue_type for t in glue} == {"single-sentence", "paraphrase", "inference"}
    for t in glue:
        spec = get_task(t)
        assert spec.selection_metric in spec.metrics


def test_unknown_task_lists_known_ones():
    with pytest.raises(ValueError, match="known tasks: CoLA, SST-2"):
        get_task("RTF")


# ------------------------------------------------------------------ real files

@pytest.mark.data
@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_real_row_counts(data_dir, name):
    task = load_task(name, data_dir, select_cap=None)
    train, dev = REAL_COUNTS[name]
    assert len(task.train) + len(task.select) == train
    assert len(task.select) == round(0.1 * train)
    assert len(task.report) == dev
    assert task.notes == "complete"


@pytest.mark.data
def test_real_parser_quirks(data_dir):
    # the real files' own facts; the parsing behaviour itself is tested on the fixtures below
    mrpc = read_local_file(data_dir, get_task("MRPC").local_train, get_task("MRPC"))
    assert mrpc[0]["text_a"].startswith("Amrozi accused his brother") and mrpc[0]["label"] == 1
    cola = get_task("CoLA")
    rows = read_local_file(data_dir, cola.local_train, cola)
    assert rows[0]["text_a"].startswith("Our friends won't buy this analysis")
    assert len(read_local_file(data_dir, cola.local_report, cola)) == 1043
    qnli = read_local_file(data_dir, get_task("QNLI").local_report, get_task("QNLI"))
    assert len(qnli) == 5463
    assert sum(r["text_b"].startswith('"') for r in qnli) >= 5
    mnli = read_local_file(data_dir, get_task("MNLI").report_file(data_dir), get_task("MNLI"))
    assert len(mnli) == 9815 and {r["label"] for r in mnli} == {0, 1, 2}
    stsb = read_local_file(data_dir, get_task("STS-B").local_report, get_task("STS-B"))
    assert stsb[0]["label"] == 5.0


@pytest.mark.data
def test_real_proxies_use_the_whole_dev_files(data_dir):
    for name, rows in (("MNLI-proxy", 9815), ("QNLI-proxy", 5463)):
        proxy = load_task(name, data_dir, select_cap=None)
        assert len(proxy.train) + len(proxy.select) + len(proxy.report) == rows
        assert "sample" not in proxy.notes


@pytest.mark.data
def test_real_label_counts_match_glue_statistics(data_dir):
    counts = {"CoLA": (2528, 6023), "MRPC": (1194, 2474), "RTE": (1249, 1241), "WNLI": (323, 312)}
    for name, expected in counts.items():
        spec = get_task(name)
        labels = [r["label"] for r in read_local_file(data_dir, spec.local_train, spec)]
        assert tuple(np.bincount(labels)) == expected, name


# ------------------------------------------------------------------ fixture files (tests/fixtures/data)

FIXTURE_TASKS = ("CoLA", "SST-2", "MRPC", "STS-B", "RTE", "WNLI", "MNLI-proxy", "QNLI-proxy",
                 "POS", "NER", "Chunking", "MELD", "Dyadic-MELD")


def _lines(path):
    return path.read_text(encoding="utf-8-sig").splitlines()


def test_fixtures_are_up_to_date_and_small(fixture_data_dir):
    sys.path.insert(0, str(fixture_data_dir.parent))
    try:
        import make_fixtures
    finally:
        sys.path.pop(0)
    assert make_fixtures.main(["--check"]) == 0, "run python tests/fixtures/make_fixtures.py"
    assert sum(f.stat().st_size for f in fixture_data_dir.rglob("*") if f.is_file()) < 1_000_000


@pytest.mark.parametrize("name", FIXTURE_TASKS)
def test_every_fixture_task_loads_with_the_smoke_profile(fixture_data_dir, name, monkeypatch):
    monkeypatch.delenv("AUX_SELECT_DATA", raising=False)
    task = load_task(name, fixture_data_dir, **get_profile("smoke").data_kwargs())
    assert len(task.train) == 48 and len(task.select) >= 8 and 16 <= len(task.report) <= 32
    assert task.source.startswith("local:")
    # a sample root says so instead of pretending to be complete (or partial) data
    assert f"sample data root ({fixture_data_dir / 'SAMPLE'})" in task.notes and "partial" not in task.notes
    assert "not the official files" in task.train.info.description
    assert task.notes.startswith("PROXY for") == name.endswith("-proxy")


def test_parser_quirks_on_fixture_files(fixture_data_dir):
    root = fixture_data_dir
    # MRPC: BOM before the header; columns read by name; bare '"' tokens are text
    mrpc = get_task("MRPC")
    raw = (root / mrpc.local_train.path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfQuality\t")
    rows = read_local_file(root, mrpc.local_train, mrpc)
    first = _lines(root / mrpc.local_train.path)[1].split("\t")
    assert rows[0] == {"text_a": first[3], "text_b": first[4], "label": int(first[0])}
    assert any(r["text_a"].startswith('" ') for r in rows) and any(r["text_b"].startswith('" ') for r in rows)
    # CoLA: no header, so the first line is data; dev has no final newline and keeps its last row
    cola = get_task("CoLA")
    lines = _lines(root / cola.local_train.path)
    rows = read_local_file(root, cola.local_train, cola)
    assert len(rows) == len(lines) and rows[0]["text_a"] == lines[0].split("\t")[3]
    assert [r["label"] for r in rows] == [int(line.split("\t")[1]) for line in lines]
    assert not (root / cola.local_report.path).read_bytes().endswith(b"\n")
    dev = read_local_file(root, cola.local_report, cola)
    assert len(dev) == len(_lines(root / cola.local_report.path)) and dev[-1]["text_a"].endswith(".")
    # QNLI: stray unbalanced '"' kept as text under QUOTE_NONE, so no rows merge
    qnli = get_task("QNLI")
    rows = read_local_file(root, qnli.local_report, qnli)
    assert len(rows) == len(_lines(root / qnli.local_report.path)) - 1
    assert sum(r["text_b"].startswith('"') and r["text_b"].count('"') == 1 for r in rows) >= 5
    # MNLI-m: JSON lines with word labels, \uXXXX escapes decoded
    mnli = get_task("MNLI")
    rows = read_local_file(root, mnli.report_file(root), mnli)
    words = [json.loads(line)["label"] for line in _lines(root / mnli.report_file(root).path)]
    assert [mnli.labels[r["label"]] for r in rows] == words and {r["label"] for r in rows} == {0, 1, 2}
    assert any("café" in r["text_a"] for r in rows)
    # STS-B: float scores, columns by name among ten
    stsb = get_task("STS-B")
    rows = read_local_file(root, stsb.local_report, stsb)
    assert rows[0]["label"] == 5.0 and all(isinstance(r["label"], float) for r in rows)
    assert len({r["label"] for r in rows}) > 3
    # WNLI: labels written as ids; RTE: as words
    for name in ("WNLI", "RTE"):
        spec = get_task(name)
        assert {r["label"] for r in read_local_file(root, spec.local_train, spec)} == {0, 1}


def test_sample_marker_skips_official_counts_only_under_a_sample_root(fixture_data_dir, tmp_path):
    rte = get_task("RTE")
    (tmp_path / "glue").mkdir()
    shutil.copytree(fixture_data_dir / "glue" / "RTE", tmp_path / "glue" / "RTE")
    # without the marker the same files are checked against the official counts, as a real root is
    with pytest.raises(DataFormatError, match="100 data rows, expected 2490 for the complete file"):
        load_task("RTE", tmp_path)
    unchecked = load_task("RTE", tmp_path, check_rows=False)
    assert "partial: 100 of 2490 official train rows" in unchecked.notes and "sample" not in unchecked.notes
    (tmp_path / "SAMPLE").write_text("made-up rows for a test\n")
    assert len(read_local_file(tmp_path, rte.local_train, rte)) == 100
    sample = load_task("RTE", tmp_path)
    assert sample.notes.startswith(f"sample data root ({tmp_path / 'SAMPLE'}): 100 train and 40 dev rows, "
                                   "not the official files (official: 2490 train rows)")
    assert "partial" not in sample.notes
    # the marker must be a file at the root itself: a SAMPLE folder or one further down is not it
    (tmp_path / "SAMPLE").unlink()
    (tmp_path / "SAMPLE").mkdir()
    with pytest.raises(DataFormatError, match="expected 2490"):
        load_task("RTE", tmp_path)
    (tmp_path / "glue" / "SAMPLE").write_text("")
    with pytest.raises(DataFormatError, match="expected 2490"):
        load_task("RTE", tmp_path)


def test_dev_only_tasks_are_offered_only_as_proxies(fixture_data_dir, monkeypatch):
    monkeypatch.setattr(data_mod, "_load_from_hub", _offline)
    with pytest.raises(DataNotFoundError, match="MNLI-proxy"):
        load_task("MNLI", fixture_data_dir)
    proxy = load_task("MNLI-proxy", fixture_data_dir)
    assert "PROXY for MNLI" in proxy.notes and "PROXY for MNLI" in proxy.train.info.description
    rows = len(_lines(fixture_data_dir / get_task("MNLI").report_file(fixture_data_dir).path))
    assert len(proxy.train) + len(proxy.select) + len(proxy.report) == rows
    pool = available_tasks(fixture_data_dir)
    assert {"MNLI-proxy", "QNLI-proxy", "RTE"} <= set(pool) and "MNLI" not in pool and "QQP" not in pool
    assert available_tasks(fixture_data_dir, POOLS["mixed"]) == [
        "CoLA", "SST-2", "MRPC", "MNLI-proxy", "QNLI-proxy", "RTE", "WNLI", "STS-B", "POS", "NER", "Chunking"]


# ------------------------------------------------------------------ quirks on made-up files

def _spec(path, rows=None, header=True, columns=()):
    return TaskSpec(name="T", objective="classification", text_keys=("s1", "s2"), label_key="label",
                    labels=("no", "yes"), metrics=("accuracy",), selection_metric="accuracy",
                    glue_type="inference", train_size=3,
                    local_train=LocalFile(path, rows, header, columns))


def _write(tmp_path, name, text, encoding="utf-8"):
    (tmp_path / name).write_bytes(text.encode(encoding))
    return name


def test_bom_and_header_by_name(tmp_path):
    name = _write(tmp_path, "t.tsv", "\ufefflabel\tx\ts2\ts1\nyes\t9\tB\tA\n0\t9\tD\tC\n")
    spec = _spec(name)
    rows = read_local_file(tmp_path, spec.local_train, spec)
    assert rows == [{"text_a": "A", "text_b": "B", "label": 1}, {"text_a": "C", "text_b": "D", "label": 0}]


def test_stray_quote_is_text_not_a_quoted_field(tmp_path):
    name = _write(tmp_path, "t.tsv", 's1\ts2\tlabel\n" A stray quote\tB\tyes\nC\tD\tno\n')
    spec = _spec(name)
    rows = read_local_file(tmp_path, spec.local_train, spec)
    assert len(rows) == 2 and rows[0]["text_a"] == '" A stray quote'


def test_headerless_file_uses_given_columns(tmp_path):
    name = _write(tmp_path, "t.tsv", "A\tB\tyes\nC\tD\tno")  # no trailing newline either
    spec = _spec(name, header=False, columns=("s1", "s2", "label"))
    assert [r["label"] for r in read_local_file(tmp_path, spec.local_train, spec)] == [1, 0]


def test_malformed_row_names_file_and_line(tmp_path):
    name = _write(tmp_path, "t.tsv", "s1\ts2\tlabel\nA\tB\tyes\nC\tD\n")
    spec = _spec(name)
    with pytest.raises(DataFormatError, match=r"t\.tsv:3: expected 3 tab-separated columns, found 2"):
        read_local_file(tmp_path, spec.local_train, spec)


def test_bad_label_names_file_and_line(tmp_path):
    name = _write(tmp_path, "t.tsv", "s1\ts2\tlabel\nA\tB\tmaybe\n")
    spec = _spec(name)
    with pytest.raises(DataFormatError, match=r"t\.tsv:2: label 'maybe' is not one of"):
        read_local_file(tmp_path, spec.local_train, spec)


def test_row_count_checked_where_the_full_file_is_expected(tmp_path):
    name = _write(tmp_path, "t.tsv", "s1\ts2\tlabel\nA\tB\tyes\n")
    spec = _spec(name, rows=2)
    with pytest.raises(DataFormatError, match="1 data rows, expected 2.*check_rows=False"):
        read_local_file(tmp_path, spec.local_train, spec)
    assert len(read_local_file(tmp_path, spec.local_train, spec, check_rows=False)) == 1


def test_bad_json_line_names_file_and_line(tmp_path):
    name = _write(tmp_path, "t.jsonl", '{"s1": "A", "s2": "B", "label": "yes"}\n{"s1": \n')
    spec = _spec(name)
    with pytest.raises(DataFormatError, match=r"t\.jsonl:2: not valid JSON"):
        read_local_file(tmp_path, spec.local_train, spec)


def _offline(spec, split):
    raise ConnectionError("no network")


def test_no_data_offline_names_every_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("AUX_SELECT_DATA", raising=False)
    monkeypatch.setattr(data_mod, "_load_from_hub", _offline)
    with pytest.raises(DataNotFoundError) as err:
        load_task("RTE")
    for words in ("data_dir", "AUX_SELECT_DATA", "hub", "nyu-mll/glue/rte"):
        assert words in str(err.value)


# ------------------------------------------------------------------ the hub path, without network

def _hub(columns: dict, labels=None, idx=True) -> Dataset:
    """A split in the schema of nyu-mll/glue: text columns, `label` (ClassLabel or float), `idx`."""
    n = len(next(iter(columns.values())))
    features = {k: Value("string") for k in columns if k != "label"}
    features["label"] = ClassLabel(names=labels) if labels else Value("float32")
    if idx:
        columns, features = columns | {"idx": list(range(n))}, features | {"idx": Value("int32")}
    return Dataset.from_dict(columns, features=Features(features))


def _mrpc(labels=("not_equivalent", "equivalent"), ids=(1, 0, 1), **rename):
    n = len(ids)
    cols = {"sentence1": (["A a .", "B b .", "C c ."] * n)[:n], "sentence2": [f"S{i} ." for i in range(n)],
            "label": list(ids)}
    return _hub({rename.get(k, k): v for k, v in cols.items()}, list(labels))


HUB_SAMPLES = {  # task: (hub split, our text columns, our labels by row)
    "MRPC": (_mrpc, ["text_a", "text_b"], ["equivalent", "not_equivalent", "equivalent"]),
    "RTE": (lambda: _hub({"sentence1": ["P .", "Q ."], "sentence2": ["p", "q"], "label": [1, 0]},
                         ["entailment", "not_entailment"]), ["text_a", "text_b"], ["not_entailment", "entailment"]),
    "WNLI": (lambda: _hub({"sentence1": ["P .", "Q ."], "sentence2": ["p", "q"], "label": [1, 0]},
                          ["not_entailment", "entailment"]), ["text_a", "text_b"], ["entailment", "not_entailment"]),
    "CoLA": (lambda: _hub({"sentence": ["Good one .", "One good the ."], "label": [1, 0]},
                          ["unacceptable", "acceptable"]), ["text_a"], ["acceptable", "unacceptable"]),
    "STS-B": (lambda: _hub({"sentence1": ["A .", "B ."], "sentence2": ["A .", "C ."], "label": [5.0, 0.4]}),
              ["text_a", "text_b"], [5.0, 0.4]),
}


@pytest.mark.parametrize("name", sorted(HUB_SAMPLES))
def test_hub_split_becomes_our_columns_and_features(name, fixture_data_dir):
    make, columns, expected = HUB_SAMPLES[name]
    spec = get_task(name)
    ours = data_mod._hub_to_ours(make(), spec, "train")
    assert ours.column_names == [*columns, "label"]
    # the same features as local data gets, so hub and local tasks mix and tokenise alike
    assert ours.features == data_mod.task_features(spec) == load_task(name, fixture_data_dir).train.features
    if spec.labels is None:
        assert list(ours["label"]) == pytest.approx(expected)
    else:
        assert [spec.labels[i] for i in ours["label"]] == expected


def test_hub_label_names_map_to_ours_by_name_not_by_id():
    spec = get_task("MRPC")
    # a hub listing the names the other way round: its id 0 is `equivalent`, which is our 1,
    # the positive class of MRPC's F1
    ours = data_mod._hub_to_ours(_mrpc(labels=("equivalent", "not_equivalent"), ids=(0, 1, 0)), spec)
    assert list(ours["label"]) == [1, 0, 1] and ours.features["label"].names == list(spec.labels)
    assert list(ours["text_a"]) == ["A a .", "B b .", "C c ."]
    from aux_select.train.metrics import compute_metrics
    assert compute_metrics(["f1"], [1, 0, 0], list(ours["label"]))["f1"] == pytest.approx(2 / 3)


def test_hub_schema_that_does_not_fit_raises_a_clear_error():
    spec = get_task("MRPC")
    with pytest.raises(HubSchemaError, match=r"hub's label names \['equivalent', 'different'\] do not "
                                             r"match ours \['not_equivalent', 'equivalent'\]"):
        data_mod._hub_to_ours(_mrpc(labels=("equivalent", "different")), spec)
    with pytest.raises(HubSchemaError, match=r"no column 'sentence2'; its columns are "
                                             r"\['sentence1', 'sentence_2', 'label', 'idx'\]"):
        data_mod._hub_to_ours(_mrpc(sentence2="sentence_2"), spec)
    plain = Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"], "label": [1]})
    with pytest.raises(HubSchemaError, match="not a ClassLabel"):
        data_mod._hub_to_ours(plain, spec)
    with pytest.raises(HubSchemaError, match="expected a numeric score"):
        data_mod._hub_to_ours(_mrpc(), get_task("STS-B"))  # class ids where a score belongs


def _hub_returning(make):
    def load(spec, split):
        return make()
    return load


def test_load_task_end_to_end_through_the_hub(tmp_path, monkeypatch):
    monkeypatch.delenv("AUX_SELECT_DATA", raising=False)
    splits = {"train": _mrpc(labels=("equivalent", "not_equivalent"), ids=(0, 1, 0) * 10),
              "validation": _mrpc(ids=(1, 1, 0))}
    asked = []
    monkeypatch.setattr(data_mod, "_load_from_hub", lambda spec, split: asked.append((spec.hub, split)) or splits[split])
    for root in (None, tmp_path):  # no local root at all, or one without the task
        asked.clear()
        task = load_task("MRPC", root, select_fraction=0.1)
        assert asked == [(("nyu-mll/glue", "mrpc"), "train"), (("nyu-mll/glue", "mrpc"), "validation")]
        assert task.source == "hub:nyu-mll/glue/mrpc" and "sample" not in task.notes
        assert (len(task.train), len(task.select), len(task.report)) == (27, 3, 3)
        assert sorted([*task.train["label"], *task.select["label"]]) == [0] * 10 + [1] * 20  # remapped
        assert list(task.report["label"]) == [1, 1, 0]
        assert task.train.features == data_mod.task_features(task.spec)


NETWORK_ERRORS = [
    ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (LocalEntryNotFoundError)"),  # datasets 5
    TimeoutError("timed out"),
    OSError("We couldn't connect to 'https://huggingface.co': offline"),
]


def _more_network_errors():
    import requests
    errors = [requests.exceptions.ConnectionError("refused"), requests.exceptions.Timeout("slow")]
    try:
        import httpx
        errors += [httpx.ConnectError("Name or service not known"), httpx.ReadTimeout("slow")]
    except ImportError:
        pass
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
    errors += [OfflineModeIsEnabled("HF_HUB_OFFLINE=1"), LocalEntryNotFoundError("not in the cache")]
    wrapped = RuntimeError("load failed")
    wrapped.__cause__ = OSError("Connection reset by peer")
    return errors + [wrapped]


@pytest.mark.parametrize("error", NETWORK_ERRORS + _more_network_errors(), ids=lambda e: type(e).__name__)
def test_only_network_errors_say_the_hub_could_not_be_reached(error, tmp_path, monkeypatch):
    def unreachable(spec, split):
        raise error
    monkeypatch.setattr(data_mod, "_load_from_hub", unreachable)
    with pytest.raises(DataNotFoundError, match=r"the Hugging Face hub \(nyu-mll/glue/mrpc\) could not be reached"):
        load_task("MRPC", tmp_path)


def test_other_hub_failures_surface_as_themselves(tmp_path, monkeypatch):
    # a label-mapping bug: not "could not be reached", but the mapping error naming both lists
    monkeypatch.setattr(data_mod, "_load_from_hub", _hub_returning(lambda: _mrpc(labels=("yes", "no"))))
    with pytest.raises(HubSchemaError, match=r"\['yes', 'no'\] do not match ours") as err:
        load_task("MRPC", tmp_path)
    assert not isinstance(err.value, DataNotFoundError) and "reached" not in str(err.value)
    # a missing column
    monkeypatch.setattr(data_mod, "_load_from_hub", _hub_returning(lambda: _mrpc(sentence1="premise")))
    with pytest.raises(HubSchemaError, match="no column 'sentence1'"):
        load_task("MRPC", tmp_path)
    # a local file error whose path happens to say "offline" is not a network error
    def local_file(spec, split):
        raise FileNotFoundError("/data/offline_copy/glue/mrpc/train.arrow")
    monkeypatch.setattr(data_mod, "_load_from_hub", local_file)
    with pytest.raises(FileNotFoundError, match="offline_copy") as err:
        load_task("MRPC", tmp_path)
    assert not isinstance(err.value, DataNotFoundError)
    # any other loader error (e.g. a config the hub does not have) is re-raised as it is
    def no_config(spec, split):
        raise ValueError("BuilderConfig 'mrpc2' not found")
    monkeypatch.setattr(data_mod, "_load_from_hub", no_config)
    with pytest.raises(ValueError, match="BuilderConfig 'mrpc2' not found") as err:
        load_task("MRPC", tmp_path)
    assert not isinstance(err.value, DataNotFoundError)
    assert any("from the Hugging Face hub (nyu-mll/glue/mrpc)" in n for n in err.value.__notes__)


# ------------------------------------------------------------------ conftest's data fixtures

def test_configured_but_missing_real_data_fails_on_ci_and_skips_elsewhere(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("AUX_SELECT_CACHE", os.environ["AUX_SELECT_CACHE"])  # the inner session resets it
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile("def test_real(data_dir):\n    pass\n")
    missing = tmp_path / "nowhere"
    for ci, root, outcome in [("true", missing, "errors"), ("", missing, "skipped"), ("true", tmp_path, "errors"),
                              ("true", None, "skipped"), ("false", missing, "skipped")]:
        monkeypatch.setenv("CI", ci)
        if root is None:
            monkeypatch.delenv("AUX_SELECT_DATA", raising=False)
        else:
            monkeypatch.setenv("AUX_SELECT_DATA", str(root))
        result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
        result.assert_outcomes(**{outcome: 1})
        if outcome == "errors":
            why = "does not exist" if root == missing else "has no glue/ folder"
            result.stdout.fnmatch_lines([f"*CI=true: AUX_SELECT_DATA={root} {why}*"])


def test_registered_task_loads_from_a_local_folder(tmp_path, registry_guard):
    (tmp_path / "mine").mkdir()
    lines = [f"sentence {i}\tother {i}\t{'yes' if i % 2 else 'no'}\n" for i in range(40)]
    _write(tmp_path, "mine/train.tsv", "s1\ts2\tlabel\n" + "".join(lines))
    _write(tmp_path, "mine/dev.tsv", "s1\ts2\tlabel\n" + "".join(lines[:8]))
    spec = _spec("mine/train.tsv", rows=40)
    from dataclasses import replace
    register_task(replace(spec, name="MINE", local_report=LocalFile("mine/dev.tsv", None)))
    task = load_task("MINE", tmp_path, select_fraction=0.25)
    assert (len(task.train), len(task.select)) == (30, 10) and task.source.startswith("local:")


# ------------------------------------------------------------------ splits

def test_splits_are_disjoint_seeded_and_nested(fixture_data_dir):
    a = load_task("RTE", fixture_data_dir, seed=3, train_cap=40)
    b = load_task("RTE", fixture_data_dir, seed=3, train_cap=40)
    big = load_task("RTE", fixture_data_dir, seed=3, train_cap=70)
    other = load_task("RTE", fixture_data_dir, seed=4, train_cap=40)
    key = lambda ds: {(x["text_a"], x["text_b"]) for x in ds}
    assert (len(key(a.train)), len(key(a.select))) == (40, 10)  # the made-up rows are distinct
    assert key(a.train) == key(b.train) and key(a.select) == key(b.select)
    assert not key(a.train) & key(a.select)
    assert key(a.train) <= key(big.train) and key(a.select) == key(big.select)
    assert key(a.train) != key(other.train)
    assert len(a.train) == 40 and "subsampled: 40 of 90" in a.notes and len(a.select) == 10


def test_caps_and_fractions_on_synthetic_sizes():
    assert data_mod._take(2490, 0.1, None) == 249
    assert data_mod._take(2490, 0.1, 100) == 100
    assert data_mod._take(2490, None, None) == 2490


def test_table7_statistics_on_fixture_files(fixture_data_dir):
    task = load_task("RTE", fixture_data_dir)
    stats = task_statistics(task)
    rows = read_local_file(fixture_data_dir, task.spec.local_train, task.spec)
    assert stats["type"] == "inference" and stats["official_train_size"] == 2490
    assert stats["train_rows"] == len(rows) == 100  # the whole train source: train + select
    words = [len(r["text_a"].split()) + len(r["text_b"].split()) for r in rows]
    assert stats["avg_words"] == pytest.approx(np.mean(words))
    counts = np.bincount([r["label"] for r in rows], minlength=2)
    assert stats["label_counts"] == dict(zip(task.spec.labels, counts.tolist()))


@pytest.mark.data
def test_table7_statistics_from_data(data_dir):
    stats = task_statistics(load_task("RTE", data_dir))
    assert stats["type"] == "inference" and stats["official_train_size"] == 2490
    assert 40 < stats["avg_words"] < 70  # RTE premises are long: about 43 + 9 words
    assert stats["train_rows"] == 2490  # the whole train source: train + select
    assert stats["label_counts"] == {"entailment": 1249, "not_entailment": 1241}


# ------------------------------------------------------------------ tokenising and batching

def test_tokenize_once_then_cached(tokenizer, monkeypatch):
    task = synthetic_task(pair=True)
    first = tokenize(task.train, tokenizer, 32)
    calls = []
    monkeypatch.setattr(tokenizer, "__call__", lambda *a, **k: calls.append(1))
    again = tokenize(task.train, tokenizer, 32)
    assert not calls and again["input_ids"] == first["input_ids"]
    assert set(first.column_names) >= {"input_ids", "attention_mask", "token_type_ids", "labels"}
    assert max(len(x) for x in tokenize(task.train, tokenizer, 8)["input_ids"]) == 8


def _mixed_lengths(n=400, seed=0):
    rng = np.random.default_rng(seed)
    from datasets import Dataset
    ids = [[101] + [1000] * int(k) + [102] for k in rng.integers(2, 120, size=n)]
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids],
                              "labels": [0] * n})


def test_dynamic_padding_and_length_grouping(tokenizer):
    ds = _mixed_lengths()
    real = padded = 0
    seen = []
    for batch in make_loader(ds, tokenizer, 16, shuffle=True, seed=1):
        mask = batch["attention_mask"]
        assert mask.shape[1] == mask.sum(1).max()  # padded to the longest in the batch only
        real, padded = real + int(mask.sum()), padded + mask.numel()
        seen += [int(m) for m in mask.sum(1)]
    assert sorted(seen) == sorted(len(x) for x in ds["input_ids"])  # every row once per epoch
    assert real / padded >= 0.85


def test_loader_order_is_seeded(tokenizer):
    ds = _mixed_lengths()
    order = lambda seed: [b["attention_mask"].sum(1).tolist() for b in make_loader(ds, tokenizer, 16, shuffle=True, seed=seed)]
    assert order(1) == order(1) and order(1) != order(2)


def test_a_batch_stream_is_the_loaders_epochs_and_seeks_without_reading(tokenizer, monkeypatch):
    import torch
    from aux_select.data.batching import BatchStream, _Rows
    ds = _mixed_lengths(n=50)  # 4 batches of 16 an epoch
    seed = lambda epoch: 7 + epoch

    def by_loader():  # the epochs as a DataLoader per epoch gives them (what trainers used before)
        for epoch in range(10):
            yield from make_loader(ds, tokenizer, 16, shuffle=True, seed=seed(epoch))

    def draw(stream, n):
        torch.manual_seed(0)
        return [b["input_ids"].tolist() for _, b in zip(range(n), stream)], torch.get_rng_state()

    expected, expected_rng = draw(by_loader(), 10)
    got, got_rng = draw(BatchStream(ds, tokenizer, 16, seed), 10)
    assert got == expected and torch.equal(got_rng, expected_rng)  # same batches, same draws of torch's RNG
    read = []
    monkeypatch.setattr(_Rows, "__getitems__", lambda self, idx: read.append(idx) or [self.ds[i] for i in idx])
    for drawn in (3, 4, 8):  # mid-epoch, at an epoch's end, two epochs in
        stream = BatchStream(ds, tokenizer, 16, seed)
        stream.seek(drawn)
        assert not read and next(stream)["input_ids"].tolist() == expected[drawn]
        read.clear()


def test_mnli_loads_from_the_classic_glue_layout_and_the_jsonl_dev_file(tmp_path, fixture_data_dir):
    folder = tmp_path / "glue" / "MNLI"
    folder.mkdir(parents=True)
    (tmp_path / "SAMPLE").write_text("not the official files\n")
    columns = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
               "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"]
    labels = ["entailment", "neutral", "contradiction"]
    for name, n in (("train.tsv", 60), ("dev_matched.tsv", 20), ("dev_mismatched.tsv", 12)):
        rows = ["\t".join(columns)] + ["\t".join([str(i), "0", "0", "fiction", "()", "()", "()", "()",
                                                   f"premise {i}", f"hypothesis {i}", labels[i % 3], labels[i % 3]])
                                        for i in range(n)]
        (folder / name).write_text("\n".join(rows) + "\n")
    mnli = load_task("MNLI", tmp_path, select_cap=6)
    assert (len(mnli.train) + len(mnli.select), len(mnli.report)) == (60, 20) and mnli.source.startswith("local:")
    assert mnli.report[0] == {"text_a": "premise 0", "text_b": "hypothesis 0", "label": 0}
    assert len(mnli.beside) == 12 and "mismatched dev set (12 rows) scored beside report" in mnli.notes
    assert "MNLI" in available_tasks(tmp_path) and "MNLI-proxy" in available_tasks(fixture_data_dir)
    proxy = load_task("MNLI-proxy", fixture_data_dir)
    assert len(proxy.report) > 0 and proxy.beside is None  # the jsonl dev file still serves the proxy
    from aux_select.experiment import Experiment
    run = Experiment("smoke", data_dir=tmp_path, progress=False).run(["MNLI"])
    assert {"accuracy", "mismatched accuracy"} == set(run.report) and run.select_score == run.select["accuracy"]
