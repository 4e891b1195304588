"""One head per task on the shared encoder (MT-DNN style): classification, regression and
token tagging, each with its per-example loss, and `build_model` for a list of tasks."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from aux_select.data.registry import CLASSIFICATION, IGNORE, REGRESSION, TAGGING, TaskSpec
from aux_select.model.encoders import EncoderConfig, build_encoder


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """`x` in fp32 if it is in a lower precision (bf16 under autocast); fp64 stays fp64."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


class TaskHead(nn.Module):
    """A linear layer after dropout: on the pooled vector (classification, regression) or on
    every token (tagging, scored on each word's first sub-token)."""

    def __init__(self, in_dim: int, spec: TaskSpec, dropout: float):
        super().__init__()
        if spec.objective not in (CLASSIFICATION, REGRESSION, TAGGING):
            raise ValueError(f"{spec.name}: no head for objective {spec.objective!r}")
        self.objective = spec.objective
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(in_dim, spec.num_labels)

    def forward(self, features, labels=None):
        logits = self.out(self.dropout(features))  # (B, C); regression: (B, 1); tagging: (B, T, C)
        if labels is None:
            return None, logits
        logits = at_least_fp32(logits)  # the loss in fp32 also under bf16 autocast
        if self.objective == REGRESSION:
            return F.mse_loss(logits.squeeze(-1), labels.float()), logits
        if self.objective == TAGGING:  # the mean over every tagged token of the batch
            return F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE), logits
        return F.cross_entropy(logits, labels), logits


def losses_per_example(objective: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each example's loss (B,): squared error, cross-entropy, or for tagging the mean
    cross-entropy over the example's tagged tokens."""
    logits = at_least_fp32(logits)  # fp32 losses also under bf16 autocast
    if objective == REGRESSION:
        return (logits.squeeze(-1) - labels.to(logits.dtype)) ** 2
    if objective == TAGGING:
        token_loss = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE,
                                     reduction="none")  # (B, T); 0 where IGNORE
        return token_loss.sum(1) / (labels != IGNORE).sum(1).clamp(min=1)  # (B,)
    return F.cross_entropy(logits, labels, reduction="none")


class MultiTaskModel(nn.Module):
    """One shared encoder, one head per task (a task with `head_of` trains through that task's
    head instead); `forward(task, **batch)` -> (loss, logits)."""

    def __init__(self, encoder: nn.Module, specs: list[TaskSpec], dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.specs = {s.name: s for s in specs}
        self.head_of = {s.name: s.head_of or s.name for s in specs}
        built_by = {}  # head name -> the first spec naming it (a control's spec is its primary's, renamed)
        for s in specs:
            built_by.setdefault(self.head_of[s.name], s)
        self.heads = nn.ModuleDict({name: TaskHead(encoder.output_dim(s.is_pair), s, dropout)
                                    for name, s in built_by.items()})

    def forward(self, task: str, input_ids, attention_mask, token_type_ids=None, labels=None):
        spec = self.specs[task]
        features = self.encoder(input_ids, attention_mask, token_type_ids, pair=spec.is_pair,
                                per_token=spec.objective == TAGGING)
        return self.heads[self.head_of[task]](features, labels)


def build_model(config: EncoderConfig, specs: list[TaskSpec], vocab_size: int,
                seed: int = 0) -> MultiTaskModel:
    """Shared encoder plus a head for every task in `specs`, heads seeded too."""
    encoder = build_encoder(config, vocab_size, seed)
    torch.manual_seed(seed + 1)
    return MultiTaskModel(encoder, specs, config.dropout)
