"""One MTL run a search tried, and how it scored: a GP point of AutoSeM's stage 2, or a step of
the greedy search of GradTS-trial and the HEU baselines. Both searches record these."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from aux_select.train.run import RunResult


@dataclass
class Trial:
    ratio: list[int]                # one entry per task of the search's run, primary first; 0 leaves one out
    select_score: float             # the primary's selection metric on select (NaN: failed)
    report_score: float             # ... on report (GLUE dev); never used to choose
    failure: str | None = None      # why the run failed; a search counts it as the metric's worst score
    tasks: list[str] | None = None  # the auxiliary set tried, where a search varies it (greedy);
                                    # None: the search's own tasks (a GP search's, in `Stage2Result.tasks`)
    point: list[int] | None = None  # where the GP proposed it, when the ratio trained differs (the
                                    # primary's entry raised to fit K: `train.schedule.within_k`)

    @property
    def at(self) -> list[int]:
        """The trial's place in the search's space: the GP's point (the ratio, where they agree)."""
        return self.point if self.point is not None else self.ratio

    @property
    def objective(self) -> float:
        """What a minimising search is told: minus the select score (NaN: the run failed)."""
        return math.nan if self.failure else -self.select_score

    @classmethod
    def of_run(cls, run: RunResult, ratio: Sequence[int], tasks: Sequence[str] | None = None,
               point: Sequence[int] | None = None) -> "Trial":
        failure = run.failure or (None if math.isfinite(run.select_score) else "the select score is not finite")
        point = list(point) if point is not None and list(point) != list(ratio) else None
        return cls(list(ratio), run.select_score, run.report_score, failure, None if tasks is None else list(tasks),
                   point)
