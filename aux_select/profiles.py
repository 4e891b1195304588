"""Run profiles: `smoke` (tests, seconds), `cpu` (bundled MiniLM, a laptop), `paper` (a GPU).

A profile fixes everything that sizes an experiment: encoder, data caps, the budget of one
MTL run and the AutoSeM / GradTS settings. Notebooks take the profile's name as a parameter.
"""
from __future__ import annotations

from dataclasses import dataclass

from .models import EncoderConfig
from .train import TrainConfig


@dataclass(frozen=True)
class ImportanceConfig:
    """GradTS head importance: how the encoder is fine-tuned first and which rows are measured."""
    warmup_epochs: float = 3.0        # single-task fine-tuning first (the paper: 3 epochs)
    warmup_max_steps: int | None = None  # ... stopped here if that comes first (None: all epochs)
    sample_fraction: float = 0.1      # share of the train split whose gradients are accumulated
    sample_seed: int = 42             # GradTS: "10 % with seed 42 for selection"
    sample_cap: int | None = None     # at most this many examples in the sample (None: no cap)
    batch_size: int = 32              # examples per gradient pass (one backward each)


@dataclass(frozen=True)
class Profile:
    name: str
    encoder: EncoderConfig
    train: TrainConfig                   # the budget of one MTL run (single-task, NO-SEL, GP point, trial)
    data_seed: int = 0                   # fixes the select split and subsamples for every seed
    select_fraction: float = 0.1         # of each task's train source, held out for selection
    select_cap: int | None = 1000        # rows of select at most
    train_cap: int | None = None         # train rows per task at most (None: all)
    report_cap: int | None = None        # report rows at most (None: the whole GLUE dev set)
    # AutoSeM stage 1
    bandit_rounds: int = 200             # the paper's ~200 rounds
    batches_per_round: int = 10          # mini-batches of the chosen task per round
    bandit_eval_size: int = 200          # fixed select subset of the primary scored every round
    # AutoSeM stage 2: GP search over mixing ratios (one MTL run of `train`'s budget per call)
    gp_calls: int = 20                   # ratios evaluated; the paper: 20 (15 for MRPC: pass n_calls=15)
    gp_initial_points: int = 10          # random ratios before the GP proposes (gp_minimize's default;
                                         # the paper does not say)
    max_ratio: int = 20                  # R: the primary's entry in [1, R], each auxiliary task's in [0, R]
    # GradTS: fine-tuning before head importance, and the measured sample
    importance: ImportanceConfig = ImportanceConfig()
    notes: str = ""

    def data_kwargs(self) -> dict:
        """Keyword arguments of `data.load_task` that this profile fixes."""
        return dict(seed=self.data_seed, select_fraction=self.select_fraction,
                    select_cap=self.select_cap, train_cap=self.train_cap, report_cap=self.report_cap)


PROFILES: dict[str, Profile] = {p.name: p for p in [
    Profile(
        name="smoke",
        encoder=EncoderConfig(name="tiny-bert", max_len=64),
        train=TrainConfig(max_steps=12, batch_size=8, eval_batch_size=32, lr=1e-3),
        select_cap=32, train_cap=48, report_cap=32,
        bandit_rounds=6, batches_per_round=2, bandit_eval_size=32,
        gp_calls=4, gp_initial_points=2,
        notes="tiny random BERT, a few dozen rows per task: checks that code runs, not results"),
    Profile(
        name="cpu",
        encoder=EncoderConfig(name="minilm", max_len=128),
        # lr 1e-4 at batch 16 trained RTE best among 5e-5/1e-4/2e-4 (small encoders like a
        # higher rate than BERT-base's 2e-5..5e-5). 150 steps (2400 examples, about one epoch of
        # RTE) keep one MTL run near 2 minutes on two cores, and every method for one primary
        # and seed under the hour (RTE: 52 min, each part counted once); 300 steps scored RTE
        # no better (report 0.549)
        train=TrainConfig(max_steps=150, batch_size=16, lr=1e-4, eval_every=50),
        select_cap=500, train_cap=4000,
        bandit_rounds=60, batches_per_round=5, bandit_eval_size=200,
        gp_calls=6, gp_initial_points=3,  # 3 random ratios, then 3 from the GP: ~15 min of runs
        # 3 epochs, but at most one MTL run's 150 steps: all of WNLI's, about one epoch of RTE
        importance=ImportanceConfig(warmup_max_steps=150),
        notes="bundled MiniLM-L6-H384, tasks capped at 4000 train rows; one MTL run is a few "
              "minutes on two CPU cores"),
    Profile(
        name="paper",
        encoder=EncoderConfig(name="bert-base-cased", max_len=128),
        train=TrainConfig(max_steps=20_000, batch_size=32, lr=5e-5, eval_every=1000),
        select_cap=5000,
        notes="the papers' settings: full data, bert-base-cased from the hub, 200 bandit rounds "
              "of 10 batches; meant for a GPU"),
]}


def get_profile(name: str | Profile) -> Profile:
    """The named profile (a Profile passes through); unknown names list the known ones."""
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
