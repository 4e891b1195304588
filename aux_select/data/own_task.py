"""Your own task in one call: a CSV, TSV or JSONL file (or a `datasets.Dataset`), registered.

    from aux_select.data import task_from_file
    task_from_file("my.csv", name="MyTask")                   # columns sentence,label: classification
    task_from_file("pairs.tsv", name="MyPairs", text=("s1", "s2"), label="score", objective="regression")
    exp = Experiment("cpu")                                   # made after: it holds MyTask's spec
    exp.candidates("MyTask")                                  # the GLUE pool, as for any primary

The file is read by the readers of the built-in tasks (aux_select.data.readers), and every row is
checked at once, as loading would: a bad row names its file and line, a missing column names the
columns there are. The task then loads like any other (`data.load_task`): select held out of its
train file with the profile's seed and caps, report from `report_file` or, without one, 20 % of
the file held out with a seed. Its store keys follow its rows' content, as every task's do. A
context sends its spec (the file's absolute path, not the rows) to Dask workers, which read the
file themselves: on a cluster, put it where every worker sees it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from datasets import ClassLabel, Dataset

from aux_select.data.readers import DataFormatError, convert_row, read_rows
from aux_select.data.registry import CLASSIFICATION, REGRESSION, SINGLE_SENTENCE, LocalFile, TaskSpec, register_task
from aux_select.runtime.store import content_hash

# the metrics a task of each objective can be scored by (aux_select.train.metrics); the first is the default
OBJECTIVE_METRICS = {CLASSIFICATION: ("accuracy", "f1", "f1_macro", "f1_weighted", "matthews"),
                     REGRESSION: ("pearson", "spearman")}
SENTENCE_PAIR = "sentence pair"  # the GLUE type of an own pair task unless named: none of GLUE's own
FORMATS = ("csv", "tsv", "jsonl")


def task_from_file(path: str | os.PathLike, name: str, *, text: str | Sequence[str] = "sentence",
                   label: str = "label", objective: str = CLASSIFICATION, labels: Sequence[str] | None = None,
                   metric: str | None = None, report_file: str | os.PathLike | None = None,
                   glue_type: str | None = None) -> TaskSpec:
    """Register the task in `path` (csv, tsv or jsonl, by its suffix) under `name`, and return its spec.

    text: its text column, or two for a pair ("s1,s2" or ("s1", "s2")); label: its label column.
    objective: "classification" (labels: the class names in id order; None: the distinct values
    of the train file's label column, sorted, as numbers when they all are) or "regression" (a
    number per row). metric: what selection and reports use (None: accuracy, or pearson).
    report_file: the rows final numbers are scored on (None: 20 % of `path` held out, seeded).
    glue_type: what HEU-Type and AutoSeM's educated guesses compare (None: "single-sentence" for
    one text column, so CoLA and SST-2 come first; for a pair "sentence pair", which no GLUE task
    is, so HEU-Type orders the candidates by size alone, as HEU-Size; name "paraphrase" or
    "inference" to group it with those). The official train size is the file's row count.
    """
    text = tuple(text.split(",")) if isinstance(text, str) else tuple(text)
    if objective not in OBJECTIVE_METRICS or not 1 <= len(text) <= 2:
        raise ValueError(f"objective={objective!r}, text={text}: an own task is {' or '.join(OBJECTIVE_METRICS)} "
                         "of one or two text columns")
    metric = metric or OBJECTIVE_METRICS[objective][0]
    if metric not in OBJECTIVE_METRICS[objective]:
        raise ValueError(f"metric {metric!r} does not score {objective}; choose one of {OBJECTIVE_METRICS[objective]}")
    files = [_local_file(p) for p in (path, report_file) if p is not None]
    rows = [read_rows(Path(f.path), f) for f in files]
    if not rows[0]:
        raise DataFormatError(f"{files[0].path}: no data rows")
    if objective == CLASSIFICATION and labels is None:
        labels = _found_labels(rows[0], label)
    spec = TaskSpec(name=name, objective=objective, text_keys=text, label_key=label,
                    labels=tuple(labels) if objective == CLASSIFICATION else None, metrics=(metric,),
                    selection_metric=metric, glue_type=glue_type or (SINGLE_SENTENCE if len(text) == 1 else SENTENCE_PAIR),
                    train_size=len(rows[0]), local_train=files[0], local_report=files[1] if report_file else None)
    for file, file_rows in zip(files, rows):  # every row now, as loading will read it
        for lineno, row in file_rows:
            convert_row(spec, row, Path(file.path), lineno)
    if spec.labels is not None and len(spec.labels) < 2:
        raise DataFormatError(f"{path}: one class {list(spec.labels)} in column {label!r}; a classification "
                              "task needs two or more")
    register_task(spec)
    return spec


def task_from_dataset(ds: Dataset, name: str, *, report: Dataset | None = None, folder: str | os.PathLike | None = None,
                      **keywords) -> TaskSpec:
    """`task_from_file` for a `datasets.Dataset` (and an optional `report` one), written once as
    JSONL under `folder` (None: AUX_SELECT_CACHE/own_tasks), so a Dask worker reads it as a file.
    A ClassLabel label column gives the class names, unless `labels=` does."""
    label = keywords.get("label", "label")
    if "labels" not in keywords and isinstance(ds.features.get(label), ClassLabel):
        keywords["labels"] = ds.features[label].names
    if folder is None:
        from aux_select.data.batching import cache_dir  # tokenisers: imported only here
        folder = cache_dir() / "own_tasks"
    files = [_as_jsonl(part, Path(folder), name) for part in (ds, report) if part is not None]
    return task_from_file(files[0], name, report_file=files[1] if report is not None else None, **keywords)


def _local_file(path: str | os.PathLike) -> LocalFile:
    """A user's file, named in full (a worker's working directory may differ), not count-checked."""
    path = Path(path).expanduser().resolve()
    if path.suffix.lstrip(".") not in FORMATS:
        raise ValueError(f"{path}: an own task's file is {', '.join(FORMATS)} (by its suffix)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return LocalFile(str(path), rows=None)


def _found_labels(rows: list[tuple[int, dict]], label: str) -> tuple[str, ...]:
    """The distinct non-empty values of `label`, sorted (as numbers when they all are); an empty
    one is left out, so its row is refused by name and line."""
    found = {str(row[label]).strip() for _, row in rows if label in row} - {""}
    try:
        return tuple(sorted(found, key=float))
    except ValueError:
        return tuple(sorted(found))


def _as_jsonl(ds: Dataset, folder: Path, name: str) -> Path:
    """`ds` as JSONL named by its content, written once (whole or absent)."""
    path = folder / f"{name}-{content_hash(ds)}.jsonl"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        ds.to_json(str(tmp), lines=True, force_ascii=False)
        tmp.replace(path)
    return path
