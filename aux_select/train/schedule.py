"""The mixing schedule and the run length.

A mixing ratio η_1:…:η_N (primary first) becomes the interleaved schedule of the official
AutoSeM code: step s trains task `schedule[s % len(schedule)]`, where the schedule lists
task i η_i times (round-robin, so tasks alternate instead of coming in blocks). The budget is
the primary's own steps; `run_length` says how many steps of all tasks together give it them.
"""
from __future__ import annotations

import math
from typing import Sequence


def mixing_schedule(ratio: Sequence[int]) -> list[int]:
    """Task indices in the interleaved order of one cycle: task i appears ratio[i] times.

    >>> mixing_schedule([2, 1, 0])
    [0, 1, 0]
    """
    ratio = validate_ratio(ratio)
    return [i for r in range(max(ratio)) for i, n in enumerate(ratio) if n > r]


def validate_ratio(ratio: Sequence[int], n_tasks: int | None = None) -> list[int]:
    """The ratio as a list of ints; ValueError naming the problem otherwise."""
    ratio = list(ratio)
    if n_tasks is not None and len(ratio) != n_tasks:
        raise ValueError(f"ratio has {len(ratio)} entries for {n_tasks} tasks; give one per task, primary first")
    if not ratio:
        raise ValueError("ratio is empty; give one non-negative integer per task, primary first")
    if any(not float(r).is_integer() for r in ratio):
        raise ValueError(f"ratio {ratio} has a non-integer entry; entries are batches per cycle")
    ratio = [int(r) for r in ratio]
    if any(r < 0 for r in ratio):
        raise ValueError(f"ratio {ratio} has a negative entry; use 0 to drop a task")
    if ratio[0] < 1:
        raise ValueError(f"ratio {ratio} gives the primary task 0; the primary's entry must be >= 1")
    return ratio


def canonical_ratio(ratio: Sequence[int]) -> list[int]:
    """The ratio as the proportion it is: zeros dropped (a dropped task trains nothing) and
    divided by the entries' gcd, so [3, 3, 3] and [1, 1, 1] name one schedule and [2, 0] is the
    single-task run [1]. Every run trains, and is stored under, its canonical ratio.

    >>> canonical_ratio([4, 0, 2])
    [2, 1]
    """
    kept = [r for r in validate_ratio(ratio) if r > 0]
    divisor = math.gcd(*kept)
    return [r // divisor for r in kept]


def run_length(ratio: Sequence[int], primary_steps: int, max_total_factor: float | None = None) -> int:
    """Batches of all tasks together that give the primary `primary_steps` of its own under the
    interleaved `ratio` (canonical, primary first), at most `max_total_factor` × primary_steps.

    >>> run_length([1, 5, 5], 100)
    1090
    >>> run_length([1, 5, 5], 100, max_total_factor=4)
    400
    """
    schedule = mixing_schedule(ratio)
    cycle, at = len(schedule), [i for i, task in enumerate(schedule) if task == 0]
    last = primary_steps - 1  # the primary's last step: the `last % len(at)`-th of its cycle
    total = last // len(at) * cycle + at[last % len(at)] + 1
    return total if max_total_factor is None else min(total, math.floor(max_total_factor * primary_steps))
