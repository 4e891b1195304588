"""AutoSeM (Guo, Pasunuru & Bansal, NAACL 2019). Stage 1: pick auxiliary tasks with a
non-stationary Thompson-sampling bandit while one shared model trains (Algorithm 1).

Arms are the primary and every candidate. Each round samples every arm's Beta belief, trains
the argmax task for a few mini-batches, scores the primary on a fixed subset of its select
split and rewards the arm 1 if that score did not drop since the previous round. The tasks
with the highest utility E[θ] = α/(α+β) become the auxiliary tasks (`select_auxiliary`).
AutoSeM-p1 trains the primary with them at a uniform ratio.
"""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from aux_select.data.loading import TaskData
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.experiment.profiles import BanditConfig
from aux_select.methods.autosem.bandit import ThompsonBandit, select_auxiliary
from aux_select.model.encoders import EncoderConfig
from aux_select.runtime.cost import Clock, PeakMemory
from aux_select.runtime.store import JsonResult, jsonable, make_key
from aux_select.train.checkpoints import load_checkpoint, save_checkpoint
from aux_select.train.config import TrainConfig, settings_without_budget
from aux_select.train.trainer import Trainer


@dataclass
class Stage1Result(JsonResult):
    tasks: list[str]                 # the arms, primary first
    trajectory: list[dict]           # per round: round, arm, reward, score, loss, alpha, beta (after the update)
    alpha: list[float]               # final posterior, one entry per arm
    beta: list[float]
    utilities: dict[str, float]      # task -> α/(α+β)
    pulls: dict[str, int]            # task -> rounds it was trained
    selected: list[str]              # the auxiliary tasks, best first
    initial_score: float             # the primary's select-subset score before any training
    wall_time_s: float               # summed over the calls that produced it (resumes included)
    settings: dict = field(default_factory=dict)  # the bandit config, seed, alpha0/beta0, eval_rows
    peak_memory_mb: float = math.nan  # of the call that finished it (NaN in results stored before it was kept)
    cpu_time_s: float = math.nan     # process CPU seconds, summed like the wall time (NaN: stored before)

    @property
    def primary(self) -> str:
        return self.tasks[0]

    @property
    def ranking(self) -> list[str]:
        """The auxiliary arms by utility, best first (a tie keeps the arms' order)."""
        return sorted(self.tasks[1:], key=lambda task: -self.utilities[task])

    def posterior_at(self, round: int) -> tuple[list[float], list[float]]:
        """(alpha, beta) after `round` rounds; round 0 is the prior."""
        if round == 0:
            return self.settings["alpha0"], self.settings["beta0"]
        row = self.trajectory[round - 1]
        return row["alpha"], row["beta"]



