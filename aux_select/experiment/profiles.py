"""Run profiles: `smoke` (tests, seconds), `cpu` (bundled MiniLM, a laptop), `paper` (a GPU).

A profile fixes everything that changes a result: encoder, data caps, the budget of one MTL
run and every method hyper-parameter (bandit γ and priors, GP calls and R, GradTS thresholds).
Notebooks take the profile's name as a parameter; `override` changes single fields by dotted
name (`override(profile, ["gradts.threshold=0.5"])`, `reproduce --set gradts.threshold=0.5`).
Every field is part of the store keys of what it affects, so an override never reads back a
result made with other settings.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Sequence

from aux_select.data.controls import ControlConfig
from aux_select.model.encoders import EncoderConfig
from aux_select.train.config import TrainConfig

Prior = tuple[float, float]
TOKEN_WEIGHTINGS = ("total", "per_example")  # ImportanceConfig.token_weighting (aux_select.methods.gradts)


def check_token_weighting(token_weighting: str) -> None:
    if token_weighting not in TOKEN_WEIGHTINGS:
        raise ValueError(f"token_weighting={token_weighting!r}; choose one of {', '.join(TOKEN_WEIGHTINGS)}")


@dataclass(frozen=True)
class ImportanceConfig:
    """GradTS head importance: how the encoder is fine-tuned first and which rows are measured."""
    warmup_epochs: float = 3.0        # single-task fine-tuning first (the paper: 3 epochs)
    warmup_max_steps: int | None = None  # ... stopped here if that comes first (None: all epochs)
    sample_fraction: float = 0.1      # share of the train split whose gradients are accumulated
    sample_seed: int = 42             # GradTS: "10 % with seed 42 for selection"
    sample_cap: int | None = None     # at most this many examples in the sample (None: no cap)
    batch_size: int = 32              # examples per gradient pass (one backward each)
    token_weighting: str = "total"    # "total": Michel et al.'s sum over examples / all real tokens;
                                      # "per_example": each example divided by its own length first

    def __post_init__(self):
        check_token_weighting(self.token_weighting)  # an unknown weighting stops before any training


@dataclass(frozen=True)
class BanditConfig:
    """AutoSeM stage 1 (Algorithm 1)."""
    rounds: int = 200                 # the paper's ~200 rounds
    batches_per_round: int = 10       # mini-batches of the chosen task per round
    eval_size: int = 200              # select rows (a seeded sample) scored every round
    gamma: float = 0.3                # decay of every arm toward its prior (official code: 0.3)
    prior: Prior = (1.0, 1.0)         # Beta(α0, β0) of every candidate
    primary_prior: Prior | None = (2.0, 1.0)  # the paper's "slightly stronger prior" (no numbers
                                      # given; the official code uses (1, 1): set None for that)
    checkpoint_every: int = 10        # rounds between checkpoints of an unfinished stage 1 (in no
                                      # store key: it changes no result; `stage1.bandit_settings`)


@dataclass(frozen=True)
class GPConfig:
    """AutoSeM stage 2: GP search over mixing ratios (one MTL run of `train`'s budget per call)."""
    calls: int = 20                   # ratios evaluated; the paper: 20 (15 for MRPC)
    initial_points: int = 10          # random ratios before the GP proposes (gp_minimize's default;
                                      # the paper does not say)
    max_ratio: int = 20               # R: the primary's entry in [1, R], each auxiliary task's in [0, R]
    batch_size: int = 1               # ratios asked per GP step (constant liar), run side by side on
                                      # the executor's workers; 1: one at a time, as the paper searches


@dataclass(frozen=True)
class SearchStopConfig:
    """Multi-fidelity search (`aux_select.train.stopping.StopRule`): a GP point of AutoSeM's stage 2 or
    a greedy trial (GradTS-trial, HEU-*) stops once its best select score so far trails the search's
    best finished run, at equal primary steps, by more than `margin_se` of that run's select SEs.
    What a stopped point reached is what the GP is told; it is never the search's answer."""
    enabled: bool = False             # False: every point and trial trains its whole budget (the papers)
    margin_se: float = 0.5            # how far behind, in the reference's bootstrap select SEs
    min_fraction: float = 1 / 3       # no stop before this share of the primary's steps: early select
                                      # scores of every mix sit near the majority class


@dataclass(frozen=True)
class GradTSConfig:
    """GradTS's selection rules (the matrices themselves: `ImportanceConfig`)."""
    threshold: float = 0.47           # GradTS-thres: candidates with tau >= this
    fg_threshold: float = 0.42        # GradTS-fg: auxiliary rows with instance tau >= this


@dataclass(frozen=True)
class Profile:
    name: str
    encoder: EncoderConfig
    train: TrainConfig                   # one MTL run (single-task, NO-SEL, GP point, trial): the
                                         # primary's steps, the cap, lr, precision, early stopping
    primary_steps: dict[str, int] = field(default_factory=dict)  # a primary's own budget where
                                         # the budget study chose one (others: train.max_steps)
    epochs: float | None = None          # the primary's budget in epochs of its train split instead
                                         # (`paper`: MT-DNN's 7); None: steps, as above
    evals_per_epoch: int | None = None   # with `epochs`: select evaluations per epoch (train.eval_every
                                         # then follows from the primary's size); None: train.eval_every
    data_seed: int = 0                   # fixes the select split and subsamples for every seed
    select_fraction: float = 0.1         # of each task's train source, held out for selection
    select_cap: int | None = 1000        # rows of select at most
    train_cap: int | None = None         # train rows per task at most (None: all)
    report_cap: int | None = None        # report rows at most (None: the whole GLUE dev set)
    bandit: BanditConfig = BanditConfig()
    gp: GPConfig = GPConfig()
    importance: ImportanceConfig = ImportanceConfig()
    gradts: GradTSConfig = GradTSConfig()
    controls: ControlConfig = ControlConfig()
    search_stop: SearchStopConfig = SearchStopConfig()
    overrides: tuple[str, ...] = ()      # the `override` assignments that made it from a named profile
    notes: str = ""

    def data_kwargs(self) -> dict:
        """Keyword arguments of `data.load_task` that this profile fixes."""
        return dict(seed=self.data_seed, select_fraction=self.select_fraction,
                    select_cap=self.select_cap, train_cap=self.train_cap, report_cap=self.report_cap)

    def train_config(self, primary: str, seed: int, train_rows: int | None = None) -> TrainConfig:
        """The training settings of an MTL run whose primary is `primary`, with `train_rows` rows to
        train on (needed where the budget is in `epochs`: `Experiment.train_config` passes them), at `seed`."""
        config = replace(self.train, seed=seed, max_steps=self.primary_steps.get(primary, self.train.max_steps))
        if self.epochs is None:
            return config
        if train_rows is None:
            raise ValueError(f"profile {self.name!r} counts a run's budget in epochs: give the primary's train rows "
                             "(Experiment.train_config does)")
        per_epoch = math.ceil(train_rows / config.batch_size)
        eval_every = math.ceil(per_epoch / self.evals_per_epoch) if self.evals_per_epoch else config.eval_every
        return replace(config, max_steps=math.ceil(self.epochs * per_epoch), eval_every=eval_every)

    @property
    def label(self) -> str:
        """The name, plus a short hash of the overrides when there are any (e.g. `cpu+3f2a1c`):
        where its summaries and figures go, so an override never overwrites the named profile's."""
        if not self.overrides:
            return self.name
        return f"{self.name}+{hashlib.sha1(json.dumps(self.overrides).encode()).hexdigest()[:6]}"


PROFILES: dict[str, Profile] = {p.name: p for p in [
    Profile(
        name="smoke",
        encoder=EncoderConfig(name="tiny-bert", max_len=64),
        train=TrainConfig(max_steps=12, batch_size=8, eval_batch_size=32, lr=1e-3, warmup_steps=2,
                          lr_schedule="constant_with_warmup", max_total_factor=4.0, precision="fp32"),
        select_cap=32, train_cap=48, report_cap=32,
        bandit=BanditConfig(rounds=6, batches_per_round=2, eval_size=16),
        gp=GPConfig(calls=4, initial_points=2),
        notes="tiny random BERT, a few dozen rows per task: checks that code runs, not results"),
    Profile(
        name="cpu",
        encoder=EncoderConfig(name="minilm", max_len=128),
        # a constant rate after a fixed warm-up, so one run's select curve is every shorter run's
        # (the budget study, notebooks/00_budget.ipynb, reads lr and steps off such curves).
        # lr and primary_steps: the budget study's choice (results/cpu/budget.json; tests/test_results.py
        # checks them against it); a primary the study did not cover trains as long as the longest.
        # Every run gives the primary all its steps; auxiliary batches come on top, at most K = 2
        # times the primary's steps in all: each GP point trains as the ratio whose primary share
        # is at least 1/2, and a uniform mix of n auxiliaries gives the primary n batches per cycle
        # to their one each (NO-SEL over 7 candidates: 7:1:…:1). K is a choice on cost
        # alone: at 3 the first MRPC comparison (stage 1 4.5 min, NO-SEL 8, each GP point 5) put
        # every method once at about 2.5 hours on two cores, over the 2-hour aim. No early stopping
        # on a run's own plateau (AutoSeM's): the budget study chose each primary's steps on curves
        # without it, and with 3 evaluations it ended CoLA at step 200 of 600 at four of five
        # seeds, while select MCC was still 0 (every row given the majority class) and before the
        # runs learn (select MCC 0.24 to 0.33 by step 600 without it): the best weights are kept
        # anyway, so a run's later steps cannot lower its select score.
        train=TrainConfig(max_steps=300, batch_size=16, lr=6e-05, eval_every=50, patience=None,
                          warmup_steps=50, lr_schedule="constant_with_warmup", max_total_factor=2.0),
        primary_steps={"CoLA": 600, "SST-2": 300, "MRPC": 300, "STS-B": 300, "RTE": 300},
        select_cap=500, train_cap=4000,
        bandit=BanditConfig(rounds=60, batches_per_round=5, eval_size=200),
        # 10 calls, 4 of them random: with 6 (3 random) an independent check found the GP no better
        # than random search; each call is a run of up to 2x the primary's budget, so the search is
        # about half of a comparison's compute
        gp=GPConfig(calls=10, initial_points=4),
        # GP points and greedy trials stop once they trail the best finished run (chosen on the select
        # curves of the searches stored before it, not on report scores); `search_stop.enabled=false`
        # trains every point whole, as the papers do
        search_stop=SearchStopConfig(enabled=True),
        # 3 epochs, but at most one MTL run's 150 steps: all of WNLI's, about one epoch of RTE
        importance=ImportanceConfig(warmup_max_steps=150),
        notes="bundled MiniLM-L6-H384, tasks capped at 4000 train rows; one MTL run is a few "
              "minutes on two CPU cores"),
    Profile(
        name="paper",
        encoder=EncoderConfig(name="bert-base-cased", max_len=128),
        # every run: the primary for up to 7 epochs (GradTS's MT-DNN), scored on select 4 times an
        # epoch, the best weights kept (GradTS reports the highest score), stopped after an epoch
        # without a gain (AutoSeM's early stopping on the plateau); auxiliaries on top within K = 2,
        # as in cpu. Checkpoints every 2000 steps, about 3 minutes at 10 steps/s (README "The paper
        # scale"). device "cuda": a driver without a GPU reads results back but never trains
        # bert-base itself (runtime.devices.NoDevice; --allow-cpu overrides)
        train=TrainConfig(batch_size=32, lr=5e-5, patience=4, max_total_factor=2.0, device="cuda",
                          checkpoint_every=2000),
        epochs=7.0, evals_per_epoch=4,
        select_cap=5000,
        bandit=BanditConfig(checkpoint_every=50),
        notes="the papers' settings: full data, bert-base-cased from the hub, 200 bandit rounds "
              "of 10 batches, 7 epochs a run; meant for a GPU"),
]}


def get_profile(name: str | Profile) -> Profile:
    """The named profile (a Profile passes through); unknown names list the known ones."""
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def _parse(value: str, current: object, where: str) -> object:
    """`value` (text) as the type of the field's current value: JSON for numbers, lists, null."""
    if isinstance(current, str):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{where}={value!r}: not a value of the field's type ({type(current).__name__})") from None
    if isinstance(current, tuple) and isinstance(parsed, list):
        return tuple(parsed)
    if isinstance(current, float) and isinstance(parsed, int) and not isinstance(parsed, bool):
        return float(parsed)
    if current is not None and parsed is not None and not isinstance(parsed, type(current)):
        raise ValueError(f"{where}={value!r} is {type(parsed).__name__}; the field holds {type(current).__name__}")
    return parsed


def _set(obj, path: list[str], value: str, where: str):
    names = [f.name for f in fields(obj)]
    if path[0] not in names:
        raise ValueError(f"{where}: {type(obj).__name__} has no field {path[0]!r}; fields: {', '.join(names)}")
    current = getattr(obj, path[0])
    if len(path) == 1:
        if is_dataclass(current):
            raise ValueError(f"{where} names a group of settings; set one of its fields, e.g. {where}.{fields(current)[0].name}=…")
        return replace(obj, **{path[0]: _parse(value, current, where)})
    if not is_dataclass(current):
        raise ValueError(f"{where}: {path[0]!r} is a single setting, not a group")
    return replace(obj, **{path[0]: _set(current, path[1:], value, where)})


def override(profile: str | Profile, assignments: Sequence[str] = ()) -> Profile:
    """The profile with each "dotted.name=value" assignment applied, e.g. "gradts.threshold=0.5",
    "train.lr=5e-5", "bandit.primary_prior=[1, 1]". Unknown names and ill-typed values raise a
    ValueError naming the fields there are."""
    profile = get_profile(profile)
    for assignment in assignments:
        where, sep, value = assignment.partition("=")
        if not sep or not where.strip():
            raise ValueError(f"{assignment!r}: write a setting as name=value, e.g. gradts.threshold=0.5")
        where = where.strip()
        if where in ("name", "overrides", "notes"):
            raise ValueError(f"{where!r} describes the profile; it is not a setting to override")
        profile = _set(profile, where.split("."), value.strip(), where)
    return replace(profile, overrides=profile.overrides + tuple(assignments)) if assignments else profile
