"""Baselines every method is compared against: single-task, NO-SEL (all candidates, uniform) and
GradTS §5.3's greedy heuristics HEU-Size, HEU-Type and HEU-Len."""
from __future__ import annotations

from typing import Sequence

from aux_select.data.statistics import task_statistics
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.greedy import MTLScorer, SelectionResult, greedy_prefix
from aux_select.train.run import RunResult


def single_task(primary: str, exp: Experiment | None = None, **settings) -> RunResult:
    """The primary trained alone. `exp` or the keywords of `Experiment` (profile, seed, ...)."""
    return as_experiment(exp, **settings).run([primary], [1])


def no_sel(primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
           **settings) -> RunResult:
    """NO-SEL: the primary with every candidate at a uniform 1:1:…:1 ratio (candidates=None:
    the GLUE pool the data provides)."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)
    return exp.run([primary, *candidates], [1] * (1 + len(candidates)))


# ----------------------------------------------------------------------------- GradTS §5.3 heuristics

HEURISTICS = ("size", "type", "len")


def heuristic_order(kind: str, primary: str, stats: dict[str, dict]) -> list[tuple[str, float]]:
    """Candidates (every task in `stats` but the primary) in HEU order, each with its key:
    size: official train size, largest first; type: same GLUE type as the primary first (key 1),
    then by size; len: closest average length in words to the primary's first (key: the gap).
    Ties go to the larger task, then by name. `stats` as `data.task_statistics` gives them."""
    if kind not in HEURISTICS:
        raise ValueError(f"unknown heuristic {kind!r}; choose one of {', '.join(HEURISTICS)}")
    me = stats[primary]
    rows = []
    for task, s in stats.items():
        if task == primary:
            continue
        size = float(s["official_train_size"])
        key = {"size": size, "type": float(s["type"] == me["type"]),
               "len": abs(s["avg_words"] - me["avg_words"])}[kind]
        sort = {"size": (-size,), "type": (-key, -size), "len": (key, -size)}[kind]
        rows.append((sort + (task,), task, key))
    return [(task, key) for _, task, key in sorted(rows)]


def heuristic(kind: str, primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
              **settings) -> SelectionResult:
    """HEU-Size / HEU-Type / HEU-Len: GradTS-trial's greedy search (`greedy.greedy_prefix`:
    candidates added one MTL run at a time, stopping at the first drop in the select score) in
    the heuristic's order instead of Kendall's tau."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)
    tasks = exp.tasks([primary, *candidates])
    order = heuristic_order(kind, primary, {t.name: task_statistics(t) for t in tasks})
    scorer = MTLScorer(exp, [primary, *candidates])
    selected, trials = greedy_prefix([t for t, _ in order], scorer)
    return SelectionResult(f"HEU-{kind.capitalize()}", primary, order, selected, scorer.run(selected),
                           trials=scorer.with_costs(trials))