def thompson_stage1(tasks: list[TaskData], *, encoder: EncoderConfig, config: TrainConfig,
                    bandit: BanditConfig = BanditConfig(), identity: dict | None = None,
                    checkpoint_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> Stage1Result:
    """Run AutoSeM stage 1 on `tasks` (tasks[0] is the primary) and return the whole trajectory.

    Every round scores the primary on the same `bandit.eval_size` rows of its select split, a
    sample drawn with the run's seed (the split is in file order: RTE is RTE1-5 in turn, CoLA
    grouped by source, so its first rows are no fair sample). The first round's reward compares
    with the primary's score *before any training* (the freshly initialised model,
    `initial_score`); every later round compares with the round before. Ties count as "did not
    drop" (reward 1).

    Priors: every arm starts at Beta(`bandit.prior`), the primary at Beta(`bandit.primary_prior`).
    The paper gives no numbers; the official code uses (1, 1) for every arm (primary_prior=None).
    `bandit.gamma` is the decay toward the prior (official: 0.3).

    With `checkpoint_dir`, the complete state (weights, optimiser, scheduler, RNGs, bandit,
    trajectory, batch-stream positions) is written every `bandit.checkpoint_every` rounds and at the
    end; a later call with the same `identity` resumes from it and yields exactly the
    trajectory of an uninterrupted run (on CPU; GPU kernels need not be deterministic).
    """
    names = [t.name for t in tasks]
    _check_stage1(names, bandit)
    primary, eval_rows = names[0], _eval_rows(len(tasks[0].select), bandit.eval_size, config.seed)
    # the bandit validates gamma and the priors: build it before the (expensive) Trainer
    arms = ThompsonBandit(len(tasks), prior=bandit.prior, primary_prior=bandit.primary_prior,
                          gamma=bandit.gamma, seed=config.seed)
    settings = {**jsonable(bandit_settings(bandit)), "seed": config.seed, "alpha0": arms.alpha0.tolist(), "beta0": arms.beta0.tolist(),
                "eval_rows": eval_rows}
    identity = jsonable(identity if identity is not None else
                        {"settings": settings, "tasks": names, "encoder": asdict(encoder),
                         "train": settings_without_budget(config)})
    start = Clock()
    with PeakMemory(config.device) as memory:
        trainer = Trainer(tasks, encoder, config, total_steps=bandit.rounds * bandit.batches_per_round)
        resumed = load_checkpoint(Path(checkpoint_dir), identity, trainer.device, prefix="round") \
            if checkpoint_dir is not None else None
        if resumed is not None:
            trainer.restore(resumed[0])
            state = resumed[1] | {"bandit": ThompsonBandit.from_state_dict(resumed[1]["bandit"])}
        else:
            state = {"identity": identity, "bandit": arms, "trajectory": [], "wall_time_s": 0.0, "cpu_time_s": 0.0,
                     "initial_score": trainer.score(primary, "select", rows=eval_rows)}

        def checkpoint(r: int) -> None:
            wall_s, cpu_s = start.since(_spent(state))
            save_checkpoint(Path(checkpoint_dir), r, trainer, state | {
                "bandit": state["bandit"].state_dict(), "wall_time_s": wall_s, "cpu_time_s": cpu_s}, prefix="round")
        _play_rounds(trainer, state, names, eval_rows, bandit, progress,
                     checkpoint if checkpoint_dir is not None else None, bandit.checkpoint_every)

    arms, trajectory = state["bandit"], state["trajectory"]
    wall_s, cpu_s = start.since(_spent(state))
    utilities, pulls = dict(zip(names, arms.utilities().tolist())), dict(zip(names, arms.counts.tolist()))
    return Stage1Result(
        tasks=names, trajectory=trajectory, alpha=arms.alpha.tolist(), beta=arms.beta.tolist(),
        utilities=utilities, pulls=pulls,
        selected=select_auxiliary(utilities, primary, pulls=pulls), initial_score=state["initial_score"],
        wall_time_s=wall_s, settings=settings, peak_memory_mb=memory.peak_mb, cpu_time_s=cpu_s)


def _spent(state: dict) -> tuple[float, float]:
    """(wall, CPU) seconds earlier calls spent (a checkpoint written before CPU time was kept has none)."""
    return state["wall_time_s"], state.get("cpu_time_s", 0.0)


def _eval_rows(select_rows: int, eval_size: int, seed: int) -> list[int] | None:
    """The select rows every round scores (None: all of them), sorted: the same rows in the same order."""
    if eval_size >= select_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(select_rows, eval_size, replace=False)).tolist()


def bandit_settings(bandit: BanditConfig) -> dict:
    """The bandit's settings that can change a result (all but its checkpoint interval): what
    stage 1's store key and result hold."""
    return {k: v for k, v in asdict(bandit).items() if k != "checkpoint_every"}


def _check_stage1(names: list[str], bandit: BanditConfig) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"tasks {names} name a task twice; every arm must be a different task")
    for what, n in (("rounds", bandit.rounds), ("batches_per_round", bandit.batches_per_round),
                    ("eval_size", bandit.eval_size), ("checkpoint_every", bandit.checkpoint_every)):
        if n < 1:
            raise ValueError(f"{what}={n}; it must be at least 1")


