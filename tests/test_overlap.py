"""Report text in training: train rows that share a sentence (or a whole pair) with a primary's
report split are found after normalising case, whitespace and punctuation, and only those."""
from dataclasses import replace

import pytest
from datasets import Dataset

from aux_select.data import report_overlap, shared_rows, synthetic_task
from aux_select.data.overlap import normalise


def pairs(name: str, split: str, rows: list[tuple[str, str]]):
    task = synthetic_task(name, pair=True)
    data = Dataset.from_dict({"text_a": [a for a, _ in rows], "text_b": [b for _, b in rows], "label": [0] * len(rows)})
    return replace(task, **{split: data})


def test_normalising_ignores_case_whitespace_and_punctuation():
    assert normalise("  The cat, sat -- on THE mat! ") == normalise("the cat sat on the mat") == "the cat sat on the mat"
    assert normalise("The cats sat.") != normalise("The cat sat.")


def test_shared_rows_by_sentence_and_by_pair():
    report = pairs("P", "report", [("A man plays a guitar.", "Someone plays music."), ("Dogs run.", "Cats sleep.")])
    train = pairs("C", "train", [("a man PLAYS a guitar", "Someone plays music"),   # the whole pair, respelled
                                 ("Cats sleep!", "Birds sing."),                    # one of its sentences
                                 ("Nothing here.", "Nor here.")])
    assert shared_rows(train, report) == [0, 1]
    assert shared_rows(train, report, unit="row") == [0]
    with pytest.raises(ValueError, match="sentence or row"):
        shared_rows(train, report, unit="word")


def test_the_overlap_table_reads_primaries_by_report_and_tasks_by_train():
    p = pairs("P", "report", [("Shared text.", "x")])
    p = replace(p, train=Dataset.from_dict({"text_a": ["own"], "text_b": ["y"], "label": [0]}))
    c = pairs("C", "train", [("shared TEXT", "z"), ("other", "w")])
    table = report_overlap([p, c])
    assert table.loc["P", "C"] == 1 and table.loc["P", "P"] == 0  # C's train holds P's report sentence
