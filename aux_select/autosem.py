"""AutoSeM (Guo, Pasunuru & Bansal, NAACL 2019). Stage 1: pick auxiliary tasks with a
non-stationary Thompson-sampling bandit while one shared model trains (Algorithm 1).

Arms are the primary and every candidate. Each round samples every arm's Beta belief, trains
the argmax task for a few mini-batches, scores the primary on a fixed subset of its select
split and rewards the arm 1 if that score did not drop since the previous round. The tasks
with the highest utility E[θ] = α/(α+β) become the auxiliary tasks (`select_auxiliary`).
AutoSeM-p1 trains the primary with them at a uniform ratio.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .bandit import ThompsonBandit, select_auxiliary
from .baselines import default_candidates
from .data import TaskData
from .experiment import check_pool, load_tasks, mtl_run, task_fingerprint
from .models import EncoderConfig
from .profiles import Profile, get_profile
from .store import Store, make_key
from .cost import PeakMemory
from .train import RunResult, TrainConfig, Trainer, pick_device, settings_without_budget

Prior = tuple[float, float]


@dataclass
class Stage1Result:
    tasks: list[str]                 # the arms, primary first
    trajectory: list[dict]           # per round: round, arm, reward, score, loss, alpha, beta (after the update)
    alpha: list[float]               # final posterior, one entry per arm
    beta: list[float]
    utilities: dict[str, float]      # task -> α/(α+β)
    pulls: dict[str, int]            # task -> rounds it was trained
    selected: list[str]              # the auxiliary tasks, best first
    initial_score: float             # the primary's select-subset score before any training
    wall_time_s: float               # summed over the calls that produced it (resumes included)
    settings: dict = field(default_factory=dict)  # rounds, batches, eval size, priors (alpha0/beta0), gamma, seed
    peak_memory_mb: float = math.nan  # of the call that finished it (NaN in results stored before it was kept)

    @property
    def primary(self) -> str:
        return self.tasks[0]

    def posterior_at(self, round: int) -> tuple[list[float], list[float]]:
        """(alpha, beta) after `round` rounds; round 0 is the prior."""
        if round == 0:
            return self.settings["alpha0"], self.settings["beta0"]
        row = self.trajectory[round - 1]
        return row["alpha"], row["beta"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Stage1Result":
        return cls(**d)


def thompson_stage1(tasks: list[TaskData], *, encoder: EncoderConfig, config: TrainConfig, rounds: int,
                    batches_per_round: int, eval_size: int, prior: Prior = (1.0, 1.0),
                    primary_prior: Prior | None = (2.0, 1.0), gamma: float = 0.3,
                    checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 10,
                    progress: bool = True) -> Stage1Result:
    """Run AutoSeM stage 1 on `tasks` (tasks[0] is the primary) and return the whole trajectory.

    The first round's reward compares with the primary's score *before any training* (the
    freshly initialised model, `initial_score`); every later round compares with the round
    before. Ties count as "did not drop" (reward 1).

    Priors: every arm starts at Beta(`prior`), the primary at Beta(`primary_prior`). The paper
    gives the primary "a slightly stronger prior" without numbers and the official code uses
    (1, 1) for every arm; our default (2, 1) is an assumption. Pass primary_prior=(1, 1) (or
    None) to reproduce the official code. `gamma` is the decay toward the prior (official: 0.3).

    With `checkpoint_dir`, the complete state (weights, optimiser, scheduler, RNGs, bandit,
    trajectory, batch-stream positions) is written every `checkpoint_every` rounds and at the
    end; a later call with the same arguments resumes from it and yields exactly the
    trajectory of an uninterrupted run (on CPU; GPU kernels need not be deterministic).
    """
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"tasks {names} name a task twice; every arm must be a different task")
    for what, n in (("rounds", rounds), ("batches_per_round", batches_per_round),
                    ("eval_size", eval_size), ("checkpoint_every", checkpoint_every)):
        if n < 1:
            raise ValueError(f"{what}={n}; it must be at least 1")
    # the bandit validates gamma and the priors: build it before the (expensive) Trainer
    bandit = ThompsonBandit(len(tasks), prior=prior, primary_prior=primary_prior, gamma=gamma,
                            seed=config.seed)
    primary = names[0]
    settings = {"rounds": rounds, "batches_per_round": batches_per_round, "eval_size": eval_size,
                "prior": list(prior), "primary_prior": None if primary_prior is None else list(primary_prior),
                "gamma": gamma, "seed": config.seed,
                "alpha0": bandit.alpha0.tolist(), "beta0": bandit.beta0.tolist()}
    identity = _jsonify({"settings": settings, "tasks": [task_fingerprint(t) for t in tasks],
                         "encoder": asdict(encoder), "train": settings_without_budget(config)})
    state = _load_checkpoint(Path(checkpoint_dir), identity) if checkpoint_dir is not None else None
    start = time.perf_counter()
    with PeakMemory(pick_device(config.device)) as memory:
        trainer = Trainer(tasks, encoder, config, total_steps=rounds * batches_per_round)
        if state is not None:
            trainer.restore(state["path"])
            bandit = ThompsonBandit.from_state_dict(state["bandit"])
            trajectory, initial_score, elapsed = state["trajectory"], state["initial_score"], state["wall_time_s"]
        else:
            initial_score = trainer.score(primary, "select", limit=eval_size)
            trajectory, elapsed = [], 0.0
        previous = trajectory[-1]["score"] if trajectory else initial_score

        bar = tqdm(range(len(trajectory) + 1, rounds + 1), initial=len(trajectory), total=rounds,
                   desc=f"AutoSeM stage 1 ({primary})", disable=not progress, leave=False)
        for r in bar:
            arm = bandit.choose()
            loss = torch.stack([trainer.step(names[arm]) for _ in range(batches_per_round)]).float().mean().item()
            if not math.isfinite(loss):
                raise FloatingPointError(f"stage 1 diverged in round {r} training {names[arm]} (loss {loss}); "
                                         "lower the learning rate (TrainConfig.lr) and rerun")
            score = trainer.score(primary, "select", limit=eval_size)
            reward = int(score >= previous)  # 1 unless the primary's score dropped
            bandit.update(arm, reward)
            trajectory.append({"round": r, "arm": names[arm], "reward": reward, "score": score, "loss": loss,
                               "alpha": bandit.alpha.tolist(), "beta": bandit.beta.tolist()})
            previous = score
            bar.set_postfix(arm=names[arm], score=f"{score:.3f}")
            if checkpoint_dir is not None and (r % checkpoint_every == 0 or r == rounds):
                _save_checkpoint(Path(checkpoint_dir), r, trainer, {
                    "identity": identity, "bandit": bandit.state_dict(), "trajectory": trajectory,
                    "initial_score": initial_score, "wall_time_s": elapsed + time.perf_counter() - start})
        bar.close()

    utilities = dict(zip(names, bandit.utilities().tolist()))
    pulls = dict(zip(names, bandit.counts.tolist()))
    return Stage1Result(
        tasks=names, trajectory=trajectory, alpha=bandit.alpha.tolist(), beta=bandit.beta.tolist(),
        utilities=utilities, pulls=pulls,
        selected=select_auxiliary(utilities, primary, pulls=pulls), initial_score=initial_score,
        wall_time_s=elapsed + time.perf_counter() - start, settings=settings, peak_memory_mb=memory.peak_mb)


def _jsonify(obj):
    """Plain JSON types (tuples become lists), so a fresh spec compares equal to a loaded one."""
    return json.loads(json.dumps(obj))


def _save_checkpoint(root: Path, round: int, trainer: Trainer, state: dict) -> None:
    """root/round-NNNNNN, written in a temp folder then renamed, so it is whole or absent."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".round-{round:06d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.checkpoint(tmp)
    (tmp / "stage1.json").write_text(json.dumps(state))
    final = root / f"round-{round:06d}"
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    for old in root.glob("round-*"):  # only the newest is needed to resume
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(root: Path, identity: dict) -> dict | None:
    """The newest complete checkpoint under `root` (None if there is none)."""
    done = sorted(p for p in root.glob("round-*") if (p / "stage1.json").exists())
    if not done:
        return None
    state = json.loads((done[-1] / "stage1.json").read_text())
    if state["identity"] != identity:
        raise ValueError(f"the checkpoint in {root} belongs to a different stage-1 run (other tasks, "
                         "data, model, budget or bandit settings); pass another checkpoint_dir or delete it")
    return state | {"path": done[-1]}


def stage1_spec(tasks: Sequence[TaskData], profile: Profile, config: TrainConfig, prior: Prior,
                primary_prior: Prior | None, gamma: float) -> dict:
    """Everything that determines a stage-1 trajectory: the store key's content."""
    return {"tasks": [task_fingerprint(t) for t in tasks], "encoder": asdict(profile.encoder),
            "train": settings_without_budget(config), "rounds": profile.bandit_rounds,
            "batches_per_round": profile.batches_per_round, "eval_size": profile.bandit_eval_size,
            "prior": list(prior), "primary_prior": None if primary_prior is None else list(primary_prior),
            "gamma": gamma}


def run_stage1(primary: str, candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
               seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None,
               prior: Prior = (1.0, 1.0), primary_prior: Prior | None = (2.0, 1.0), gamma: float = 0.3,
               progress: bool = True) -> Stage1Result:
    """Stage 1 for named tasks under `profile` (rounds, batches per round, eval subset size).

    Stage 1 trains at a constant learning rate after warm-up (`lr_schedule=
    "constant_with_warmup"`): with the usual decay to 0 the late rounds, which dominate the
    decayed utilities, would barely move the model. candidates=None: every GLUE
    classification task the data provides. With a `store`, a
    finished trajectory is read back instead of recomputed, and an interrupted one resumes from
    its checkpoint (under store.root/stage1_checkpoints/<key>, removed once the result is stored).
    """
    profile = get_profile(profile)
    # a rate decaying to 0 would freeze the late rounds, which dominate the decayed utilities
    config = replace(profile.train, seed=seed, lr_schedule="constant_with_warmup")
    candidates = list(candidates) if candidates is not None else default_candidates(primary, data_dir)
    check_pool(primary, candidates)
    ThompsonBandit(1 + len(candidates), prior=prior, primary_prior=primary_prior, gamma=gamma)  # validates
    tasks = load_tasks([primary, *candidates], profile, data_dir)
    spec = stage1_spec(tasks, profile, config, prior, primary_prior, gamma)
    if store is not None and (hit := store.get("stage1", spec)) is not None:
        return Stage1Result.from_dict(hit)
    checkpoints = store.root / "stage1_checkpoints" / make_key("stage1", spec) if store is not None else None
    result = thompson_stage1(
        tasks, encoder=profile.encoder, config=config, rounds=profile.bandit_rounds,
        batches_per_round=profile.batches_per_round, eval_size=profile.bandit_eval_size, prior=prior,
        primary_prior=primary_prior, gamma=gamma, checkpoint_dir=checkpoints, progress=progress)
    if store is not None:
        store.put("stage1", spec, result.to_dict())
        shutil.rmtree(checkpoints, ignore_errors=True)  # the stored result replaces it
    return result


def autosem_p1(primary: str, selected: Sequence[str], *, profile: str | Profile = "cpu", seed: int = 0,
               data_dir: str | os.PathLike | None = None, store: Store | None = None,
               progress: bool = True) -> RunResult:
    """AutoSeM-p1: the primary with the stage-1 selection at a uniform 1:1:…:1 ratio."""
    selected = list(selected)
    check_pool(primary, selected)
    return mtl_run([primary, *selected], [1] * (1 + len(selected)), profile=profile, seed=seed,
                   data_dir=data_dir, store=store, progress=progress)
