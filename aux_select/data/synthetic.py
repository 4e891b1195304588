"""Tiny learnable tasks for tests and benchmarks, built in memory (no files)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aux_select.data.loading import TaskData, rows_to_dataset
from aux_select.data.readers import convert_row
from aux_select.data.registry import CLASSIFICATION, REGRESSION, TAGGING, TaskSpec


def synthetic_task(name: str = "toy", *, n_train: int = 64, n_select: int = 32, n_report: int = 32,
                   pair: bool = False, regression: bool = False, tagging: bool = False,
                   seed: int = 0) -> TaskData:
    """A tiny learnable task for tests: the label is whether the sentence says "good" more
    often than "bad" (regression: the difference; tagging: each "good" is B-POS, each "bad"
    B-NEG, every other word O, scored by entity F1)."""
    rng = np.random.default_rng(seed)
    objective = TAGGING if tagging else REGRESSION if regression else CLASSIFICATION
    labels = {TAGGING: ("O", "B-POS", "B-NEG"), REGRESSION: None, CLASSIFICATION: ("neg", "pos")}[objective]
    metric = {TAGGING: "entity_f1", REGRESSION: "pearson", CLASSIFICATION: "accuracy"}[objective]
    spec = TaskSpec(name=name, objective=objective, text_keys=("a", "b") if pair else ("a",),
                    label_key="label", labels=labels, metrics=(metric,), selection_metric=metric,
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
            if tagging:
                row = {"a": [str(w) for w in words],
                       "label": [{"good": "B-POS", "bad": "B-NEG"}.get(w, "O") for w in words]}
            out.append(convert_row(spec, row, Path("<synthetic>"), 0))
        return rows_to_dataset(out, spec)

    return TaskData(spec, rows(n_train), rows(n_select), rows(n_report),
                    source="synthetic", notes="synthetic test task")
