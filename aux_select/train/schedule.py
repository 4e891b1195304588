"""The mixing schedule and the run length.

A mixing ratio η_1:…:η_N (primary first) becomes the interleaved schedule of the official
AutoSeM code: step s trains task `schedule[s % len(schedule)]`, where the schedule lists
task i η_i times (round-robin, so tasks alternate instead of coming in blocks). The budget is
the primary's own steps; `run_length` says how many steps of all tasks together give it them.
A profile's largest total factor K (`TrainConfig.max_total_factor`) bounds that length: every
method's mixes fit it by construction (`fits`, `uniform_mix`), and a mix that does not is
refused, never cut short (a cut would train the primary less and confound selection with
training length).
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


def run_length(ratio: Sequence[int], primary_steps: int) -> int:
    """Batches of all tasks together that give the primary `primary_steps` of its own under the
    interleaved `ratio` (canonical, primary first): never fewer own steps, whatever the mix.

    >>> run_length([1, 5, 5], 100)
    1090
    """
    schedule = mixing_schedule(ratio)
    cycle, at = len(schedule), [i for i, task in enumerate(schedule) if task == 0]
    last = primary_steps - 1  # the primary's last step: the `last % len(at)`-th of its cycle
    return last // len(at) * cycle + at[last % len(at)] + 1


def total_factor(ratio: Sequence[int]) -> float:
    """How many times the primary's steps a run of `ratio` trains in all: the batches of a
    cycle over the primary's (a run's length is at most this times the primary's steps).

    >>> total_factor([2, 1, 1])
    2.0
    """
    ratio = validate_ratio(ratio)
    return sum(ratio) / ratio[0]


def fits(ratio: Sequence[int], max_total_factor: float | None) -> bool:
    """Whether a run of `ratio` trains at most `max_total_factor` (K) times the primary's steps,
    that is, whether the primary's share of the batches is at least 1/K (None: any ratio fits)."""
    return max_total_factor is None or total_factor(ratio) <= max_total_factor + 1e-9


def check_fits(ratio: Sequence[int], max_total_factor: float | None) -> None:
    """ValueError naming the fix for a mix that trains more than K times the primary's steps."""
    if not fits(ratio, max_total_factor):
        raise ValueError(f"the mix {list(ratio)} trains {total_factor(ratio):g} times the primary's steps, over "
                         f"K = train.max_total_factor = {max_total_factor:g}; give the primary a share of at "
                         "least 1/K (uniform_mix, the GP's space) or raise K: a run is never cut short")


def within_k(ratio: Sequence[int], max_total_factor: float | None) -> list[int]:
    """`ratio` with the primary's entry raised, where it must be, to keep its share of the batches
    at least 1/K: the nearest mix that fits, with every auxiliary entry as asked (how the GP's
    points, in AutoSeM's box, become runs; None: `ratio` as it is).

    >>> within_k([1, 5, 5], 2), within_k([12, 5, 5], 2)
    ([10, 5, 5], [12, 5, 5])
    """
    ratio = validate_ratio(ratio)
    if max_total_factor is None:
        return ratio
    if sum(ratio[1:]) and max_total_factor <= 1:
        raise ValueError(f"max_total_factor={max_total_factor} leaves no batch for an auxiliary task; "
                         "K must exceed 1 for any mix (train.max_total_factor)")
    needed = math.ceil(sum(ratio[1:]) / (max_total_factor - 1) - 1e-9) if sum(ratio[1:]) else 1
    return [max(ratio[0], needed), *ratio[1:]]


def uniform_mix(n_tasks: int, max_total_factor: float | None = None) -> list[int]:
    """The uniform mix of a primary and `n_tasks - 1` auxiliary tasks that fits K: one batch of
    each auxiliary per cycle, and as many of the primary's as keep its share at least 1/K
    (1:1:…:1 when that already fits).

    >>> uniform_mix(3), uniform_mix(8, max_total_factor=2)
    ([1, 1, 1], [7, 1, 1, 1, 1, 1, 1, 1])
    """
    if n_tasks < 1:
        raise ValueError("a mix needs the primary task")
    return within_k([1] * n_tasks, max_total_factor)
