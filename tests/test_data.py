import numpy as np
import pytest
from transformers import AutoTokenizer

from aux_select import data as data_mod
from aux_select.data import DataNotFoundError, available_tasks, load_task, make_loader, task_statistics, tokenize
from aux_select.models import bundled_minilm_path
from aux_select.readers import DataFormatError, read_local_file
from aux_select.synthetic import synthetic_task
from aux_select.tasks import GLUE_CLASSIFICATION, LocalFile, TaskSpec, get_task, register_task, task_names

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
    # MRPC: BOM before the header; columns read by name
    mrpc = read_local_file(data_dir, get_task("MRPC").local_train, get_task("MRPC"))
    assert mrpc[0]["text_a"].startswith("Amrozi accused his brother") and mrpc[0]["label"] == 1
    # CoLA: no header, so the first line is data; dev has no trailing newline and keeps its last row
    cola = get_task("CoLA")
    rows = read_local_file(data_dir, cola.local_train, cola)
    assert rows[0]["text_a"].startswith("Our friends won't buy this analysis")
    assert len(read_local_file(data_dir, cola.local_report, cola)) == 1043
    # QNLI: stray '"' kept as text under QUOTE_NONE, so no rows merge
    qnli = read_local_file(data_dir, get_task("QNLI").local_report, get_task("QNLI"))
    assert len(qnli) == 5463
    assert sum(r["text_b"].startswith('"') for r in qnli) >= 5
    # MNLI-m: JSON lines with word labels
    mnli = read_local_file(data_dir, get_task("MNLI").local_report, get_task("MNLI"))
    assert len(mnli) == 9815 and {r["label"] for r in mnli} == {0, 1, 2}
    # STS-B: float scores
    stsb = read_local_file(data_dir, get_task("STS-B").local_report, get_task("STS-B"))
    assert stsb[0]["label"] == 5.0


@pytest.mark.data
def test_real_label_counts_match_glue_statistics(data_dir):
    counts = {"CoLA": (2528, 6023), "MRPC": (1194, 2474), "RTE": (1249, 1241), "WNLI": (323, 312)}
    for name, expected in counts.items():
        spec = get_task(name)
        labels = [r["label"] for r in read_local_file(data_dir, spec.local_train, spec)]
        assert tuple(np.bincount(labels)) == expected, name


@pytest.mark.data
def test_dev_only_tasks_are_offered_only_as_proxies(data_dir, monkeypatch):
    monkeypatch.setattr(data_mod, "_load_from_hub", _offline)
    with pytest.raises(DataNotFoundError, match="MNLI-proxy"):
        load_task("MNLI", data_dir)
    proxy = load_task("MNLI-proxy", data_dir)
    assert "PROXY for MNLI" in proxy.notes and "PROXY for MNLI" in proxy.train.info.description
    assert len(proxy.train) + len(proxy.select) + len(proxy.report) == 9815
    pool = available_tasks(data_dir)
    assert {"MNLI-proxy", "QNLI-proxy", "RTE"} <= set(pool) and "MNLI" not in pool and "QQP" not in pool


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

@pytest.mark.data
def test_splits_are_disjoint_seeded_and_nested(data_dir):
    a = load_task("RTE", data_dir, seed=3, train_cap=500)
    b = load_task("RTE", data_dir, seed=3, train_cap=500)
    big = load_task("RTE", data_dir, seed=3, train_cap=900)
    other = load_task("RTE", data_dir, seed=4, train_cap=500)
    key = lambda ds: {(x["text_a"], x["text_b"]) for x in ds}
    assert key(a.train) == key(b.train) and key(a.select) == key(b.select)
    assert not key(a.train) & key(a.select)
    assert key(a.train) <= key(big.train) and key(a.select) == key(big.select)
    assert key(a.train) != key(other.train)
    assert len(a.train) == 500 and "subsampled: 500 of" in a.notes


def test_caps_and_fractions_on_synthetic_sizes():
    assert data_mod._take(2490, 0.1, None) == 249
    assert data_mod._take(2490, 0.1, 100) == 100
    assert data_mod._take(2490, None, None) == 2490


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
