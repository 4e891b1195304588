"""Method comparison: every method for a primary over seeds, with what each cost.

    comparison = run_methods("RTE", seeds=[0, 1, 2], profile="cpu", store=store)
    results = comparison.results   # one MethodResult per method and seed
    comparison_table(results)      # GradTS Table 2: report metric per method, mean ± std over seeds
    bootstrap_gains(results)       # paired bootstrap CI of each method's gain over Single-Task
    cost_table([comparison])       # GradTS Table 3: wall time and peak memory, shared work apart,
                                   # and every method once with each part counted once
    selection_matrix(results)      # GradTS Fig. 1: how often each auxiliary task was selected

Methods come from the registry (`aux_select.methods`). Each runs through the store, so a comparison reuses every run the notebooks already made.
Cost is added up from the parts a method needed (MTL runs, the bandit, instance matrices) as
recorded when they were computed. Work several methods lean on, the single-task run and the
head-importance matrices, is shared: counted once, in its own rows, never in a method's total.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import gradts, papers
from .cost import peak
from .experiment import Experiment, as_experiment, warn_without_store
from .methods import (HEAD_MATRICES, SINGLE_TASK_RUN, MethodResult, check_methods, get_method, method_names,
                      part)
from .metrics import as_rows, resample_scores
from .store import SCHEMA_VERSION, JsonResult
from .tasks import get_task

# what two comparisons must share to be one summary (profile label with its overrides, the code
# schema, the candidate pool)
SAME_SETTINGS = ("profile", "schema", "candidates")


def run_method(method: str, primary: str, candidates: Sequence[str] | None = None,
               exp: Experiment | None = None, *, pool: str = "glue", **settings) -> MethodResult:
    """Run (or read from the store) one registered method for `primary`."""
    fn = get_method(method)
    exp = as_experiment(exp, **settings)
    return fn(exp, primary, exp.candidates(primary, candidates, pool))


def shared_work(primary: str, candidates: Sequence[str], exp: Experiment) -> list[dict]:
    """The cost of the shared work, as parts: the single-task run and the pool's head matrices
    (as recorded when they were computed: run the methods first)."""
    single = exp.run([primary], [1])
    costs = [gradts.importance_cost(t, exp) for t in exp.tasks([primary, *candidates])]
    matrices = part(f"{HEAD_MATRICES} ({1 + len(candidates)} tasks)",
                    sum(c.get("wall_time_s", math.nan) for c in costs),
                    peak(c.get("peak_memory_mb", math.nan) for c in costs))
    return [{**part(SINGLE_TASK_RUN, single.wall_time_s, single.peak_memory_mb), "key": SINGLE_TASK_RUN},
            {**matrices, "key": HEAD_MATRICES}]


@dataclass
class Comparison(JsonResult):
    primary: str
    results: list[MethodResult]      # one per method and seed
    shared: dict[int, list[dict]]    # seed -> shared work's cost (see `shared_work`)
    settings: dict = field(default_factory=dict)  # profile, candidates, methods, seeds

    def to_json(self) -> dict:
        return {"primary": self.primary, "results": [r.to_json() for r in self.results],
                "shared": {str(k): v for k, v in self.shared.items()}, "settings": self.settings}

    @classmethod
    def from_json(cls, d: dict) -> "Comparison":
        return cls(d["primary"], [MethodResult.from_json(r) for r in d["results"]],
                   {int(k): v for k, v in d["shared"].items()}, d.get("settings", {}))

    def merged(self, older: "Comparison") -> "Comparison":
        """This comparison with every (method, seed) of `older` it lacks: a run over new seeds
        or methods adds to a summary, never drops what it held."""
        if older.primary != self.primary:
            raise ValueError(f"cannot merge a comparison for {older.primary} into one for {self.primary}")
        mine, theirs = ({k: c.settings.get(k) for k in SAME_SETTINGS} for c in (self, older))
        if mine != theirs:  # results of other settings or older code are never mixed into one table
            raise ValueError(f"the stored comparison for {self.primary} was made with {theirs}, this one with "
                             f"{mine}; move the old summary away (or write to another out_dir) and run again")
        have = {(r.method, r.seed) for r in self.results}
        results = [r for r in older.results if (r.method, r.seed) not in have] + self.results
        order = {m: i for i, m in enumerate(method_names())}
        results.sort(key=lambda r: (r.seed, order.get(r.method, len(order))))
        settings = dict(self.settings)
        for key in ("methods", "seeds"):
            settings[key] = sorted(set(older.settings.get(key, [])) | set(self.settings.get(key, [])),
                                   key=lambda x: order.get(x, len(order)) if key == "methods" else x)
        return Comparison(self.primary, results, {**older.shared, **self.shared}, settings)


def save_comparison(comparison: Comparison, path: str | os.PathLike) -> Comparison:
    """Write `comparison` to `path`, merged with the one already there (`Comparison.merged`)."""
    path = Path(path)
    if path.exists():
        comparison = comparison.merged(Comparison.from_json(json.loads(path.read_text())))
    comparison.write_json(path)
    return comparison


def run_methods(primary: str, methods: Sequence[str] | None = None, seeds: Sequence[int] = (0,),
                candidates: Sequence[str] | None = None, exp: Experiment | None = None, *, pool: str = "glue",
                **settings) -> Comparison:
    """Every method (None: all registered) for `primary` at every seed; stored parts are read
    back, never retrained. candidates=None: the tasks of `pool` the data provides. With a Dask
    executor (`Experiment.executor`) the independent work runs side by side first (`fanout`),
    with the same results."""
    methods = list(methods) if methods is not None else method_names()
    check_methods(methods)  # all of them, before anything trains
    exp = as_experiment(exp, **settings)
    warn_without_store(exp, "run_methods")
    candidates = exp.candidates(primary, candidates, pool)
    if exp.parallel:  # the work fans out to the workers in waves; the loop below reads it back
        from .fanout import prefetch_methods
        prefetch_methods(exp, primary, methods, seeds, candidates)
    results, shared = [], {}
    jobs = [(seed, m) for seed in seeds for m in methods]
    # the bar shows once the loop has run for 10 s: methods read back from the store take less, and draw none
    for seed, method in tqdm(jobs, desc=f"methods for {primary}", disable=not exp.progress, delay=10):
        results.append(get_method(method)(exp.with_seed(seed), primary, candidates))
    for seed in seeds:
        shared[seed] = shared_work(primary, candidates, exp.with_seed(seed))
    return Comparison(primary, results, shared, {"profile": exp.profile.label, "schema": SCHEMA_VERSION,
                                                 "candidates": candidates, "methods": methods, "seeds": list(seeds)})


# ----------------------------------------------------------------------------- tables

def _metrics(primary: str) -> tuple[str, ...]:
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
        for metric in _metrics(primary):
            table[(primary, metric)] = rows.groupby("method", sort=False)[metric].apply(_mean_std)
    order = [m for m in method_names() if m in set(frame["method"])]
    return pd.DataFrame(table).reindex(order).fillna("—")


def paired_bootstrap(labels: Sequence, method: Sequence, baseline: Sequence, metric: str,
                     n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95,
                     tag_names: Sequence[str] | None = None) -> tuple[float, float, float]:
    """(gain, low, high): the method's metric minus the baseline's on the report rows, and a
    percentile interval from resampling the rows (the same rows for both: a paired bootstrap).
    `method` and `baseline` are (seeds, rows), or one seed's rows: each resample averages the
    metric over seeds. Tagging: a row is a sentence's tag ids (pass `tag_names`), always with
    the seeds axis."""
    def per_seed(preds) -> list[np.ndarray]:
        one_seed = not isinstance(preds[0], (list, tuple, np.ndarray))  # a number per row
        return [as_rows(p) for p in ([preds] if one_seed else preds)]

    labels, method, baseline = as_rows(labels), per_seed(method), per_seed(baseline)
    n = len(labels)
    rng = np.random.default_rng(seed)
    # a resample is how often it draws each row; the first is the report rows as they are
    counts = np.stack([np.ones(n, dtype=int)] + [np.bincount(rng.integers(0, n, n), minlength=n)
                                                 for _ in range(n_resamples)])  # (1 + resamples, rows)
    gains = resample_scores(metric, method, labels, counts, tag_names) - \
        resample_scores(metric, baseline, labels, counts, tag_names)
    tail = 100 * (1 - confidence) / 2
    return float(gains[0]), float(np.percentile(gains[1:], tail)), float(np.percentile(gains[1:], 100 - tail))


def gain_per_seed(labels: Sequence, method: Sequence, baseline: Sequence, metric: str,
                  tag_names: Sequence[str] | None = None) -> str:
    """The gain (×100) at each seed alone, in seed order ("+4.7 / +0.0"); `method` and `baseline`
    are (seeds, rows). A paired-bootstrap interval holds the trained runs fixed, so this is what
    shows how far they move with the seed."""
    gains = [paired_bootstrap(labels, [m], [b], metric, 1, tag_names=tag_names)[0]  # [0]: the rows as they are
             for m, b in zip(method, baseline)]
    return " / ".join(f"{100 * g:+.1f}" for g in gains)


def bootstrap_gains(results: Sequence[MethodResult], baseline: str = "Single-Task", n_resamples: int = 1000,
                    seed: int = 0) -> pd.DataFrame:
    """Each method's gain over `baseline` per primary on the primary's first metric, ×100, with a
    95 % paired bootstrap interval over report rows, over the seeds both have, and the gain at
    each of those seeds ("gain per seed", in seed order)."""
    rows = []
    by_key = {(r.method, r.primary, r.seed): r for r in results}
    for primary in dict.fromkeys(r.primary for r in results):
        metric = _metrics(primary)[0]
        for method in [m for m in method_names() if m != baseline]:
            seeds = sorted(s for (m, p, s) in by_key if m == method and p == primary and (baseline, p, s) in by_key)
            pairs = [(by_key[method, primary, s], by_key[baseline, primary, s]) for s in seeds]
            if not pairs or any(a.report_predictions is None or b.report_predictions is None for a, b in pairs):
                continue
            labels, tag_names = pairs[0][0].report_labels, get_task(primary).labels
            ours, theirs = [a.report_predictions for a, _ in pairs], [b.report_predictions for _, b in pairs]
            gain, low, high = paired_bootstrap(labels, ours, theirs, metric, n_resamples, seed, tag_names=tag_names)
            rows.append({"primary": primary, "method": method, "metric": metric, "seeds": len(seeds),
                         "gain": 100 * gain, "low": 100 * low, "high": 100 * high,
                         "significant": low > 0 or high < 0,
                         "gain per seed": gain_per_seed(labels, ours, theirs, metric, tag_names)})
    return pd.DataFrame(rows)


def cost_table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """GradTS Table 3: per primary, the mean wall time (minutes) and peak memory (GB) of each
    method's own work over seeds, and the shared work in rows of its own."""
    rows = []
    for c in comparisons:
        for method in c.settings.get("methods", method_names()):
            mine = [r for r in c.results if r.method == method]
            rows.append({"primary": c.primary, "work": method,
                         "wall time (min)": np.mean([r.wall_time_s for r in mine]) / 60,
                         "peak memory (GB)": peak(r.peak_memory_mb for r in mine) / 1024,
                         "uses shared": ", ".join(dict.fromkeys(s for r in mine for s in r.shared))})
        for key in (SINGLE_TASK_RUN, HEAD_MATRICES):
            parts = [p for seed_parts in c.shared.values() for p in seed_parts if p["key"] == key]
            rows.append({"primary": c.primary, "work": f"shared: {parts[0]['what']}",
                         "wall time (min)": np.mean([p["wall_time_s"] for p in parts]) / 60,
                         "peak memory (GB)": peak(p["peak_memory_mb"] for p in parts) / 1024, "uses shared": ""})
        rows.append({"primary": c.primary, "work": "all methods once, every part counted once",
                     "wall time (min)": np.mean([unique_work_s(c, seed) for seed in c.shared]) / 60,
                     "peak memory (GB)": peak(r["peak memory (GB)"] for r in rows if r["primary"] == c.primary),
                     "uses shared": ""})
    return pd.DataFrame(rows)


