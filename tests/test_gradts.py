import math
from dataclasses import replace

import numpy as np
import pytest

from aux_select.methods.gradts import importance as gradts
from aux_select.methods.baselines import heuristic_order, heuristic_search
from aux_select.data.synthetic import synthetic_task
from aux_select.experiment.context import Experiment
from aux_select.methods.gradts.importance import (ImportanceConfig, head_importance, importance_matrices, instance_importance, kendall_tau, normalise,
    rank_candidates, sample_indices, task_importance, task_instance_importance, tau_matrix)
from aux_select.methods.gradts.select import (fg_keep, filter_by_instances, filter_tasks, instance_taus, select_by_threshold,
    select_by_trials, thres_select)
from aux_select.experiment.profiles import get_profile, override
from aux_select.methods.greedy import greedy_prefix
from aux_select.runtime.store import Store

SMOKE = get_profile("smoke")
FAST = ImportanceConfig(warmup_epochs=1, sample_fraction=0.25, batch_size=16)


# ----------------------------------------------------------------------------- normalisation, tau

def test_normalisation_by_hand():
    # rows / L2 norm: [1,2,2]/3 = [1/3, 2/3, 2/3], [0,3,4]/5 = [0, .6, .8]; then min 0, max .8
    out = normalise(np.array([[1.0, 2.0, 2.0], [0.0, 3.0, 4.0]]))
    np.testing.assert_allclose(out, [[5 / 12, 10 / 12, 10 / 12], [0.0, 0.75, 1.0]])
    np.testing.assert_allclose(normalise(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.75, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(normalise(np.ones((2, 2))), np.zeros((2, 2)))


def test_min_max_scaling_leaves_tau_unchanged():
    rng = np.random.default_rng(0)
    a, b = rng.random((6, 12)), rng.random((6, 12))
    minmax = lambda x: (x - x.min()) / (x.max() - x.min())
    assert kendall_tau(a, b) == pytest.approx(kendall_tau(minmax(a), minmax(b)), abs=1e-12)
    assert kendall_tau(a, b) == pytest.approx(kendall_tau(3 * a + 1, b), abs=1e-12)
    assert kendall_tau(a, a) == pytest.approx(1.0) and kendall_tau(a, -a) == pytest.approx(-1.0)


def test_tau_matrix_and_ranking():
    base = np.arange(12.0).reshape(3, 4)
    noisy = base.copy()
    noisy[0, :2] = noisy[0, 1::-1]  # one swapped pair
    matrices = {"P": base, "near": noisy, "same": base * 2, "far": -base}
    taus = tau_matrix(matrices)
    assert list(taus.index) == list(matrices) and np.allclose(np.diag(taus), 1.0)
    assert np.allclose(taus.values, taus.values.T)
    ranking = rank_candidates("P", matrices)
    assert [t for t, _ in ranking] == ["same", "near", "far"]
    assert ranking[0][1] == pytest.approx(1.0) and ranking[2][1] == pytest.approx(-1.0)
    assert thres_select(ranking, 0.47) == ["same", "near"] and thres_select(ranking, 1.1) == []


def test_instance_matrices_are_normalised_each_on_its_own():
    per_example = np.random.default_rng(1).random((5, 2, 3))
    out = instance_importance(per_example)
    assert out.shape == (5, 2, 3)
    for x, y in zip(per_example, out):
        np.testing.assert_allclose(y, normalise(x))
        np.testing.assert_allclose(y, normalise(x / 17.0))  # the token division cancels


def test_selection_sample_is_seeded_and_capped():
    a = sample_indices(1000, ImportanceConfig())
    assert len(a) == 100 and np.array_equal(a, sample_indices(1000, ImportanceConfig()))
    assert np.array_equal(a, np.sort(np.random.default_rng(42).permutation(1000)[:100]))
    assert len(sample_indices(1000, ImportanceConfig(sample_cap=30))) == 30
    assert len(sample_indices(3, ImportanceConfig())) == 1


# ----------------------------------------------------------------------------- greedy search

def fake_scorer(table: dict[tuple, float]):
    calls = []

    def score(aux):
        calls.append(tuple(aux))
        return table[tuple(aux)]
    return score, calls


def test_trial_stops_at_the_first_drop_and_keeps_the_set_before():
    score, calls = fake_scorer({(): 0.60, ("A",): 0.62, ("A", "B"): 0.62, ("A", "B", "C"): 0.58,
                                ("A", "B", "C", "D"): 0.90})
    selected, tried = greedy_prefix(["A", "B", "C", "D"], lambda aux, kept: score(aux))
    assert selected == ["A", "B"]  # a tie goes on
    assert calls == [(), ("A",), ("A", "B"), ("A", "B", "C")]  # D is never tried
    assert tried == [["A"], ["A", "B"], ["A", "B", "C"]]


def test_trial_keeps_nothing_when_the_first_candidate_hurts():
    score, calls = fake_scorer({(): 0.6, ("A",): 0.5})
    selected, tried = greedy_prefix(["A", "B"], lambda aux, kept: score(aux))
    assert selected == [] and len(tried) == 1 and len(calls) == 2


def test_a_failed_run_counts_as_a_drop():
    score, _ = fake_scorer({(): 0.6, ("A",): 0.7, ("A", "B"): math.nan})
    assert greedy_prefix(["A", "B"], lambda aux, kept: score(aux))[0] == ["A"]


STATS = {  # hand-made task_statistics rows
    "P": {"type": "inference", "official_train_size": 2490, "avg_words": 50.0},
    "big": {"type": "paraphrase", "official_train_size": 363846, "avg_words": 22.0},
    "inf": {"type": "inference", "official_train_size": 104743, "avg_words": 36.0},
    "small": {"type": "single-sentence", "official_train_size": 8551, "avg_words": 49.0},
    "tiny": {"type": "inference", "official_train_size": 635, "avg_words": 60.0},
}


def test_heuristic_orders():
    assert heuristic_order("size", "P", STATS) == [("big", 363846), ("inf", 104743), ("small", 8551),
                                                   ("tiny", 635)]
    assert [t for t, _ in heuristic_order("type", "P", STATS)] == ["inf", "tiny", "big", "small"]
    assert heuristic_order("len", "P", STATS) == [("small", 1.0), ("tiny", 10.0), ("inf", 14.0),
                                                  ("big", 28.0)]
    with pytest.raises(ValueError, match="choose one of size, type, len"):
        heuristic_order("random", "P", STATS)


# ----------------------------------------------------------------------------- GradTS-fg

def test_fg_keeps_instances_correlated_with_the_primary():
    primary = np.arange(8.0).reshape(2, 4)
    near = primary.copy()
    near[0, :2] = near[0, 1::-1]
    instances = {"A": np.stack([primary, -primary, np.zeros((2, 4)), near]),  # tau 1, -1, NaN, 0.93
                 "B": np.stack([-primary])}
    taus = {t: instance_taus(primary, m) for t, m in instances.items()}
    kept = {t: fg_keep(tau, threshold=0.42) for t, tau in taus.items()}
    assert kept["A"].tolist() == [0, 3] and kept["B"].tolist() == [] and math.isnan(taus["A"][2])

    tasks = [synthetic_task("P", n_train=6), synthetic_task("A", n_train=4, seed=1),
             synthetic_task("B", n_train=1, seed=2), synthetic_task("C", n_train=3, seed=3)]
    filtered = filter_tasks(tasks, kept | {"P": np.array([0])})
    assert [t.name for t in filtered] == ["P", "A", "C"]  # B kept nothing, C was not filtered
    assert filtered[0] is tasks[0] and filtered[2] is tasks[3]  # the primary keeps all its data
    assert filtered[1].train["text_a"] == [tasks[1].train["text_a"][i] for i in (0, 3)]
    # filtered data gets its own run key through its content hash
    exp = Experiment("smoke")
    assert exp.task_key(filtered[1]) != exp.task_key(tasks[1])
    assert exp.task_key(filtered[1]) == exp.task_key(filter_tasks(tasks, kept)[1])  # content, not identity


# ----------------------------------------------------------------------------- importance on tiny BERT

@pytest.fixture(scope="module")
def toy():
    return synthetic_task("toy", n_train=48, n_select=16, n_report=16)


def test_michels_weighting_divides_the_sum_by_all_tokens_and_per_example_is_named():
    grads = np.array([[[1.0, 3.0]], [[2.0, 0.0]]])  # (2 examples, 1 layer, 2 heads)
    tokens = np.array([1.0, 4.0])
    # total: ([1, 3] + [2, 0]) / 5 = [0.6, 0.6] -> L2 row [1, 1]/sqrt2 -> constant -> zeros
    np.testing.assert_allclose(head_importance(grads, tokens), [[0.0, 0.0]])
    # per example: [1, 3] / 1 + [2, 0] / 4 = [1.5, 3] -> min-max [0, 1]
    np.testing.assert_allclose(head_importance(grads, tokens, "per_example"), [[0.0, 1.0]])
    with pytest.raises(ValueError, match="choose one of total, per_example"):
        head_importance(grads, tokens, "mean")


def test_task_matrix_is_stored_and_reused(toy, tmp_path, monkeypatch):
    exp = Experiment("smoke", store=Store(tmp_path), progress=False)
    matrix = task_importance(toy, exp, config=FAST)
    L, H = SMOKE.encoder.tiny_layers, SMOKE.encoder.tiny_heads
    assert matrix.shape == (L, H) and matrix.min() == 0.0 and matrix.max() == 1.0

    def no_compute(*args, **kwargs):
        raise AssertionError("a stored matrix was computed again")

    monkeypatch.setattr(gradts, "_compute_importance", no_compute)
    np.testing.assert_array_equal(task_importance(toy, exp, config=FAST), matrix)
    with pytest.raises(AssertionError, match="computed again"):  # other settings: another matrix
        task_importance(toy, exp, config=replace(FAST, sample_seed=0))
    with pytest.raises(AssertionError, match="computed again"):
        task_importance(toy, exp, config=replace(FAST, token_weighting="per_example"))
    with pytest.raises(AssertionError, match="computed again"):
        task_importance(toy, exp.with_seed(1), config=FAST)


def test_one_finetuning_serves_the_task_and_the_instance_matrices(toy, tmp_path, monkeypatch):
    steps = []
    real_step = gradts.Trainer.step
    monkeypatch.setattr(gradts.Trainer, "step", lambda self, task, batch=None: steps.append(task) or real_step(self, task, batch))
    exp = Experiment("smoke", store=Store(tmp_path), progress=False)
    task_importance(toy, exp, config=FAST)
    after_task_matrix = len(steps)
    instances = task_instance_importance(toy, exp, config=FAST)
    assert after_task_matrix == 6 and len(steps) == 6  # 1 epoch of 48 rows at batch 8, once
    assert instances.dtype == np.float32 and instances.shape[0] == len(toy.train)  # half the memory of float64
    assert ((instances >= 0) & (instances <= 1)).all() and np.isclose(instances.max(axis=(1, 2)), 1).any()
    assert len(list((tmp_path / "finetuned").glob("*.safetensors"))) == 1
    memo = Experiment("smoke", progress=False)  # without a store: kept in the context
    task_instance_importance(toy, memo, config=FAST)
    task_importance(toy, memo, config=FAST)
    assert len(steps) == 12


def test_finetuning_runs_its_epochs_unless_the_step_cap_comes_first(toy):
    # 48 rows at batch 8: 6 steps an epoch
    assert gradts.warmup_steps(toy, SMOKE, ImportanceConfig(warmup_epochs=2)) == 12
    assert gradts.warmup_steps(toy, SMOKE, ImportanceConfig(warmup_epochs=2, warmup_max_steps=4)) == 4
    exp = Experiment("smoke", progress=False)
    assert gradts.finetuned(exp, toy, ImportanceConfig(warmup_epochs=2, warmup_max_steps=4)).batches_drawn == {"toy": 4}


def test_importance_settings_come_from_the_profile_unless_overridden():
    cpu = get_profile("cpu")
    assert gradts.importance_config("cpu") == cpu.importance and cpu.importance.warmup_max_steps == 150
    config = gradts.importance_config("cpu", warmup_epochs=1.0, sample_fraction=None)
    assert config == replace(cpu.importance, warmup_epochs=1.0)
    assert cpu.importance.token_weighting == "total"  # Michel et al.'s


def test_retuning_the_run_budget_keeps_stored_matrices_and_report_is_no_part_of_the_key(toy):
    spec = gradts.importance_spec(Experiment(SMOKE), toy, FAST)
    budget = override(SMOKE, ["train.max_steps=99", "train.eval_every=3", "train.patience=2"])
    assert gradts.importance_spec(Experiment(budget), toy, FAST) == spec  # the fine-tuning length is FAST's
    assert gradts.importance_spec(Experiment(override(SMOKE, ["train.lr=1.0"])), toy, FAST) != spec
    other_report = replace(toy, report=toy.report.select(range(3)), select=toy.select.select(range(3)))
    assert gradts.importance_spec(Experiment(SMOKE), other_report, FAST) == spec  # it reads train only


def test_ungateable_encoder_is_refused_before_training(toy, monkeypatch):
    from aux_select.model.encoders import EncoderConfig
    bilstm = replace(SMOKE, encoder=EncoderConfig(name="bilstm", embeddings="random", lstm_hidden=8))
    monkeypatch.setattr(gradts.Trainer, "step", lambda *a: pytest.fail("trained before refusing"))
    with pytest.raises(ValueError, match="BiLSTMEncoder.*BERT, RoBERTa, ELECTRA, MiniLM"):
        task_importance(toy, profile=bilstm, config=FAST, progress=False)


def test_instance_matrices_cover_the_train_split(toy, tmp_path):
    matrices = task_instance_importance(toy, profile="smoke", store=Store(tmp_path), config=FAST, progress=False)
    assert matrices.shape == (48, SMOKE.encoder.tiny_layers, SMOKE.encoder.tiny_heads)
    assert np.allclose(matrices.max(axis=(1, 2)), 1.0) and np.allclose(matrices.min(axis=(1, 2)), 0.0)
    assert len(list((tmp_path / "instance_importance").glob("*.npy"))) == 1


def test_adding_a_task_computes_only_its_matrix(fixture_data_dir, tmp_path, monkeypatch):
    computed = []
    compute = gradts._compute_importance

    def counting(exp, task, config):
        computed.append(task.name)
        return compute(exp, task, config)

    monkeypatch.setattr(gradts, "_compute_importance", counting)
    exp = Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path), progress=False)
    config = gradts.importance_config("smoke", warmup_epochs=1)
    first = importance_matrices(["WNLI", "RTE"], exp, config=config)
    more = importance_matrices(["WNLI", "RTE", "MRPC"], exp, config=config)
    assert computed == ["WNLI", "RTE", "MRPC"]
    np.testing.assert_array_equal(first["RTE"], more["RTE"])
    taus = gradts.mean_tau_matrix(["WNLI", "RTE"], [0, 1], exp, config=config)  # seed 1's matrices are new
    assert computed[3:] == ["WNLI", "RTE"] and taus.loc["RTE", "RTE"] == pytest.approx(1.0)


