"""The control-task benchmark: every method's choices scored against auxiliary tasks whose
usefulness is known by construction (`aux_select.data.controls`).

    bench = run_control_benchmark("MRPC", seeds=[0, 1, 2], profile="cpu", store=store)
    bench.truth_table()   # each control alone with the primary at 1:1 against the primary alone:
                          # the gain on report, its seed x row interval, the verdict across seeds
    bench.table()         # per method: how often it selected each control, where it ranked it,
                          # its score against single-task and against the primary + clone
    bench.cost_table()    # what it cost: the methods (analysis.cost_table), the ground-truth runs, all of it
    plots.plot_controls(bench.truth_table(), bench.table())

The candidates are the pool the data provides plus P~clone, P~contra and P~shuffle, and P trains
on the rows the clone leaves, in every run here (the single-task run too). The ground truth is
measured, not assumed, by the seed-level test of `analysis.verdicts` (seed x row bootstrap, ASO,
Holm over the three controls): a control is helpful or harmful only where that test says the
primary + control beats or loses to the primary alone; one seed is never evidence. P + clone is
no ceiling (methods that add more than the clone can score above it): the table names it for
what it is. The ground truth is an evaluation, like every report score, and decides nothing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from aux_select.analysis.tables import cost_columns, cost_table, unique_parts
from aux_select.analysis.transfer import pairwise_gains
from aux_select.analysis.verdicts import BEATS, LOSES, NO_EVIDENCE
from aux_select.data.registry import CONTROL_KINDS, control_names, get_task
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.run import Comparison, run_methods
from aux_select.runtime.cost import Part, peak
from aux_select.runtime.store import JsonResult

HELPFUL, HARMFUL = "helpful", "harmful"
AS_CONTROL = {BEATS: HELPFUL, LOSES: HARMFUL}  # a control's verdict in the words of a control


def control_context(exp: Experiment, primary: str) -> Experiment:
    """`exp` serving `primary`'s control tasks (the same profile, data, store, executor, seed)."""
    if exp.controls == primary:
        return exp
    if exp.controls is not None:
        raise ValueError(f"this context serves the controls of {exp.controls}, not {primary}; build one for {primary}")
    return Experiment(exp.profile, seed=exp.seed, data_dir=exp.data_dir, store=exp.store, progress=exp.progress,
                      executor=exp.executor, controls=primary)


