"""The budget study reads select only; its rule picks the rate and the fewest steps within one
select standard error of the best."""
import pytest

from aux_select.analysis.budget import budget_study, choose_budget, study_experiment
from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import get_profile, override
from aux_select.runtime.store import Store


def curve(primary, lr, scores, se=0.01, every=100):
    return [{"primary": primary, "lr": lr, "step": every * (i + 1), "select_score": s, "select_se": se}
            for i, s in enumerate(scores)]


def test_rule_takes_the_best_mean_rate_and_the_fewest_steps_within_one_standard_error():
    curves = (curve("A", 1e-4, [0.60, 0.70, 0.72, 0.73]) + curve("A", 3e-5, [0.50, 0.60, 0.65, 0.70]) +
              curve("B", 1e-4, [0.20, 0.40, 0.41, 0.40], se=0.02) + curve("B", 3e-5, [0.10, 0.30, 0.35, 0.45]))
    choice = choose_budget(curves)
    assert choice["lr"] == 3e-5  # mean best (0.70 + 0.45) / 2 beats 1e-4's (0.73 + 0.41) / 2
    assert choice["primary_steps"] == {"A": 400, "B": 400}
    choice = choose_budget(curves, max_steps=300)  # a compute cap: only steps up to 300 count
    assert choice["lr"] == 1e-4  # (0.72 + 0.41) / 2 > (0.65 + 0.35) / 2
    # A: 0.70 at 200 is below 0.72 - 0.01; B: 0.40 at 200 is within 0.41 - 0.02
    assert choice["primary_steps"] == {"A": 300, "B": 200}
    with pytest.raises(ValueError, match="no select evaluations"):
        choose_budget([])


def test_a_tie_goes_to_the_smaller_rate_and_the_earlier_step():
    curves = curve("A", 1e-4, [0.5, 0.8, 0.8]) + curve("A", 3e-5, [0.8, 0.8, 0.8], se=0.0)
    assert choose_budget(curves)["lr"] == 3e-5
    assert choose_budget(curves)["best"]["A"][0] == 100


def test_the_study_reads_no_report_label(fixture_data_dir, tmp_path):
    """Flipping every report label of both primaries (a class, a similarity score) changes the
    report scores and nothing the study chooses."""
    def study(flip: bool):
        exp = Experiment("smoke", data_dir=fixture_data_dir, store=Store(tmp_path / str(flip)), progress=False)
        if flip:
            for name, flipped in (("MRPC", lambda row: {"label": 1 - row["label"]}),
                                  ("STS-B", lambda row: {"label": 5.0 - row["label"]})):
                task = exp.task(name)
                exp.use_task(type(task)(**{**task.__dict__, "report": task.report.map(flipped)}))
        return budget_study(["MRPC", "STS-B"], lrs=[1e-3, 3e-3], max_steps=8, eval_every=4, exp=exp), exp

    (plain, plain_exp), (flipped, flipped_exp) = study(False), study(True)
    assert plain.curves == flipped.curves and plain.choice == flipped.choice
    assert len(plain.curves) == 2 * 2 * 2 and {r["step"] for r in plain.curves} == {4, 8}
    # the runs (read back) did score the flipped labels: a binary accuracy becomes 1 - accuracy
    reports = [study_experiment(e, 1e-3, 8, 4).run(["MRPC"], [1]).report["accuracy"] for e in (plain_exp, flipped_exp)]
    assert reports[1] == pytest.approx(1 - reports[0])


def test_a_decaying_schedule_is_refused(fixture_data_dir):
    exp = Experiment(override(get_profile("smoke"), ["train.lr_schedule=linear"]), data_dir=fixture_data_dir,
                     progress=False)
    with pytest.raises(ValueError, match="constant_with_warmup"):
        budget_study(["MRPC"], lrs=[1e-3], max_steps=4, eval_every=2, exp=exp)