@pytest.mark.slow
def test_gradts_and_heuristics_end_to_end(fixture_data_dir, tmp_path):
    profile = override("smoke", ["importance.warmup_epochs=1", "importance.sample_fraction=0.25",
                                 "gradts.threshold=-1.0", "gradts.fg_threshold=-1.0"])
    exp = Experiment(profile, data_dir=fixture_data_dir, store=Store(tmp_path), progress=False)
    trial = select_by_trials("WNLI", ["RTE", "MRPC"], exp)
    assert [t for t, _ in trial.order] in (["RTE", "MRPC"], ["MRPC", "RTE"])
    assert trial.trials and trial.run.tasks[0] == "WNLI" and set(trial.run.tasks[1:]) == set(trial.selected)
    thres = select_by_threshold("WNLI", ["RTE", "MRPC"], exp)
    assert thres.selected == [t for t, _ in thres.order] and thres.order == trial.order
    fg = filter_by_instances("WNLI", trial, exp)
    assert set(fg.kept_fraction) == set(fg.instance_taus) == set(trial.selected)  # tau >= -1 keeps every
    assert all(f > 0.9 for f in fg.kept_fraction.values())                        # constant-free row
    assert all(len(fg.instance_taus[t]) == len(exp.task(t).train) for t in trial.selected)
    heu = heuristic_search("size", "WNLI", ["RTE", "MRPC"], exp)
    assert [t for t, _ in heu.order] == ["MRPC", "RTE"] and heu.trials[0].tasks == ["MRPC"]
    assert len(heu.trials) == (2 if heu.selected else 1)  # the greedy stops at the first drop
    assert heuristic_search("type", "WNLI", ["MRPC", "RTE"], exp).order[0][0] == "RTE"
    gaps = [gap for _, gap in heuristic_search("len", "WNLI", ["RTE", "MRPC"], exp).order]
    assert gaps == sorted(gaps)  # closest average length first


