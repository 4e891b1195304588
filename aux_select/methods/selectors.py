"""Cheap selectors: rank a primary's candidate auxiliary tasks without training a multi-task run.

    ranking = run_selector("LogME", "RTE", exp=exp)   # SelectorRanking: scores, order, parts
    ranking.order                                      # the candidates, most useful first

Registered here, in this order: Random; Size, Type, Length (the HEU orders); TextEmb (Vu et al.
2020); LogME, NCE, LEEP (`methods.estimators`, on each candidate's single-task fine-tuned model,
GradTS's, applied to the primary's train rows); GradTS-tau and AutoSeM-utility (rankings the two
methods already compute). Higher scores are better; NaN where a selector cannot score a candidate
(it sorts last). A selector that runs a model stores its ranking (kind `selector`), so a rerun
reads it back (with the parts of the call that computed it); the others are recomputed in
milliseconds from data or from stored work. `parts` is a selector's own work; the stored work it
reads (GradTS's fine-tunes and head matrices, AutoSeM's stage 1) is named in `shared`, computed
where it is stored (with its cost) before the selector's clock starts: counted once, as methods count it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, Sequence

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from aux_select.data.batching import make_loader, tokenize
from aux_select.data.loading import TaskData
from aux_select.data.registry import CLASSIFICATION, REGRESSION, TAGGING
from aux_select.data.statistics import task_statistics
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.baselines import heuristic_order
from aux_select.methods.estimators import leep, logme, nce
from aux_select.methods.gradts.importance import finetuned, importance_matrices, importance_spec, rank_candidates
from aux_select.methods.registry import HEAD_MATRICES, SHARED
from aux_select.model.encoders import build_encoder, load_tokenizer
from aux_select.runtime.cost import Clock, Part, PeakMemory
from aux_select.runtime.devices import pick_device
from aux_select.runtime.store import JsonResult
from aux_select.train.trainer import Trainer

SAMPLE_ROWS = 500  # train rows per task that TextEmb embeds and LogME / NCE / LEEP score (seeded by exp.seed)
STAGE1 = "AutoSeM stage 1"  # stored work AutoSeM-utility reads (AutoSeM-p1's and AutoSeM's own part)


@dataclass
class SelectorRanking(JsonResult):
    selector: str
    primary: str
    seed: int
    scores: dict[str, float]        # candidate -> score, higher = more useful; NaN: not scorable
    order: list[str]                # the candidates best first (NaN last, ties by name)
    parts: list[Part]               # the selector's own work and what it cost ([]: it only reads stored work)
    shared: list[str] = field(default_factory=list)  # stored work it reads (HEAD_MATRICES, STAGE1)

    def __post_init__(self):
        self.parts = [p if isinstance(p, Part) else Part.from_json(p) for p in self.parts]

    @property
    def wall_time_s(self) -> float:
        """The selector's own work (0 with no parts of its own)."""
        return float(sum(p.wall_time_s for p in self.parts))


Scorer = Callable[[Experiment, str, list[str]], dict[str, float]]
KeyContent = Callable[[Experiment, str, list[str]], dict]


@dataclass(frozen=True)
class SelectorInfo:
    name: str
    score: Scorer                    # (exp, primary, candidates) -> {candidate: score}
    key: KeyContent | None = None    # what determines its ranking, beside the context's spec: the ranking is
                                     # stored under it (kind `selector`); None: recomputed on every call
    shares: tuple[str, ...] = ()     # stored work it reads, computed first (HEAD_MATRICES, STAGE1)
    own_work: bool = True            # False: it only reads `shares`, so it has no parts of its own


SELECTORS: dict[str, SelectorInfo] = {}


