"""Executing a notebook per primary (`reproduce --notebooks`): notebook 06 (with --controls 09,
with --transfer 10) through papermill, reading back what `reproduce` has just stored. Its executed copy lands in
<out>/notebooks/; it runs in the checkout with folders relative to it, so it names no folder of
the machine that ran it, and each progress bar in it is left as its last frame (`readable_bars`)."""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Sequence

from aux_select.reproduce.summaries import COMPARE, CONTROLS, TRANSFER

NOTEBOOKS = {COMPARE: "06_compare", CONTROLS: "09_control_tasks", TRANSFER: "10_transfer"}  # per summary kind


def notebooks_folder(folder: str | os.PathLike | None = None) -> Path:
    """`folder`, else the notebooks/ of the checkout this package runs from, else ./notebooks;
    FileNotFoundError naming the fix when it is not there."""
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    found = Path(folder) if folder else checkout if checkout.is_dir() else Path.cwd() / "notebooks"
    if not (found / f"{NOTEBOOKS[COMPARE]}.ipynb").is_file():
        raise FileNotFoundError(f"no {NOTEBOOKS[COMPARE]}.ipynb in {found}: --notebooks needs the notebooks/ folder of a "
                                "checkout of aux_select (git clone ...), or its path: --notebooks PATH")
    return found.resolve()


def execute_notebook(primary: str, *, notebooks: Path, methods: Sequence[str], seeds: Sequence[int], profile: str,
                     settings: Sequence[str], data_dir: str | None, out_dir: Path, figures_dir: Path, store_dir: Path,
                     kind: str = COMPARE, primaries: Sequence[str] = ()) -> Path:
    """Notebook 06 (controls: 09; transfer: 10, its matrix over `primaries`) for one primary,
    headless, in the folder above `notebooks`; returns the executed notebook's path."""
    import papermill  # only here: the rest of reproduce works without it
    name, root = NOTEBOOKS[kind], notebooks.parent
    executed = out_dir / "notebooks" / f"{name}_{primary}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    relative = lambda path: os.path.relpath(Path(path).resolve(), root)  # noqa: E731
    try:
        papermill.execute_notebook(
            str(notebooks / f"{name}.ipynb"), str(executed), cwd=str(root), progress_bar=True,
            parameters={"primary": primary, "methods": list(methods), "seeds": list(seeds), "profile": profile,
                        "settings": list(settings), "data_dir": data_dir and relative(data_dir),
                        "out_dir": relative(out_dir), "figures_dir": relative(figures_dir),
                        "store_dir": relative(store_dir), **({"primaries": list(primaries)} if primaries else {})})
    finally:  # a notebook stopped by an error is read too
        if executed.exists():
            readable_bars(executed)
            relative_notebook_paths(executed, root)
    return executed


def relative_notebook_paths(path: Path, root: Path) -> None:
    """papermill's record of the notebook it ran and the one it wrote, relative to `root`, as the
    parameters are: an executed notebook names no folder of the machine that ran it."""
    nb = json.loads(path.read_text())
    record = nb["metadata"].get("papermill", {})
    for name in ("input_path", "output_path"):
        if record.get(name):
            record[name] = os.path.relpath(Path(record[name]).resolve(), root)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def readable_bars(path: Path) -> None:
    """Each tqdm bar of an executed notebook as it ended. A bar in a notebook is a widget, whose
    saved output is its first frame ("MTL RTE:   0%|          | 0/150"); how it ended is in the
    saved widget state, which JupyterLab does not draw. So a bar that closed itself at the end of
    its step (leave=False) goes, and one that stayed becomes the text of its last frame."""
    nb = json.loads(path.read_text())
    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})

    def model(ref: str) -> dict:  # a widget's state by its model id or its "IPY_MODEL_<id>" reference
        return state.get(ref.removeprefix("IPY_MODEL_"), {}).get("state", {})

    def last_frame(output: dict) -> dict | None:
        view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
        parts = [model(ref) for ref in model(view["model_id"]).get("children", [])] if view else []
        if [p.get("_model_name") for p in parts] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
            return output  # not a tqdm bar
        if model(model(view["model_id"])["layout"]).get("visibility") == "hidden":
            return None
        left, bar, right = parts
        filled = round(10 * bar["value"] / bar["max"]) if bar["max"] else 0
        text = html.unescape(f"{left['value']}|{'█' * filled:<10}|{right['value']}").replace("\u2007", " ")
        return {"output_type": "stream", "name": "stdout", "text": text + "\n"}

    for cell in nb["cells"]:
        if "outputs" in cell:
            cell["outputs"] = [o for o in map(last_frame, cell["outputs"]) if o is not None]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