def _play_rounds(trainer: Trainer, state: dict, names: list[str], eval_rows: list[int] | None, bandit: BanditConfig,
                 progress: bool, checkpoint: Callable[[int], None] | None, checkpoint_every: int) -> None:
    """Algorithm 1's rounds from where `state` (bandit, trajectory, initial score) stands to
    `bandit.rounds`, appending each to the trajectory; a checkpoint every `checkpoint_every` and at the end."""
    arms, trajectory, primary = state["bandit"], state["trajectory"], names[0]
    previous = trajectory[-1]["score"] if trajectory else state["initial_score"]
    bar = tqdm(range(len(trajectory) + 1, bandit.rounds + 1), initial=len(trajectory), total=bandit.rounds,
               desc=f"AutoSeM stage 1 ({primary})", disable=not progress, leave=False)
    for r in bar:
        arm = arms.choose()
        loss = torch.stack([trainer.step(names[arm]) for _ in range(bandit.batches_per_round)]).float().mean().item()
        if not math.isfinite(loss):
            raise FloatingPointError(f"stage 1 diverged in round {r} training {names[arm]} (loss {loss}); "
                                     "lower the learning rate (TrainConfig.lr) and rerun")
        score = trainer.score(primary, "select", rows=eval_rows)
        reward = int(score >= previous)  # 1 unless the primary's score dropped
        arms.update(arm, reward)
        trajectory.append({"round": r, "arm": names[arm], "reward": reward, "score": score, "loss": loss,
                           "alpha": arms.alpha.tolist(), "beta": arms.beta.tolist()})
        previous = score
        bar.set_postfix(arm=names[arm], score=f"{score:.3f}")
        if checkpoint is not None and (r % checkpoint_every == 0 or r == bandit.rounds):
            checkpoint(r)
    bar.close()


def run_stage1(primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
               **settings) -> Stage1Result:
    """Stage 1 for named tasks under the context's profile (`profile.bandit`: rounds, batches per
    round, eval sample size, γ, priors). candidates=None: the GLUE pool the data provides.

    Stage 1 trains at a constant learning rate after warm-up: with the usual decay to 0 the late
    rounds, which dominate the decayed utilities, would barely move the model. A finished
    trajectory is read back from the store; an interrupted one resumes from its checkpoint
    (under store.root/stage1_checkpoints/<key>, removed once the result is stored).
    """
    exp = as_experiment(exp, **settings)
    bandit = exp.profile.bandit
    config = replace(exp.profile.train, seed=exp.seed, lr_schedule="constant_with_warmup")
    candidates = exp.candidates(primary, candidates)
    ThompsonBandit(1 + len(candidates), prior=bandit.prior, primary_prior=bandit.primary_prior,
                   gamma=bandit.gamma)  # validates before any data is loaded
    tasks, _ = exp.training_tasks([primary, *candidates])  # no train row holds the primary's report text
    # the trajectory reads train and select only (the train rows left by the drop): report data
    # is no part of its key
    spec = exp.spec(tasks=[exp.task_key(t, ("train", "select")) for t in tasks], bandit=bandit_settings(bandit),
                    train=settings_without_budget(config))
    checkpoints = exp.store.root / "stage1_checkpoints" / make_key("stage1", spec) if exp.store else None

    def compute() -> dict:
        return thompson_stage1(tasks, encoder=exp.profile.encoder, config=config, bandit=bandit,
                               identity=spec, checkpoint_dir=checkpoints, progress=exp.progress).to_json()

    if exp.parallel and exp.store.get("stage1", spec) is None:  # a driver trains nothing itself: a unit does
        exp.map(_stage1_unit, [(primary, tuple(candidates))])
    result = Stage1Result.from_json(exp.get_or_compute("stage1", spec, compute))
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)  # the stored result replaces it
    return result


def _stage1_unit(exp: Experiment, item: tuple) -> Stage1Result:
    """Stage 1 as a unit of work (`Experiment.map`): item = (primary, candidates)."""
    primary, candidates = item
    return run_stage1(primary, list(candidates), exp)
