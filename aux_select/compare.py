"""Method comparison: every method for a primary over seeds, with what each cost.

    results = run_methods("RTE", seeds=[0, 1, 2], profile="cpu", store=store)
    comparison_table(results)      # GradTS Table 2: report metric per method, mean ± std over seeds
    bootstrap_gains(results)       # paired bootstrap CI of each method's gain over Single-Task
    cost_table(results)            # GradTS Table 3: wall time and peak memory, shared work apart,
                                   # and every method once with each part counted once
    selection_matrix(results)      # GradTS Fig. 1: how often each auxiliary task was selected

Each method runs through the store, so a comparison reuses every run the notebooks already made.
Cost is added up from the parts a method needed (MTL runs, the bandit, instance matrices) as
recorded when they were computed. Work several methods lean on, the single-task run and the
head-importance matrices, is shared: counted once, in its own rows, never in a method's total.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import autosem, baselines, gradts, gradts_select, mixing
from .experiment import check_pool, load_tasks
from .metrics import CONFUSION_METRICS, as_rows, compute_metrics, confusion_metric
from .profiles import Profile, get_profile
from .selection import SelectionResult
from .store import Store
from .tasks import get_task
from .train import RunResult

METHODS = ("Single-Task", "NO-SEL", "AutoSeM-p1", "AutoSeM", "GradTS-thres", "GradTS-trial", "GradTS-fg",
           "HEU-Size", "HEU-Type", "HEU-Len")
# GradTS Tables 4 and 5 compare the two selection methods on the larger pools
MIXED_POOL_METHODS = ("Single-Task", "AutoSeM-p1", "AutoSeM", "GradTS-thres", "GradTS-trial", "GradTS-fg")
SINGLE_TASK_RUN, HEAD_MATRICES = "single-task run", "head-importance matrices"


@dataclass
class MethodResult:
    method: str
    primary: str
    seed: int
    selected: list[str]              # the auxiliary tasks of the final run
    select_score: float              # the final run's selection metric on select
    report: dict[str, float]         # every official metric of the primary on report
    report_predictions: list | None  # the final run's, row by row: paired bootstraps
    report_labels: list | None
    parts: list[dict]                # the method's own work: {"what", "wall_time_s", "peak_memory_mb"}
    shared: list[str] = field(default_factory=list)  # shared work it used (SINGLE_TASK_RUN, HEAD_MATRICES)

    @property
    def wall_time_s(self) -> float:
        """The method's own work; NaN if a part's time is unknown."""
        return float(sum(p["wall_time_s"] for p in self.parts))

    @property
    def peak_memory_mb(self) -> float:
        """The highest peak among its own parts that recorded one (NaN if none did; 0 with no
        parts of its own)."""
        if not self.parts:
            return 0.0
        peaks = [p["peak_memory_mb"] for p in self.parts if not math.isnan(p["peak_memory_mb"])]
        return float(max(peaks)) if peaks else math.nan

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MethodResult":
        return cls(**d)


def _part(what: str, wall_time_s: float | None, peak_memory_mb: float | None = None) -> dict:
    nan = math.nan
    return {"what": what, "wall_time_s": nan if wall_time_s is None else float(wall_time_s),
            "peak_memory_mb": nan if peak_memory_mb is None else float(peak_memory_mb)}


def _run_what(tasks: Sequence[str], ratio: Sequence[int] | None = None) -> str:
    """The name of an MTL run's part, the same for the same experiment whichever method ran it:
    the primary alone is the shared single-task run; at a uniform ratio the auxiliaries are sorted."""
    if len(tasks) == 1:
        return SINGLE_TASK_RUN
    if ratio is None or len(set(ratio)) == 1:
        return f"MTL run {tasks[0]}+{'+'.join(sorted(tasks[1:]))} uniform"
    return f"MTL run {'+'.join(tasks)} {':'.join(map(str, ratio))}"


def _run_part(run: RunResult) -> dict:
    return _part(_run_what(run.tasks, run.ratio), run.wall_time_s, run.peak_memory_mb)


def _from_run(method: str, primary: str, seed: int, run: RunResult, parts: list[dict],
              shared: Sequence[str] = ()) -> MethodResult:
    return MethodResult(method, primary, seed, selected=list(run.tasks[1:]), select_score=run.select_score,
                        report=dict(run.report), report_predictions=run.report_predictions,
                        report_labels=run.report_labels, parts=parts, shared=list(shared))


def _greedy_parts(primary: str, selection: SelectionResult) -> list[dict]:
    """The runs of a greedy search, as its trials recorded them (the empty set, the single-task
    run, is shared and never among them)."""
    return [_part(_run_what([primary, *t["tasks"]]), t["wall_time_s"], t["peak_memory_mb"])
            for t in selection.trials]


def check_methods(methods: Sequence[str]) -> None:
    """ValueError naming the known methods if any of `methods` is not one."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")


