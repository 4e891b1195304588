"""Token tagging, MELD and mixed-objective pools (GradTS §5.1-5.2): readers, counts, metrics,
sub-token alignment, the tagging head, head importance and MTL runs that mix objectives."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from aux_select.data.batching import collator, tokenize
from aux_select.data.loading import load_task
from aux_select.data.statistics import task_statistics
from aux_select.data.synthetic import synthetic_task
from aux_select.model.gates import gate_shape
from aux_select.methods.gradts.importance import example_losses, gate_grads
from aux_select.train.metrics import compute_metrics
from aux_select.model.encoders import EncoderConfig, bundled_minilm_path
from aux_select.model.heads import build_model
from aux_select.data.readers import DataFormatError, read_local_file
from aux_select.data.registry import IGNORE, POOLS, LocalFile, get_task
from aux_select.train.config import TrainConfig
from aux_select.train.run import run_mtl

TINY = EncoderConfig(name="tiny-bert", max_len=32)
FAST = TrainConfig(max_steps=60, batch_size=16, eval_batch_size=64, lr=2e-3)

# ../shared/data/SOURCES-extra.md: (rows, words) of train and dev; None: no file
EXTRA_COUNTS = {"POS": ((12544, 204577), (2001, 25147)), "NER": ((14041, 203621), (3250, 51362)),
                "Chunking": ((8936, 211727), None), "MELD": ((9989, None), (1109, None)),
                "Dyadic-MELD": ((12840, None), (1462, None))}


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(bundled_minilm_path())


# ----------------------------------------------------------------------------- real files

@pytest.mark.data
@pytest.mark.parametrize("name", sorted(EXTRA_COUNTS))
def test_real_counts_of_the_extra_tasks(data_dir, name):
    spec = get_task(name)
    for file, counts in zip((spec.local_train, spec.local_report), EXTRA_COUNTS[name]):
        if counts is None:
            assert file is None
            continue
        rows = read_local_file(data_dir, file, spec)  # also checks rows and words itself
        assert len(rows) == counts[0]
        if counts[1] is not None:
            assert sum(len(r["words"]) for r in rows) == counts[1]
            assert all(len(r["words"]) == len(r["label"]) for r in rows)


@pytest.mark.data
def test_real_extra_tasks_load_with_their_quirks(data_dir):
    # the real files' own facts; the reading behaviour is tested on the fixtures below
    ner = read_local_file(data_dir, get_task("NER").local_train, get_task("NER"))
    assert ner[0]["words"][:3] == ["EU", "rejects", "German"]  # the -DOCSTART- line is dropped
    tags = get_task("NER").labels
    assert tags[ner[0]["label"][0]] == "I-ORG"  # IOB1: an entity starts with I- after O
    meld = read_local_file(data_dir, get_task("MELD").local_train, get_task("MELD"))
    emotions = np.bincount([r["label"] for r in meld], minlength=7)
    assert dict(zip(get_task("MELD").labels, emotions.tolist())) == {
        "neutral": 4710, "joy": 1743, "surprise": 1205, "anger": 1109, "sadness": 683, "disgust": 271, "fear": 268}
    assert "’" in meld[0]["text_a"]  # UTF-8 curly quote read as text
    chunking = load_task("Chunking", data_dir, select_cap=None)
    assert len(chunking.report) == round(0.2 * 8936)  # no dev file: a seeded share held out of train
    assert len(chunking.train) + len(chunking.select) + len(chunking.report) == 8936
    assert "no dev file" in chunking.notes and "sample" not in chunking.notes
    pos = task_statistics(load_task("POS", data_dir))
    assert pos["type"] == "sequence labelling" and sum(pos["label_counts"].values()) > 0


# ----------------------------------------------------------------------------- the fixture files

def _word_lines(path):
    """CoNLL-U lines of syntactic words: integer ids (no comments, no 2-3 ranges, no 5.1 nodes)."""
    return [line.split("\t") for line in path.read_text().splitlines() if line.split("\t")[0].isdigit()]


def test_conllu_fixture_reads_words_only(fixture_data_dir):
    spec = get_task("POS")
    path = fixture_data_dir / spec.local_train.path
    text = path.read_text()
    assert "# sent_id" in text and "\n2-3\tdidn't\t" in text and any(l.split("\t")[0].count(".") == 1
                                                                        for l in text.splitlines())
    rows = read_local_file(fixture_data_dir, spec.local_train, spec)
    assert len(rows) == text.count("# sent_id")
    words = _word_lines(path)
    assert [w for r in rows for w in r["words"]] == [w[1] for w in words]  # ranges and empty nodes skipped
    assert [spec.labels[t] for r in rows for t in r["label"]] == [w[3] for w in words]
    assert not any("didn't" in r["words"] for r in rows) and any(r["words"][1:3] == ["did", "n't"] for r in rows)


def test_extra_tasks_load_with_their_quirks_on_fixture_files(fixture_data_dir):
    root = fixture_data_dir
    # CoNLL-2003: -DOCSTART- lines dropped, IOB1 (entities start with I-; B- only between two)
    ner = get_task("NER")
    lines = (root / ner.local_train.path).read_text().splitlines()
    assert lines[0] == "-DOCSTART- -X- O O" and sum(l.startswith("-DOCSTART-") for l in lines) > 1
    rows = read_local_file(root, ner.local_train, ner)
    assert len(rows) == sum(1 for a, b in zip(lines, lines[1:] + [""]) if a and not a.startswith("-DOC") and not b)
    assert rows[0]["words"][0] == lines[2].split()[0] and all("-DOCSTART-" not in r["words"] for r in rows)
    tags = [[ner.labels[t] for t in r["label"]] for r in rows]
    assert tags[0][0] == "I-PER" and any("B-LOC" in t for t in tags)
    assert all(t[i - 1] == f"I-{tag[2:]}" for t in tags for i, tag in enumerate(t) if tag.startswith("B-"))
    # CoNLL-2000: IOB2 chunks; no dev file, so a seeded 20 % of train is the report split
    chunking = get_task("Chunking")
    n = len(read_local_file(root, chunking.local_train, chunking))
    task = load_task("Chunking", root, select_cap=None)
    assert len(task.report) == round(0.2 * n) and len(task.train) + len(task.select) + len(task.report) == n
    assert "no dev file" in task.notes and "sample data root" in task.notes
    assert {chunking.labels[t] for r in task.train["label"] for t in r} >= {"B-NP", "I-NP", "B-VP", "B-PP", "O"}
    # MELD: a real CSV reader (quoted commas, doubled quotes, curly quotes); dyadic has no "Sr No."
    for name, header in (("MELD", "Sr No.,Utterance,"), ("Dyadic-MELD", "Utterance,Speaker,")):
        spec = get_task(name)
        assert (root / spec.local_train.path).read_text().startswith(header)
        rows = read_local_file(root, spec.local_train, spec)
        texts = [r["text_a"] for r in rows]
        assert any("," in t for t in texts) and any("’" in t for t in texts)
        assert any(t.count('"') == 2 and '""' not in t for t in texts)  # "" in the file is one quote
        assert len(rows) == 100 and {r["label"] for r in rows} == set(range(7))
    pos = task_statistics(load_task("POS", root))
    assert pos["type"] == "sequence labelling" and sum(pos["label_counts"].values()) == len(
        _word_lines(root / get_task("POS").local_train.path))


def test_pools_are_the_papers():
    assert len(POOLS["glue"]) == 8 and len(POOLS["meld"]) == 10 and len(POOLS["mixed"]) == 12
    assert {get_task(t).objective for t in POOLS["mixed"]} == {"classification", "regression", "tagging"}


# ----------------------------------------------------------------------------- readers on bad input

def _conll_spec(tmp_path, text, fmt="conll", columns=("words", "pos", "chunk", "ner")):
    (tmp_path / "f.txt").write_text(text)
    return replace(get_task("NER") if fmt == "conll" else get_task("POS"),
                   local_train=LocalFile("f.txt", None, header=False, columns=columns, format=fmt))


def test_conll_sentences_docstart_and_a_malformed_line(tmp_path):
    spec = _conll_spec(tmp_path, "-DOCSTART- -X- O O\n\nA x y I-PER\nB x y O\n\nC x y I-LOC\n")
    rows = read_local_file(tmp_path, spec.local_train, spec)
    assert [r["words"] for r in rows] == [["A", "B"], ["C"]]
    assert [[spec.labels[i] for i in r["label"]] for r in rows] == [["I-PER", "O"], ["I-LOC"]]
    spec = _conll_spec(tmp_path, "A x y O\nB x O\n")
    with pytest.raises(DataFormatError, match=r"f\.txt:2: expected 4 columns"):
        read_local_file(tmp_path, spec.local_train, spec)
    spec = _conll_spec(tmp_path, "A x y I-FOO\n")
    with pytest.raises(DataFormatError, match=r"f\.txt:1: label 'I-FOO' is not one of"):
        read_local_file(tmp_path, spec.local_train, spec)


def test_conllu_skips_comments_multiword_ranges_and_empty_nodes(tmp_path):
    lines = ["# sent_id = 1", "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_", "1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\t_",
             "2\tn't\tnot\tPART\t_\t_\t1\tadvmod\t_\t_", "2.1\tgo\tgo\tVERB\t_\t_\t_\t_\t_\t_", ""]
    (tmp_path / "f.conllu").write_text("\n".join(lines) + "\n")
    spec = replace(get_task("POS"), local_train=LocalFile("f.conllu", 1, tokens=2))
    rows = read_local_file(tmp_path, spec.local_train, spec)
    assert rows[0]["words"] == ["do", "n't"] and [spec.labels[i] for i in rows[0]["label"]] == ["AUX", "PART"]
    spec = replace(spec, local_train=LocalFile("f.conllu", 1, tokens=3))
    with pytest.raises(DataFormatError, match="2 words, expected 3"):
        read_local_file(tmp_path, spec.local_train, spec)


def test_csv_keeps_quoted_commas(tmp_path):
    (tmp_path / "m.csv").write_text('Utterance,Emotion\n"Well, ""no"", thanks.",joy\nOkay,neutral\n')
    spec = replace(get_task("MELD"), local_train=LocalFile("m.csv", 2))
    rows = read_local_file(tmp_path, spec.local_train, spec)
    assert rows[0]["text_a"] == 'Well, "no", thanks.' and [r["label"] for r in rows] == [1, 0]


# ----------------------------------------------------------------------------- metrics

def test_entity_f1_by_hand_with_a_partial_match():
    tags = ("O", "I-PER", "I-LOC", "B-LOC")
    gold = [[1, 1, 0, 2, 3]]  # PER(0-1), LOC(3), LOC(4): IOB1's B- splits two adjacent LOCs
    pred = [[1, 0, 0, 2, 2]]  # PER(0) is partial (wrong end), LOC(3-4) spans both gold LOCs
    # no predicted span matches a gold span exactly: P = 0/2, R = 0/3
    assert compute_metrics(["entity_f1"], pred, gold, tags)["entity_f1"] == 0.0
    pred = [[1, 1, 0, 2, 0]]  # PER exact, LOC(3) exact, LOC(4) missed: P = 2/2, R = 2/3
    assert compute_metrics(["entity_f1"], pred, gold, tags)["entity_f1"] == pytest.approx(0.8)
    assert compute_metrics(["token_accuracy"], pred, gold, tags)["token_accuracy"] == pytest.approx(0.8)


def test_tagging_metrics_need_tag_names_and_equal_lengths():
    with pytest.raises(ValueError, match="need tag_names"):
        compute_metrics(["entity_f1"], [[0]], [[0]])
    with pytest.raises(ValueError, match="differs in length"):
        compute_metrics(["token_accuracy"], [[0, 1]], [[0]], ("O", "B-X"))


# ----------------------------------------------------------------------------- alignment, model, training

def test_tags_sit_on_the_first_sub_token_of_each_word(tokenizer):
    task = synthetic_task("tags", tagging=True, n_train=4)
    words = ["unbelievably", "good", "film"]
    ds = task.train.select([0]).map(lambda _: {"words": words, "label": [0, 1, 0]})
    encoded = tokenize(ds, tokenizer, 32)[0]
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert len(pieces) > len(words) + 2  # "unbelievably" is split into sub-tokens
    labelled = [(p, tag) for p, tag in zip(pieces, encoded["labels"]) if tag != IGNORE]
    assert labelled == [(pieces[1], 0), ("good", 1), ("film", 0)]
    batch = collator(tokenize(task.train, tokenizer, 32), tokenizer)(
        [tokenize(task.train, tokenizer, 32)[i] for i in range(2)])
    assert batch["labels"].shape == batch["input_ids"].shape  # padded with IGNORE


def test_tagging_learns_and_predicts_one_tag_per_word():
    task = synthetic_task("tags", tagging=True, n_train=256, n_select=64, n_report=64)
    result = run_mtl([task], [1], encoder=TINY, config=FAST, progress=False)
    assert result.failure is None and result.select_score >= 0.8  # entity F1 of the good/bad words
    assert [len(p) for p in result.report_predictions] == [len(w) for w in task.report["words"]]
    assert result.report_labels == task.report["label"]


def test_an_mtl_run_mixes_three_objectives():
    tasks = [synthetic_task("cls", n_train=128), synthetic_task("reg", regression=True, n_train=128, seed=1),
             synthetic_task("tags", tagging=True, n_train=128, seed=2)]
    # 10 primary steps; the schedule cls reg tags ends on the primary's 10th: 9 of each auxiliary
    result = run_mtl(tasks, [1, 1, 1], encoder=TINY, config=replace(FAST, max_steps=10), progress=False)
    assert result.failure is None and result.examples_seen == {"cls": 160, "reg": 144, "tags": 144}
    tagging_primary = run_mtl(tasks[::-1], [2, 1, 1], encoder=TINY, config=replace(FAST, max_steps=14),
                              progress=False)
    assert set(tagging_primary.select) == {"entity_f1"}


def test_tagging_example_losses_and_per_example_gate_gradients():
    task = synthetic_task("tags", tagging=True, n_train=16)
    tok = AutoTokenizer.from_pretrained(bundled_minilm_path())
    model = build_model(replace(TINY, dropout=0.0), [task.spec], len(tok)).eval()
    encoded = tokenize(task.train, tok, 32)
    batch = collator(encoded, tok)([encoded[i] for i in range(4)])
    losses = example_losses(model, "tags", batch)
    # each example's loss is the mean over its own words
    _, logits = model("tags", **{k: v for k, v in batch.items() if k != "labels"})
    for b in range(4):
        words = batch["labels"][b] != IGNORE
        expected = torch.nn.functional.cross_entropy(logits[b][words], batch["labels"][b][words])
        torch.testing.assert_close(losses[b], expected)
    grads = gate_grads(model, "tags", batch)
    assert grads.shape == (4, *gate_shape(model)) and torch.all(torch.isfinite(grads))
    alone = gate_grads(model, "tags", {k: v[1:2] for k, v in batch.items()}, per_example=False)
    # example 1 alone (its own padding trimmed away by the mask) gets the same gradient
    torch.testing.assert_close(grads[1], alone, atol=1e-5, rtol=1e-4)


def test_paired_bootstrap_resamples_sentences_of_a_tagging_primary():
    from aux_select.analysis.statistics import paired_bootstrap
    tags = ("O", "B-X")
    labels = [[1, 0], [0, 1, 1], [1]] * 10
    perfect, blind = [[list(s) for s in labels]], [[[0] * len(s) for s in labels]]
    gain, low, high = paired_bootstrap(labels, perfect, blind, "entity_f1", n_resamples=50, tag_names=tags)
    assert gain == pytest.approx(1.0) and low == pytest.approx(1.0) and high == pytest.approx(1.0)