def register_selector(name: str, *, key: KeyContent | None = None, shares: Sequence[str] = (),
                      own_work: bool = True) -> Callable[[Scorer], Scorer]:
    """Register `fn(exp, primary, candidates) -> {candidate: score}` under `name` (the keywords are
    `SelectorInfo`'s)."""
    def add(fn: Scorer) -> Scorer:
        if name in SELECTORS:
            raise ValueError(f"selector {name!r} is already registered")
        unknown = [s for s in shares if s not in (*SHARED, STAGE1)]
        if unknown:
            raise ValueError(f"{name}: unknown shared work {unknown}; choose from {', '.join([*SHARED, STAGE1])}")
        SELECTORS[name] = SelectorInfo(name, fn, key, tuple(shares), own_work)
        return fn
    return add


def selector_names() -> list[str]:
    """Every registered selector, in registration order."""
    return list(SELECTORS)


def selector_info(name: str) -> SelectorInfo:
    if name not in SELECTORS:
        raise ValueError(f"unknown selector {name!r}; choose from {', '.join(SELECTORS)} "
                         "(a selector of your own: import the module that registers it with @register_selector)")
    return SELECTORS[name]


def ranked(scores: dict[str, float]) -> list[str]:
    """The candidates by score, highest first; NaN last; ties by name."""
    return sorted(scores, key=lambda t: (math.isnan(scores[t]), -np.nan_to_num(scores[t]), t))


def by_position(order: Sequence[str]) -> dict[str, float]:
    """Scores of an order: reversed positions (the first of n scores n, the last 1)."""
    return {task: float(len(order) - i) for i, task in enumerate(order)}


# ----------------------------------------------------------------------------- running one

def run_selector(name: str, primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
                 **settings) -> SelectorRanking:
    """The named selector's ranking of the primary's candidates (None: the pool the data provides),
    read back from the store where the selector stores its ranking."""
    info = selector_info(name)
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)

    def rank() -> SelectorRanking:
        for work in info.shares:  # computed (and costed) where it is stored, before this selector's clock starts
            for function, args in _shared_units(work, primary, candidates):
                function(*args, exp=exp)
        return _ranking(info, exp, primary, candidates)

    if info.key is None:
        return rank()
    spec = exp.spec(selector=name, seed=exp.seed, **info.key(exp, primary, candidates))
    return SelectorRanking.from_json(exp.get_or_compute("selector", spec, lambda: rank().to_json()))


def _shared_units(work: str, primary: str, candidates: list[str]) -> list[tuple[Callable, tuple]]:
    """The store-filling calls of shared work, each run as `function(*args, exp=exp)`."""
    if work == STAGE1:
        return [(run_stage1, (primary, candidates))]
    return SHARED[work].units(primary, candidates)


def _ranking(info: SelectorInfo, exp: Experiment, primary: str, candidates: list[str]) -> SelectorRanking:
    """Score the candidates, timing the selector's own work (none when it only reads stored work)."""
    start = Clock()
    with PeakMemory(exp.profile.train.device) as memory:
        scores = info.score(exp, primary, candidates)
    wall_s, cpu_s = start.since()
    missing = [t for t in candidates if t not in scores]
    if missing:
        raise ValueError(f"selector {info.name} gave no score for {missing}; return NaN where it cannot score one")
    scores = {t: float(scores[t]) for t in candidates}
    parts = [Part(f"{info.name} scores ({len(candidates)} candidates)", wall_s, memory.peak_mb, cpu_time_s=cpu_s,
                  steps=0)] if info.own_work else []
    return SelectorRanking(info.name, primary, exp.seed, scores, ranked(scores), parts, list(info.shares))


# ----------------------------------------------------------------------------- orders

@register_selector("Random")
def random_scores(exp: Experiment, primary: str, candidates: list[str]) -> dict[str, float]:
    """A permutation seeded by the context's seed (of the candidates by name: the pool's order does not matter)."""
    return by_position([str(t) for t in np.random.default_rng(exp.seed).permutation(sorted(candidates))])


