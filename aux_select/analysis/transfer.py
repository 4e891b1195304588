"""The measured transfer matrix: each primary with each candidate of its pool at 1:1, against the
primary alone, at every seed. Its gains and their seed-level verdicts (`analysis.verdicts`) are the
ground truth every selector is scored against (`analysis.transfer_scores`).

    row = run_transfer("MRPC", seeds=range(5), exp=exp)   # TransferRow: runs, gains, rankings
    rows = run_transfer_matrix(["RTE", "MRPC"], range(5), exp=exp, out_dir="results/cpu")  # a row per primary
    row.gains_by_seed()                  # seeds × candidates: the gain in points at each seed
    transfer_table(rows)                 # a row per (primary, candidate): gain, interval, verdict
    selector_scores(rows)                # a row per (primary, selector): τ, NDCG@3, regret, precision, cost
    plots.plot_transfer(transfer_table(rows)); plots.plot_selector_cost(selector_scores(rows))

Every pair is one stored run (`Experiment.run`), so what the comparison trained already is read
back: the primary alone is its single-task run, and a greedy search's first trial that finished
is the pair's run. At 1:1 the primary trains its whole budget and the candidate as many batches
on top (the fair budget). The gains are evaluations, like every report score: they decide nothing.
"""
from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aux_select.analysis.transfer_scores import MetricDraws, metric_draws, percentile_interval, popularity_prior
from aux_select.analysis.verdicts import BEATS, LOSES, NO_EVIDENCE, Arm, bootstrap_p, gain_verdicts, holm
from aux_select.data.registry import get_task
from aux_select.experiment.context import Experiment, as_experiment
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.catalogue import stage1_part
from aux_select.methods.fanout import waves
from aux_select.methods.registry import SHARED, run_part
from aux_select.methods.selectors import STAGE1, SelectorRanking, run_selector, selector_names
from aux_select.runtime.cost import Part
from aux_select.runtime.store import SCHEMA_VERSION, JsonResult
from aux_select.train.run import RunResult

POPULARITY = "Popularity"  # the source-popularity prior: a candidate's mean measured gain over the other primaries
MEAN = "mean"              # the selector table's rows over every primary
REFERENCES = ("Random", POPULARITY)  # what every selector is tested against
CONTRAST, SHORT = "kendall tau", {"kendall tau": "τ"}  # the metric those tests compare
ALPHA = 0.05


def pair_run(primary: str, partner: str | None, *, exp: Experiment) -> RunResult:
    """The primary alone (partner None) or with `partner` at 1:1: one stored run."""
    return exp.run([primary] if partner is None else [primary, partner])


def pairwise_gains(primary: str, partners: Sequence[str], seeds: Sequence[int], exp: Experiment, *,
                   n_resamples: int = 1000, name: str = "candidate") -> tuple[list[dict], list[dict]]:
    """(runs, gains): the primary alone and with each partner at 1:1 at every seed, each run a
    dict with the partner under `name` (None: alone); per partner `verdicts.gain_verdicts`' row
    (Holm over the partners), the partner under `name`. With a parallel executor the runs fan out first."""
    jobs = [(seed, partner) for seed in seeds for partner in (None, *partners)]
    if exp.parallel:
        waves(exp, [(seed, pair_run, (primary, partner)) for seed, partner in jobs])
    metric = get_task(primary).metrics[0]
    runs, predictions, scores, labels = [], {}, {}, None
    for seed, partner in tqdm(jobs, desc=f"{name} runs for {primary}", disable=not exp.progress, delay=10):
        run = pair_run(primary, partner, exp=exp.with_seed(seed))
        runs.append({name: partner, "seed": seed, "report": dict(run.report), "select_score": run.select_score,
                     "part": run_part(run)})
        predictions.setdefault(partner, []).append(run.report_predictions)
        scores.setdefault(partner, []).append(run.report[metric])
        labels = run.report_labels
    arms = {p: Arm(predictions[p], predictions[None], scores[p], scores[None]) for p in partners}
    rows = gain_verdicts(labels, metric, arms, get_task(primary).labels, n_resamples)
    return runs, [{name: row.pop("name"), **row} for row in rows]


