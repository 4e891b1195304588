"""Every notebook, executed headless by papermill in the smoke profile."""
import json
from pathlib import Path

import papermill
import pytest

from aux_select.profiles import get_profile

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, tmp_path: Path, **parameters) -> Path:
    out_dir, figures = tmp_path / "out", tmp_path / "figures"
    papermill.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / name), progress_bar=False,
                               parameters={"profile": "smoke", "out_dir": str(out_dir),
                                           "figures_dir": str(figures), **parameters})
    return tmp_path


@pytest.mark.slow
@pytest.mark.data
def test_01_tasks_and_data(data_dir, tmp_path):
    run_notebook("01_tasks_and_data.ipynb", tmp_path, data_dir=str(data_dir))
    summary = json.loads((tmp_path / "out" / "tasks_and_data.json").read_text())
    rows = {r["task"]: r for r in summary["table7"]}
    assert rows["RTE"]["train rows"] == 2490 and rows["MNLI-proxy"]["notes"].startswith("PROXY for MNLI")
    for figure in ("01_length_distribution.png", "01_label_distribution.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.data
def test_02_bandit_selection(data_dir, tmp_path):
    run_notebook("02_bandit_selection.ipynb", tmp_path, primary="RTE", data_dir=str(data_dir),
                 store_dir=str(tmp_path / "store"))
    summary = json.loads((tmp_path / "out" / "bandit_selection_RTE.json").read_text())
    assert {"primary", "selected", "utilities", "alpha", "beta", "rounds", "trajectory", "autosem_p1"} <= set(summary)
    assert summary["primary"] == "RTE" and "RTE" not in summary["selected"] and len(summary["selected"]) >= 2
    assert set(summary["utilities"]) == set(summary["alpha"]) == {"RTE", *summary["candidates"]}
    assert summary["rounds"] == len(summary["trajectory"]) == get_profile("smoke").bandit_rounds
    assert summary["autosem_p1"]["tasks"] == ["RTE", *summary["selected"]]
    for figure in ("02_RTE_posteriors.png", "02_RTE_utilities.png", "02_RTE_pulls.png"):
        assert (tmp_path / "figures" / figure).stat().st_size > 10_000
    assert len(list((tmp_path / "store" / "stage1").glob("*.json"))) == 1


def test_every_notebook_has_a_tagged_parameters_cell():
    import nbformat
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert "profile" in tagged[0].source and "out_dir" in tagged[0].source, path.name
        assert not any("class " in c.source for c in nb.cells if c.cell_type == "code"), path.name
