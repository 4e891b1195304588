"""A run's training settings (`TrainConfig`) and the part of them that goes into a store key (the
device and precision they resolve to on a machine: `aux_select.runtime.devices`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from aux_select.runtime.devices import check_precision

RUN_BUDGET = ("max_steps", "max_total_factor", "eval_every", "patience")
# how a run is kept while it trains, and the largest mix it may train (a run over K is refused,
# never cut), change no result: a run that fits is one stored run whatever K
NOT_IN_KEYS = ("checkpoint_every", "max_total_factor")


def result_settings(config: TrainConfig) -> dict:
    """The config's fields that can change a result (all but `NOT_IN_KEYS`): what store keys
    hold, so a checkpointed run and an uninterrupted one are one stored run."""
    return {k: v for k, v in asdict(config).items() if k not in NOT_IN_KEYS}


def settings_without_budget(config: TrainConfig) -> dict:
    """The config's result settings minus an MTL run's budget (`RUN_BUDGET`), for store keys of
    training whose length is set elsewhere (stage 1's rounds, GradTS's fine-tuning epochs):
    retuning the run budget then keeps those results valid."""
    return {k: v for k, v in result_settings(config).items() if k not in RUN_BUDGET}


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int = 1000          # the primary's optimiser steps; auxiliary batches come on top
    max_total_factor: float | None = None  # K: a run trains at most this many times max_steps
                                   # batches of all tasks together; every method's mixes fit it, and a
                                   # mix that does not is refused, never cut short (None: no bound)
    batch_size: int = 32
    eval_batch_size: int = 128
    lr: float = 5e-5               # transformers; the BiLSTM wants about 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1      # share of the run's steps with linear warm-up ...
    warmup_steps: int | None = None  # ... or this many steps, whatever the run's length
    lr_schedule: str = "linear"    # after warm-up (transformers.get_scheduler name): linear decay to
                                   # 0; AutoSeM stage 1 uses "constant_with_warmup"
    max_grad_norm: float = 1.0
    eval_every: int | None = None  # primary steps between select evaluations; None: only at the end
    patience: int | None = None    # early stopping after this many evaluations without gain
    precision: str = "auto"        # "fp32", "bf16" (autocast; fp32 weights and losses), "fp16" (autocast
                                   # and a gradient scaler; CUDA only) or "auto" (native bf16, else fp16
                                   # on CUDA, else fp32: `runtime.devices.resolve_precision`)
    seed: int = 0
    device: str = "auto"           # "auto" (cuda, mps, cpu), or one named ("cuda"): a named GPU that is
                                   # missing stops the run (`runtime.devices.pick_device`)
    checkpoint_every: int | None = None  # steps (of all tasks) between checkpoints of an MTL run, so a
                                   # killed run resumes from its last one; None: off. In no store
                                   # key (`NOT_IN_KEYS`): it changes no result

    def __post_init__(self):
        check_precision(self.precision)  # an unknown precision stops here
