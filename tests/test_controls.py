"""Control tasks (aux_select.data.controls) and their benchmark (aux_select.analysis.controls), on the
smoke profile's splits of the fixture data: no training but where a test says so."""
import pickle
from collections import Counter

import numpy as np
import pytest

from aux_select.analysis.controls import control_context
from aux_select.data.controls import cut_controls, derangement
from aux_select.experiment.context import Experiment
from aux_select.methods.autosem.stage1 import Stage1Result
from aux_select.methods.greedy import SelectionResult
from aux_select.data.controls import ControlConfig
from aux_select.data.registry import control_names, get_task, task_names


def rows(ds) -> list[tuple]:
    """Each row's text (a pair's two sentences; a tagged sentence's words)."""
    if "words" in ds.column_names:
        return [tuple(w) for w in ds["words"]]
    return list(zip(*(ds[c] for c in ("text_a", "text_b") if c in ds.column_names)))


@pytest.fixture
def context(fixture_data_dir):
    return lambda primary, **kw: Experiment("smoke", data_dir=fixture_data_dir, progress=False, controls=primary, **kw)


@pytest.mark.parametrize("primary", ["MRPC", "STS-B", "POS"])
def test_controls_never_hold_a_row_the_primary_trains_on_or_is_scored_on(context, fixture_data_dir, primary):
    exp = context(primary)
    full = Experiment("smoke", data_dir=fixture_data_dir, progress=False).task(primary)
    half, clone, contra, shuffle = exp.tasks([primary, *control_names(primary)])
    assert Counter(rows(half.train)) + Counter(rows(clone.train)) == Counter(rows(full.train))  # one cut of train
    assert abs(len(clone.train) - len(half.train)) <= 1  # clone_fraction 0.5
    for control in (clone, contra, shuffle):
        assert rows(control.train) == rows(clone.train)  # the same rows, other labels
        assert not set(rows(control.train)) & set(rows(half.train))
        assert not set(rows(control.train)) & (set(rows(full.select)) | set(rows(full.report)))
        assert len(control.select) == len(control.report) == 0 and control.spec.control_of == primary
    assert rows(half.select) == rows(full.select) and rows(half.report) == rows(full.report)  # untouched
    assert half.select["label"] == full.select["label"] and half.report["label"] == full.report["label"]


def test_contra_deranges_every_label_and_shuffle_keeps_their_counts(context):
    clone, contra, shuffle = context("MRPC").tasks(control_names("MRPC"))
    assert all(a != b for a, b in zip(clone.train["label"], contra.train["label"]))  # two classes: swapped
    assert Counter(shuffle.train["label"]) == Counter(clone.train["label"])
    assert shuffle.train["label"] != clone.train["label"]


def test_a_regression_contra_mirrors_the_label_range(context):
    exp = context("STS-B")
    half, clone, contra = exp.tasks(["STS-B", "STS-B~clone", "STS-B~contra"])
    labels = np.concatenate([half.train["label"], clone.train["label"]])
    low, high = labels.min(), labels.max()
    np.testing.assert_allclose(contra.train["label"], low + high - np.asarray(clone.train["label"]), atol=1e-5)


def test_a_tagging_primarys_controls_keep_its_sentences(context):
    clone, contra, shuffle = context("POS").tasks(control_names("POS"))
    for control in (contra, shuffle):
        assert control.train["words"] == clone.train["words"]
        assert [len(t) for t in control.train["label"]] == [len(w) for w in clone.train["words"]]  # a tag per word
    pairs = [(a, b) for tags, flipped in zip(clone.train["label"], contra.train["label"]) for a, b in zip(tags, flipped)]
    assert all(a != b for a, b in pairs)  # the derangement moves every tag
    mapping = {}
    for a, b in pairs:
        assert mapping.setdefault(a, b) == b  # one fixed map of tags, the same in every sentence
    flat = lambda ds: Counter(t for tags in ds["label"] for t in tags)
    assert flat(shuffle.train) == flat(clone.train) and shuffle.train["label"] != clone.train["label"]