@dataclass
class ControlBenchmark(JsonResult):
    primary: str
    metric: str                       # the primary's first official metric, on report
    seeds: list[int]
    runs: list[dict]                  # the primary alone and with each control at 1:1, per seed:
                                      # {"control" (None: alone), "seed", "report", "select_score",
                                      #  "part": its cost, named like a method's parts}
    truth: list[dict]                 # per control: `verdicts.gain_verdicts`' row, the verdict as
                                      # helpful / harmful / no evidence
    comparison: Comparison            # every method at every seed, the controls among the candidates
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        runs = [{**r, "part": asdict(r["part"])} for r in self.runs]
        return {"primary": self.primary, "metric": self.metric, "seeds": self.seeds, "runs": runs,
                "truth": self.truth, "comparison": self.comparison.to_json(), "settings": self.settings}

    @classmethod
    def from_json(cls, d: dict) -> "ControlBenchmark":
        return cls(**{**d, "runs": [{**r, "part": Part.from_json(r["part"])} for r in d["runs"]],
                      "comparison": Comparison.from_json(d["comparison"])})

    def truth_table(self) -> pd.DataFrame:
        """A row per control: its gain over the primary alone (report, ×100), the interval, the verdict."""
        return pd.DataFrame(self.truth).set_index("control")

    def _score(self, control: str | None, seed: int) -> float:
        return next(r["report"][self.metric] for r in self.runs if r["control"] == control and r["seed"] == seed)

    def table(self) -> pd.DataFrame:
        """A row per method: the share of seeds whose final run included each control, each
        control's mean place in the method's ranking (1 = first; blank where it ranks nothing),
        and its final report score (×100) with the gains over single-task and over primary + clone."""
        clone = control_names(self.primary)[0]
        rows = []
        for method in dict.fromkeys(r.method for r in self.comparison.results):
            mine = [r for r in self.comparison.results if r.method == method]
            row = {"method": method}
            for kind, name in zip(CONTROL_KINDS, control_names(self.primary)):
                row[f"selected {kind}"] = np.mean([name in r.selected for r in mine])
            for kind, name in zip(CONTROL_KINDS, control_names(self.primary)):
                orders = [r.ranking for r in mine]
                row[f"rank {kind}"] = (np.mean([o.index(name) + 1 for o in orders]) if all(o and name in o for o in orders)
                                       else np.nan)
            row[self.metric] = 100 * np.mean([r.report[self.metric] for r in mine])
            row["Δ single-task"] = 100 * np.mean([r.report[self.metric] - self._score(None, r.seed) for r in mine])
            row["Δ P + clone"] = 100 * np.mean([r.report[self.metric] - self._score(clone, r.seed) for r in mine])
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def _truth_parts(self) -> dict[int, list[Part]]:
        return {seed: [r["part"] for r in self.runs if r["seed"] == seed and r["control"] is not None]
                for seed in self.seeds}

    def minutes_per_seed(self) -> list[float]:
        """Minutes of the whole benchmark at each seed (methods and ground truth), every part
        counted once however many methods used it."""
        truth = self._truth_parts()
        return [cost_columns([unique_parts(self.comparison, seed, truth[seed])])["wall time (min)"]
                for seed in self.seeds]

    def cost_table(self) -> pd.DataFrame:
        """analysis.cost_table's rows (minutes, mean over seeds), then the ground truth's runs of
        each control with the primary (its run alone is the shared single-task run), then the
        whole benchmark once per seed with every part counted once."""
        truth = self._truth_parts()
        table = cost_table([self.comparison])
        truth_gb = peak(p.peak_memory_mb for parts in truth.values() for p in parts) / 1024
        whole = [unique_parts(self.comparison, seed, truth[seed]) for seed in self.seeds]
        rows = [{"primary": self.primary, "work": f"ground truth: {self.primary} + each control at 1:1",
                 **cost_columns(list(truth.values())), "peak memory (GB)": truth_gb, "uses shared": ""},
                {"primary": self.primary, "work": "the benchmark once (methods and ground truth), every part counted once",
                 **cost_columns(whole), "peak memory (GB)": peak([*table["peak memory (GB)"], truth_gb]),
                 "uses shared": ""}]
        return pd.concat([table, pd.DataFrame(rows)], ignore_index=True)


def ground_truth(primary: str, seeds: Sequence[int], exp: Experiment, n_resamples: int = 1000
                 ) -> tuple[list[dict], list[dict]]:
    """(runs, truth): the primary alone and with each control at 1:1 at every seed (stored MTL
    runs, `transfer.pairwise_gains`), and per control its gain over the primary alone with the
    seed-level verdict in a control's words."""
    runs, truth = pairwise_gains(primary, control_names(primary), seeds, control_context(exp, primary),
                                 n_resamples=n_resamples, name="control")
    return runs, [{**row, "verdict": AS_CONTROL.get(row["verdict"], NO_EVIDENCE)} for row in truth]


def run_control_benchmark(primary: str, methods: Sequence[str] | None = None, seeds: Sequence[int] = (0,),
                          candidates: Sequence[str] | None = None, exp: Experiment | None = None, *,
                          pool: str = "glue", n_resamples: int = 1000, **settings) -> ControlBenchmark:
    """Every method (None: all registered) for `primary` at every seed, with `candidates` (None:
    the tasks of `pool` the data provides) and the three controls as candidates, and the
    controls' ground truth; each run is stored and read back, never retrained."""
    exp = control_context(as_experiment(exp, **settings), primary)
    if candidates is not None:
        candidates = [*candidates, *(c for c in control_names(primary) if c not in candidates)]
    comparison = run_methods(primary, methods, seeds, candidates, exp, pool=pool)
    runs, truth = ground_truth(primary, seeds, exp, n_resamples)
    return ControlBenchmark(primary, get_task(primary).metrics[0], list(seeds), runs, truth, comparison,
                            {**comparison.settings, "controls": asdict(exp.profile.controls)})
