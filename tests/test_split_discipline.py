"""Report data decides nothing: flipping every report label of the primary changes no
selection, no ratio and no select score of any registered method."""
import pytest

from aux_select.methods.registry import method_names
from aux_select.methods.run import run_methods
from aux_select.experiment.context import Experiment
from aux_select.runtime.store import Store

POOL = ["WNLI", "MRPC", "CoLA"]


@pytest.mark.slow
def test_flipping_the_primarys_report_labels_changes_no_selection(fixture_data_dir, tmp_path):
    def comparison(store_dir, flip: bool):
        exp = Experiment("smoke", data_dir=fixture_data_dir, store=Store(store_dir), progress=False)
        if flip:
            rte = exp.task("RTE")
            flipped = rte.report.map(lambda row: {"label": 1 - row["label"]})
            assert flipped["label"] != rte.report["label"]
            exp.use_task(type(rte)(**{**rte.__dict__, "report": flipped}))
        return run_methods("RTE", candidates=POOL, exp=exp)

    plain, flipped = comparison(tmp_path / "plain", False), comparison(tmp_path / "flipped", True)
    assert [r.method for r in plain.results] == [r.method for r in flipped.results] == method_names()
    for a, b in zip(plain.results, flipped.results):
        decided = lambda r: (r.selected, r.ratio, r.fractions, r.select_score, r.details, r.ranking)  # noqa: E731
        assert decided(a) == decided(b), a.method
    # and the report numbers did see the flip: a binary task's accuracy becomes 1 - accuracy
    single = [r for r in plain.results if r.method == "Single-Task"][0]
    single_flipped = [r for r in flipped.results if r.method == "Single-Task"][0]
    assert single_flipped.report["accuracy"] == pytest.approx(1 - single.report["accuracy"])