def shared_cost(work: str, exp: Experiment, primary: str, candidates: Sequence[str]) -> Part:
    """What the stored work a selector reads cost when it was computed (it is computed if missing)."""
    if work == STAGE1:
        return stage1_part(run_stage1(primary, list(candidates), exp))
    return SHARED[work].cost(exp, primary, candidates)


@dataclass
class TransferRow(JsonResult):
    primary: str
    metric: str                   # the primary's first official metric, on report
    seeds: list[int]
    candidates: list[str]
    runs: list[dict]              # per seed the primary alone (candidate None) and with each candidate at 1:1:
                                  # {"candidate", "seed", "report", "select_score", "part"}
    gains: list[dict]             # per candidate: `verdicts.gain_verdicts`' row (points ×100)
    rankings: list[SelectorRanking] = field(default_factory=list)  # every selector at every seed
    read_cost: dict = field(default_factory=dict)  # selector -> CPU s of the stored work it reads, mean over seeds
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**{k: getattr(self, k) for k in ("primary", "metric", "seeds", "candidates", "gains", "read_cost",
                                                 "settings")},
                "runs": [{**r, "part": asdict(r["part"])} for r in self.runs],
                "rankings": [r.to_json() for r in self.rankings]}

    @classmethod
    def from_json(cls, d: dict) -> "TransferRow":
        return cls(**{**d, "runs": [{**r, "part": Part.from_json(r["part"])} for r in d["runs"]],
                      "rankings": [SelectorRanking.from_json(r) for r in d["rankings"]]})

    def gains_by_seed(self) -> pd.DataFrame:
        """Seeds (rows) × candidates (columns): report gain of primary + candidate over the primary alone, ×100."""
        score = {(r["candidate"], r["seed"]): 100 * r["report"][self.metric] for r in self.runs}
        return pd.DataFrame([[score[c, s] - score[None, s] for c in self.candidates] for s in self.seeds],
                            index=pd.Index(self.seeds, name="seed"), columns=self.candidates)

    def helpful(self) -> set[str]:
        return {g["candidate"] for g in self.gains if g["verdict"] == BEATS}

    def orders(self, seed: int | None = None) -> pd.DataFrame:
        """Each selector's order of the candidates at `seed` (None: the first), beside the measured
        order by mean gain: a row per selector, a column per place (1 = first)."""
        seed = self.seeds[0] if seed is None else seed
        measured = self.gains_by_seed().mean().sort_values(ascending=False, kind="stable")
        orders = {"measured (mean gain)": list(measured.index),
                  **{r.selector: r.order for r in self.rankings if r.seed == seed}}
        return pd.DataFrame.from_dict(orders, orient="index", columns=range(1, len(self.candidates) + 1))

    def pair_cpu_s(self) -> float:
        """CPU seconds of the pairs' runs (not the primary alone), mean over seeds."""
        return float(np.nansum([r["part"].cpu_time_s for r in self.runs if r["candidate"] is not None])
                     / len(self.seeds))


