"""Loading, splitting, subsampling, tokenising and batching.

Every task becomes three `datasets.Dataset`s with columns `text_a`, [`text_b`,] `label`:
  train  - what models learn from (seeded subsample of the source's train split),
  select - held out from train with a seed; every selection decision is made on it,
  report - the GLUE dev set; used only for final numbers.
Sources, in order: `data_dir` argument, `AUX_SELECT_DATA`, the Hugging Face hub.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
from datasets import ClassLabel, Dataset, Features, Value, concatenate_datasets
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase
from transformers.trainer_pt_utils import LengthGroupedSampler

from .tasks import CLASSIFICATION, LocalFile, TaskSpec, get_task

PROXY_REPORT_FRACTION = 0.2   # share of a proxy's dev file kept back as its report split


class DataFormatError(ValueError):
    """A malformed row in a data file; the message names the file and line."""


class DataNotFoundError(FileNotFoundError):
    """No source has the task; the message names every way to provide it."""


@dataclass
class TaskData:
    spec: TaskSpec
    train: Dataset
    select: Dataset
    report: Dataset
    source: str        # "local:<path>" or "hub:<path>/<config>"
    notes: str         # partial data, proxies and subsampling, in words

    @property
    def name(self) -> str:
        return self.spec.name


# ----------------------------------------------------------------------------- reading files

def read_local_file(root: Path, file: LocalFile, spec: TaskSpec, check_rows: bool = True) -> list[dict]:
    """Rows of a classic GLUE file as dicts with text_a/text_b/label (raises on any malformed row)."""
    path = root / file.path
    rows = _read_jsonl(path) if path.suffix == ".jsonl" else _read_tsv(path, file)
    if check_rows and file.rows is not None and len(rows) != file.rows:
        raise DataFormatError(
            f"{path}: {len(rows)} data rows, expected {file.rows} for the complete file; "
            "replace the file with the official one or pass check_rows=False to use it as is")
    return [_convert_row(spec, row, path, lineno) for lineno, row in rows]


def _read_tsv(path: Path, file: LocalFile) -> list[tuple[int, dict]]:
    # utf-8-sig strips MRPC's BOM; QUOTE_NONE keeps QNLI's stray '"' as text, as GLUE intends
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader) if file.header else list(file.columns)
        rows = []
        for values in reader:
            if len(values) != len(header):
                raise DataFormatError(f"{path}:{reader.line_num}: expected {len(header)} "
                                      f"tab-separated columns, found {len(values)}")
            rows.append((reader.line_num, dict(zip(header, values))))
    return rows


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
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


def _convert_row(spec: TaskSpec, row: dict, path: Path, lineno: int) -> dict:
    try:
        texts = [row[k] for k in spec.text_keys]
        raw = row[spec.label_key]
    except KeyError as e:
        raise DataFormatError(f"{path}:{lineno}: no column {e.args[0]!r}; "
                              f"columns are {sorted(row)}") from None
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


def _to_dataset(rows: list[dict], spec: TaskSpec) -> Dataset:
    features = {"text_a": Value("string")} | ({"text_b": Value("string")} if spec.is_pair else {})
    features["label"] = ClassLabel(names=list(spec.labels)) if spec.labels else Value("float32")
    columns = {k: [r[k] for r in rows] for k in features}
    return Dataset.from_dict(columns, features=Features(features))


# ----------------------------------------------------------------------------- sources

def data_root(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data root: the argument, else AUX_SELECT_DATA, else None (hub only)."""
    root = data_dir if data_dir is not None else os.environ.get("AUX_SELECT_DATA")
    return Path(root).expanduser() if root else None


def _load_from_hub(spec: TaskSpec, split: str) -> Dataset:
    from datasets import load_dataset
    return load_dataset(*spec.hub, split=split)


def _hub_to_ours(ds: Dataset, spec: TaskSpec) -> Dataset:
    keys = spec.hub_text_keys or spec.text_keys
    ds = ds.rename_columns(dict(zip(keys, ["text_a", "text_b"][: len(keys)])))
    return ds.remove_columns([c for c in ds.column_names if c not in ("text_a", "text_b", "label")])