def test_the_controls_are_the_same_under_their_seed_and_move_with_it(context, fixture_data_dir):
    task = Experiment("smoke", data_dir=fixture_data_dir, progress=False).task("MRPC")
    one, again, other = cut_controls(task), cut_controls(task), cut_controls(task, ControlConfig(seed=1))
    for name in ["MRPC", *control_names("MRPC")]:
        assert one[name].train.to_dict() == again[name].train.to_dict()
    assert rows(one["MRPC~clone"].train) != rows(other["MRPC~clone"].train)
    assert one["MRPC~shuffle"].train["label"] != other["MRPC~shuffle"].train["label"]
    assert context("MRPC").task("MRPC~contra").train.to_dict() == one["MRPC~contra"].train.to_dict()  # the profile's cut


def test_a_context_with_controls_offers_them_and_crosses_to_a_worker(context):
    exp = context("MRPC")
    assert exp.candidates("MRPC")[-3:] == ["MRPC~clone", "MRPC~contra", "MRPC~shuffle"]
    assert not any("~" in c for c in exp.candidates("RTE"))  # another primary's pool: no controls
    rebuilt = pickle.loads(pickle.dumps(exp))
    assert rebuilt.controls == "MRPC" and rebuilt.task("MRPC~clone").train.to_dict() == exp.task("MRPC~clone").train.to_dict()
    assert control_context(exp, "MRPC") is exp
    with pytest.raises(ValueError, match="controls of MRPC, not RTE"):
        control_context(exp, "RTE")


def test_a_control_without_its_context_is_refused_with_the_fix(fixture_data_dir):
    plain = Experiment("smoke", data_dir=fixture_data_dir, progress=False)
    with pytest.raises(ValueError, match=r"controls='MRPC'"):
        plain.task("MRPC~clone")
    with pytest.raises(ValueError, match="unknown task 'MRPC~copy'"):
        get_task("MRPC~copy")
    with pytest.raises(ValueError, match="name the primary"):
        Experiment("smoke", controls="MRPC~clone")
    assert "MRPC~clone" not in task_names()  # named from its primary, not listed among the tasks


def test_derangement_moves_every_element():
    rng = np.random.default_rng(0)
    for n in (2, 3, 7):
        perm = derangement(n, rng)
        assert sorted(perm) == list(range(n)) and not np.any(perm == np.arange(n))
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1, rng)


def test_rankings_are_each_methods_own_order():
    stage1 = Stage1Result(["MRPC", "RTE", "MRPC~clone", "MRPC~contra"], [], [], [],
                          {"MRPC": 0.9, "RTE": 0.2, "MRPC~clone": 0.7, "MRPC~contra": 0.7}, {}, [], 0.5, 0.0)
    assert stage1.ranking == ["MRPC~clone", "MRPC~contra", "RTE"]  # the primary's own arm left out; a tie keeps arm order
    selection = SelectionResult("MRPC", [("MRPC~contra", 0.8), ("RTE", 0.5)], [], None)
    assert selection.ranking == ["MRPC~contra", "RTE"]


def test_contra_trains_through_the_primarys_head_and_hurts_where_its_own_head_would_help():
    # why P~flip was a second clone and P~contra must hurt, on a tiny learnable task: the same
    # deranged labels (binary: swapped) help through a head of their own (the head learns the
    # swap, the encoder the task) and pull the primary to chance through the primary's head
    from dataclasses import replace

    from test_train import FAST, TINY

    from aux_select.data.loading import TaskData
    from aux_select.data.synthetic import synthetic_task
    from aux_select.model.heads import build_model
    from aux_select.train.run import run_mtl
    toy, other = synthetic_task("toy", n_train=128), synthetic_task("toy", n_train=128, seed=5)
    swapped = other.train.map(lambda row: {"label": 1 - row["label"]})
    empty = other.select.select([])
    contra = TaskData(replace(toy.spec, name="toy~contra", head_of="toy"), swapped, empty, empty, "synthetic", "")
    own_head = TaskData(replace(toy.spec, name="toy~flip"), swapped, empty, empty, "synthetic", "")
    assert list(build_model(TINY, [toy.spec, contra.spec], 100).heads) == ["toy"]  # one head, the primary's
    config = replace(FAST, max_steps=100)
    alone, hurt, helped = (run_mtl(tasks, [1] * len(tasks), encoder=TINY, config=config, progress=False).report_score
                           for tasks in ([toy], [toy, contra], [toy, own_head]))
    assert alone >= 0.75 and hurt <= alone - 0.25 and helped >= alone
