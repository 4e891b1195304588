"""Greedy auxiliary-set search shared by GradTS-trial and the HEU baselines, the scorer that turns
an auxiliary set into one stored MTL run, and the result every selection method returns.

    greedy_prefix(order_by_tau, score)        # GradTS-trial
    greedy_prefix(order_by_heuristic, score)  # HEU-Size / HEU-Type / HEU-Len

The HEU baselines are the same greedy search in another order, so a comparison of GradTS-trial
with them measures the order alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from aux_select.experiment.context import Experiment
from aux_select.methods.trial import Trial, stop_rule
from aux_select.runtime.store import JsonResult
from aux_select.train.run import RunResult


def _value(s: float) -> float:
    return -math.inf if math.isnan(s) else s  # a failed (NaN) run counts as the worst score


def greedy_prefix(order: Sequence[str], score: Callable[[list[str], list[str] | None], float]
                  ) -> tuple[list[str], list[list[str]]]:
    """Add candidates one at a time in `order`, one `score(aux_set, kept_set)` call (an MTL run) each,
    starting from `score([], None)`, the primary alone. Stop at the first set that scores lower than
    the set before it and keep that previous set (a tie does not stop; a failed, NaN run is a
    drop): the kept set is the best of those tried, and a scorer may stop a trial early against
    it (`MTLScorer`). Returns (kept set in the order added, every non-empty set tried, in order).
    """
    kept, kept_score, current, tried = [], score([], None), [], []
    for task in order:
        current = [*current, task]
        s = score(current, kept)
        tried.append(current)
        if _value(s) < _value(kept_score):
            break
        kept, kept_score = current, s
    return kept, tried


class MTLScorer:
    """`scorer(aux, kept)` = the primary's select score after one MTL run of the primary with the
    auxiliary set `aux` mixed uniformly within the profile's K (`Experiment.run`: stored and
    reused); under the profile's `search_stop` the run stops early once it trails the kept set's
    run (what it reached is then below the kept set's score, so the greedy search drops it). The
    run lists the auxiliaries in pool order (the order of `names`), whatever order a search added
    them in: a set is one experiment, so HEU-Size's, HEU-Len's and NO-SEL's full sets are one
    stored run."""

    def __init__(self, exp: Experiment, names: Sequence[str]):
        self.exp, self.primary, self.pool = exp, names[0], list(names[1:])

    def run(self, aux: Sequence[str], against: Sequence[str] | None = None) -> RunResult:
        """The run of `aux`; with `against` (the finished set kept before it), under the stop rule."""
        unknown = set(aux) - set(self.pool)
        if unknown:
            raise ValueError(f"{sorted(unknown)} are not in this scorer's pool {self.pool}")
        names = [self.primary, *(t for t in self.pool if t in set(aux))]  # pool order
        rule = stop_rule(self.exp, self.run(against)) if against is not None else None
        return self.exp.run(names, stop=rule)

    def __call__(self, aux: Sequence[str], kept: Sequence[str] | None = None) -> float:
        return self.run(aux, kept).select_score

    def trials(self, tried: Sequence[Sequence[str]]) -> list[Trial]:
        """Each auxiliary set a greedy search tried as a `Trial` of its stored run; each was tried
        against the set before it (the empty set first), which the search had kept."""
        stops = self.exp.profile.search_stop.enabled
        kept = [[], *tried[:-1]]
        runs = [self.run(aux, against if stops else None) for aux, against in zip(tried, kept)]
        return [Trial.of_run(run, run.ratio, tasks=aux, reference=against if stops else None)
                for aux, against, run in zip(tried, kept, runs)]


@dataclass
class SelectionResult(JsonResult):
    primary: str
    order: list[tuple[str, float | None]]  # candidates in the order considered, with the statistic
                                           # that ordered them (tau; HEU: size, type match, length gap)
    selected: list[str]              # the chosen auxiliary tasks
    run: RunResult                   # the final MTL run: primary + selected at a uniform ratio
    trials: list[Trial] = field(default_factory=list)  # greedy methods: every auxiliary set tried, in order
    kept_fraction: dict[str, float] = field(default_factory=dict)  # GradTS-fg: share of each
                                                                   # auxiliary's train rows kept
    instance_taus: dict[str, list[float]] = field(default_factory=dict)  # GradTS-fg: every
                                                # auxiliary row's tau with the primary's matrix

    @property
    def ranking(self) -> list[str]:
        return [task for task, _ in self.order]

    @classmethod
    def from_json(cls, d: dict) -> "SelectionResult":
        return cls(**{**d, "run": RunResult.from_json(d["run"]), "trials": [Trial(**t) for t in d["trials"]]})
