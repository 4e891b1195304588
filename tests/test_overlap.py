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


def test_a_run_trains_no_row_holding_the_primarys_report_text_and_records_how_many_went(fixture_data_dir):
    from datasets import concatenate_datasets

    from aux_select.data.overlap import without_report_text
    from aux_select.experiment import Experiment
    exp = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    rte, mrpc = exp.tasks(["RTE", "MRPC"])
    leak = Dataset.from_list([{"text_a": "unrelated", "text_b": rte.report["text_a"][0].upper() + " ", "label": 0}],
                             features=mrpc.train.features)
    exp.use_task(replace(mrpc, train=concatenate_datasets([mrpc.train, leak])))
    (rte_clean, mrpc_clean), dropped = exp.training_tasks(["RTE", "MRPC"])
    assert dropped["MRPC"] >= 1 and len(mrpc_clean.train) == len(mrpc.train) + 1 - dropped["MRPC"]
    assert not shared_rows(mrpc_clean, rte) and not shared_rows(rte_clean, rte)  # the primary's own split too
    assert dropped["RTE"] == len(shared_rows(rte, rte))
    assert exp.training_tasks(["MRPC"])[1] == {"MRPC": len(shared_rows(exp.task("MRPC"), exp.task("MRPC")))}
    assert without_report_text(rte_clean, rte) == (rte_clean, 0)  # nothing left to drop: the task itself
    run = exp.run(["RTE", "MRPC"])
    assert run.report_text_dropped == dropped
    assert exp.run(["RTE", "MRPC"], [1, 1]) == run  # the uniform mix under smoke's K = 4 is 1:1, read back
