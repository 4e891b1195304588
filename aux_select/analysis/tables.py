"""Tables over comparisons, in the papers' layouts:

    comparison_table(results)      # GradTS Table 2: report metric per method, mean ± std over seeds
    cost_table([comparison])       # GradTS Table 3: wall time, CPU seconds, steps and peak memory,
                                   # shared work apart,
                                   # and every method once with each part counted once
    selection_matrix(results)      # GradTS Fig. 1: how often each auxiliary task was selected
    scores_table(results)          # a row per method and seed: tasks, ratio, select and report scores
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from aux_select.data.catalogue import same_data
from aux_select.data.registry import get_task
from aux_select.methods.registry import MethodResult, baseline_method, method_names
from aux_select.methods.run import Comparison
from aux_select.runtime.cost import Part, peak

# ----------------------------------------------------------------------------- tables

def primary_metrics(primary: str) -> tuple[str, ...]:
    return get_task(primary).metrics


def _mean_std(values: Sequence[float]) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * values.mean():.1f} ± {100 * values.std(ddof=1):.1f}"


def comparison_table(results: Sequence[MethodResult]) -> pd.DataFrame:
    """GradTS Table 2: a row per method, a column per primary and official metric (both where a
    task has two), cells the report score ×100 as mean ± sample std over seeds."""
    frame = pd.DataFrame([{"method": r.method, "primary": r.primary, "seed": r.seed, **r.report} for r in results])
    table = {}
    for primary, rows in frame.groupby("primary", sort=False):
        for metric in primary_metrics(primary):
            table[(primary, metric)] = rows.groupby("method", sort=False)[metric].apply(_mean_std)
    order = [m for m in method_names() if m in set(frame["method"])]
    return pd.DataFrame(table).reindex(order).fillna("—")


def cost_table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """GradTS Table 3: per primary, each method's own work (mean over its seeds of its parts' wall
    minutes, process CPU seconds and optimiser steps; peak memory in GB), the shared work in rows
    of its own (over the seeds where a method used it), and every method once with each part
    counted once (over the seeds that hold every method). CPU seconds are what costs measured at
    different times compare on: a busy machine inflates wall time far more."""
    rows = []
    for c in comparisons:
        methods = c.settings.get("methods", method_names())
        for method in methods:
            mine = [r for r in c.results if r.method == method]
            rows.append({"primary": c.primary, "work": method, **cost_columns([r.parts for r in mine]),
                         "peak memory (GB)": peak(r.peak_memory_mb for r in mine) / 1024,
                         "uses shared": ", ".join(dict.fromkeys(s for r in mine for s in r.shared))})
        for key in dict.fromkeys(p.shared for seed_parts in c.shared.values() for p in seed_parts):
            parts = [p for seed in _seeds_using(c, key) for p in c.shared[seed] if p.shared == key]
            if parts:
                rows.append({"primary": c.primary, "work": f"shared: {parts[0].what}",
                             **cost_columns([[p] for p in parts]),
                             "peak memory (GB)": peak(p.peak_memory_mb for p in parts) / 1024, "uses shared": ""})
        complete = [seed for seed in c.shared if set(methods) <= {r.method for r in c.results if r.seed == seed}]
        rows.append({"primary": c.primary, "work": "all methods once, every part counted once",
                     **cost_columns([unique_parts(c, seed) for seed in complete]),
                     "peak memory (GB)": peak(r["peak memory (GB)"] for r in rows if r["primary"] == c.primary),
                     "uses shared": ""})
    return pd.DataFrame(rows)


def _seeds_using(comparison: Comparison, key: str) -> list[int]:
    """The seeds at which some method of the comparison used the shared work `key`."""
    return [seed for seed in comparison.shared if any(r.seed == seed and key in r.shared for r in comparison.results)]


def cost_columns(per_seed: Sequence[Sequence[Part]]) -> dict[str, float]:
    """The cost table's columns for one piece of work: the mean over seeds of its parts' summed wall
    minutes, CPU seconds and steps (NaN where a part did not record one)."""
    def mean(field: str) -> float:
        return float(np.mean([sum(getattr(p, field) for p in parts) for parts in per_seed])) if per_seed else math.nan
    return {"wall time (min)": mean("wall_time_s") / 60, "CPU (s)": mean("cpu_time_s"), "steps": mean("steps")}


def unique_parts(comparison: Comparison, seed: int, more_parts: Sequence[Part] = ()) -> list[Part]:
    """The work of running every method of the comparison once at `seed`: each part (an MTL run,
    stage 1, a set of instance matrices) once however many methods used it, the shared work that
    some method used and `more_parts` (work beside the methods, e.g. the controls' ground truth)."""
    mine = [r for r in comparison.results if r.seed == seed]
    used = {key for r in mine for key in r.shared}
    parts = {p.what: p for r in mine for p in r.parts}
    parts |= {p.what: p for p in [*(s for s in comparison.shared[seed] if s.shared in used), *more_parts]}
    return list(parts.values())


def selection_matrix(results: Sequence[MethodResult]) -> dict[str, pd.DataFrame]:
    """GradTS Fig. 1 data: per method, primaries × auxiliary tasks (every task any method
    selected), each cell the fraction of that primary's seeds whose final run included the task;
    NaN where the task is the primary itself or its proxy (never its candidate). Each frame's
    `attrs["seeds"]` holds how many seeds each primary's row averages."""
    out, tasks = {}, sorted({t for r in results for t in r.selected})
    for method in [m for m in method_names() if m != baseline_method() and any(r.method == m for r in results)]:
        mine = [r for r in results if r.method == method]
        primaries = list(dict.fromkeys(r.primary for r in mine))
        frame = pd.DataFrame(0.0, index=primaries, columns=tasks)
        for primary in primaries:
            runs = [r for r in mine if r.primary == primary]
            for task in tasks:
                own = task == primary or same_data(primary, task)
                frame.loc[primary, task] = np.nan if own else np.mean([task in r.selected for r in runs])
        frame.attrs["seeds"] = {p: len({r.seed for r in mine if r.primary == p}) for p in primaries}
        out[method] = frame
    return out


def scores_table(results: Sequence[MethodResult]) -> pd.DataFrame:
    """A row per method and seed: the final run's tasks, ratio, select score and report metrics
    (the "against single-task" tables of notebooks 02, 03 and 05)."""
    rows = [{"method": r.method, "seed": r.seed, "tasks": " + ".join([r.primary, *r.selected]),
             "ratio": ":".join(map(str, r.ratio)) or "-",
             **{f"kept rows {t}": f for t, f in r.fractions.items() if f < 1},
             f"select {get_task(r.primary).selection_metric}": r.select_score,
             **{f"report {m}": v for m, v in r.report.items()}} for r in results]
    return pd.DataFrame(rows).set_index(["method", "seed"])
