"""Reproduce the comparison across primaries: notebook 06 headless per primary, then the tables.

    python -m aux_select.reproduce --primaries RTE MRPC --seeds 0 1 2 --profile cpu
    python -m aux_select.reproduce --primaries MRPC --seeds 0 1 2 --controls   # notebook 09 instead

With --controls each primary runs the control-task benchmark (notebook 09, controls_<primary>.json)
instead of the comparison; everything else below holds for both.

For each primary, `notebooks/06_compare.ipynb` runs through papermill, with a progress bar over
its cells; its executed copy lands in <out>/notebooks/ and is saved as it runs (papermill saves a
long cell's output every 30 s), so the runs started so far can be read there. It runs in the
checkout with folders relative to it, so it names no folder of the machine that ran it, and when
it ends each progress bar in it is left as its last frame (`readable_bars`). A primary whose
summary already covers the asked methods and seeds is skipped. Every run inside goes through the
store, so an interrupted reproduction loses at most the run in progress: start the same command
again. Then the aggregate tables (markdown + CSV) and figures are written from every requested
primary's summary, primaries in GLUE order.
"""
from __future__ import annotations

import argparse
import html
import json
import os
from pathlib import Path
from typing import Sequence

import pandas as pd
from tqdm.auto import tqdm

from aux_select.analysis.controls import ControlBenchmark
from aux_select.analysis.report import markdown, results_markdown
from aux_select.analysis.statistics import bootstrap_gains
from aux_select.analysis.tables import comparison_table, cost_table, selection_matrix
from aux_select.data.registry import task_names
from aux_select.experiment.context import output_dirs
from aux_select.experiment.profiles import override
from aux_select.methods.registry import method_names
from aux_select.methods.run import Comparison
from aux_select.plots.comparison import plot_controls, plot_gains, plot_selection_matrix
from aux_select.plots.saving import save
from aux_select.runtime.store import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]  # the checkout
NOTEBOOKS = ROOT / "notebooks"
COMPARE, CONTROLS = "06_compare", "09_control_tasks"  # the notebook per primary, without or with --controls


def summary_path(out_dir: Path, primary: str, controls: bool = False) -> Path:
    return out_dir / f"{'controls' if controls else 'compare'}_{primary}.json"


def is_done(out_dir: Path, primary: str, methods: Sequence[str], seeds: Sequence[int], profile: str,
            controls: bool = False) -> bool:
    """True if the primary's summary, made with this profile (label) and this code's schema,
    already holds every asked (method, seed) (a control benchmark: and its ground truth at every
    asked seed); a summary of other settings or older code is not."""
    path = summary_path(out_dir, primary, controls)
    if not path.exists():
        return False
    summary = json.loads(path.read_text())
    settings = summary.get("settings", {})
    if settings.get("profile") != profile or settings.get("schema") != SCHEMA_VERSION:
        return False
    if controls and not set(seeds) <= set(summary["seeds"]):
        return False
    have = {(r["method"], r["seed"]) for r in (summary["comparison"] if controls else summary)["results"]}
    return all((m, s) in have for m in methods for s in seeds)


def run_primary(primary: str, *, methods: Sequence[str], seeds: Sequence[int], profile: str,
                settings: Sequence[str], data_dir: str | None, out_dir: Path, figures_dir: Path,
                store_dir: Path, controls: bool = False, executor: str = "serial") -> Path:
    """Notebook 06 (controls: 09) for one primary, headless; returns the executed notebook's path."""
    import papermill  # only here: the aggregation below works without it
    name = CONTROLS if controls else COMPARE
    notebook = NOTEBOOKS / f"{name}.ipynb"
    if not notebook.exists():
        raise FileNotFoundError(f"{notebook} not found; run reproduce from a checkout of aux_select "
                                "(pip install -e .), which has the notebooks/ folder")
    executed = out_dir / "notebooks" / f"{name}_{primary}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), cwd=str(ROOT), progress_bar=True,
            parameters={"primary": primary, "methods": list(methods), "seeds": list(seeds), "profile": profile,
                        "settings": list(settings), "executor": executor, "data_dir": data_dir and relative(data_dir),
                        "out_dir": relative(out_dir), "figures_dir": relative(figures_dir),
                        "store_dir": relative(store_dir)})
    finally:  # a notebook stopped by an error is read too
        if executed.exists():
            readable_bars(executed)
            relative_notebook_paths(executed)
    return executed


def relative(path: str | os.PathLike) -> str:
    """`path` relative to the checkout, where the notebooks run (e.g. results/cpu)."""
    return os.path.relpath(Path(path).resolve(), ROOT)


def relative_notebook_paths(path: Path) -> None:
    """papermill's record of the notebook it ran and the one it wrote, relative to the checkout,
    as the parameters are: an executed notebook names no folder of the machine that ran it."""
    nb = json.loads(path.read_text())
    record = nb["metadata"].get("papermill", {})
    for name in ("input_path", "output_path"):
        if record.get(name):
            record[name] = relative(record[name])
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


