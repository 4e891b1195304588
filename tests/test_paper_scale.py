"""The paper profile's run lengths follow from its settings and GLUE's sizes, without a run."""
import math

from aux_select.analysis.paper_scale import run_lengths, train_rows
from aux_select.experiment.profiles import get_profile
from aux_select.train.schedule import run_length, uniform_mix


def test_run_lengths_follow_from_epochs_sizes_and_k():
    paper = get_profile("paper")
    assert train_rows("RTE", paper) == 2490 - 249  # the select rows held out
    steps = math.ceil(7 * math.ceil(2241 / 32))
    table = run_lengths("RTE", steps_per_second=10.0)
    assert table.loc["Single-Task", "steps (most)"] == steps
    pool = 7  # the GLUE classification pool without RTE
    assert table.loc["NO-SEL", "steps (most)"] == run_length(uniform_mix(1 + pool, 2.0), steps) <= 2 * steps + pool
    stage1 = paper.bandit.rounds * paper.bandit.batches_per_round
    assert table.loc["AutoSeM", "steps (most)"] == stage1 + paper.gp.calls * table.loc["NO-SEL", "steps (most)"]
    assert (table["steps (fewest)"] <= table["steps (most)"]).all()
    once = table.loc["every method once, each part once"]
    assert once["steps (most)"] < table.drop(index=once.name)["steps (most)"].sum()  # shared work counted once
    assert table.loc["AutoSeM", "GPU hours (most)"] == round(table.loc["AutoSeM", "steps (most)"] / 10 / 3600, 1)
    assert run_lengths("MNLI").loc["Single-Task", "steps (most)"] > 150 * steps  # MNLI is 160 times RTE