def run_method(method: str, primary: str, candidates: Sequence[str] | None = None, *,
               profile: str | Profile = "cpu", seed: int = 0, data_dir: str | os.PathLike | None = None,
               store: Store | None = None, progress: bool = True) -> MethodResult:
    """Run (or read from the store) one method for `primary` and return its final run and cost."""
    check_methods([method])
    profile = get_profile(profile)
    candidates = list(candidates) if candidates is not None else baselines.default_candidates(primary, data_dir)
    check_pool(primary, candidates)
    kw = dict(profile=profile, seed=seed, data_dir=data_dir, store=store, progress=progress)

    if method == "Single-Task":
        return _from_run(method, primary, seed, baselines.single_task(primary, **kw), [], [SINGLE_TASK_RUN])
    if method == "NO-SEL":
        run = baselines.no_sel(primary, candidates, **kw)
        return _from_run(method, primary, seed, run, [_run_part(run)])
    if method in ("AutoSeM-p1", "AutoSeM"):
        stage1 = autosem.run_stage1(primary, candidates, **kw)
        bandit = _part(f"stage 1: {len(stage1.trajectory)} bandit rounds", stage1.wall_time_s, stage1.peak_memory_mb)
        if method == "AutoSeM-p1":
            run = autosem.autosem_p1(primary, stage1.selected, **kw)
            return _from_run(method, primary, seed, run, [bandit, _run_part(run)])
        stage2 = mixing.run_stage2(primary, stage1.selected, **kw)
        runs = [mixing.ratio_run(stage2.tasks, t.ratio, **kw) for t in stage2.trials]  # stored: read back
        if stage2.best_ratio is None:
            raise RuntimeError(f"every GP trial for {primary} failed (seed {seed}); see the trials in notebook 03")
        best = runs[[t.ratio for t in stage2.trials].index(stage2.best_ratio)]  # zero entries are not trained
        return _from_run(method, primary, seed, best, [bandit, *map(_run_part, runs)])

    if method.startswith("HEU-"):
        selection = baselines.heuristic(method[4:].lower(), primary, candidates, **kw)
        return _from_run(method, primary, seed, selection.run, _greedy_parts(primary, selection), [SINGLE_TASK_RUN])
    if method == "GradTS-thres":
        selection = gradts_select.gradts_thres(primary, candidates, **kw)
        if not selection.selected:  # nothing passed the threshold: its run is the single-task run
            return _from_run(method, primary, seed, selection.run, [], [SINGLE_TASK_RUN, HEAD_MATRICES])
        return _from_run(method, primary, seed, selection.run, [_run_part(selection.run)], [HEAD_MATRICES])
    trial = gradts_select.gradts_trial(primary, candidates, **kw)
    parts = _greedy_parts(primary, trial)
    if method == "GradTS-trial":
        return _from_run(method, primary, seed, trial.run, parts, [SINGLE_TASK_RUN, HEAD_MATRICES])
    fg = gradts_select.gradts_fg(primary, candidates, trial=trial, **kw)
    for task in load_tasks(trial.selected, profile, data_dir):
        cost = gradts.importance_cost(task, profile=profile, seed=seed, store=store, instances=True)
        parts.append(_part(f"instance matrices {task.name}", cost.get("wall_time_s"), cost.get("peak_memory_mb")))
    if fg.selected:  # otherwise its run is the single-task run, already shared
        parts.append({**_run_part(fg.run), "what": f"{_run_what(fg.run.tasks)} on the rows GradTS-fg kept"})
    return _from_run(method, primary, seed, fg.run, parts, [SINGLE_TASK_RUN, HEAD_MATRICES])