def heuristic_scores(kind: str, exp: Experiment, primary: str, candidates: list[str]) -> dict[str, float]:
    """`baselines.heuristic_order` (HEU-Size, -Type, -Len) as scores."""
    stats = {t.name: task_statistics(t) for t in exp.tasks([primary, *candidates])}
    return by_position([task for task, _ in heuristic_order(kind, primary, stats)])


for _name, _kind in (("Size", "size"), ("Type", "type"), ("Length", "len")):
    register_selector(_name)(partial(heuristic_scores, _kind))


# ----------------------------------------------------------------------------- rows and batches

def sample(exp: Experiment, task: TaskData, rows: int = SAMPLE_ROWS) -> Dataset:
    """At most `rows` of the task's train split, drawn with the context's seed, in file order."""
    keep = np.random.default_rng(exp.seed).permutation(len(task.train))[:rows]
    return task.train.select(np.sort(keep))


def batches(exp: Experiment, rows: Dataset, tokenizer: PreTrainedTokenizerBase) -> torch.utils.data.DataLoader:
    """The rows tokenised and padded in evaluation batches (longest first)."""
    encoded = tokenize(rows, tokenizer, exp.profile.encoder.max_len)
    return make_loader(encoded, tokenizer, exp.profile.train.eval_batch_size, shuffle=False)


def _train_keys(exp: Experiment, primary: str, candidates: list[str]) -> dict:
    """The sample size and the train rows of every task (the store key's content beside the context's)."""
    tasks = exp.tasks([primary, *sorted(candidates)])
    return {"rows": SAMPLE_ROWS, "tasks": [exp.task_key(t, ("train",)) for t in tasks]}


# ----------------------------------------------------------------------------- TextEmb

def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors, in [-1, 1] (NaN if either is zero)."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.clip(np.dot(a, b) / norms, -1.0, 1.0)) if norms > 0 else math.nan


@torch.no_grad()
def task_embedding(exp: Experiment, task: TaskData, encoder: torch.nn.Module,
                   tokenizer: PreTrainedTokenizerBase) -> np.ndarray:
    """The mean over the task's sampled train rows of each row's mean-pooled token vectors: (H,)."""
    device = next(encoder.parameters()).device
    total, n = 0.0, 0
    for batch in batches(exp, sample(exp, task), tokenizer):
        batch.pop("labels")
        # pair=False: a pair is read as one sequence, so every task's vector has one size (BiLSTM)
        pooled = encoder(**{k: v.to(device) for k, v in batch.items()}, pair=False).double()  # (B, H)
        total, n = total + pooled.sum(0), n + len(pooled)
    return (total / n).cpu().numpy()


@register_selector("TextEmb", key=_train_keys)
def text_embedding_scores(exp: Experiment, primary: str, candidates: list[str]) -> dict[str, float]:
    """Vu et al. 2020's TextEmb: the cosine of each candidate's vector (`task_embedding`) with the primary's,
    from the profile's encoder as every run starts from it (pretrained, or seeded random, no head),
    mean-pooled over real tokens whatever the profile's pooling."""
    config = replace(exp.profile.encoder, pooling="mean")
    tokenizer = load_tokenizer(config)
    encoder = build_encoder(config, len(tokenizer), exp.seed).to(pick_device(exp.profile.train.device)).eval()
    vectors = {t.name: task_embedding(exp, t, encoder, tokenizer) for t in exp.tasks([primary, *candidates])}
    return {t: cosine(vectors[primary], vectors[t]) for t in candidates}


# ----------------------------------------------------------------------------- LogME, NCE, LEEP

@dataclass
class Outputs:
    """A candidate's model on the primary's sampled rows."""
    features: np.ndarray         # (n, H): the encoder's pooled features, as its task head reads them
    probs: np.ndarray | None     # (n, C): its classification head's softmax (None: a regression or tagging head)
    labels: np.ndarray           # (n,): the primary's labels
    regression: bool             # the primary's objective is regression


