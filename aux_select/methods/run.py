"""Every method for a primary over seeds, with what each cost.

    comparison = run_methods("RTE", seeds=[0, 1, 2], profile="cpu", store=store)
    comparison.results       # one MethodResult per method and seed
    save_comparison(comparison, "results/cpu/compare_RTE.json")   # merged with what is there

Methods come from the registry (`aux_select.methods.registry`). Each runs through the store, so a
comparison reuses every run the notebooks already made. Work several methods lean on, the
single-task run and the head-importance matrices, is shared: recorded once per seed
(`shared_work`), never in a method's own parts. Tables over comparisons: `aux_select.analysis`.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from aux_select.experiment.context import Experiment, as_experiment, warn_without_store
from aux_select.methods.fanout import prefetch_methods
from aux_select.methods.registry import SHARED, MethodResult, check_methods, get_method, method_names
from aux_select.runtime.cost import Part
from aux_select.runtime.store import SCHEMA_VERSION, JsonResult

# what two comparisons must share to be one summary (profile label with its overrides, the code
# schema, the candidate pool)
SAME_SETTINGS = ("profile", "schema", "candidates")


def run_method(method: str, primary: str, candidates: Sequence[str] | None = None,
               exp: Experiment | None = None, *, pool: str = "glue", **settings) -> MethodResult:
    """Run (or read from the store) one registered method for `primary`."""
    fn = get_method(method)
    exp = as_experiment(exp, **settings)
    return fn(exp, primary, exp.candidates(primary, candidates, pool))


def shared_work(primary: str, candidates: Sequence[str], exp: Experiment) -> list[Part]:
    """The cost of each registered piece of shared work (the single-task run, the pool's head
    matrices), as recorded when it was computed: run the methods first."""
    return [work.cost(exp, primary, candidates) for work in SHARED.values()]


@dataclass
class Comparison(JsonResult):
    primary: str
    results: list[MethodResult]      # one per method and seed
    shared: dict[int, list[Part]]    # seed -> shared work's cost (see `shared_work`)
    settings: dict = field(default_factory=dict)  # profile, candidates, methods, seeds

    def to_json(self) -> dict:
        return {"primary": self.primary, "results": [r.to_json() for r in self.results],
                "shared": {str(k): [asdict(p) for p in v] for k, v in self.shared.items()}, "settings": self.settings}

    @classmethod
    def from_json(cls, d: dict) -> "Comparison":
        return cls(d["primary"], [MethodResult.from_json(r) for r in d["results"]],
                   {int(k): [Part.from_json(p) for p in v] for k, v in d["shared"].items()}, d.get("settings", {}))

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