def shared_work(primary: str, candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
                seed: int = 0, data_dir: str | os.PathLike | None = None, store: Store | None = None) -> list[dict]:
    """The cost of the shared work, as parts: the single-task run and the pool's head matrices
    (read from the store: run the methods first)."""
    profile = get_profile(profile)
    candidates = list(candidates) if candidates is not None else baselines.default_candidates(primary, data_dir)
    single = baselines.single_task(primary, profile=profile, seed=seed, data_dir=data_dir, store=store, progress=False)
    costs = [gradts.importance_cost(t, profile=profile, seed=seed, store=store)
             for t in load_tasks([primary, *candidates], profile, data_dir)]
    matrices = _part(f"{HEAD_MATRICES} ({1 + len(candidates)} tasks)",
                     sum(c.get("wall_time_s", math.nan) for c in costs),
                     max((c.get("peak_memory_mb", math.nan) for c in costs), default=math.nan))
    return [{**_part(SINGLE_TASK_RUN, single.wall_time_s, single.peak_memory_mb), "key": SINGLE_TASK_RUN},
            {**matrices, "key": HEAD_MATRICES}]


@dataclass
class Comparison:
    primary: str
    results: list[MethodResult]      # one per method and seed
    shared: dict[int, list[dict]]    # seed -> shared work's cost (see `shared_work`)
    settings: dict = field(default_factory=dict)  # profile, candidates, methods, seeds

    def to_dict(self) -> dict:
        return {"primary": self.primary, "results": [r.to_dict() for r in self.results],
                "shared": {str(k): v for k, v in self.shared.items()}, "settings": self.settings}

    @classmethod
    def from_dict(cls, d: dict) -> "Comparison":
        return cls(d["primary"], [MethodResult.from_dict(r) for r in d["results"]],
                   {int(k): v for k, v in d["shared"].items()}, d.get("settings", {}))


def run_methods(primary: str, methods: Sequence[str] = METHODS, seeds: Sequence[int] = (0,),
                candidates: Sequence[str] | None = None, *, profile: str | Profile = "cpu",
                data_dir: str | os.PathLike | None = None, store: Store | None = None,
                progress: bool = True) -> Comparison:
    """Every method for `primary` at every seed (stored parts are read back, never retrained)."""
    check_methods(methods)  # all of them, before anything trains
    profile = get_profile(profile)
    candidates = list(candidates) if candidates is not None else baselines.default_candidates(primary, data_dir)
    kw = dict(profile=profile, data_dir=data_dir, store=store)
    results, shared = [], {}
    jobs = [(seed, m) for seed in seeds for m in methods]
    for seed, method in tqdm(jobs, desc=f"methods for {primary}", disable=not progress):
        results.append(run_method(method, primary, candidates, seed=seed, progress=progress, **kw))
    for seed in seeds:
        shared[seed] = shared_work(primary, candidates, seed=seed, **kw)
    return Comparison(primary, results, shared, {"profile": profile.name, "candidates": candidates,
                                                 "methods": list(methods), "seeds": list(seeds)})


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
    order = [m for m in METHODS if m in set(frame["method"])]
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
    gains = _resample_scores(metric, method, labels, counts, tag_names) - \
        _resample_scores(metric, baseline, labels, counts, tag_names)
    tail = 100 * (1 - confidence) / 2
    return float(gains[0]), float(np.percentile(gains[1:], tail)), float(np.percentile(gains[1:], 100 - tail))


def _resample_scores(metric: str, predictions: list[np.ndarray], labels: np.ndarray, counts: np.ndarray,
                     tag_names: Sequence[str] | None) -> np.ndarray:
    """The metric on each resample (a row of `counts`), averaged over seeds: shape (resamples,)."""
    if metric in CONFUSION_METRICS:
        k = int(max(labels.max(), *(p.max() for p in predictions))) + 1
        scores = []
        for preds in predictions:
            cells = np.zeros((len(labels), k * k))
            cells[np.arange(len(labels)), labels.astype(int) * k + preds.astype(int)] = 1  # each row's confusion cell
            scores.append(confusion_metric(metric, (counts @ cells).reshape(-1, k, k)))  # (R, n) @ (n, k*k) -> (R, k, k)
        return np.mean(scores, axis=0)
    rows = [np.repeat(np.arange(len(labels)), c) for c in counts]  # every metric here ignores row order
    return np.array([np.mean([compute_metrics((metric,), p[r], labels[r], tag_names)[metric] for p in predictions])
                     for r in rows])


