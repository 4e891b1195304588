"""The measured transfer matrix (`aux_select.analysis.transfer`) at smoke scale on the fixture data:
two primaries, two candidates each, two seeds, three selectors; computed once for the module."""
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from aux_select.analysis.transfer import (
    MEAN,
    POPULARITY,
    TransferRow,
    run_transfer,
    selector_scores,
    transfer_table,
    verdict_counts,
)
from aux_select.analysis.report import SELECTORS_END, SELECTORS_START, transfer_section
from aux_select.experiment.context import Experiment
from aux_select.methods.selectors import SelectorRanking
from aux_select.plots import plot_selector_cost, plot_transfer
from aux_select.runtime.cost import Part
from aux_select.runtime.store import Store

POOLS = {"RTE": ["MRPC", "WNLI"], "MRPC": ["RTE", "WNLI"]}
SEEDS = [0, 1]
SELECTORS = ["Random", "Size", "AutoSeM-utility"]  # one reads stored work (stage 1), two read none


@pytest.fixture(scope="module")
def exp(fixture_data_dir, tmp_path_factory) -> Experiment:
    return Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path_factory.mktemp("store")), progress=False)


@pytest.fixture(scope="module")
def rows(exp) -> list[TransferRow]:
    return [run_transfer(p, SEEDS, pool, exp, selectors=SELECTORS, n_resamples=200) for p, pool in POOLS.items()]


def test_each_gain_is_the_pair_run_minus_the_primary_alone_at_that_seed(exp, rows):
    row = rows[0]
    gains = row.gains_by_seed()
    assert list(gains.index) == SEEDS and list(gains.columns) == POOLS["RTE"]
    for seed in SEEDS:
        alone = exp.with_seed(seed).run(["RTE"]).report["accuracy"]
        for candidate in POOLS["RTE"]:
            pair = exp.with_seed(seed).run(["RTE", candidate], [1, 1]).report["accuracy"]
            assert gains.loc[seed, candidate] == pytest.approx(100 * (pair - alone))
    table = transfer_table(rows).set_index(["primary", "candidate"])
    assert table.loc[("RTE", "MRPC"), "gain"] == pytest.approx(gains["MRPC"].mean())
    assert (table["seeds"] == 2).all() and set(table["verdict"]) <= {"beats", "loses", "no evidence"}


def test_every_pair_is_a_stored_run_read_back_not_trained_again(exp, rows):
    runs = len(list((exp.store.root / "run").glob("*.json")))
    assert runs == len(SEEDS) * sum(1 + len(pool) for pool in POOLS.values())  # alone + pairs per primary and seed
    again = run_transfer("RTE", SEEDS, POOLS["RTE"], exp, selectors=SELECTORS, n_resamples=200)
    assert len(list((exp.store.root / "run").glob("*.json"))) == runs
    assert again.gains == rows[0].gains


def test_a_row_round_trips_through_json(rows, tmp_path):
    path = rows[0].write_json(tmp_path / "transfer_RTE.json")
    back = TransferRow.from_json(json.loads(path.read_text()))
    assert back.gains_by_seed().equals(rows[0].gains_by_seed())
    assert [r.order for r in back.rankings] == [r.order for r in rows[0].rankings]
    assert back.read_cost == rows[0].read_cost


def test_every_selector_at_every_seed_and_the_popularity_prior_are_scored(rows):
    scores = selector_scores(rows, n_resamples=50)
    assert list(scores[["primary", "selector"]].itertuples(index=False, name=None)) == [
        (p, s) for p in [*POOLS, MEAN] for s in [*SELECTORS, POPULARITY]]
    assert {r.seed for r in rows[0].rankings} == set(SEEDS)
    by = scores.set_index(["primary", "selector"])
    # AutoSeM-utility reads stage 1, which cost CPU time; Size reads nothing
    assert by.loc[("RTE", "AutoSeM-utility"), "CPU s with what it reads"] > by.loc[("RTE", "AutoSeM-utility"), "own CPU s"]
    assert by.loc[("RTE", "Size"), "CPU s with what it reads"] == by.loc[("RTE", "Size"), "own CPU s"]
    # the prior for RTE reads MRPC's pairs, scored on RTE's candidates it shares (WNLI; MRPC is RTE's own)
    assert by.loc[("RTE", POPULARITY), "CPU s with what it reads"] == pytest.approx(rows[1].pair_cpu_s())
    assert by.loc[("RTE", POPULARITY), "candidates"] == 1


def synthetic_row(primary: str, gains: dict[str, list[float]], rankings: dict[str, list[dict]]) -> TransferRow:
    """A row whose per-seed gains (points) and selector scores are given: the primary alone scores
    0.5 at every seed, a pair 0.5 + gain / 100; a candidate with a positive mean gain is helpful."""
    seeds = list(range(len(next(iter(gains.values())))))
    runs = [{"candidate": c, "seed": s, "report": {"accuracy": 0.5 + (g[s] / 100 if c else 0)}, "select_score": 0.5,
             "part": Part("run", 1.0, cpu_time_s=2.0)} for s in seeds for c, g in [(None, None), *gains.items()]]
    verdicts = [{"candidate": c, "verdict": "beats" if np.mean(g) > 0 else "no evidence"} for c, g in gains.items()]
    ranked = [SelectorRanking(name, primary, s, scores[s], sorted(scores[s], key=scores[s].get, reverse=True), [])
              for name, scores in rankings.items() for s in seeds]
    return TransferRow(primary, "accuracy", seeds, list(gains), runs, verdicts, ranked)


