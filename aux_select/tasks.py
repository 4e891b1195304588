"""Task registry: what each task is, where its data lives and how it is scored.

One `TaskSpec` per task. Callers ask the registry (`get_task`, `task_names`) and never
hard-code task facts, so regression, token tagging and MELD slot in as new entries.
Average sentence length is not stored here: it is measured from the data
(`aux_select.data.task_statistics`), so GradTS Table 7 comes from the files themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

CLASSIFICATION, REGRESSION, TAGGING = "classification", "regression", "tagging"
SINGLE_SENTENCE, PARAPHRASE, INFERENCE = "single-sentence", "paraphrase", "inference"


@dataclass(frozen=True)
class LocalFile:
    """One file of the classic GLUE layout, relative to the data root."""

    path: str                       # e.g. "glue/RTE/train.tsv"
    rows: int | None                # data rows of the complete official file; None = unchecked
    header: bool = True             # CoLA's train/dev files have no header line
    columns: tuple[str, ...] = ()   # column names to use when there is no header


@dataclass(frozen=True)
class TaskSpec:
    name: str                            # registry name, e.g. "RTE"
    objective: str                       # classification | regression | tagging
    text_keys: tuple[str, ...]           # source columns holding the text(s): 1 or 2 of them
    label_key: str                       # source column holding the label
    labels: tuple[str, ...] | None       # class names in id order (hub ids); None for regression
    metrics: tuple[str, ...]             # official metrics, reported together
    selection_metric: str                # the one every selection decision uses
    glue_type: str                       # single-sentence | paraphrase | inference
    train_size: int                      # official train rows (GLUE), even if local data is partial
    hub: tuple[str, str] | None = None   # (dataset path, config) for datasets.load_dataset
    hub_splits: tuple[str, str] = ("train", "validation")  # hub names of our train / report sources
    hub_text_keys: tuple[str, ...] = ()  # text columns on the hub, if named differently
    local_train: LocalFile | None = None
    local_report: LocalFile | None = None
    proxy_of: str | None = None          # a stand-in built from another task's dev file

    @property
    def num_labels(self) -> int:
        return 1 if self.labels is None else len(self.labels)

    @property
    def is_pair(self) -> bool:
        return len(self.text_keys) == 2


def _glue(name, config, text_keys, label_key, labels, metrics, glue_type, train_size,
          train_rows, report_rows, report_file="dev.tsv", **kw) -> TaskSpec:
    folder = f"glue/{name}"
    return TaskSpec(
        name=name, objective=REGRESSION if labels is None else CLASSIFICATION,
        text_keys=text_keys, label_key=label_key, labels=labels, metrics=metrics,
        selection_metric=kw.pop("selection_metric", metrics[0]), glue_type=glue_type,
        train_size=train_size, hub=("nyu-mll/glue", config),
        local_train=kw.pop("local_train", LocalFile(f"{folder}/train.tsv", train_rows)),
        local_report=kw.pop("local_report", LocalFile(f"{folder}/{report_file}", report_rows)),
        **kw)


_COLA_COLUMNS = ("source", "label", "original_label", "sentence")

REGISTRY: dict[str, TaskSpec] = {t.name: t for t in [
    _glue("CoLA", "cola", ("sentence",), "label", ("unacceptable", "acceptable"),
          ("matthews",), SINGLE_SENTENCE, 8551, 8551, 1043,
          local_train=LocalFile("glue/CoLA/train.tsv", 8551, header=False, columns=_COLA_COLUMNS),
          local_report=LocalFile("glue/CoLA/dev.tsv", 1043, header=False, columns=_COLA_COLUMNS)),
    _glue("SST-2", "sst2", ("sentence",), "label", ("negative", "positive"),
          ("accuracy",), SINGLE_SENTENCE, 67349, 67349, 872),
    # GLUE reports MRPC and QQP as F1/accuracy; selection uses accuracy, which is far less
    # noisy than F1 on the small select subsets the bandit scores every round.
    _glue("MRPC", "mrpc", ("#1 String", "#2 String"), "Quality", ("not_equivalent", "equivalent"),
          ("accuracy", "f1"), PARAPHRASE, 3668, 3668, 408,
          hub_text_keys=("sentence1", "sentence2")),
    _glue("QQP", "qqp", ("question1", "question2"), "is_duplicate", ("not_duplicate", "duplicate"),
          ("accuracy", "f1"), PARAPHRASE, 363846, 363846, 40430),
    _glue("STS-B", "stsb", ("sentence1", "sentence2"), "score", None,
          ("pearson", "spearman"), PARAPHRASE, 5749, 5749, 1500),
    _glue("MNLI", "mnli", ("premise", "hypothesis"), "label",
          ("entailment", "neutral", "contradiction"), ("accuracy",), INFERENCE, 392702,
          392702, 9815, hub_splits=("train", "validation_matched"),
          local_report=LocalFile("glue/MNLI/dev_matched.jsonl", 9815)),
    _glue("QNLI", "qnli", ("question", "sentence"), "label", ("entailment", "not_entailment"),
          ("accuracy",), INFERENCE, 104743, 104743, 5463),
    _glue("RTE", "rte", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"),
          ("accuracy",), INFERENCE, 2490, 2490, 277),
    _glue("WNLI", "wnli", ("sentence1", "sentence2"), "label", ("not_entailment", "entailment"),
          ("accuracy",), INFERENCE, 635, 635, 71),
]}


def _proxy(real: TaskSpec) -> TaskSpec:
    """A labelled stand-in for a task whose local files have no train split: its dev file is
    divided into train / select / report parts with a fixed seed (see data.load_task)."""
    return replace(real, name=f"{real.name}-proxy", proxy_of=real.name, hub=None,
                   local_train=None, train_size=real.local_report.rows)


for _name in ("MNLI", "QNLI"):
    REGISTRY[f"{_name}-proxy"] = _proxy(REGISTRY[_name])

GLUE_CLASSIFICATION = ("CoLA", "SST-2", "MRPC", "QQP", "MNLI", "QNLI", "RTE", "WNLI")


def task_names() -> list[str]:
    """Every registered task name."""
    return list(REGISTRY)


def get_task(name: str) -> TaskSpec:
    """The spec of `name`; an unknown name raises a ValueError that lists the known ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def register_task(spec: TaskSpec) -> None:
    """Add a task (e.g. a user's own data set) to the registry."""
    if spec.name in REGISTRY:
        raise ValueError(f"task {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