def aggregate(primaries: Sequence[str], out_dir: Path, figures_dir: Path, profile: str = "cpu") -> dict[str, Path]:
    """The tables (markdown and CSV), figures and RESULTS.md over every primary with a summary,
    primaries in registry (GLUE) order whatever order they were named in, so one set of results
    gives one table; the control benchmarks (controls_<primary>.json) of those primaries that
    have one go into RESULTS.md too, each with its figure."""
    known = task_names()
    primaries = sorted(dict.fromkeys(primaries), key=lambda p: known.index(p) if p in known else len(known))
    comparisons = [Comparison.from_json(json.loads(summary_path(out_dir, p).read_text()))
                   for p in primaries if summary_path(out_dir, p).exists()]
    if not comparisons:
        raise FileNotFoundError(f"no compare_<primary>.json under {out_dir}; run the primaries first")
    results = [r for c in comparisons for r in c.results]
    tables = {"comparison": comparison_table(results), "gains": bootstrap_gains(results),
              "cost": cost_table(comparisons)}
    matrices = selection_matrix(results)
    tables["selection"] = pd.concat(matrices, names=["method", "primary"]) if matrices else pd.DataFrame()
    written = {}
    summary_dir = out_dir / "summary"
    summary_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        index = name in ("comparison", "selection")
        table.to_csv(summary_dir / f"{name}.csv", index=index)
        (summary_dir / f"{name}.md").write_text(markdown(table, index) + "\n")
        written[name] = summary_dir / f"{name}.md"
    if len(tables["gains"]):
        written["gains figure"] = save(plot_gains(tables["gains"]), figures_dir / "06_gains.png")
    if matrices:
        written["selection figure"] = save(plot_selection_matrix(matrices), figures_dir / "06_selection_matrix.png")
    benches = [ControlBenchmark.from_json(json.loads(summary_path(out_dir, p, controls=True).read_text()))
               for p in primaries if summary_path(out_dir, p, controls=True).exists()]
    for bench in benches:
        written[f"{bench.primary} controls figure"] = save(plot_controls(bench.truth_table(), bench.table(), bench.primary),
                                                           figures_dir / f"09_{bench.primary}_controls.png")
    command = f"python -m aux_select.reproduce --primaries {' '.join(primaries)} --profile {profile} --aggregate-only"
    results_md = out_dir / "RESULTS.md"
    results_md.write_text(results_markdown(comparisons, tables, out_dir, figures_dir, command, benches=benches))
    written["results"] = results_md
    return written


def parser() -> argparse.ArgumentParser:
    """The command line (methods: every registered one, at the time it is built)."""
    parser = argparse.ArgumentParser(prog="python -m aux_select.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primaries", nargs="+", required=True, help="primary tasks, e.g. RTE MRPC CoLA WNLI")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds (default: 0)")
    parser.add_argument("--methods", nargs="+", default=method_names(), choices=method_names(), metavar="METHOD",
                        help=f"methods (default: every registered one: {', '.join(method_names())})")
    parser.add_argument("--profile", default="cpu", help="smoke | cpu | paper (default: cpu)")
    parser.add_argument("--set", dest="settings", nargs="+", default=[], metavar="NAME=VALUE",
                        help="profile settings to change, e.g. gradts.threshold=0.5 train.lr=5e-5 "
                             "(summaries then go to results/<profile>+<hash>; runs share the store)")
    parser.add_argument("--data-dir", default=None, help="GLUE folder (default: AUX_SELECT_DATA, then the hub)")
    parser.add_argument("--out-dir", default=None, help="summaries and tables (default: results/<profile>)")
    parser.add_argument("--figures-dir", default=None, help="figures (default: figures/<profile>)")
    parser.add_argument("--store-dir", default=None, help="stored runs (default: AUX_SELECT_STORE, then results/<profile>/store)")
    parser.add_argument("--controls", action="store_true",
                        help="run the control-task benchmark (notebook 09) per primary instead of the comparison")
    parser.add_argument("--aggregate-only", action="store_true", help="only write the tables from existing summaries")
    parser.add_argument("--executor", default="serial",
                        help="where the (primary, seed) pipelines run before the notebooks read them back: serial "
                             "(default), local:N (N worker processes) or a Dask scheduler address tcp://host:8786; "
                             "with --controls, where notebook 09 sends its independent runs")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    profile = override(args.profile, args.settings)  # unknown settings stop here, before anything runs
    out_dir, figures_dir, store = output_dirs(profile, args.out_dir, args.figures_dir, args.store_dir)
    out_dir, figures_dir = out_dir.resolve(), figures_dir.resolve()

    if not args.aggregate_only:
        todo = [p for p in args.primaries
                if not is_done(out_dir, p, args.methods, args.seeds, profile.label, args.controls)]
        for primary in set(args.primaries) - set(todo):
            print(f"{primary}: every method and seed already in {summary_path(out_dir, primary, args.controls)}; skipped")
        if args.executor != "serial" and todo and not args.controls:  # the pipelines side by side into the store first
            from aux_select.methods.run import run_pipelines
            run_pipelines(args.executor, todo, args.seeds, args.methods, profile, args.data_dir, store)
        for primary in tqdm(todo, desc="primaries"):
            executed = run_primary(primary, methods=args.methods, seeds=args.seeds, profile=profile.name,
                                   settings=args.settings, data_dir=args.data_dir, out_dir=out_dir, figures_dir=figures_dir,
                                   store_dir=store.root.resolve(), controls=args.controls,
                                   executor=args.executor if args.controls else "serial")
            print(f"{primary}: done ({executed})")
    if not any(summary_path(out_dir, p).exists() for p in args.primaries) and args.controls:
        print(f"the control benchmarks are in {out_dir}; RESULTS.md, which shows them, needs the primaries' "
              f"comparison too: run the same command without --controls")
        return
    for name, path in aggregate(args.primaries, out_dir, figures_dir, profile.label).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
