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
from aux_select.analysis.verdicts import power_table, seed_verdicts
from aux_select.data.registry import task_names
from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import Profile
from aux_select.methods.run import Comparison, run_methods, save_comparison
from aux_select.plots.comparison import plot_budget, plot_controls, plot_gains, plot_selection_matrix
from aux_select.plots.saving import save
from aux_select.runtime.store import SCHEMA_VERSION, Store


def _save(fig: plt.Figure, path: Path) -> Path:
    """`plots.save`, then the figure closed: a command line shows none, and a long run keeps none open."""
    written = save(fig, path)
    plt.close(fig)
    return written


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


def run_primary(primary: str, *, methods: Sequence[str], seeds: Sequence[int], profile: Profile,
                data_dir: str | None, out_dir: Path, figures_dir: Path, store: Store, controls: bool = False,
                executor: Any = "serial") -> Path:
    """Every method for one primary at every seed (controls: the control benchmark), its summary
    and its figures, as notebook 06 (09) writes them; returns the summary's path."""
    exp = Experiment(profile, data_dir=data_dir, store=store, executor=executor, controls=primary if controls else None)
    path = summary_path(out_dir, primary, controls)
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
    gives one table; the control benchmarks (controls_<primary>.json) of those primaries that
    have one go into RESULTS.md too, each with its figure."""
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
    benches = [ControlBenchmark.from_json(json.loads(summary_path(out_dir, p, controls=True).read_text()))
               for p in primaries if summary_path(out_dir, p, controls=True).exists()]
    for bench in benches:
        written[f"{bench.primary} controls figure"] = _save(plot_controls(bench.truth_table(), bench.table(), bench.primary),
                                                           figures_dir / f"09_{bench.primary}_controls.png")
    if (out_dir / "budget.json").exists():  # the study's curves and choice, drawn again as notebook 00 draws them
        study = json.loads((out_dir / "budget.json").read_text())
        written["budget figure"] = _save(plot_budget(study["curves"], study["choice"]), figures_dir / "00_budget.png")
    command = f"python -m aux_select.reproduce --primaries {' '.join(primaries)} --profile {profile} --aggregate-only"
    results_md = out_dir / "RESULTS.md"
    results_md.write_text(results_markdown(comparisons, tables, out_dir, figures_dir, command, benches=benches))
    written["results"] = results_md
    return written
