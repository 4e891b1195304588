"""Stopping a search's run early: the rule a GP point or greedy trial trains under (multi-fidelity search).

A search keeps only its best run, so a run that cannot catch the best one it has finished decides
nothing. `StopRule` holds that reference run's select curve and stops a run once its best select
score so far trails the reference's best so far, at the same number of primary steps, by more than
`margin_se` of the reference's bootstrap standard errors there; not before `min_primary_steps`,
because the first evaluations of every mix are noise around the majority class. This is the median
stopping rule of Vizier (Golovin et al., KDD 2017) with the incumbent in place of the median: a
greedy search has one reference run only, and a GP search of ten points has too few finished runs
for a median to mean much. A stopped run is a prefix of the full run (the same seed, batches and
schedule), so what it reached is a lower bound on what the full run would have reached.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

Evaluation = tuple[int, float, float]  # (primary step, best select score so far, its bootstrap SE)


def best_so_far(history: Sequence[dict]) -> list[Evaluation]:
    """A run's select evaluations as its running best: (primary step, best score up to it, that score's SE)."""
    out, best, se = [], -float("inf"), float("nan")
    for entry in history:
        if entry["select_score"] > best:
            best, se = entry["select_score"], entry["select_se"]
        out.append((int(entry["primary_step"]), float(best), float(se)))
    return out


@dataclass(frozen=True)
class StopRule:
    reference: tuple[Evaluation, ...]   # the finished reference run's running best (`best_so_far`)
    margin_se: float = 1.0              # stop when trailing by more than this many reference SEs
    min_primary_steps: int = 100        # never stop before the primary has trained this many steps

    @classmethod
    def against(cls, history: Sequence[dict], margin_se: float, min_primary_steps: int) -> "StopRule":
        """The rule whose reference is the finished run with this select `history` (`RunResult.history`)."""
        return cls(tuple(best_so_far(history)), margin_se, min_primary_steps)

    def reference_at(self, primary_step: int) -> Evaluation | None:
        """The reference's running best at `primary_step` (its last one, if it ended before)."""
        earlier = [e for e in self.reference if e[0] <= primary_step]
        return earlier[-1] if earlier else None

    def stops(self, history: Sequence[dict]) -> bool:
        """True if a run with this select `history` so far should stop now."""
        if not history or history[-1]["primary_step"] < self.min_primary_steps:
            return False
        step, best, _ = best_so_far(history)[-1]
        reference = self.reference_at(step)
        return reference is not None and best < reference[1] - self.margin_se * reference[2]

    def first_stop(self, history: Sequence[dict], max_steps: int) -> int | None:
        """The primary step at which the rule stops a run with this whole select `history` (of a
        `max_steps` budget: never at the last step), or None if it lets the run finish."""
        return next((h["primary_step"] for i, h in enumerate(history)
                     if h["primary_step"] < max_steps and self.stops(history[:i + 1])), None)

    def key(self) -> dict:
        """What a store key holds of the rule: a run stopped under another rule is another result."""
        return {k: [list(e) for e in v] if k == "reference" else v for k, v in asdict(self).items()}
