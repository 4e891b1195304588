"""Report text that training could see: the rows of a train split that hold a sentence of a
primary's report split, compared after normalising case, whitespace and punctuation.

    report_overlap(exp.tasks(["STS-B", "MRPC", "RTE"]))   # primaries × train splits: shared rows
    mrpc, dropped = without_report_text(exp.task("MRPC"), exp.task("STS-B"))  # for a run of STS-B

A primary's own proxy is refused as a candidate for this reason (`check_pool`); every run drops
the rest before it trains (`Experiment.training_tasks`): a row goes when any one of its sentences
is a sentence of the primary's report split, since the encoder would read that text either way
(a pair that merely shares a premise is report text all the same).
"""
from __future__ import annotations

import unicodedata
from dataclasses import replace
from typing import Sequence

import pandas as pd
from datasets import Dataset

from aux_select.data.loading import TaskData


def normalise(text: str) -> str:
    """Lower case, punctuation as spaces, whitespace collapsed (NFKC first)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join("".join(" " if unicodedata.category(c).startswith("P") else c for c in text).split())


TEXT_COLUMNS = ("text_a", "text_b", "words")  # every task's text columns once loaded (data.loading)


def row_texts(ds: Dataset) -> list[set[str]]:
    """Each row's normalised texts (a tagging row's words joined), empty ones left out."""
    def text(value) -> str:
        return normalise(" ".join(value) if isinstance(value, list) else str(value))
    columns = [ds[c] for c in TEXT_COLUMNS if c in ds.column_names]
    return [{t for t in map(text, values) if t} for values in zip(*columns)]


def shared_rows(train: TaskData, report: TaskData, unit: str = "sentence") -> list[int]:
    """Indices of `train`'s train rows that share text with `report`'s report rows (and its second
    dev set's, if it has one): any one sentence (unit="sentence"), or the row's texts all together
    (unit="row": a pair as a pair)."""
    if unit not in ("sentence", "row"):
        raise ValueError(f"unit={unit!r}; choose sentence or row")
    rows = row_texts(report.report) + (row_texts(report.beside) if report.beside is not None else [])
    seen = set().union(*rows) if unit == "sentence" else {frozenset(texts) for texts in rows}
    mine = row_texts(train.train)
    if unit == "sentence":
        return [i for i, texts in enumerate(mine) if texts & seen]
    return [i for i, texts in enumerate(mine) if frozenset(texts) in seen]


def report_overlap(tasks: Sequence[TaskData], unit: str = "sentence") -> pd.DataFrame:
    """Primaries (rows: whose report split) × tasks (columns: whose train split): how many train
    rows share text with the primary's report split (`shared_rows`); the diagonal is a task's own
    train split."""
    return pd.DataFrame({t.name: {p.name: len(shared_rows(t, p, unit)) for p in tasks} for t in tasks})


def without_report_text(task: TaskData, primary: TaskData) -> tuple[TaskData, int]:
    """`task` whose train split keeps only the rows that share no sentence with `primary`'s
    report split, and how many rows went (`task` itself when none did)."""
    shared = set(shared_rows(task, primary))
    if not shared:
        return task, 0
    kept = task.train.select([i for i in range(len(task.train)) if i not in shared])
    note = f"{len(shared)} train rows sharing a sentence with {primary.name}'s report split dropped"
    return replace(task, train=kept, notes="; ".join(filter(None, [task.notes, note]))), len(shared)