def unique_work_s(comparison: Comparison, seed: int, more_parts: Sequence[dict] = ()) -> float:
    """Seconds to run every method of the comparison once at `seed`: each part (an MTL run, stage
    1, a set of instance matrices) counted once however many methods used it, the shared work
    that some method used and `more_parts` (work beside the methods, e.g. the controls' ground
    truth) included."""
    mine = [r for r in comparison.results if r.seed == seed]
    used = {key for r in mine for key in r.shared}
    parts = {p["what"]: p for r in mine for p in r.parts}
    parts |= {p["what"]: p for p in [*(s for s in comparison.shared[seed] if s["key"] in used), *more_parts]}
    return float(sum(p["wall_time_s"] for p in parts.values()))


def selection_matrix(results: Sequence[MethodResult]) -> dict[str, pd.DataFrame]:
    """GradTS Fig. 1 data: per method, primaries × auxiliary tasks (every task any method
    selected), each cell the fraction of that primary's seeds whose final run included the task."""
    out, tasks = {}, sorted({t for r in results for t in r.selected})
    for method in [m for m in method_names() if m != "Single-Task" and any(r.method == m for r in results)]:
        mine = [r for r in results if r.method == method]
        primaries = list(dict.fromkeys(r.primary for r in mine))
        frame = pd.DataFrame(0.0, index=primaries, columns=tasks)
        for primary in primaries:
            runs = [r for r in mine if r.primary == primary]
            for task in tasks:
                frame.loc[primary, task] = np.mean([task in r.selected for r in runs])
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


