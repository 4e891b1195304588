"""One MTL run a search tried, and how it scored: a GP point of AutoSeM's stage 2, or a step of
the greedy search of GradTS-trial and the HEU baselines. Both searches record these, and both stop
a run early under the profile's `search_stop` rule (`stop_rule`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from aux_select.experiment.context import Experiment
from aux_select.train.run import RunResult
from aux_select.train.stopping import StopRule


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
    stopped_at: int | None = None   # the primary step where the search's StopRule stopped it: its select
                                    # score is what it reached, never the search's answer
    reference: list | None = None   # the finished run it trained against (`stop_rule`): a GP search's
                                    # ratio, a greedy search's kept set; None: trained whole

    @property
    def finished(self) -> bool:
        """Trained its whole budget (or to its own early stop) without failing: a search may choose it."""
        return self.failure is None and self.stopped_at is None

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
               point: Sequence[int] | None = None, reference: Sequence | None = None) -> "Trial":
        failure = run.failure or (None if math.isfinite(run.select_score) else "the select score is not finite")
        point = list(point) if point is not None and list(point) != list(ratio) else None
        return cls(list(ratio), run.select_score, run.report_score, failure, None if tasks is None else list(tasks),
                   point, run.stopped_at, None if reference is None else list(reference))


def stop_rule(exp: Experiment, reference: RunResult) -> StopRule | None:
    """The profile's multi-fidelity rule (`profile.search_stop`) for a search's run against its best
    finished run `reference`; None where the profile trains every run whole (or scores none during training)."""
    stop, config = exp.profile.search_stop, exp.train_config(reference.tasks[0])
    if not stop.enabled or not config.eval_every:
        return None
    return StopRule.against(reference.history, stop.margin_se, math.ceil(stop.min_fraction * config.max_steps))
