"""AutoSeM ablations (Guo et al. 2019, §6.1, Table 2): what each stage adds.

Rows, in the paper's order: Baseline (the primary alone), the educated-guess MTL setups, w/o
Stage-1 (the GP over every candidate), w/o Stage-2 (stage 1's selection, ratios from a grid
with as many runs as the GP gets) and Final MTL (stage 1, then stage 2). Every run goes
through the store, so rows share runs with each other and with notebooks 02 and 03.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aux_select.data.loading import available_tasks
from aux_select.data.registry import GLUE_CLASSIFICATION, get_task
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.autosem.gp_search import check_search
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.autosem.stage2 import Stage2Result, check_selection, ratio_trial, run_stage2
from aux_select.runtime.store import JsonResult
from aux_select.train.metrics import WORST_SCORE

# the paper's educated guesses (§6.1): tasks a person would pick for the primary by hand
EDUCATED_GUESSES: dict[str, list[list[str]]] = {"MRPC": [["QQP"], ["QQP", "MNLI"]]}


def educated_guesses(primary: str, available: Sequence[str]) -> list[dict]:
    """The educated-guess task sets for `primary`, resolved against the `available` tasks:
    a task without data is replaced by its proxy (e.g. MNLI -> MNLI-proxy) or dropped, and a
    set left empty is skipped; `note` says so. Primaries the paper gives no guess for get one:
    every available task of the primary's GLUE type (our extension, marked in the note).
    Each entry: name ("+QQP+MNLI"), asked, tasks (what will train; [] = skipped), note."""
    available = [t for t in available if t != primary]
    guesses = EDUCATED_GUESSES.get(primary)
    extension = guesses is None
    if extension:
        kind = get_task(primary).glue_type
        guesses = [[t for t in GLUE_CLASSIFICATION if t != primary and get_task(t).glue_type == kind]]
    out = []
    for asked in guesses:
        tasks, notes = [], []
        for name in asked:
            if name in available:
                tasks.append(name)
            elif f"{name}-proxy" in available:
                tasks.append(f"{name}-proxy")
                notes.append(f"{name} has no train data here; {name}-proxy (built from its dev file) stands in")
            else:
                notes.append(f"{name} is not available (data.available_tasks); left out")
        if extension:
            notes.insert(0, f"not from the paper: every {get_task(primary).glue_type} task")
        if not tasks:
            notes.append("nothing left to train: skipped")
        out.append({"name": "+" + "+".join(asked), "asked": list(asked), "tasks": tasks, "note": "; ".join(notes)})
    return out


def grid_ratios(n_tasks: int, n_points: int, max_ratio: int = 20, seed: int = 0) -> list[list[int]]:
    """`n_points` points from the coarsest even grid of the GP's space that has enough: L levels
    per task, evenly spaced over [1, R] (primary) and [0, R] (the others), the smallest L with
    L**n_tasks >= n_points; a seeded choice when the grid has more points than that (kept in grid
    order). Each trains as the ratio that fits K, as the GP's points do (`stage2.ratio_trial`)."""
    check_search(n_tasks, n_points, 1, max_ratio)
    levels = math.ceil(n_points ** (1 / n_tasks) - 1e-9)
    while True:  # rounding can merge levels when R is small: add levels until the grid is big enough
        axes = [np.unique(np.rint(np.linspace(low, max_ratio, levels))).astype(int).tolist()
                for low in [1] + [0] * (n_tasks - 1)]
        grid = [list(p) for p in itertools.product(*axes)]
        if len(grid) >= n_points:
            break
        levels += 1
    if len(grid) > n_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(grid), n_points, replace=False))
        grid = [grid[i] for i in keep]
    return grid


def run_grid(primary: str, selected: Sequence[str], exp: Experiment | None = None, *, n_calls: int | None = None,
             **settings) -> Stage2Result:
    """"w/o Stage-2": the ratio of `primary` and `selected` chosen from `grid_ratios`, with as
    many runs as the GP gets (`profile.gp.calls` unless `n_calls`). Every run is stored, so
    an interrupted grid resumes where it stopped."""
    exp = as_experiment(exp, **settings)
    selected = check_selection(primary, selected)
    names = [primary, *selected]
    n_calls = n_calls if n_calls is not None else exp.profile.gp.calls
    ratios = grid_ratios(len(names), n_calls, exp.profile.gp.max_ratio, exp.seed)
    trials = [ratio_trial(exp, names, r)
              # shown after 10 s: a grid read back from the store is done before, and draws no bar
              for r in tqdm(ratios, desc=f"ratio grid ({primary})", disable=not exp.progress, leave=False, delay=10)]
    metric = get_task(primary).selection_metric
    settings = {"method": "grid", "n_calls": n_calls, "max_ratio": exp.profile.gp.max_ratio,
                "max_total_factor": exp.profile.train.max_total_factor, "seed": exp.seed,
                "worst_score": WORST_SCORE[metric]}
    return Stage2Result.from_trials(names, trials, metric, settings)


