"""Reading local data files into rows, one reader per format, and rows into our columns.

    tsv     GLUE: tab-separated, quoting off (QNLI's stray '"' is text), UTF-8 BOM stripped
    jsonl   one JSON object per line (MNLI-m dev_matched.jsonl)
    csv     a real CSV reader: MELD's utterances hold commas, quotes and curly quotes
    conll   CoNLL-2000/2003: whitespace-separated columns, a blank line ends a sentence,
            -DOCSTART- lines dropped
    conllu  Universal Dependencies: word lines only (multiword-token ranges and empty nodes are
            skipped, so counts are syntactic words, as UD's stats.xml counts them)

Every reader raises `DataFormatError` naming the file and line of a malformed row.

A data root holding a file named `SAMPLE` (`SAMPLE_MARKER`; e.g. tests/fixtures/data) declares
itself a sample, not the official data: the official row and word counts are not checked for
files under it (`is_sample_root`), and `data.load_task` says so in the task's notes.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

from aux_select.data.registry import TAGGING, LocalFile, TaskSpec

Rows = list[tuple[int, dict]]  # (line number, row); a sentence's row has one list per column
CONLLU_COLUMNS = ("id", "words", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
SAMPLE_MARKER = "SAMPLE"  # a file of this name at a data root marks the root as a sample


class DataFormatError(ValueError):
    """A malformed row in a data file; the message names the file and line."""


def is_sample_root(root: Path | None) -> bool:
    """Whether `root` declares itself a sample (a `SAMPLE` file in it): its files are not the
    official ones, so their row and word counts are not checked against the official counts."""
    return root is not None and (Path(root) / SAMPLE_MARKER).is_file()


def read_local_file(root: Path, file: LocalFile, spec: TaskSpec, check_rows: bool = True) -> list[dict]:
    """Rows of a local file as dicts with text_a[/text_b]/label, or words/label for tagging.
    Row (and, for tagging, word) counts are checked against the complete official file, except
    under a sample root (`is_sample_root`), whose files are not the official ones."""
    path = root / file.path
    rows = read_rows(path, file)
    if file.rename:
        names = dict(file.rename)
        rows = [(lineno, {names.get(k, k): v for k, v in row.items()}) for lineno, row in rows]
    if check_rows and not is_sample_root(root):
        counts = [("data rows", len(rows), file.rows)]
        if file.tokens is not None:
            counts.append(("words", sum(len(r["words"]) for _, r in rows), file.tokens))
        for what, found, expected in counts:
            if expected is not None and found != expected:
                raise DataFormatError(
                    f"{path}: {found} {what}, expected {expected} for the complete file; replace the "
                    "file with the official one or pass check_rows=False to use it as is")
    return [convert_row(spec, row, path, lineno) for lineno, row in rows]


def read_rows(path: Path, file: LocalFile) -> Rows:
    """(line number, row) pairs of the file at `path` in its source columns, by `file`'s format
    (None: from the suffix); a malformed row raises `DataFormatError` naming file and line."""
    format = file.format or path.suffix.lstrip(".")
    if format not in READERS:
        raise ValueError(f"{file.path}: unknown format {format!r}; name one of {', '.join(READERS)} "
                         "in LocalFile(format=...)")
    return READERS[format](path, file)


def _read_tsv(path: Path, file: LocalFile) -> Rows:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return _table(reader, path, file, "tab-separated")


def _read_csv(path: Path, file: LocalFile) -> Rows:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return _table(csv.reader(f), path, file, "comma-separated")


def _table(reader, path: Path, file: LocalFile, kind: str) -> Rows:
    header = next(reader) if file.header else list(file.columns)
    rows = []
    for values in reader:
        if len(values) != len(header):
            raise DataFormatError(f"{path}:{reader.line_num}: expected {len(header)} {kind} "
                                  f"columns, found {len(values)}")
        rows.append((reader.line_num, dict(zip(header, values))))
    return rows


def _read_jsonl(path: Path, file: LocalFile) -> Rows:
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError as e:
                raise DataFormatError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    return rows


def _sentences(path: Path, columns: tuple[str, ...], split: Callable[[str], list[str]],
               skip: Callable[[list[str]], bool]) -> Rows:
    """Blank-line separated sentences of one-word-per-line files, as one list per column."""
    rows, words, start = [], [], 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip():
                values = split(line)
                if skip(values):
                    continue
                if len(values) != len(columns):
                    raise DataFormatError(f"{path}:{lineno}: expected {len(columns)} columns "
                                          f"({' '.join(columns)}), found {len(values)}")
                start = start or lineno
                words.append(values)
            elif words:
                rows.append((start, {c: list(v) for c, v in zip(columns, zip(*words))}))
                words, start = [], 0
    if words:
        rows.append((start, {c: list(v) for c, v in zip(columns, zip(*words))}))
    return rows


def _read_conll(path: Path, file: LocalFile) -> Rows:
    return _sentences(path, file.columns, str.split, skip=lambda v: v[0] == "-DOCSTART-")


def _read_conllu(path: Path, file: LocalFile) -> Rows:
    def skip(values: list[str]) -> bool:  # comments, "3-4" multiword ranges, "5.1" empty nodes
        return values[0].startswith("#") or not values[0].isdigit()
    return _sentences(path, CONLLU_COLUMNS, lambda line: line.split("\t"), skip)


READERS: dict[str, Callable[[Path, LocalFile], Rows]] = {
    "tsv": _read_tsv, "jsonl": _read_jsonl, "csv": _read_csv, "conll": _read_conll, "conllu": _read_conllu}


def convert_row(spec: TaskSpec, row: dict, path: Path, lineno: int) -> dict:
    """A source row in our columns: text_a[/text_b]/label, or words/label (tag ids) for tagging."""
    try:
        texts = [row[k] for k in spec.text_keys]
        raw = row[spec.label_key]
    except KeyError as e:
        raise DataFormatError(f"{path}:{lineno}: no column {e.args[0]!r}; "
                              f"columns are {sorted(row)}") from None
    if spec.objective == TAGGING:
        return {"words": list(texts[0]), "label": [_parse_label(spec, str(t), path, lineno) for t in raw]}
    out = {"text_a": texts[0]} | ({"text_b": texts[1]} if spec.is_pair else {})
    out["label"] = _parse_label(spec, str(raw).strip(), path, lineno)
    return out


def _parse_label(spec: TaskSpec, raw: str, path: Path, lineno: int) -> int | float:
    if spec.labels is None:
        try:
            return float(raw)
        except ValueError:
            raise DataFormatError(f"{path}:{lineno}: score {raw!r} is not a number") from None
    if raw in spec.labels:
        return spec.labels.index(raw)
    if raw.isdigit() and int(raw) < len(spec.labels):   # GLUE writes some labels as ids
        return int(raw)
    raise DataFormatError(f"{path}:{lineno}: label {raw!r} is not one of {list(spec.labels)}")