def _load_sources(spec: TaskSpec, root: Path | None, check_rows: bool) -> tuple[Dataset, Dataset, str]:
    """(train source, report source, description) for a task."""
    if spec.proxy_of is not None:
        if root is None or not (root / spec.local_report.path).exists():
            raise DataNotFoundError(
                f"{spec.name} is built from {spec.local_report.path}, which was not found under "
                f"{root or '(no data_dir)'}; pass data_dir= or set AUX_SELECT_DATA to a folder "
                f"holding it, or use the real task {spec.proxy_of!r} from the hub")
        dev = _to_dataset(read_local_file(root, spec.local_report, spec, check_rows), spec)
        return dev, dev, f"local:{root / spec.local_report.path}"
    if root is not None and (root / spec.local_train.path).exists():
        train = _to_dataset(read_local_file(root, spec.local_train, spec, check_rows), spec)
        report = _to_dataset(read_local_file(root, spec.local_report, spec, check_rows), spec)
        return train, report, f"local:{root / spec.local_train.path.rsplit('/', 1)[0]}"
    try:
        train, report = (_hub_to_ours(_load_from_hub(spec, s), spec) for s in spec.hub_splits)
    except Exception as e:  # offline, hub down, or no such config: one message naming every fix
        proxy = f"{spec.name}-proxy"
        hint = (f"; offline, the labelled stand-in {proxy!r} (built from the dev file) can be used"
                if root is not None and proxy in _proxies() else "")
        raise DataNotFoundError(
            f"no data for {spec.name}: {spec.local_train.path} is not under "
            f"data_dir/AUX_SELECT_DATA ({root or 'neither is set'}) and the Hugging Face hub "
            f"({'/'.join(spec.hub)}) could not be reached ({type(e).__name__}). Pass data_dir=, set "
            f"AUX_SELECT_DATA to a folder in the classic GLUE layout, or go online{hint}") from e
    return train, report, f"hub:{'/'.join(spec.hub)}"


def _proxies() -> set[str]:
    from .tasks import REGISTRY
    return {n for n, s in REGISTRY.items() if s.proxy_of}


# ----------------------------------------------------------------------------- splits

def _take(n: int, fraction: float | None, cap: int | None) -> int:
    if fraction is not None:
        n = round(n * fraction)
    return n if cap is None else min(n, cap)


def load_task(name: str, data_dir: str | os.PathLike | None = None, *, seed: int = 0,
              select_fraction: float = 0.1, select_cap: int | None = 1000,
              train_fraction: float | None = None, train_cap: int | None = None,
              report_cap: int | None = None, check_rows: bool = True) -> TaskData:
    """Load a task as train / select / report splits.

    select: `select_fraction` of the train source (at most `select_cap` rows), held out with
    `seed`. train: the rest, optionally subsampled by `train_fraction` and/or `train_cap`.
    Subsamples are prefixes of one seeded permutation, so a smaller sample is always a subset
    of a larger one and the same arguments always give the same rows.
    """
    spec = get_task(name)
    root = data_root(data_dir)
    train_src, report_src, source = _load_sources(spec, root, check_rows)
    rng = np.random.default_rng(seed)
    notes = []
    if spec.proxy_of is not None:
        order = rng.permutation(len(train_src))
        n_report = round(len(order) * PROXY_REPORT_FRACTION)
        report_src, train_src = train_src.select(order[:n_report]), train_src.select(order[n_report:])
        notes.append(f"PROXY for {spec.proxy_of}: built from its dev file only "
                     f"({n_report} rows kept as report, the rest as train/select); "
                     f"never report it as {spec.proxy_of}")
    elif len(train_src) < spec.train_size:
        notes.append(f"partial: {len(train_src)} of {spec.train_size} official train rows")
    order = rng.permutation(len(train_src))
    n_select = _take(len(order), select_fraction, select_cap)
    select, pool = order[:n_select], order[n_select:]
    n_train = _take(len(pool), train_fraction, train_cap)
    if n_train < len(pool):
        notes.append(f"subsampled: {n_train} of {len(pool)} train rows (seed {seed})")
    report = report_src
    if report_cap is not None and report_cap < len(report_src):
        report = report_src.select(np.random.default_rng(seed).permutation(len(report_src))[:report_cap])
        notes.append(f"report capped at {report_cap} of {len(report_src)} rows")
    splits = {"train": train_src.select(np.sort(pool[:n_train])),
              "select": train_src.select(np.sort(select)), "report": report}
    note = "; ".join(notes) or "complete"
    for split in splits.values():
        split.info.description = f"{spec.name} ({source}): {note}"
    return TaskData(spec, **splits, source=source, notes=note)