@torch.no_grad()
def candidate_outputs(exp: Experiment, trainer: Trainer, candidate: TaskData, primary: TaskData) -> Outputs:
    """Run the candidate's fine-tuned model (eval mode) over the primary's sampled train rows, batched."""
    model = trainer.model.eval()
    head = model.heads[model.head_of[candidate.name]]  # a control trains through its primary's head
    scored = candidate.spec.objective == CLASSIFICATION
    features, probs, labels = [], [], []
    for batch in batches(exp, sample(exp, primary), trainer.tokenizer):
        labels.append(batch.pop("labels").numpy())
        with trainer.autocast():
            pooled = model.encoder(**{k: v.to(trainer.device) for k, v in batch.items()},
                                   pair=candidate.spec.is_pair)  # (B, H)
            if scored:  # dropout is off in eval mode
                probs.append(torch.softmax(head(pooled)[1].double(), dim=-1).cpu().numpy())  # (B, C)
        features.append(pooled.double().cpu().numpy())
    return Outputs(np.concatenate(features), np.concatenate(probs) if scored else None, np.concatenate(labels),
                   primary.spec.objective == REGRESSION)


def estimator_scores(estimate: Callable[[Outputs], float], exp: Experiment, primary: str,
                     candidates: list[str]) -> dict[str, float]:
    """`estimate` of every candidate's fine-tuned model (GradTS's, `gradts.importance.finetuned`) on the
    primary's rows; NaN for all of them when the primary is a tagging task (no label per row)."""
    task = exp.task(primary)
    if task.spec.objective == TAGGING:
        return {t: math.nan for t in candidates}
    return {t.name: estimate(candidate_outputs(exp, finetuned(exp, t, exp.profile.importance), t, task))
            for t in exp.tasks(candidates)}


def logme_score(out: Outputs) -> float:
    """LogME of the features for the primary's labels (NaN if the sample holds a single class)."""
    if not out.regression and len(np.unique(out.labels)) < 2:
        return math.nan
    return logme(out.features, out.labels, regression=out.regression)


def nce_score(out: Outputs) -> float:
    """NCE of the head's argmax labels (NaN: a regression or tagging candidate, or a regression primary)."""
    return math.nan if out.probs is None or out.regression else nce(out.probs.argmax(1), out.labels)


def leep_score(out: Outputs) -> float:
    """LEEP of the head's softmax (NaN where NCE is)."""
    return math.nan if out.probs is None or out.regression else leep(out.probs, out.labels)


def _finetune_keys(exp: Experiment, primary: str, candidates: list[str]) -> dict:
    """The primary's train rows and what determines each candidate's fine-tuned model (its matrix's spec
    holds every such setting)."""
    return {"rows": SAMPLE_ROWS, "primary": exp.task_key(exp.task(primary), ("train",)),
            "candidates": [importance_spec(exp, t, exp.profile.importance) for t in exp.tasks(sorted(candidates))]}


for _name, _estimate in (("LogME", logme_score), ("NCE", nce_score), ("LEEP", leep_score)):
    register_selector(_name, key=_finetune_keys, shares=[HEAD_MATRICES])(partial(estimator_scores, _estimate))


# ----------------------------------------------------------------------------- rankings the methods compute

@register_selector("GradTS-tau", shares=[HEAD_MATRICES], own_work=False)
def gradts_tau_scores(exp: Experiment, primary: str, candidates: list[str]) -> dict[str, float]:
    """Kendall tau of each candidate's head-importance matrix with the primary's (GradTS's ranking)."""
    return dict(rank_candidates(primary, importance_matrices([primary, *candidates], exp), candidates))


@register_selector("AutoSeM-utility", shares=[STAGE1], own_work=False)
def autosem_utility_scores(exp: Experiment, primary: str, candidates: list[str]) -> dict[str, float]:
    """Stage 1's utilities, alpha / (alpha + beta) of each candidate's arm (AutoSeM's ranking)."""
    utilities = run_stage1(primary, candidates, exp).utilities
    return {t: utilities[t] for t in candidates}