def run_transfer(primary: str, seeds: Sequence[int] = (0,), candidates: Sequence[str] | None = None,
                 exp: Experiment | None = None, *, selectors: Sequence[str] | None = None, pool: str = "glue",
                 n_resamples: int = 1000, **settings) -> TransferRow:
    """The primary's row of the matrix at every seed, and every selector's ranking (None: all
    registered) at every seed; each run and stored ranking is read back, never recomputed."""
    exp = as_experiment(exp, **settings)
    candidates = exp.candidates(primary, candidates, pool)
    runs, gains = pairwise_gains(primary, candidates, seeds, exp, n_resamples=n_resamples)
    rankings, read_cost = [], {}

    @functools.cache  # several selectors read one piece of stored work (LogME, NCE, LEEP, GradTS-tau: the matrices)
    def cpu_s(work: str, seed: int) -> float:
        return shared_cost(work, exp.with_seed(seed), primary, candidates).cpu_time_s

    for name in selectors if selectors is not None else selector_names():
        mine = [run_selector(name, primary, candidates, exp.with_seed(seed)) for seed in seeds]
        rankings += mine
        read_cost[name] = float(np.mean([sum(cpu_s(w, r.seed) for w in r.shared) for r in mine]))
    return TransferRow(primary, get_task(primary).metrics[0], list(seeds), list(candidates), runs, gains, rankings,
                       read_cost, {"profile": exp.profile.label, "schema": SCHEMA_VERSION})


def run_transfer_matrix(primaries: Sequence[str], seeds: Sequence[int] = (0,), candidates: Sequence[str] | None = None,
                        exp: Experiment | None = None, *, selectors: Sequence[str] | None = None,
                        out_dir: str | os.PathLike | None = None, **settings) -> list[TransferRow]:
    """`run_transfer` for each primary in turn (`candidates`: one list for all, each primary's own
    name left out; None: each one's pool), each row written to <out_dir>/transfer_<primary>.json
    as soon as it is finished, so an interrupted matrix keeps its finished rows."""
    exp, rows = as_experiment(exp, **settings), []
    for primary in tqdm(primaries, desc="transfer matrix", disable=not exp.progress or len(primaries) < 2):
        mine = [c for c in candidates if c != primary] if candidates is not None else None
        rows.append(run_transfer(primary, seeds, mine, exp, selectors=selectors))
        if out_dir is not None:
            rows[-1].write_json(Path(out_dir) / f"transfer_{primary}.json")
    return rows


