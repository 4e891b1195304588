"""What a task's data looks like: GradTS Table 7's statistics (rows, words, type, labels), split
sizes, and token lengths under a tokenizer (notebook 01)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from datasets import Dataset, concatenate_datasets
from transformers import PreTrainedTokenizerBase

from aux_select.data.loading import TaskData
from aux_select.data.registry import TAGGING


def task_statistics(task: TaskData) -> dict:
    """GradTS Table 7 columns for a task, measured from its train source (train + select):
    rows, average length in whitespace words per example (both sentences of a pair), GLUE type
    and label counts."""
    ds = concatenate_datasets([task.train, task.select])
    if task.spec.objective == TAGGING:
        words = [len(w) for w in ds["words"]]
    else:
        words = [len(a.split()) for a in ds["text_a"]]
    if task.spec.is_pair:
        words = [w + len(b.split()) for w, b in zip(words, ds["text_b"])]
    stats = {"task": task.name, "type": task.spec.glue_type, "train_rows": len(ds),
             "official_train_size": task.spec.train_size, "avg_words": float(np.mean(words)),
             "proxy": task.spec.proxy_of is not None}
    if task.spec.labels is not None:  # classes; tagging: tags over all words
        ids = np.concatenate(ds["label"]) if task.spec.objective == TAGGING else ds["label"]
        counts = np.bincount(ids, minlength=task.spec.num_labels)
        stats["label_counts"] = dict(zip(task.spec.labels, counts.tolist()))
    return stats


def describe_tasks(tasks: list[TaskData]) -> pd.DataFrame:
    """GradTS Table 7 (size, average length, type) for `tasks`, with where each came from."""
    rows = []
    for task in tasks:
        stats = task_statistics(task)
        rows.append({"task": task.name, "type": stats["type"], "objective": task.spec.objective,
                     "train rows": stats["train_rows"],
                     "official train size": stats["official_train_size"],
                     "avg words": round(stats["avg_words"], 1), "labels": task.spec.num_labels,
                     "metric": task.spec.selection_metric, "source": task.source.split(":")[0],
                     "notes": task.notes})
    return pd.DataFrame(rows).set_index("task")


def split_sizes(tasks: list[TaskData]) -> pd.DataFrame:
    """Rows of each task's train / select / report split (what a profile's caps leave)."""
    return pd.DataFrame([{"task": t.name, "train": len(t.train), "select": len(t.select), "report": len(t.report)}
                         for t in tasks]).set_index("task")


def truncated_share(lengths: dict[str, list[int]], max_len: int) -> pd.Series:
    """Per task, the share of examples longer than `max_len` tokens (cut off when tokenised)."""
    return pd.Series({name: float(np.mean(np.asarray(ns) > max_len)) for name, ns in lengths.items()},
                     name=f"share over {max_len} tokens")


def example_lengths(ds: Dataset, tokenizer: PreTrainedTokenizerBase, limit: int | None = None,
                    seed: int = 0) -> list[int]:
    """Untruncated tokens per example (special tokens included) of up to `limit` seeded rows."""
    if limit is not None and limit < len(ds):
        ds = ds.select(np.random.default_rng(seed).permutation(len(ds))[:limit])
    columns = ds.to_dict()  # plain lists: the tokenizer refuses datasets' lazy Column
    if "words" in columns:
        return [len(ids) for ids in tokenizer(columns["words"], is_split_into_words=True)["input_ids"]]
    texts = [columns[k] for k in ("text_a", "text_b") if k in columns]
    return [len(ids) for ids in tokenizer(*texts)["input_ids"]]
