"""Task registry: what each task is, where its data lives and how it is scored.

One `TaskSpec` per task. Callers ask the registry (`get_task`, `task_names`) and never
hard-code task facts, so regression, token tagging and MELD slot in as new entries.
Average sentence length is not stored here: it is measured from the data
(`aux_select.data.task_statistics`), so GradTS Table 7 comes from the files themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

CLASSIFICATION, REGRESSION, TAGGING = "classification", "regression", "tagging"
SINGLE_SENTENCE, PARAPHRASE, INFERENCE = "single-sentence", "paraphrase", "inference"
SEQUENCE_LABELLING = "sequence labelling"  # task type of POS, NER and chunking
IGNORE = -100  # tagging label of tokens that are not a word's first sub-token (no loss, no score)


@dataclass(frozen=True)
class LocalFile:
    """One local data file, relative to the data root (layout of `../shared/data`)."""

    path: str                       # e.g. "glue/RTE/train.tsv"
    rows: int | None                # data rows (tagging: sentences) of the complete official file;
                                    # None = unchecked
    header: bool = True             # CoLA's train/dev files have no header line
    columns: tuple[str, ...] = ()   # column names to use when there is no header
    format: str | None = None       # tsv | jsonl | csv | conll | conllu (aux_select.data.readers);
                                    # None: from the suffix (.tsv .jsonl .csv .conllu)
    tokens: int | None = None       # tagging: words of the complete file; None = unchecked
    rename: tuple[tuple[str, str], ...] = ()  # (its column, the spec's) where a layout names them
                                    # otherwise (classic MNLI: sentence1 -> premise, gold_label -> label)


@dataclass(frozen=True)
class TaskSpec:
    name: str                            # registry name, e.g. "RTE"
    objective: str                       # classification | regression | tagging
    text_keys: tuple[str, ...]           # source columns holding the text(s): 1 or 2 of them
                                         # (tagging: the one column of words)
    label_key: str                       # source column holding the label (tagging: one tag per word)
    labels: tuple[str, ...] | None       # class (tagging: tag) names in id order; None for regression
    metrics: tuple[str, ...]             # official metrics, reported together
    selection_metric: str                # the one every selection decision uses
    glue_type: str                       # single-sentence | paraphrase | inference | tagging
    train_size: int                      # official train rows (GLUE), even if local data is partial
    hub: tuple[str, str] | None = None   # (dataset path, config) for datasets.load_dataset
    hub_splits: tuple[str, str] = ("train", "validation")  # hub names of our train / report sources
    hub_text_keys: tuple[str, ...] = ()  # text columns on the hub, if named differently
    local_train: LocalFile | None = None
    local_report: LocalFile | None = None  # None: report is held out of the train file (seeded)
    report_alternatives: tuple[LocalFile, ...] = ()  # the same report split in other layouts, tried
                                         # in turn where `local_report` is not there (`report_file`)
    beside_report: tuple[str, LocalFile, str] | None = None  # (name, local file, hub split) of a second
                                         # dev set scored beside the report, never chosen on (MNLI: mismatched)
    proxy_of: str | None = None          # a stand-in built from another task's dev file
    control_of: str | None = None        # a control task built from this primary's train split
                                         # (aux_select.data.controls: "MRPC~clone", "MRPC~contra", ...)
    head_of: str | None = None           # trains through this task's head instead of one of its own
                                         # (P~contra: P's head, so its deranged labels contradict P's)

    def report_file(self, root: Path) -> LocalFile | None:
        """The local report file under `root`: `local_report`, else the first alternative layout
        that is there (else `local_report`, for the error that names it)."""
        present = [f for f in (self.local_report, *self.report_alternatives) if f is not None and (root / f.path).exists()]
        return present[0] if present else self.local_report

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
_CLASSIC_MNLI = (("sentence1", "premise"), ("sentence2", "hypothesis"), ("gold_label", "label"))

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
    # the classic GLUE layout (train.tsv, dev_matched.tsv: sentence1, sentence2, gold_label), else
    # ../shared/data's dev_matched.jsonl (premise, hypothesis, label): the proxy's source offline
    _glue("MNLI", "mnli", ("premise", "hypothesis"), "label",
          ("entailment", "neutral", "contradiction"), ("accuracy",), INFERENCE, 392702,
          392702, 9815, hub_splits=("train", "validation_matched"),
          local_train=LocalFile("glue/MNLI/train.tsv", 392702, rename=_CLASSIC_MNLI),
          local_report=LocalFile("glue/MNLI/dev_matched.tsv", 9815, rename=_CLASSIC_MNLI),
          report_alternatives=(LocalFile("glue/MNLI/dev_matched.jsonl", 9815),),
          beside_report=("mismatched", LocalFile("glue/MNLI/dev_mismatched.tsv", 9832, rename=_CLASSIC_MNLI),
                         "validation_mismatched")),
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
    return replace(real, name=f"{real.name}-proxy", proxy_of=real.name, hub=None, beside_report=None,
                   local_train=None, train_size=real.local_report.rows)  # every layout's dev file: one size


for _name in ("MNLI", "QNLI"):
    REGISTRY[f"{_name}-proxy"] = _proxy(REGISTRY[_name])


# ----------------------------------------------------------------------------- beyond GLUE (GradTS §5.1-5.2)

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "SYM", "VERB", "X")
NER_TAGS = ("O", "I-PER", "I-ORG", "I-LOC", "I-MISC", "B-PER", "B-ORG", "B-LOC", "B-MISC")  # IOB1
CHUNK_TYPES = ("ADJP", "ADVP", "CONJP", "INTJ", "LST", "NP", "PP", "PRT", "SBAR", "UCP", "VP")
CHUNK_TAGS = ("O", *(f"{p}-{t}" for t in CHUNK_TYPES for p in "BI"))  # IOB2
EMOTIONS = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
_CONLL2003 = ("words", "pos", "chunk", "ner")
_CONLL2000 = ("words", "pos", "chunk")


def _tagging(name, folder, label_key, labels, metric, train: LocalFile, report: LocalFile | None,
             train_size: int) -> TaskSpec:
    return TaskSpec(name=name, objective=TAGGING, text_keys=("words",), label_key=label_key,
                    labels=labels, metrics=(metric,), selection_metric=metric,
                    glue_type=SEQUENCE_LABELLING, train_size=train_size, hub=None,
                    local_train=replace(train, path=f"{folder}/{train.path}"),
                    local_report=report and replace(report, path=f"{folder}/{report.path}"))


def _meld(name, suffix, train_rows, report_rows) -> TaskSpec:
    # the utterance alone (no dialogue context, no audio/video): 7-way emotion, weighted F1
    return TaskSpec(name=name, objective=CLASSIFICATION, text_keys=("Utterance",), label_key="Emotion",
                    labels=EMOTIONS, metrics=("f1_weighted", "accuracy"), selection_metric="f1_weighted",
                    glue_type=SINGLE_SENTENCE, train_size=train_rows, hub=None,
                    local_train=LocalFile(f"meld/train_sent_emo{suffix}.csv", train_rows),
                    local_report=LocalFile(f"meld/dev_sent_emo{suffix}.csv", report_rows))


for _spec in [
    _tagging("POS", "ud_english_ewt", "upos", UPOS, "token_accuracy",
             LocalFile("en_ewt-ud-train.conllu", 12544, tokens=204577),
             LocalFile("en_ewt-ud-dev.conllu", 2001, tokens=25147), 12544),
    _tagging("NER", "conll2003", "ner", NER_TAGS, "entity_f1",
             LocalFile("eng.train", 14041, header=False, columns=_CONLL2003, format="conll", tokens=203621),
             LocalFile("eng.testa", 3250, header=False, columns=_CONLL2003, format="conll", tokens=51362),
             14041),
    # CoNLL-2000 has no dev file: report is held out of train with a seed (test.txt stays unseen)
    _tagging("Chunking", "conll2000", "chunk", CHUNK_TAGS, "chunk_f1",
             LocalFile("train.txt", 8936, header=False, columns=_CONLL2000, format="conll", tokens=211727),
             None, 8936),
    _meld("MELD", "", 9989, 1109),
    _meld("Dyadic-MELD", "_dya", 12840, 1462),
]:
    REGISTRY[_spec.name] = _spec

# candidate pools (GradTS): the 8 GLUE classification tasks; + MELD and Dyadic-MELD (Table 4's
# 10 tasks); + STS-B, POS, NER and chunking (Table 5's 12 tasks, mixed objectives)
GLUE_CLASSIFICATION = ("CoLA", "SST-2", "MRPC", "QQP", "MNLI", "QNLI", "RTE", "WNLI")
POOLS: dict[str, tuple[str, ...]] = {
    "glue": GLUE_CLASSIFICATION,
    "meld": (*GLUE_CLASSIFICATION, "MELD", "Dyadic-MELD"),
    "mixed": (*GLUE_CLASSIFICATION, "STS-B", "POS", "NER", "Chunking"),
}


def task_names() -> list[str]:
    """Every registered task name (control tasks apart: they are named from their primary)."""
    return [name for name, spec in REGISTRY.items() if spec.control_of is None]


# control tasks (aux_select.data.controls): "<primary>~<kind>", registered the first time one is named
CONTROL_KINDS = ("clone", "contra", "shuffle")
SHARED_HEAD_KINDS = ("contra",)  # controls that train through their primary's own head


def control_names(primary: str) -> list[str]:
    """The control tasks of `primary`: P~clone, P~contra, P~shuffle."""
    get_task(primary)
    return [f"{primary}~{kind}" for kind in CONTROL_KINDS]


def get_task(name: str) -> TaskSpec:
    """The spec of `name`; an unknown name raises a ValueError that lists the known ones. A
    control task's name ("RTE~contra") registers it: its primary's spec under the new name, with no
    files of its own (its rows come from the primary's train split)."""
    if name not in REGISTRY:
        primary, sep, kind = name.rpartition("~")
        if not (sep and kind in CONTROL_KINDS and primary in REGISTRY and REGISTRY[primary].control_of is None):
            raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(REGISTRY)} "
                             f"(and a task's controls, e.g. RTE~{'/'.join(CONTROL_KINDS)}; your own task: "
                             "register it first, aux_select.data.task_from_file)")
        REGISTRY[name] = replace(REGISTRY[primary], name=name, hub=None, local_train=None, local_report=None,
                                 control_of=primary, head_of=primary if kind in SHARED_HEAD_KINDS else None)
    return REGISTRY[name]


BUILT_IN = frozenset(REGISTRY)  # every task above; one registered later is a user's own


def register_task(spec: TaskSpec) -> None:
    """Add a task (e.g. your own, `data.task_from_file`) to the registry. The same spec again
    changes nothing; another spec under an own task's name replaces it (its file changed) and
    forgets that task's controls; a built-in task's name is refused."""
    if REGISTRY.get(spec.name) == spec:
        return
    if spec.name in BUILT_IN or spec.control_of is not None or "~" in spec.name:
        raise ValueError(f"task {spec.name!r} is already registered (or names a control task); choose another name")
    for name in [n for n, s in REGISTRY.items() if s.control_of == spec.name]:
        del REGISTRY[name]  # cut from the spec being replaced
    REGISTRY[spec.name] = spec


def own_tasks() -> tuple[TaskSpec, ...]:
    """The tasks registered after the built-in ones (your own), controls apart: what a data
    catalogue made now holds and sends to Dask workers with the context."""
    return tuple(s for n, s in REGISTRY.items() if n not in BUILT_IN and s.control_of is None)