# ----------------------------------------------------------------------------- beside the papers

# GradTS's and AutoSeM's claimed order, best first (GradTS Tables 2 and 4)
PAPERS_ORDER = ("GradTS-fg", "GradTS-trial", "AutoSeM", "AutoSeM-p1", "Single-Task")


def papers_table(results: Sequence[MethodResult], tables: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Our report score (mean over seeds, ×100) and gain over our Single-Task beside GradTS's
    value and its gain over its Single-Task, per primary on its first metric: the headline table.
    Also {primary: where the paper's numbers come from}: GradTS Tables 2, 6, 9 (the 8-task GLUE
    pool), or for a primary those tables lack (STS-B) Table 5 (its 12-task mixed pool)."""
    frame = pd.DataFrame([{"method": r.method, "primary": r.primary, "score": 100 * r.report[_metrics(r.primary)[0]]}
                          for r in results])
    table, sources = {}, {}
    for primary, rows in frame.groupby("primary", sort=False):
        metric = _metrics(primary)[0]
        ours = rows.groupby("method", sort=False)["score"].mean()
        theirs = papers.paper_scores(tables, primary, metric)
        sources[primary] = "GradTS Tables 2, 6, 9 (GLUE pool)"
        if not theirs:
            theirs = papers.paper_scores(tables, primary, metric, from_tables=("5",))
            sources[primary] = "GradTS Table 5 (12-task mixed pool)" if theirs else "not in either paper"
        theirs = pd.Series(theirs, dtype=float)
        column = f"{primary} {metric}"
        table[(column, "ours")] = ours
        table[(column, "ours Δ")] = ours - ours.get("Single-Task", np.nan)
        table[(column, "paper")] = theirs
        table[(column, "paper Δ")] = theirs - theirs.get("Single-Task", np.nan)
    order = [m for m in method_names() if m in set(frame["method"])]
    out = pd.DataFrame(table).reindex(order)
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out.round(1), sources


def claims(results: Sequence[MethodResult], gains: pd.DataFrame) -> list[str]:
    """The reading of the results, one line per primary, made from them: which methods beat
    Single-Task with a 95 % paired-bootstrap interval excluding 0 (and how many intervals were
    tested), and whether the papers' order (`PAPERS_ORDER`) holds, pair by pair."""
    lines = []
    for primary in dict.fromkeys(r.primary for r in results):
        mine = gains[gains["primary"] == primary] if len(gains) else gains
        def claim(g) -> str:
            per_seed = f"; per seed {g['gain per seed']}" if g["seeds"] > 1 else ""
            return f"{g['method']} ({g['gain']:+.1f} [{g['low']:.1f}, {g['high']:.1f}]{per_seed})"
        better = [claim(g) for _, g in mine.iterrows() if g["significant"] and g["gain"] > 0]
        worse = [claim(g) for _, g in mine.iterrows() if g["significant"] and g["gain"] < 0]
        metric = _metrics(primary)[0]
        means = pd.DataFrame([{"method": r.method, "score": r.report[metric]} for r in results
                              if r.primary == primary]).groupby("method")["score"].mean()
        ordered = [m for m in PAPERS_ORDER if m in means]
        pairs = [f"{a} {'≥' if means[a] >= means[b] else '<'} {b}" for a, b in zip(ordered, ordered[1:])]
        held = sum("≥" in p for p in pairs)
        lines.append(f"**{primary}** ({metric}, {len(mine)} intervals tested): "
                     f"beat Single-Task: {', '.join(better) or 'none'}; "
                     f"below it: {', '.join(worse) or 'none'}. "
                     + (f"The papers' order holds for {held} of {len(pairs)} adjacent pairs: {'; '.join(pairs)}."
                        if pairs else "The papers' order: fewer than two of its methods here yet."))
    return lines