def available_tasks(data_dir: str | os.PathLike | None = None,
                    pool: tuple[str, ...] | None = None) -> list[str]:
    """The tasks of `pool` (default: the GLUE classification pool) that local data can provide,
    with dev-only tasks replaced by their proxies. Without local data, the whole pool (hub)."""
    from .tasks import GLUE_CLASSIFICATION
    pool = pool or GLUE_CLASSIFICATION
    root = data_root(data_dir)
    if root is None:
        return list(pool)
    names = []
    for name in pool:
        spec = get_task(name)
        if spec.local_train is not None and (root / spec.local_train.path).exists():
            names.append(name)
        elif f"{name}-proxy" in _proxies() and (root / spec.local_report.path).exists():
            names.append(f"{name}-proxy")
    return names


def task_statistics(task: TaskData) -> dict:
    """GradTS Table 7 columns for a task, measured from its train source (train + select):
    rows, average length in whitespace words per example (both sentences of a pair), GLUE type
    and label counts."""
    ds = concatenate_datasets([task.train, task.select])
    words = [len(a.split()) for a in ds["text_a"]]
    if task.spec.is_pair:
        words = [w + len(b.split()) for w, b in zip(words, ds["text_b"])]
    stats = {"task": task.name, "type": task.spec.glue_type, "train_rows": len(ds),
             "official_train_size": task.spec.train_size, "avg_words": float(np.mean(words)),
             "proxy": task.spec.proxy_of is not None}
    if task.spec.objective == CLASSIFICATION:
        counts = np.bincount(ds["label"], minlength=task.spec.num_labels)
        stats["label_counts"] = dict(zip(task.spec.labels, counts.tolist()))
    return stats


def describe_tasks(tasks: list[TaskData]) -> pd.DataFrame:
    """GradTS Table 7 (size, average length, type) for `tasks`, with where each came from."""
    rows = []
    for task in tasks:
        stats = task_statistics(task)
        rows.append({"task": task.name, "type": stats["type"], "train rows": stats["train_rows"],
                     "official train size": stats["official_train_size"],
                     "avg words": round(stats["avg_words"], 1), "labels": task.spec.num_labels,
                     "metric": task.spec.selection_metric, "source": task.source.split(":")[0],
                     "notes": task.notes})
    return pd.DataFrame(rows).set_index("task")


def example_lengths(ds: Dataset, tokenizer: PreTrainedTokenizerBase, limit: int | None = None,
                    seed: int = 0) -> list[int]:
    """Untruncated tokens per example (special tokens included) of up to `limit` seeded rows."""
    if limit is not None and limit < len(ds):
        ds = ds.select(np.random.default_rng(seed).permutation(len(ds))[:limit])
    columns = ds.to_dict()  # plain lists: the tokenizer refuses datasets' lazy Column
    texts = [columns[k] for k in ("text_a", "text_b") if k in columns]
    return [len(ids) for ids in tokenizer(*texts)["input_ids"]]


# ----------------------------------------------------------------------------- tokenising

_TOKENIZER_KEYS: "weakref.WeakKeyDictionary[PreTrainedTokenizerBase, str]" = weakref.WeakKeyDictionary()


def tokenizer_key(tokenizer: PreTrainedTokenizerBase) -> str:
    """A short stable identity for a tokenizer (its name and vocabulary), computed once per
    tokenizer object: serialising a 30k vocabulary costs more than tokenising a small task."""
    if tokenizer not in _TOKENIZER_KEYS:
        vocab = json.dumps(sorted(tokenizer.get_vocab().items()))
        _TOKENIZER_KEYS[tokenizer] = hashlib.sha1(f"{tokenizer.name_or_path}|{vocab}".encode()).hexdigest()[:12]
    return _TOKENIZER_KEYS[tokenizer]


