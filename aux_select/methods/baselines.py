"""GradTS §5.3's greedy heuristics, the baselines HEU-Size, HEU-Type and HEU-Len: the order each
puts the candidates in, and the greedy search in that order. (Single-Task and NO-SEL are one run
each: `methods.catalogue`.)"""
from __future__ import annotations

from typing import Sequence

from aux_select.data.statistics import task_statistics
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.greedy import MTLScorer, SelectionResult, greedy_prefix

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


def heuristic_search(kind: str, primary: str, candidates: Sequence[str] | None = None, exp: Experiment | None = None,
              **settings) -> SelectionResult:
    """HEU-Size / HEU-Type / HEU-Len: GradTS-trial's greedy search (`greedy.greedy_prefix`:
    candidates added one MTL run at a time, stopping at the first drop in the select score) in
    the heuristic's order instead of Kendall's tau."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates)
    tasks = exp.tasks([primary, *candidates])
    order = heuristic_order(kind, primary, {t.name: task_statistics(t) for t in tasks})
    scorer = MTLScorer(exp, [primary, *candidates])
    selected, tried = greedy_prefix([t for t, _ in order], scorer)
    return SelectionResult(primary, order, selected, scorer.run(selected),
                           trials=scorer.trials(tried))
