"""The budget study: single-task select scores against the primary's steps, for a few learning
rates, and the rule that picks a profile's budget from those curves alone.

    study = budget_study(["MRPC", "RTE"], lrs=[3e-5, 1e-4], max_steps=1200, eval_every=150, profile="cpu")
    study.choice   # {"lr": ..., "primary_steps": {"MRPC": ..., "RTE": ...}, ...}

Each (primary, learning rate) is one run of `max_steps`, scored on select every `eval_every`
steps. The profile's schedule must hold the learning rate constant after a fixed warm-up
(`lr_schedule="constant_with_warmup"`, `warmup_steps`): then the first N steps of the long run
are the N-step run (tests/test_train.py), and one run gives the whole curve. Report data is
never read: the runs score report too, as every run does, but the curves and the rule read
`history` (select) only (tests/test_budget.py flips every report label and gets the same budget).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aux_select.experiment.context import Experiment, as_experiment
from aux_select.experiment.profiles import Profile, get_profile, override
from aux_select.runtime.store import JsonResult
from aux_select.train.schedule import canonical_ratio, run_length, uniform_mix, within_k

RULE = ("the learning rate whose best select score, averaged over the primaries, is highest; then "
        "for each primary the fewest steps whose select score at that rate is within one select "
        "standard error of its best, where a primary whose curve still rises at the compute limit (its "
        "next evaluation beats its best within the limit) has its limit moved on one evaluation at a "
        "time while that holds")


@dataclass
class BudgetStudy(JsonResult):
    profile: str
    seed: int
    lrs: list[float]
    max_steps: int
    eval_every: int
    curves: list[dict]         # one row per evaluation: primary, lr, step, select_score, select_se
    wall_time_s: dict          # "primary lr" -> seconds of its run (0 when read from the store)
    choice: dict               # `choose_budget`'s answer


def study_experiment(exp: Experiment, lr: float, max_steps: int, eval_every: int) -> Experiment:
    """`exp` with a single-task run of `max_steps` at `lr`, scored every `eval_every` steps, no
    early stopping, no cap and no per-primary budget: nothing the study itself chooses enters
    its runs' store keys, so choosing a budget never invalidates the study. The same data,
    store and memo (`as_experiment` with the new profile, whose data settings are `exp`'s)."""
    settings = [f"train.lr={lr}", f"train.max_steps={max_steps}", f"train.eval_every={eval_every}",
                "train.patience=null", "train.max_total_factor=null", "primary_steps={}"]
    profile = override(exp.profile, settings)
    if profile.train.lr_schedule != "constant_with_warmup" or profile.train.warmup_steps is None:
        raise ValueError(f"profile {exp.profile.name!r} trains with lr_schedule={profile.train.lr_schedule!r} and "
                         f"warmup_steps={profile.train.warmup_steps}: a curve read off one run is the shorter runs "
                         "only under a constant rate after a fixed warm-up; set train.lr_schedule="
                         "constant_with_warmup and train.warmup_steps")
    return as_experiment(exp, profile=profile)


def budget_study(primaries: Sequence[str], lrs: Sequence[float], max_steps: int = 1200, eval_every: int = 150,
                 exp: Experiment | None = None, *, max_budget: int | None = None, **settings) -> BudgetStudy:
    """Train each primary alone at each learning rate for `max_steps` (stored: an interrupted
    study resumes), read its select curve, and choose the budget (`choose_budget`) among the
    steps up to `max_budget` (a compute limit; None: every step studied)."""
    exp = as_experiment(exp, **settings)
    curves, wall = [], {}
    grid = [(p, lr) for p in primaries for lr in lrs]
    # shown after 10 s: a study read back from the store is done before, and draws no bar
    for primary, lr in tqdm(grid, desc="budget study", disable=not exp.progress, delay=10):
        run = study_experiment(exp, lr, max_steps, eval_every).run([primary], [1])
        if run.failure:
            raise RuntimeError(f"the budget study's run of {primary} at lr {lr} failed: {run.failure}")
        wall[f"{primary} {lr:g}"] = run.wall_time_s
        curves += [{"primary": primary, "lr": lr, "step": h["primary_step"], "select_score": h["select_score"],
                    "select_se": h["select_se"]} for h in run.history]
    return BudgetStudy(profile=exp.profile.label, seed=exp.seed, lrs=list(lrs), max_steps=max_steps,
                       eval_every=eval_every, curves=curves, wall_time_s=wall,
                       choice=choose_budget(curves, max_steps=max_budget))


def choose_budget(curves: Sequence[dict], max_steps: int | None = None) -> dict:
    """The `RULE` over select curves (rows of primary, lr, step, select_score, select_se), among
    steps up to `max_steps` if given (a primary still rising there gets more: `_limit`): {"lr",
    "primary_steps": {primary: steps}, "best": {primary: [step, score, se]}, "limits", "rule"}.
    Reads nothing but those rows."""
    if not curves:
        raise ValueError("no select evaluations to choose a budget from")
    primaries = list(dict.fromkeys(r["primary"] for r in curves))
    lrs = sorted(set(r["lr"] for r in curves))

    def curve(primary: str, lr: float, limit: int | None) -> list[dict]:
        return [r for r in curves
                if r["primary"] == primary and r["lr"] == lr and (limit is None or r["step"] <= limit)]

    def best(points: list[dict]) -> dict:
        return max(points, key=lambda r: (r["select_score"], -r["step"]))

    mean_best = {lr: np.mean([best(curve(p, lr, max_steps))["select_score"] for p in primaries]) for lr in lrs}
    lr = max(lrs, key=lambda x: (mean_best[x], -x))  # a tie goes to the smaller rate
    steps, tops, limits = {}, {}, {}
    for primary in primaries:
        limits[primary] = _limit(curve(primary, lr, None), max_steps)
        points = curve(primary, lr, limits[primary])
        top = best(points)
        steps[primary] = min(r["step"] for r in points if r["select_score"] >= top["select_score"] - top["select_se"])
        tops[primary] = [top["step"], top["select_score"], top["select_se"]]
    return {"lr": lr, "primary_steps": steps, "best": tops,
            "mean_best_select": {f"{x:g}": float(mean_best[x]) for x in lrs},
            "max_steps": max_steps if max_steps is not None else max(r["step"] for r in curves),
            "limits": limits, "rule": RULE}


def _limit(points: list[dict], max_steps: int | None) -> int:
    """The compute limit for one curve: `max_steps`, moved on one evaluation at a time while the
    next evaluation beats the best select score within the limit (the curve still rises there)."""
    points = sorted(points, key=lambda r: r["step"])
    limit = max_steps if max_steps is not None else points[-1]["step"]
    later = [r for r in points if r["step"] > limit]
    for r in later:
        if r["select_score"] <= max(q["select_score"] for q in points if q["step"] <= limit):
            break
        limit = r["step"]
    return limit


def curves_table(study: BudgetStudy) -> pd.DataFrame:
    """Select score ± standard error at each (primary, step), a column per learning rate."""
    frame = pd.DataFrame(study.curves)
    frame["select"] = [f"{s:.3f} ± {e:.3f}" for s, e in zip(frame["select_score"], frame["select_se"])]
    return frame.pivot(index=["primary", "step"], columns="lr", values="select").rename(columns=lambda lr: f"lr {lr:g}")


def largest_runs(profile: str | Profile, primary: str, n_candidates: int = 7, max_selected: int = 3) -> pd.DataFrame:
    """What the budget rule lets each kind of mix train for `primary` under `profile`: a row per
    mix with its ratio and run length in steps of all tasks. The single-task run; the uniform mix
    (`Experiment.uniform_mix`) of k auxiliaries for each k up to `n_candidates` (NO-SEL's is all
    of them; AutoSeM-p1, the greedy searches and GradTS-thres / -fg train one of these); and the
    longest run a GP point over k selected tasks can give (each point trained as `within_k` fits
    it to K), by enumerating the GP's space (k up to `max_selected`)."""
    profile = get_profile(profile)
    config, gp = profile.train_config(primary, 0), profile.gp
    rows = [{"mix": "single-task", "ratio": [1], "steps": config.max_steps}]
    for k in range(1, n_candidates + 1):
        ratio = uniform_mix(k + 1, config.max_total_factor)
        rows.append({"mix": f"uniform, {k} auxiliar{'y' if k == 1 else 'ies'}", "ratio": ratio,
                     "steps": run_length(ratio, config.max_steps)})
    for k in range(1, max_selected + 1):
        space = itertools.product(range(1, gp.max_ratio + 1), *[range(gp.max_ratio + 1)] * k)
        trained = {tuple(canonical_ratio(within_k(point, config.max_total_factor))) for point in space}
        longest = max(trained, key=lambda r: run_length(r, config.max_steps))
        rows.append({"mix": f"GP's longest, {k} selected", "ratio": list(longest),
                     "steps": run_length(longest, config.max_steps)})
    frame = pd.DataFrame(rows)
    frame["× primary's steps"] = (frame["steps"] / config.max_steps).round(3)
    return frame.set_index("mix")