def transfer_table(rows: Sequence[TransferRow]) -> pd.DataFrame:
    """A row per (primary, candidate): the gain ×100 over the primary alone, its seed × row
    interval, the verdict (beats = helpful, loses = harmful), the seeds, the detectable gain."""
    return pd.DataFrame([{"primary": row.primary, **g} for row in rows for g in row.gains])


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many pairs have a helpful, a harmful and no verdict."""
    return {"pairs": len(table), "helpful": int((table["verdict"] == BEATS).sum()),
            "harmful": int((table["verdict"] == LOSES).sum())}


class Scored(NamedTuple):
    draws: MetricDraws
    own_cpu_s: float        # the selector's own work per ranking
    with_reads_cpu_s: float  # and the stored work it reads


def _scored(rows: Sequence[TransferRow], k: int, n_resamples: int, seed: int) -> dict[tuple[str, str], Scored]:
    """(primary, selector) -> its `Scored`; the popularity prior where there are other primaries to read."""
    gains, found = {row.primary: row.gains_by_seed() for row in rows}, {}
    for row in rows:
        by_selector: dict[str, list[SelectorRanking]] = {}
        for ranking in row.rankings:
            by_selector.setdefault(ranking.selector, []).append(ranking)
        for name, rankings in by_selector.items():
            scores = {r.seed: r.scores for r in rankings}
            own = float(np.mean([sum(p.cpu_time_s for p in r.parts) for r in rankings]))
            found[row.primary, name] = Scored(metric_draws([scores[s] for s in row.seeds], gains[row.primary],
                                                           row.helpful(), k, n_resamples, seed),
                                              own, own + row.read_cost.get(name, 0.0))
        if len(rows) > 1:
            reads = sum(other.pair_cpu_s() for other in rows if other.primary != row.primary)
            prior = popularity_prior(gains, row.primary)
            found[row.primary, POPULARITY] = Scored(metric_draws(prior, gains[row.primary], row.helpful(), k,
                                                                 n_resamples, seed), 0.0, reads)
    return found


def finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite values (NaN, quietly, where there are none: a metric no primary could compute)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _over_primaries(found: dict[tuple[str, str], Scored], primaries: Sequence[str]) -> dict[tuple[str, str], Scored]:
    """Per selector every primary has: each metric and cost as the mean over the primaries, draw by
    draw (none with a single primary)."""
    out = {}
    if len(primaries) < 2:
        return out
    for name in dict.fromkeys(s for _, s in found):
        mine = [found[p, name].draws for p in primaries if (p, name) in found]
        if len(mine) < len(primaries):
            continue
        metrics = list(mine[0].point)
        draws = [{m: finite_mean([d.draws[i][m] for d in mine]) for m in metrics} for i in range(len(mine[0].draws))]
        point = {m: finite_mean([d.point[m] for d in mine]) for m in metrics}
        out[MEAN, name] = Scored(MetricDraws(point, draws, min(d.seeds for d in mine), sum(d.candidates for d in mine)),
                                 float(np.mean([found[p, name].own_cpu_s for p in primaries])),
                                 float(np.mean([found[p, name].with_reads_cpu_s for p in primaries])))
    return out


def _contrasts(found: dict[tuple[str, str], Scored], primary: str, reference: str, metric: str = CONTRAST
               ) -> dict[str, dict]:
    """Per selector of `primary`: its `metric` minus the reference's, draw by draw (paired), the
    interval, Holm over the selectors, and better / worse / no evidence."""
    names = [s for p, s in found if p == primary and s != reference]
    if (primary, reference) not in found:
        return {}
    ref, tests = found[primary, reference].draws, {}
    for name in names:
        own = found[primary, name].draws
        diffs = [a[metric] - b[metric] for a, b in zip(own.draws, ref.draws)]
        tests[name] = (own.point[metric] - ref.point[metric], *percentile_interval(diffs),
                       bootstrap_p([d for d in diffs if np.isfinite(d)]))
    adjusted = holm([t[3] for t in tests.values()]) if tests else []
    return {name: {f"{SHORT[metric]} − {reference}": d, f"{SHORT[metric]} − {reference} low": lo,
                   f"{SHORT[metric]} − {reference} high": hi, f"p (Holm) vs {reference}": float(ph),
                   f"vs {reference}": ("better" if d > 0 else "worse") if ph < ALPHA and np.isfinite(d) else NO_EVIDENCE}
            for (name, (d, lo, hi, _)), ph in zip(tests.items(), adjusted)}


def selector_scores(rows: Sequence[TransferRow], k: int = 3, n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """A row per (primary, selector), the selectors' rankings and the popularity prior scored against
    the matrix (`transfer_scores.metric_draws`: a selector ranked at every seed is scored with each
    seed's ranking paired to that seed's gains), then a row per selector over every primary
    (primary "mean": each metric's mean over the primaries, draw by draw). Each row holds every
    metric with its seed-bootstrap interval; Kendall τ minus Random's and minus the popularity
    prior's, paired draw by draw, with Holm's correction over the selectors and a verdict; and the
    CPU seconds per ranking: its own work, and with the stored work it reads (the prior: the other
    primaries' pairs)."""
    found = _scored(rows, k, n_resamples, seed)
    found |= _over_primaries(found, [row.primary for row in rows])
    contrasts = {(p, ref): _contrasts(found, p, ref) for p in dict.fromkeys(p for p, _ in found) for ref in REFERENCES}
    out = []
    for (primary, name), (draws, own, with_reads) in found.items():
        row = {"primary": primary, "selector": name, "seeds": draws.seeds, "candidates": draws.candidates}
        for metric, value in draws.point.items():
            row.update(dict(zip([metric, f"{metric} low", f"{metric} high"], [value, *draws.interval(metric)])))
        for reference in REFERENCES:
            row.update(contrasts[primary, reference].get(name, {}))
        out.append({**row, "own CPU s": own, "CPU s with what it reads": with_reads})
    return pd.DataFrame(out)
