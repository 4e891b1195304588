"""Executed notebooks a person can read: a progress bar only for work done (none for a result read
back from the store, none for transformers' weight loading), each bar left as its last frame,
and no folder of the machine that ran them in the parameters."""
import os
import re
from pathlib import Path

import nbformat
import pytest

from aux_select import reproduce
from aux_select.reproduce import notebooks
from aux_select.model.encoders import EncoderConfig, build_encoder

ROOT = Path(__file__).resolve().parents[1]
BAR = re.compile(r"\d+%\|")  # tqdm's frame: "MTL RTE:   0%|          | 0/150 [...]"


def output_texts(nb) -> list[str]:
    """Every line a reader sees under the cells: streams and the plain text of the other outputs."""
    texts = [o.get("text") or o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])]
    return [line for text in texts for line in "".join(text).splitlines()]


def widgets(nb) -> list:
    """The outputs that are widgets (here, tqdm's bars)."""
    return [o for c in nb.cells for o in c.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]


def test_loading_a_pretrained_encoder_draws_no_bar(capfd):
    from transformers.utils import logging
    build_encoder(EncoderConfig("minilm"), vocab_size=0)
    assert "Loading weights" not in capfd.readouterr().err
    assert logging.is_progress_bar_enabled()  # the switch is back as it was


@pytest.mark.slow
def test_reproduce_leaves_readable_notebooks(fixture_data_dir, tmp_path, monkeypatch):
    store, methods = tmp_path / "store", ["Single-Task", "AutoSeM", "GradTS-fg"]
    folders = lambda out: dict(out_dir=tmp_path / out, figures_dir=tmp_path / out / "figures", store_dir=store)  # noqa: E731
    # the notebook alone, on an empty store: it trains every run, and its bars are left as their last frames
    first = nbformat.read(reproduce.execute_notebook(
        "RTE", notebooks=ROOT / "notebooks", methods=methods, seeds=[0], profile="smoke", settings=[],
        data_dir=str(fixture_data_dir), **folders("first")), as_version=4)
    monkeypatch.setattr(notebooks, "readable_bars", lambda path: None)  # the next one's outputs as drawn
    # reproduce --notebooks: the library writes the summary (all read back), then the notebook reads it too
    reproduce.main(["--primaries", "RTE", "--methods", *methods, "--profile", "smoke", "--notebooks",
                    "--data-dir", str(fixture_data_dir), "--out-dir", str(tmp_path / "again"),
                    "--figures-dir", str(tmp_path / "again" / "figures"), "--store-dir", str(store)])
    again = nbformat.read(tmp_path / "again" / "notebooks" / "06_compare_RTE.ipynb", as_version=4)
    for nb in first, again:
        injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        values = nb.metadata.papermill.parameters
        assert values["data_dir"] == "tests/fixtures/data"
        assert values["store_dir"] == os.path.relpath(store, ROOT)
        assert not any(isinstance(v, str) and Path(v).is_absolute() for v in values.values()), injected.source
        assert nb.metadata.papermill.input_path == "notebooks/06_compare.ipynb"
        assert not Path(nb.metadata.papermill.output_path).is_absolute()
        assert str(ROOT) not in injected.source  # tmp_path, outside the checkout, is ../..
        bars = [line for line in output_texts(nb) if BAR.search(line)]
        assert all("100%|" in line for line in bars), bars  # a bar that stays shows how it ended
    assert "FloatProgressModel" in str(first.metadata.widgets) and widgets(first) == []  # it had bars, now text
    assert widgets(again) == [] and [line for line in output_texts(again) if BAR.search(line)] == []


def test_committed_executed_notebooks_name_no_folder_of_the_machine_that_ran_them():
    executed = sorted((ROOT / "results").glob("*/notebooks/*.ipynb"))
    assert executed, "the committed results hold executed notebooks"
    for path in executed:
        record = nbformat.read(path, as_version=4).metadata.papermill
        paths = [record.input_path, record.output_path, *record.parameters.values()]
        assert not any(isinstance(v, str) and Path(v).is_absolute() for v in paths), path.name