@dataclass
class AblationRow:
    name: str                        # "Baseline", "+QQP", "w/o Stage-1", "w/o Stage-2", "Final MTL"
    tasks: list[str]                 # primary first; [] for a skipped educated guess
    ratio: list[int]                 # the ratio of the scored run
    select_score: float              # NaN when skipped or every run failed
    report_score: float
    runs: int                        # MTL runs the row took (stage 1's bandit not counted)
    note: str = ""


@dataclass
class AblationResult(JsonResult):
    primary: str
    metric: str                      # the primary's selection metric, both columns
    rows: list[AblationRow]
    settings: dict = field(default_factory=dict)  # profile, seed, n_calls, candidates, selected

    def table(self) -> pd.DataFrame:
        """AutoSeM Table 2's layout: one row per setup, select and report columns."""
        return pd.DataFrame([{"setup": r.name, "tasks": " + ".join(r.tasks) or "-",
                              "ratio": ":".join(map(str, r.ratio)) or "-",
                              f"select {self.metric}": r.select_score, f"report {self.metric}": r.report_score,
                              "runs": r.runs, "note": r.note} for r in self.rows]).set_index("setup")

    @classmethod
    def from_json(cls, d: dict) -> "AblationResult":
        return cls(**{**d, "rows": [AblationRow(**r) for r in d["rows"]]})


def _search_row(name: str, result: Stage2Result, note: str = "") -> AblationRow:
    return AblationRow(name=name, tasks=result.tasks, ratio=result.best_ratio or [],
                       select_score=result.best_select_score, report_score=result.report_score,
                       runs=len(result.trials), note=note)


def run_ablations(primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None, *,
                  n_calls: int | None = None, **settings) -> AblationResult:
    """Every row of AutoSeM Table 2 for `primary` (candidates=None: every available
    classification task). Stage 1 runs once and serves w/o Stage-2 and Final MTL."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)
    n_calls = n_calls if n_calls is not None else exp.profile.gp.calls
    check_search(1 + len(candidates), n_calls, exp.profile.gp.initial_points, exp.profile.gp.max_ratio)
    metric = get_task(primary).selection_metric

    alone = exp.run([primary], [1])
    rows = [AblationRow("Baseline", alone.tasks, alone.ratio, alone.select_score, alone.report_score, 1,
                        "the primary alone")]
    for guess in educated_guesses(primary, available_tasks(exp.data_dir)):
        if not guess["tasks"]:
            rows.append(AblationRow(guess["name"], [], [], math.nan, math.nan, 0, guess["note"]))
            continue
        names = [primary, *guess["tasks"]]
        trial = ratio_trial(exp, names, exp.uniform_mix(len(names)))
        note = "; ".join(filter(None, ["educated guess, uniform ratio", guess["note"], trial.failure]))
        rows.append(AblationRow(guess["name"], names, trial.ratio, trial.select_score, trial.report_score, 1, note))
    every = run_stage2(primary, candidates, exp, n_calls=n_calls)
    rows.append(_search_row("w/o Stage-1", every, "GP over every candidate"))
    stage1 = run_stage1(primary, candidates, exp)
    grid = run_grid(primary, stage1.selected, exp, n_calls=n_calls)
    rows.append(_search_row("w/o Stage-2", grid, "stage-1 selection, ratio from a grid"))
    final = run_stage2(primary, stage1.selected, exp, n_calls=n_calls)
    rows.append(_search_row("Final MTL", final, "stage-1 selection, GP ratio"))
    settings = {"profile": exp.profile.label, "seed": exp.seed, "n_calls": n_calls, "candidates": candidates,
                "selected": stage1.selected}
    return AblationResult(primary, metric, rows, settings)