def bootstrap_gains(results: Sequence[MethodResult], baseline: str = "Single-Task", n_resamples: int = 1000,
                    seed: int = 0) -> pd.DataFrame:
    """Each method's gain over `baseline` per primary on the primary's first metric, ×100, with a
    95 % paired bootstrap interval over report rows, over the seeds both have."""
    rows = []
    by_key = {(r.method, r.primary, r.seed): r for r in results}
    for primary in dict.fromkeys(r.primary for r in results):
        metric = _metrics(primary)[0]
        for method in [m for m in METHODS if m != baseline]:
            seeds = sorted(s for (m, p, s) in by_key if m == method and p == primary and (baseline, p, s) in by_key)
            pairs = [(by_key[method, primary, s], by_key[baseline, primary, s]) for s in seeds]
            if not pairs or any(a.report_predictions is None or b.report_predictions is None for a, b in pairs):
                continue
            gain, low, high = paired_bootstrap(pairs[0][0].report_labels, [a.report_predictions for a, _ in pairs],
                                               [b.report_predictions for _, b in pairs], metric, n_resamples, seed,
                                               tag_names=get_task(primary).labels)
            rows.append({"primary": primary, "method": method, "metric": metric, "seeds": len(seeds),
                         "gain": 100 * gain, "low": 100 * low, "high": 100 * high,
                         "significant": low > 0 or high < 0})
    return pd.DataFrame(rows)


def cost_table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """GradTS Table 3: per primary, the mean wall time (minutes) and peak memory (GB) of each
    method's own work over seeds, and the shared work in rows of its own."""
    rows = []
    for c in comparisons:
        for method in c.settings.get("methods", METHODS):
            mine = [r for r in c.results if r.method == method]
            rows.append({"primary": c.primary, "work": method,
                         "wall time (min)": np.mean([r.wall_time_s for r in mine]) / 60,
                         "peak memory (GB)": np.max([r.peak_memory_mb for r in mine]) / 1024,
                         "uses shared": ", ".join(dict.fromkeys(s for r in mine for s in r.shared))})
        for key in (SINGLE_TASK_RUN, HEAD_MATRICES):
            parts = [p for seed_parts in c.shared.values() for p in seed_parts if p["key"] == key]
            rows.append({"primary": c.primary, "work": f"shared: {parts[0]['what']}",
                         "wall time (min)": np.mean([p["wall_time_s"] for p in parts]) / 60,
                         "peak memory (GB)": np.max([p["peak_memory_mb"] for p in parts]) / 1024, "uses shared": ""})
        rows.append({"primary": c.primary, "work": "all methods once, every part counted once",
                     "wall time (min)": np.mean([unique_work_s(c, seed) for seed in c.shared]) / 60,
                     "peak memory (GB)": max(r["peak memory (GB)"] for r in rows if r["primary"] == c.primary),
                     "uses shared": ""})
    return pd.DataFrame(rows)


def unique_work_s(comparison: Comparison, seed: int) -> float:
    """Seconds to run every method of the comparison once at `seed`: each part (an MTL run, stage
    1, a set of instance matrices) counted once however many methods used it, shared work included."""
    parts = {p["what"]: p for r in comparison.results if r.seed == seed for p in r.parts}
    parts |= {p["what"]: p for p in comparison.shared[seed]}
    return float(sum(p["wall_time_s"] for p in parts.values()))


def selection_matrix(results: Sequence[MethodResult]) -> dict[str, pd.DataFrame]:
    """GradTS Fig. 1 data: per method, primaries × auxiliary tasks (every task any method
    selected), each cell the fraction of that primary's seeds whose final run included the task."""
    out, tasks = {}, sorted({t for r in results for t in r.selected})
    for method in [m for m in METHODS if m != "Single-Task" and any(r.method == m for r in results)]:
        mine = [r for r in results if r.method == method]
        primaries = list(dict.fromkeys(r.primary for r in mine))
        frame = pd.DataFrame(0.0, index=primaries, columns=tasks)
        for primary in primaries:
            runs = [r for r in mine if r.primary == primary]
            for task in tasks:
                frame.loc[primary, task] = np.mean([task in r.selected for r in runs])
        out[method] = frame
    return out