def cache_dir() -> Path:
    """Where tokenised datasets are cached: AUX_SELECT_CACHE or ~/.cache/aux_select."""
    return Path(os.environ.get("AUX_SELECT_CACHE", "~/.cache/aux_select")).expanduser()


def tokenize(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_len: int) -> Dataset:
    """input_ids / attention_mask / token_type_ids / labels, unpadded; cached on disk by
    (tokenizer, data fingerprint, max_len) so each is tokenised once."""
    pair = "text_b" in ds.column_names
    key = f"{tokenizer_key(tokenizer)}-{ds._fingerprint}-{max_len}"
    path = cache_dir() / "tokenized" / f"{key}.arrow"
    path.parent.mkdir(parents=True, exist_ok=True)

    def encode(batch):
        texts = (batch["text_a"], batch["text_b"]) if pair else (batch["text_a"],)
        out = tokenizer(*texts, truncation=True, max_length=max_len)
        out["labels"] = batch["label"]
        return out

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # a bar per split per task buries the training bars
    try:
        return ds.map(encode, batched=True, remove_columns=ds.column_names, cache_file_name=str(path),
                      new_fingerprint=key)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


# ----------------------------------------------------------------------------- batching

class _Rows(torch.utils.data.Dataset):
    """Tokenised rows as plain lists: indexing Arrow per example is slower than the model step
    on tiny encoders."""

    def __init__(self, ds: Dataset):
        self.columns = ds.to_dict()
        self.n = len(ds)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.columns.items()}


def make_loader(encoded: Dataset, tokenizer: PreTrainedTokenizerBase, batch_size: int, *,
                shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
    """Dynamically padded batches. Training: length-grouped random batches (little padding,
    seeded). Evaluation: longest first, in a fixed order."""
    rows = _Rows(encoded)
    lengths = [len(x) for x in rows.columns["input_ids"]]
    if shuffle:
        sampler = LengthGroupedSampler(batch_size, lengths=lengths,
                                       generator=torch.Generator().manual_seed(seed))
    else:
        sampler = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return torch.utils.data.DataLoader(rows, batch_size=batch_size, sampler=sampler,
                                       collate_fn=DataCollatorWithPadding(tokenizer))


# ----------------------------------------------------------------------------- synthetic tasks

def synthetic_task(name: str = "toy", *, n_train: int = 64, n_select: int = 32, n_report: int = 32,
                   pair: bool = False, regression: bool = False, seed: int = 0) -> TaskData:
    """A tiny learnable task for tests: the label is whether the sentence says "good" more
    often than "bad" (regression: the difference)."""
    rng = np.random.default_rng(seed)
    spec = TaskSpec(name=name, objective="regression" if regression else CLASSIFICATION,
                    text_keys=("a", "b") if pair else ("a",), label_key="label",
                    labels=None if regression else ("neg", "pos"),
                    metrics=("pearson",) if regression else ("accuracy",),
                    selection_metric="pearson" if regression else "accuracy",
                    glue_type="synthetic", train_size=n_train)
    filler = ["the", "film", "was", "a", "plot", "and", "it", "very", "story"]

    def rows(n):
        out = []
        for _ in range(n):
            good, bad = rng.integers(0, 4, size=2)
            words = list(rng.choice(filler, size=rng.integers(3, 12))) + ["good"] * good + ["bad"] * bad
            rng.shuffle(words)
            row = {"a": " ".join(words), "b": " ".join(rng.choice(filler, size=4)),
                   "label": str(float(good - bad)) if regression else str(int(good > bad))}
            out.append(_convert_row(spec, row, Path("<synthetic>"), 0))
        return _to_dataset(out, spec)

    return TaskData(spec, rows(n_train), rows(n_select), rows(n_report),
                    source="synthetic", notes="synthetic test task")