def test_selector_scores_pair_each_seeds_ranking_with_that_seeds_gains():
    gains = {"a": [3.0, 3.0], "b": [1.0, 2.0], "c": [-1.0, -2.0]}  # a helps most, c hurts
    right = {c: float(np.mean(g)) for c, g in gains.items()}
    wrong = {c: -v for c, v in right.items()}
    row = synthetic_row("P", gains, {"right": [right, right], "half": [right, wrong]})
    other = synthetic_row("Q", {"a": [1.0, 1.0], "b": [0.0, 0.0], "c": [2.0, 2.0]}, {})
    by = selector_scores([row, other], n_resamples=50).set_index(["primary", "selector"])
    assert by.loc[("P", "right"), "kendall tau"] == pytest.approx(1.0)
    assert by.loc[("P", "half"), "kendall tau"] == pytest.approx(0.0)  # one seed's ranking +1, the other's -1
    assert by.loc[("P", "right"), "regret@1"] == 0 and by.loc[("P", "half"), "regret@1"] == pytest.approx(2.25)
    assert by.loc[("P", "right"), "precision@3"] == pytest.approx(2 / 3)  # a and b helpful among the three
    # the prior for P is Q's gains: c first, then a, then b
    assert by.loc[("P", POPULARITY), "regret@1"] == pytest.approx(3.0 - (-1.5))
    assert by.loc[("P", POPULARITY), "CPU s with what it reads"] == pytest.approx(3 * 2.0)  # Q's three pairs a seed
    # against the prior (tau -1/3 in every draw: c, a, b against a, b, c), paired draw by draw
    assert by.loc[("P", "right"), "τ − Popularity"] == pytest.approx(1 + 1 / 3)
    assert by.loc[("P", "right"), "τ − Popularity low"] == pytest.approx(4 / 3)  # the same in every draw
    assert by.loc[("P", "right"), "vs Popularity"] == "better" and by.loc[("P", "right"), "p (Holm) vs Popularity"] == 0
    assert by.loc[("P", "half"), "vs Popularity"] == "no evidence"  # 0 to +4/3 with the seeds drawn
    # over both primaries: Q has no selectors of its own, so only the prior has a mean row
    assert [s for p, s in by.index if p == MEAN] == [POPULARITY]
    q_tau = by.loc[("Q", POPULARITY), "kendall tau"]
    assert by.loc[(MEAN, POPULARITY), "kendall tau"] == pytest.approx((-1 / 3 + q_tau) / 2)


def test_verdict_counts_and_the_figures(rows):
    table = transfer_table(rows)
    counts = verdict_counts(table)
    assert counts["pairs"] == 4 and counts["helpful"] + counts["harmful"] <= 4
    heat = plot_transfer(table)
    notes = [t.get_text() for t in heat.axes[0].texts]
    assert len([n for n in notes if n]) == 4  # four pairs; RTE+RTE and MRPC+MRPC blank
    assert np.ma.getmaskarray(heat.axes[0].collections[0].get_array()).sum() == 2
    cost = plot_selector_cost(selector_scores(rows, n_resamples=20))
    assert cost.axes[0].get_xscale() == "log"
    assert len(cost.axes[0].get_legend().get_texts()) == len(SELECTORS) + 2  # + the prior, + the interval line
    plt.close("all")


def test_results_md_shows_the_selectors_over_every_primary_with_their_tests():
    rng = np.random.default_rng(1)
    rows = []
    for primary in ("P", "Q", "R"):
        truth = rng.normal(0, 2, 5)
        gains = {c: list(truth[i] + rng.normal(0, 1, 5)) for i, c in enumerate("abcde")}
        rankings = {"Random": [{c: rng.random() for c in "abcde"} for _ in range(5)],
                    "Knows": [{c: truth[i] for i, c in enumerate("abcde")}] * 5}
        rows.append(synthetic_row(primary, gains, rankings))
    for row in rows:  # gain_verdicts' columns, as run_transfer stores them
        row.gains = [{**g, "primary": row.primary, "metric": "accuracy", "seeds": 5} for g in row.gains]
    section = "\n\n".join(transfer_section(transfer_table(rows), selector_scores(rows, n_resamples=300),
                                           lambda name, caption: f"![{caption}]({name})"))
    pooled = section[section.index(SELECTORS_START):section.index(SELECTORS_END)]
    knows = next(line for line in pooled.splitlines() if line.startswith("| Knows"))
    assert "better (p" in knows  # it ranks by the true gains: above Random and the prior over three primaries
    assert [line.split("|")[1].strip() for line in pooled.splitlines()[3:]] == ["Random", "Knows", POPULARITY]
    assert "![transfer matrix](10_transfer.png)" in section and "Per primary:" in section
