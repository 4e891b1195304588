"""AutoSeM stage 2 (Guo, Pasunuru & Bansal, NAACL 2019): the mixing ratio η_1:…:η_N of the
primary and its selected auxiliary tasks, learnt by the GP search of `gp_search` over MTL runs.

The objective is minus the primary's **select** score after an MTL run with the ratio; the
report score of every run is kept but never used to choose. Every evaluated point is stored as it
finishes, so an interrupted search resumes where it stopped. Under the profile's `search_stop`
(the `cpu` profile's default) a point stops early once it trails the best finished point at equal
primary steps; the GP is told what it reached, and only a finished point can be the answer.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

from aux_select.data.registry import get_task
from aux_select.experiment.context import Experiment, as_experiment, check_pool
from aux_select.methods.autosem.gp_search import (
    GP_SETTINGS,
    _one_thread,
    best_point,
    check_search,
    make_optimizer,
    ratio_space,
    search_ratio,
)
from aux_select.methods.trial import Trial, stop_rule
from aux_select.runtime.store import JsonResult
from aux_select.train.config import result_settings
from aux_select.train.metrics import WORST_SCORE
from aux_select.train.run import RunResult
from aux_select.train.schedule import validate_ratio, within_k
from aux_select.train.stopping import StopRule

# ----------------------------------------------------------------------------- stage 2

@dataclass
class Stage2Result(JsonResult):
    tasks: list[str]                 # primary first, then the auxiliary tasks: the ratio's entries
    trials: list[Trial]              # every evaluated ratio, in order
    metric: str                      # the primary's selection metric
    best_ratio: list[int] | None     # the finished trial with the best select score (first on ties; a
                                     # stopped trial never is); None: all failed
    best_select_score: float
    report_score: float              # the best trial's report score: the number to publish
    settings: dict = field(default_factory=dict)  # method, n_calls, n_initial_points, max_ratio,
                                                  # max_total_factor (K), seed, worst_score

    @classmethod
    def from_trials(cls, tasks: Sequence[str], trials: Sequence[Trial], metric: str, settings: dict) -> "Stage2Result":
        best = best_point([(t.at, t.objective) for t in trials if t.stopped_at is None])
        trial = next(t for t in trials if t.at == best[0]) if best else None
        return cls(tasks=list(tasks), trials=list(trials), metric=metric,
                   best_ratio=trial.ratio if trial else None,
                   best_select_score=trial.select_score if trial else math.nan,
                   report_score=trial.report_score if trial else math.nan, settings=settings)

    @property
    def primary(self) -> str:
        return self.tasks[0]

    def optimize_result(self):
        """A `scipy.optimize.OptimizeResult` with a GP fitted to every trial, for
        `skopt.plots.plot_convergence` and `plot_objective` (values are minus the select score;
        failed trials count as the metric's worst score)."""
        s = self.settings
        opt = make_optimizer(ratio_space(len(self.tasks), s["max_ratio"], self.tasks), 1, s["seed"])
        ys = [t.objective if math.isfinite(t.objective) else -s["worst_score"] for t in self.trials]
        with _one_thread():
            opt.tell([t.at for t in self.trials], ys)
        return opt.get_result()

    @classmethod
    def from_json(cls, d: dict) -> "Stage2Result":
        return cls(**{**d, "trials": [Trial(**t) for t in d["trials"]]})


def check_selection(primary: str, selected: Sequence[str]) -> list[str]:
    """The selected tasks as a list; ValueError for unknown tasks, an empty selection, the
    primary among them or a repeat."""
    get_task(primary)
    selected = list(selected)
    if not selected:
        raise ValueError(f"no auxiliary tasks selected for {primary!r}; stage 2 mixes the primary with at "
                         "least one (run autosem.run_stage1 to select them, or name them)")
    if primary in selected:
        raise ValueError(f"the primary task {primary!r} is among the selected auxiliary tasks; remove it "
                         "(its entry is always the ratio's first)")
    check_pool(primary, selected)  # also rejects unknown names
    return selected


def ratio_trial(exp: Experiment, names: Sequence[str], point: Sequence[int],
                reference: Sequence[int] | None = None) -> Trial:
    """One MTL run of `names` for a point of the ratio space, trained as the ratio that fits the
    profile's K (`train.schedule.within_k`) and stored under its canonical form (`Experiment.run`:
    a ratio that drops every auxiliary is the single-task run), as a trial. With `reference` (the
    ratio of the search's best finished trial) it trains under the profile's `search_stop` rule
    against that trial's run, and may stop early."""
    point = validate_ratio(point, len(names))
    ratio = within_k(point, exp.profile.train.max_total_factor)
    rule = _rule(exp, names, reference)
    return Trial.of_run(exp.run(names, ratio, stop=rule), ratio, point=point,
                        reference=reference if rule is not None else None)


def trial_run(exp: Experiment, names: Sequence[str], trial: Trial) -> RunResult:
    """The stored run of a trial of the search over `names` (under the rule it trained against)."""
    return exp.run(names, trial.ratio, stop=_rule(exp, names, trial.reference))


def _rule(exp: Experiment, names: Sequence[str], reference: Sequence[int] | None) -> StopRule | None:
    return stop_rule(exp, exp.run(names, reference)) if reference is not None else None


def _trial_unit(exp: Experiment, item: tuple) -> Trial:
    """One GP point as a unit of work (`Experiment.map`): item = (names, point, reference)."""
    return ratio_trial(exp, *item)


def run_stage2(primary: str, selected: Sequence[str], exp: Experiment | None = None, *,
               n_calls: int | None = None, batch_size: int | None = None, **settings) -> Stage2Result:
    """AutoSeM stage 2: GP search for the ratio of `primary` and `selected` (`profile.gp`:
    `calls` points unless `n_calls`, `initial_points` random ones first, entries up to
    `max_ratio`; each trained as the ratio that fits the profile's K: `ratio_trial`). Every point
    is recorded as it finishes (kind "gp_search") and a rerun resumes from the recorded points
    without repeating or losing one. `batch_size=k > 1` (default
    `gp.batch_size`): k points per GP step (`search_ratio`), their runs side by side on the
    context's executor. Under `profile.search_stop` each point trains against the best point
    finished before it (`ratio_trial`)."""
    exp = as_experiment(exp, **settings)
    gp = exp.profile.gp
    selected = check_selection(primary, selected)
    names = [primary, *selected]
    n_calls = n_calls if n_calls is not None else gp.calls
    batch_size = batch_size if batch_size is not None else gp.batch_size
    train = exp.train_config(primary)
    check_search(len(names), n_calls, gp.initial_points, gp.max_ratio)
    metric = get_task(primary).selection_metric
    worst = WORST_SCORE[metric]
    batched = {"batch_size": batch_size} if batch_size > 1 else {}  # k = 1 keeps the keys it always had
    stopping = {"search_stop": asdict(exp.profile.search_stop)} if exp.profile.search_stop.enabled else {}
    # `calls` is not in the key: a longer search with the same settings extends a shorter one
    spec = exp.spec(tasks=[exp.task_key(t) for t in exp.tasks(names)],
                    train=result_settings(train), seed=exp.seed, max_ratio=gp.max_ratio,
                    max_total_factor=train.max_total_factor, n_initial_points=gp.initial_points, gp=GP_SETTINGS,
                    **batched, **stopping)
    stored = exp.get_or_compute("gp_search", spec, lambda: {"tasks": names, "trials": []})
    trials = [Trial(**t) for t in stored["trials"]]
    trials = trials[:n_calls] if batch_size == 1 else trials
    settings = {"method": "gp", "n_calls": n_calls, "n_initial_points": gp.initial_points,
                "max_ratio": gp.max_ratio, "max_total_factor": train.max_total_factor, "seed": exp.seed,
                "worst_score": worst, "gp": GP_SETTINGS, **batched, **stopping}
    if batch_size == 1 and len(trials) == n_calls:  # a finished search, stored in its order: nothing to replay
        return Stage2Result.from_trials(names, trials, metric, settings)

    def record(i: int, trial: Trial) -> None:  # the moment its run is done (a batch's in any order)
        trials[:] = [t for t in trials if t.at != trial.at] + [trial]
        exp.put("gp_search", spec, {"tasks": names, "trials": [asdict(t) for t in trials]})

    def evaluate(ratios: list[list[int]]) -> list[float]:
        # a point stops against the best trial finished before its batch, and the GP is told what it reached
        finished = [t for t in trials if t.finished] if stopping else []
        reference = max(finished, key=lambda t: t.select_score).ratio if finished else None
        return [t.objective for t in exp.map(_trial_unit, [(names, r, reference) for r in ratios], on_result=record)]

    points = search_ratio(lambda ratio: evaluate([ratio])[0], len(names), n_calls=n_calls,
                          n_initial_points=gp.initial_points, max_ratio=gp.max_ratio, seed=exp.seed,
                          previous=[(t.at, t.objective) for t in trials], failure_value=-worst, names=names,
                          progress=exp.progress, batch_size=batch_size, map_batch=evaluate)
    order = {tuple(x): i for i, (x, _) in enumerate(points)}  # the search's order, whatever finished first
    trials = sorted((t for t in trials if tuple(t.at) in order), key=lambda t: order[tuple(t.at)])
    return Stage2Result.from_trials(names, trials, metric, settings)
