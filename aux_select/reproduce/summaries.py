"""What `reproduce` writes per primary (the summary and its figures) and over all of them (the
tables, figures and RESULTS.md)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from aux_select.analysis.controls import ControlBenchmark, run_control_benchmark
from aux_select.analysis.report import markdown, results_markdown
from aux_select.analysis.tables import comparison_table, cost_table, selection_matrix
from aux_select.analysis.transfer import TransferRow, run_transfer, selector_scores, transfer_table
from aux_select.analysis.verdicts import power_table, seed_verdicts
from aux_select.data.registry import task_names
from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import Profile
from aux_select.methods.run import Comparison, run_methods, save_comparison
from aux_select.methods.selectors import selector_names
from aux_select.plots.comparison import plot_budget, plot_controls, plot_gains, plot_selection_matrix
from aux_select.plots.saving import save
from aux_select.plots.transfer import plot_selector_cost, plot_transfer
from aux_select.runtime.store import SCHEMA_VERSION, Store


def _save(fig: plt.Figure, path: Path) -> Path:
    """`plots.save`, then the figure closed: a command line shows none, and a long run keeps none open."""
    written = save(fig, path)
    plt.close(fig)
    return written


COMPARE, CONTROLS, TRANSFER = "compare", "controls", "transfer"  # what a summary holds: its file's prefix


def summary_path(out_dir: Path, primary: str, kind: str = COMPARE) -> Path:
    return out_dir / f"{kind}_{primary}.json"


def is_done(out_dir: Path, primary: str, methods: Sequence[str], seeds: Sequence[int], profile: str,
            kind: str = COMPARE) -> bool:
    """True if the primary's summary, made with this profile (label) and this code's schema,
    already holds every asked (method, seed) (a control benchmark: and its ground truth at every
    asked seed; a transfer row: its pairs and every selector at every asked seed); a summary of
    other settings or older code is not."""
    path = summary_path(out_dir, primary, kind)
    if not path.exists():
        return False
    summary = json.loads(path.read_text())
    settings = summary.get("settings", {})
    if settings.get("profile") != profile or settings.get("schema") != SCHEMA_VERSION:
        return False
    if kind != COMPARE and not set(seeds) <= set(summary["seeds"]):
        return False
    if kind == TRANSFER:
        have = {(r["selector"], r["seed"]) for r in summary["rankings"]}
        return all((name, s) in have for name in selector_names() for s in seeds)
    have = {(r["method"], r["seed"]) for r in (summary["comparison"] if kind == CONTROLS else summary)["results"]}
    return all((m, s) in have for m in methods for s in seeds)


def run_primary(primary: str, *, methods: Sequence[str], seeds: Sequence[int], profile: Profile,
                data_dir: str | None, out_dir: Path, figures_dir: Path, store: Store, kind: str = COMPARE,
                executor: Any = "serial") -> Path:
    """Every method for one primary at every seed (controls: the control benchmark; transfer: its
    row of the transfer matrix and every selector), its summary and its figures, as notebook 06
    (09, 10) writes them; returns the summary's path."""
    controls = kind == CONTROLS
    exp = Experiment(profile, data_dir=data_dir, store=store, executor=executor, controls=primary if controls else None)
    path = summary_path(out_dir, primary, kind)
    if kind == TRANSFER:
        return run_transfer(primary, seeds, None, exp).write_json(path)
    if controls:
        bench = run_control_benchmark(primary, methods, seeds, None, exp)
        _save(plot_controls(bench.truth_table(), bench.table(), primary), figures_dir / f"09_{primary}_controls.png")
        return bench.write_json(path)
    comparison = save_comparison(run_methods(primary, methods, seeds, None, exp), path)
    gains = seed_verdicts(comparison.results)
    if len(gains):
        _save(plot_gains(gains), figures_dir / f"06_{primary}_gains.png")
    matrices = selection_matrix(comparison.results)
    if matrices:
        _save(plot_selection_matrix(matrices), figures_dir / f"06_{primary}_selection.png")
    return path


def aggregate(primaries: Sequence[str], out_dir: Path, figures_dir: Path, profile: str = "cpu") -> dict[str, Path]:
    """The tables (markdown and CSV), figures and RESULTS.md over every primary with a summary,
    primaries in registry (GLUE) order whatever order they were named in, so one set of results
    gives one table; the control benchmarks (controls_<primary>.json) and the transfer matrix's
    rows (transfer_<primary>.json) of those primaries that have one go into RESULTS.md too, with their figures."""
    known = task_names()
    primaries = sorted(dict.fromkeys(primaries), key=lambda p: known.index(p) if p in known else len(known))
    comparisons = [Comparison.from_json(json.loads(summary_path(out_dir, p).read_text()))
                   for p in primaries if summary_path(out_dir, p).exists()]
    if not comparisons:
        raise FileNotFoundError(f"no compare_<primary>.json under {out_dir}; run the primaries first")
    results = [r for c in comparisons for r in c.results]
    tables = {"comparison": comparison_table(results), "gains": seed_verdicts(results),
              "power": power_table(results), "cost": cost_table(comparisons)}
    matrices = selection_matrix(results)
    tables["selection"] = pd.concat(matrices, names=["method", "primary"]) if matrices else pd.DataFrame()
    rows = [TransferRow.from_json(json.loads(summary_path(out_dir, p, TRANSFER).read_text()))
            for p in primaries if summary_path(out_dir, p, TRANSFER).exists()]
    if rows:  # the transfer matrix and the selectors scored against it (notebook 10)
        tables["transfer"], tables["selectors"] = transfer_table(rows), selector_scores(rows)
    written = {}
    summary_dir = out_dir / "summary"
    summary_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        index = name in ("comparison", "selection")
        table.to_csv(summary_dir / f"{name}.csv", index=index)
        (summary_dir / f"{name}.md").write_text(markdown(table, index) + "\n")
        written[name] = summary_dir / f"{name}.md"
    if len(tables["gains"]):
        written["gains figure"] = _save(plot_gains(tables["gains"]), figures_dir / "06_gains.png")
    if matrices:
        written["selection figure"] = _save(plot_selection_matrix(matrices), figures_dir / "06_selection_matrix.png")
    benches = [ControlBenchmark.from_json(json.loads(summary_path(out_dir, p, CONTROLS).read_text()))
               for p in primaries if summary_path(out_dir, p, CONTROLS).exists()]
    for bench in benches:
        written[f"{bench.primary} controls figure"] = _save(plot_controls(bench.truth_table(), bench.table(), bench.primary),
                                                           figures_dir / f"09_{bench.primary}_controls.png")
    if rows:
        written["transfer figure"] = _save(plot_transfer(tables["transfer"]), figures_dir / "10_transfer.png")
        written["selectors figure"] = _save(plot_selector_cost(tables["selectors"]), figures_dir / "10_selectors.png")
    if (out_dir / "budget.json").exists():  # the study's curves and choice, drawn again as notebook 00 draws them
        study = json.loads((out_dir / "budget.json").read_text())
        written["budget figure"] = _save(plot_budget(study["curves"], study["choice"]), figures_dir / "00_budget.png")
    command = f"python -m aux_select.reproduce --primaries {' '.join(primaries)} --profile {profile} --aggregate-only"
    results_md = out_dir / "RESULTS.md"
    results_md.write_text(results_markdown(comparisons, tables, out_dir, figures_dir, command, benches=benches))
    written["results"] = results_md
    return written