def test_a_set_is_one_run_whatever_order_the_search_added_it_in(fixture_data_dir, tmp_path):
    from aux_select.methods.greedy import MTLScorer
    exp = Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path), progress=False)
    first = MTLScorer(exp, ["WNLI", "RTE", "MRPC"]).run(["MRPC", "RTE"])
    again = MTLScorer(exp, ["WNLI", "MRPC", "RTE"]).run(["RTE", "MRPC"])
    assert first.tasks == again.tasks == ["WNLI", "MRPC", "RTE"]  # one mix: auxiliaries by name
    assert len(list((tmp_path / "run").glob("*.json"))) == 1
    with pytest.raises(ValueError, match="not in this scorer's pool"):
        MTLScorer(exp, ["WNLI", "RTE", "MRPC"]).run(["CoLA"])


def test_a_greedy_trial_that_trails_the_kept_set_stops_early_and_is_dropped(monkeypatch, tmp_path):
    from aux_select.experiment.profiles import override
    from aux_select.methods.greedy import MTLScorer
    from fakes import fake_experiment
    scores = {("WNLI",): 0.6, ("WNLI", "MRPC"): 0.7, ("WNLI", "MRPC", "RTE"): 0.3}
    profile = override("smoke", ["train.eval_every=3", "search_stop.enabled=true"])
    exp, calls = fake_experiment(monkeypatch, ["WNLI", "MRPC", "RTE"], lambda names, ratio: scores[tuple(names)],
                                 profile=profile, store=Store(tmp_path))
    scorer = MTLScorer(exp, ["WNLI", "MRPC", "RTE"])
    selected, tried = greedy_prefix(["MRPC", "RTE"], scorer)
    trials = scorer.trials(tried)
    assert selected == ["MRPC"] and [t.tasks for t in trials] == [["MRPC"], ["MRPC", "RTE"]]
    assert trials[0].finished and trials[0].reference == []  # against the primary alone, and it did not trail
    assert trials[1].stopped_at == 6 and trials[1].reference == ["MRPC"]  # a third of 12 steps, then behind
    assert trials[1].select_score < trials[0].select_score and math.isnan(trials[1].report_score)
    n = len(calls)
    assert scorer.run(["MRPC", "RTE"], ["MRPC"]).stopped_at == 6 and len(calls) == n  # read back as stopped
    assert scorer.run(["MRPC", "RTE"]).stopped_at is None and len(calls) == n + 1  # the full run is another


def test_instance_taus_and_normalisation_match_the_per_row_loop_value_for_value():
    rng = np.random.default_rng(0)
    primary = rng.integers(0, 5, size=(6, 12)).astype(float)  # ties, as real matrices have after min-max
    rows = rng.integers(0, 4, size=(700, 6, 12)).astype(float)
    rows[3] = 1.0              # constant: tau undefined
    rows[5, 0, 0] = np.nan
    taus = instance_taus(primary, rows, chunk=256)
    loop = np.array([kendall_tau(primary, m) for m in rows])  # scipy's tau-b, one row at a time
    assert np.array_equal(taus, loop, equal_nan=True) and np.isnan(taus[[3, 5]]).all()
    assert np.isnan(instance_taus(np.ones((6, 12)), rows[:4])).all()
    grads = rng.random((50, 6, 12)) * (rng.random((50, 6, 1)) > 0.2)  # some all-zero layers
    grads[7] = 0.0
    assert np.array_equal(instance_importance(grads), np.stack([normalise(g) for g in grads]))
