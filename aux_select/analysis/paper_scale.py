"""How long each method trains under a profile at full GLUE size, computed from the steps, before
any job is queued: what a GPU user plans with.

    run_lengths("MNLI")                      # the `paper` profile, a row per method
    run_lengths("RTE", steps_per_second=12)  # at the throughput benchmarks/gpu_check.py measured

Every number follows from the profile and GLUE's official train sizes (`TaskSpec.train_size`, the
select rows held out), not from a run. A run gives its primary `epochs` epochs and its auxiliaries
batches on top, at most K times the primary's steps (`train.schedule`); early stopping only
shortens it. What a method decides at run time is bounded: a greedy search tries between one
candidate and all of them, a selection mixes between one task and the whole pool at up to K
times the primary's steps, so each method has a fewest and a most. Shared work (the single-task
run, the head matrices) is in every method that uses it, and once in "every method once".
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from aux_select.data.registry import POOLS, get_task
from aux_select.experiment.profiles import Profile, get_profile
from aux_select.train.schedule import run_length, uniform_mix

STEPS_PER_SECOND = 10.0  # bert-base, batch 32, up to 128 tokens, bf16 on one A100: an assumption
                         # until benchmarks/gpu_check.py measures the GPU at hand


def train_rows(task: str, profile: Profile) -> int:
    """The train rows a run of `task` trains on: GLUE's official train split less its select rows."""
    rows = get_task(task).train_size
    held_out = math.floor(rows * profile.select_fraction)
    return rows - (min(held_out, profile.select_cap) if profile.select_cap is not None else held_out)


def _primary_steps(primary: str, profile: Profile) -> int:
    return profile.train_config(primary, 0, train_rows(primary, profile)).max_steps


def _matrix_steps(task: str, profile: Profile) -> int:
    """GradTS head importance of one task: its warm-up fine-tuning and one gradient pass per batch of its sample."""
    imp, rows = profile.importance, train_rows(task, profile)
    warmup = math.ceil(imp.warmup_epochs * math.ceil(rows / profile.train.batch_size))
    warmup = min(warmup, imp.warmup_max_steps) if imp.warmup_max_steps is not None else warmup
    sample = math.ceil(rows * imp.sample_fraction)
    sample = min(sample, imp.sample_cap) if imp.sample_cap is not None else sample
    return warmup + math.ceil(sample / imp.batch_size)


def method_steps(primary: str, candidates: Sequence[str], profile: Profile) -> dict[str, tuple[int, int]]:
    """Each method's (fewest, most) optimiser steps for `primary`, with the shared work and the
    other method's work it reads; the shared work itself; and every method once, each part once."""
    k, n = profile.train.max_total_factor, len(candidates)
    steps = _primary_steps(primary, profile)
    one = run_length(uniform_mix(2, k), steps)                    # the primary and one auxiliary
    most = run_length(uniform_mix(1 + n, k), steps)                # the whole pool (at K: K times the primary's)
    instances = [math.ceil(train_rows(t, profile) / profile.importance.batch_size) for t in candidates]
    shared = {"single-task run": (steps, steps), "stage 1": (profile.bandit.rounds * profile.bandit.batches_per_round,) * 2,
              "head-importance matrices": (sum(_matrix_steps(t, profile) for t in [primary, *candidates]),) * 2}
    greedy = ((one, n * most), ["single-task run"])                # 1 to n trials after the single-task run
    own = {"Single-Task": ((0, 0), ["single-task run"]), "NO-SEL": ((most, most), []),
           "AutoSeM-p1": ((one, most), ["stage 1"]),
           "AutoSeM": ((profile.gp.calls * one, profile.gp.calls * most), ["stage 1"]),
           "GradTS-thres": ((one, most), ["head-importance matrices"]),  # (if none passes: single-task's run)
           "GradTS-trial": ((one, n * most), ["single-task run", "head-importance matrices"]),
           "GradTS-fg": ((min(instances) + one, sum(instances) + most), ["GradTS-trial"]),  # its instance matrices, its run
           "HEU-Size": greedy, "HEU-Type": greedy, "HEU-Len": greedy}

    def total(name: str) -> tuple[int, int]:
        (low, high), uses = own[name]
        parts = [shared[u] if u in shared else total(u) for u in uses]
        return low + sum(p[0] for p in parts), high + sum(p[1] for p in parts)

    rows = {name: total(name) for name in own} | {f"shared: {name}": cost for name, cost in shared.items()}
    everything = [cost for cost, _ in own.values()] + list(shared.values())
    rows["every method once, each part once"] = (sum(c[0] for c in everything), sum(c[1] for c in everything))
    return rows


def run_lengths(primary: str, profile: str | Profile = "paper", candidates: Sequence[str] | None = None,
                steps_per_second: float = STEPS_PER_SECOND) -> pd.DataFrame:
    """A row per method (and shared work): its fewest and most steps for `primary` under `profile`
    (candidates: the GLUE pool less the primary) and the GPU hours they take at `steps_per_second`."""
    profile = get_profile(profile)
    candidates = list(candidates) if candidates is not None else [t for t in POOLS["glue"] if t != primary]
    table = pd.DataFrame.from_dict(method_steps(primary, candidates, profile), orient="index",
                                   columns=["steps (fewest)", "steps (most)"])
    for bound in ("fewest", "most"):
        table[f"GPU hours ({bound})"] = (table[f"steps ({bound})"] / steps_per_second / 3600).round(1)
    table.index.name = f"{primary} ({profile.label})"
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """python -m aux_select.analysis.paper_scale RTE MNLI [--profile paper] [--steps-per-second 10]"""
    import argparse
    parser = argparse.ArgumentParser(description="Each method's steps and GPU hours at full GLUE size.")
    parser.add_argument("primaries", nargs="+")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--steps-per-second", type=float, default=STEPS_PER_SECOND)
    args = parser.parse_args(argv)
    for primary in args.primaries:
        table = run_lengths(primary, args.profile, steps_per_second=args.steps_per_second)
        print(table.to_markdown(floatfmt=("", ",.0f", ",.0f", ",.1f", ",.1f")), "\n")


if __name__ == "__main__":
    main()
