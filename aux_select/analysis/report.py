"""RESULTS.md: every table, figure and reading of a reproduction, written from its summaries.

`reproduce --aggregate-only` writes it beside the summaries (results/<profile>/RESULTS.md); the
README quotes its headline table, and tests/test_results.py checks that both are what the
committed summaries give. Nothing in it is typed by hand: the numbers come from the
compare_<primary>.json summaries, the control benchmarks' controls_<primary>.json, the transfer
matrix's transfer_<primary>.json, the budget study's budget.json and the papers' tables.csv.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import chi2

from aux_select.analysis import papers
from aux_select.analysis.controls import ControlBenchmark
from aux_select.analysis.papers import claims, papers_table
from aux_select.analysis.transfer import MEAN, REFERENCES, verdict_counts
from aux_select.experiment.profiles import get_profile
from aux_select.methods.registry import baseline_method, claimed_order
from aux_select.methods.run import Comparison

HEADLINE_START = "<!-- headline table: start -->"
HEADLINE_END = "<!-- headline table: end -->"
CONTROLS_START = "<!-- control tasks table: start -->"
CONTROLS_END = "<!-- control tasks table: end -->"
COST_CAPTION = ("Wall minutes, process CPU seconds and optimiser steps (of every task) on this machine's two CPU "
                "cores, as the store recorded each part when it was computed; CPU seconds are what parts computed "
                "at different times compare on (a busy machine inflates wall time far more), and NaN marks parts "
                "stored before CPU time was kept. Peak memory is the host's (the process's resident set, on a GPU "
                "too). The last row per primary runs every method once with every part "
                "(an MTL run, stage 1, a set of head matrices) counted once.")
SELECTORS_START = "<!-- selectors table: start -->"
SELECTORS_END = "<!-- selectors table: end -->"
COST_START = "<!-- cost table: start -->"
COST_END = "<!-- cost table: end -->"


def markdown(table: pd.DataFrame, index: bool = True) -> str:
    """A table as markdown, with ("RTE", "accuracy") columns and (method, primary) rows spelled flat."""
    table = table.round(2)
    if isinstance(table.columns, pd.MultiIndex):
        table.columns = [" ".join(map(str, c)) for c in table.columns]
    if index and isinstance(table.index, pd.MultiIndex):
        table, index = table.reset_index(), False
    # "+1.6" stays text: tabulate would parse a column of such strings as numbers and drop the sign
    text_columns = [int(index) + i for i, dtype in enumerate(table.dtypes) if not pd.api.types.is_numeric_dtype(dtype)]
    return table.to_markdown(index=index, disable_numparse=text_columns)


def _seed_counts(comparison: Comparison) -> str:
    """"MRPC: 3" when every method holds as many seeds, else "MRPC: 3 for Single-Task, 1 for NO-SEL, …"."""
    methods = dict.fromkeys(r.method for r in comparison.results)
    by_count: dict[int, list[str]] = {}
    for method in methods:
        by_count.setdefault(len({r.seed for r in comparison.results if r.method == method}), []).append(method)
    if len(by_count) == 1:
        return f"{comparison.primary}: {next(iter(by_count))}"
    return f"{comparison.primary}: " + ", ".join(f"{n} for {', '.join(ms)}" for n, ms in by_count.items())


def headline(comparisons: Sequence[Comparison], tables: pd.DataFrame) -> str:
    """The headline table with its caption: every method against the baseline, beside GradTS."""
    results = [r for c in comparisons for r in c.results]
    table, sources = papers_table(results, tables)
    seeds = [_seed_counts(c) for c in comparisons]
    profile = comparisons[0].settings.get("profile", "?")
    lines = [HEADLINE_START,
             markdown(table.fillna("—") if len(tables) else table.drop(columns="paper", level=1, errors="ignore"), True),
             "",
             f"*ours*: report split (GLUE dev) score ×100 of the final run, mean over each method's seeds "
             f"({'; '.join(seeds)}), profile `{profile}` "
             f"({get_profile(profile.split('+')[0]).notes}); *Δ*: against the same table's {baseline_method()} "
             "(means over different seeds where the counts differ; the verdicts below pair the seeds). "
             f"*paper*: GradTS (Ma et al., EMNLP 2021), {papers.SETTINGS['GradTS']}; "
             + "; ".join(f"{p} from {s}" for p, s in sources.items()) + ". "
             "The papers' numbers are the best dev score over epochs, ours one run chosen on select: "
             "the columns are beside each other, not comparable cell for cell.",
             HEADLINE_END]
    if not len(tables):
        lines.insert(2, "*(the papers' tables.csv was not found: set AUX_SELECT_PAPERS)*")
    return "\n".join(lines)


def controls_headline(benches: Sequence[ControlBenchmark]) -> str:
    """Per control benchmark, the ground truth and every method against the controls, captioned."""
    lines = [CONTROLS_START]
    for bench in benches:
        seeds = ("seeds " if len(bench.seeds) > 1 else "seed ") + ", ".join(map(str, bench.seeds))
        lines += [f"**{bench.primary}** ({seeds}), ground truth: {bench.primary} + control at 1:1 against "
                  f"{bench.primary} alone, report {bench.metric} ×100",
                  "", markdown(bench.truth_table(), True), "",
                  f"**{bench.primary}**, every method with the controls among the candidates", "",
                  markdown(bench.table(), True), "",
                  f"The whole {bench.primary} benchmark once, every part counted once: "
                  + " / ".join(f"{m:.1f}" for m in bench.minutes_per_seed()) + " min at " + seeds
                  + f" ({bench.settings.get('profile', '?')} profile, as the store recorded each part).", ""]
    lines += ["*gain*, *low*, *high*, *p*, *ASO ε_min*, *detectable gain*: as in the gains table, each control "
              "against the primary alone with Holm's correction over the three controls; *verdict*: helpful "
              "(beats) or harmful (loses) by that test across seeds, else no evidence (always with one seed). "
              "*selected*: the share of seeds whose final run included the control; *rank*: its mean place in "
              "the method's ranking of all candidates (1 = first; blank where the method ranks nothing or left "
              "it out); the score and both Δ are report ×100, mean over seeds; *Δ P + clone*: against the "
              "primary + clone at 1:1, a reference, not a ceiling. The primary trains on the half of its train "
              "rows the clone leaves, in every run here.",
              CONTROLS_END]
    return "\n".join(lines)


GAINS_CAPTION = (
    "*gain*, *low*, *high*: report ×100, the mean over seeds and its 95 % seed × row bootstrap interval "
    "(1000 resamples); *p*: the bootstrap's two-sided p of no gain, and after Holm's correction over the "
    "primary's methods; *ASO ε_min*: the method's per-seed scores over the baseline's (0: above, 1: below, "
    "NaN with one seed); *detectable gain*: the smallest true gain this many seeds detect with 80 % power; "
    "*gain per seed*: the gain at each seed alone, in seed order.")


def power_caption(seeds: int) -> str:
    """What the power note's columns are, and how rough a spread from `seeds` seeds is (its 95 %
    interval by the chi-square distribution of the sample variance)."""
    rough = ""
    if seeds > 1:
        low, high = (np.sqrt((seeds - 1) / chi2.ppf(q, seeds - 1)) for q in (0.975, 0.025))
        rough = (f" A spread from {seeds} seeds is itself rough: its 95 % interval runs from {low:.1f} to "
                 f"{high:.1f} times the estimate, and the seeds asked for scale with its square.")
    return ("*seed sd*: for the baseline, the sample standard deviation of its report score over seeds; for a "
            "method, that of its gain over the baseline paired by seed (report ×100). *seeds for the gain* (methods only): "
            "the seeds a paired test across seeds needs to find a true gain of 1 point with 80 % power at "
            "α = 0.05, ((z₀.₉₇₅ + z₀.₈) × sd / 1)², the normal approximation of the detectable gains above; "
            "it counts seed variance only (the verdicts also resample the report rows)." + rough)


def power_note(power: pd.DataFrame | None) -> list[str]:
    """The power section's heading, table and caption (none without a power table)."""
    if power is None or not len(power):
        return []
    return ["## Power: the seeds a 1-point gain needs", markdown(power, False), power_caption(int(power["seeds"].max()))]


TRANSFER_CAPTION = (
    "Each primary with each candidate of its pool at 1:1 (the primary its whole budget, the candidate as many "
    "batches on top), against the primary alone at the same seed: *gain* report ×100 with its 95 % seed × row "
    "interval, Holm's correction over the primary's candidates; *beats* = helpful, *loses* = harmful.")
SELECTORS_CAPTION = (
    "Each selector's ranking of a primary's candidates scored against the measured mean gains (a selector that "
    "ranks at each seed is scored with each seed's ranking, averaged), each with its 95 % seed-bootstrap "
    "interval in brackets. *τ*: Kendall's τ-b with the gains; *NDCG@3*: ranx, relevance the gain clipped at 0 "
    "(blank where no candidate gains); *regret@1*: the best candidate's gain minus the gain of the selector's first; "
    "*regret best of 3*: the best gain minus the best among its top 3; *regret mean of 3*: the gold top 3's mean "
    "gain minus its top 3's (points); *precision@3*: the share of its top 3 with a helpful verdict. Cost: CPU "
    "seconds per ranking, its own work and with the stored work it reads (GradTS's fine-tunes and head matrices, "
    "AutoSeM's stage 1; for the popularity prior, the other primaries' pairs).")
SELECTOR_COLUMNS = {"kendall tau": "τ", "ndcg@3": "NDCG@3", "regret@1": "regret@1",
                    "regret best of top 3": "regret best of 3", "regret mean of top 3": "regret mean of 3",
                    "precision@3": "precision@3"}


def with_interval(table: pd.DataFrame, column: str) -> pd.Series:
    """"0.33 [-0.2, 0.8]" per row from `column` and its "<column> low" / "<column> high"."""
    return pd.Series([f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(v) else ""
                      for v, lo, hi in table[[column, f"{column} low", f"{column} high"]].to_numpy(dtype=float)],
                     index=table.index)


def selector_display(selectors: pd.DataFrame, contrasts: bool) -> pd.DataFrame:
    """The selector table as RESULTS.md shows it: each metric as "value [low, high]"; with
    `contrasts`, τ minus each reference's with its interval and verdict (Holm's p beside it)."""
    shown = selectors[["primary", "selector"]].assign(
        **{name: with_interval(selectors, column) for column, name in SELECTOR_COLUMNS.items()})
    for reference in REFERENCES if contrasts else ():
        column = f"τ − {reference}"
        if column in selectors:
            verdicts = [f"{v} (p {p:.2g})".replace("(p 0)", "(p < 0.001)") if isinstance(v, str) else "" for v, p in
                        zip(selectors[f"vs {reference}"], selectors[f"p (Holm) vs {reference}"])]
            shown = shown.assign(**{column: with_interval(selectors, column), f"vs {reference}": verdicts})
    return shown.assign(**{c: selectors[c] for c in ("own CPU s", "CPU s with what it reads")})


def transfer_section(transfer: pd.DataFrame, selectors: pd.DataFrame, figure: Callable[[str, str], str]) -> list[str]:
    """The transfer matrix's heading, counts, table and heat map, then the selector tables (over
    every primary, with the tests against Random and the prior; then per primary) and the figure."""
    counts = verdict_counts(transfer)
    seeds = ", ".join(f"{p}: {n}" for p, n in transfer.groupby("primary", sort=False)["seeds"].max().items())
    pooled = selectors["primary"] == MEAN
    section = ["## Measured transfer (notebook 10)", TRANSFER_CAPTION,
               f"{counts['pairs']} pairs (seeds per primary: {seeds}): {counts['helpful']} helpful, "
               f"{counts['harmful']} harmful, the rest no evidence either way.",
               markdown(transfer.drop(columns=["metric"]), False), figure("10_transfer.png", "transfer matrix"),
               "### Selectors scored against the measured transfer", SELECTORS_CAPTION]
    if pooled.any():
        section += ["Over every primary (each metric's mean over the primaries, its interval from the same seed "
                    "draws; *τ − Random*, *τ − Popularity*: the difference in τ, paired draw by draw, *better* or "
                    "*worse* where Holm's correction over the selectors leaves p below 0.05):",
                    "\n".join([SELECTORS_START, markdown(selector_display(selectors[pooled], True).drop(
                        columns=["primary"]), False), SELECTORS_END])]
    return [*section, "Per primary:", markdown(selector_display(selectors[~pooled], True), False),
            figure("10_selectors.png", "selectors: quality against cost")]


def results_markdown(comparisons: Sequence[Comparison], written: dict[str, pd.DataFrame], out_dir: Path,
                     figures_dir: Path, command: str, tables: pd.DataFrame | None = None,
                     benches: Sequence[ControlBenchmark] = ()) -> str:
    """The whole RESULTS.md: headline, reading, full table, gains, cost, selections, control
    tasks, budget."""
    tables = papers.paper_tables() if tables is None else tables
    results, baseline = [r for c in comparisons for r in c.results], baseline_method()

    def figure(name: str, caption: str) -> str:  # a link relative to RESULTS.md, which sits in out_dir
        return f"![{caption}]({Path(os.path.relpath(figures_dir / name, out_dir)).as_posix()})"

    sections = [
        f"# Results: profile `{comparisons[0].settings.get('profile', '?')}`",
        f"Written by `{command}` from the summaries beside this file; do not edit by hand.",
        f"## Every method against {baseline}, beside the papers", headline(comparisons, tables),
        "## Reading",
        f"Each line is computed from the tables below. A method *beats* {baseline} where the gain's 95 % "
        "interval, from resampling the seeds and the report rows together (each run paired with the "
        f"{baseline} run of its seed), excludes 0 after Holm's correction over the primary's methods, and "
        "almost stochastic order (deepsig's ε_min < 0.5) puts its per-seed scores above; it *loses* in the "
        "mirror case; anywhere else there is no evidence either way. One seed is never evidence. Beside "
        "each primary is the smallest gain its seeds could detect (80 % power). "
        f"The papers' order is {' > '.join(claimed_order())} (GradTS Tables 2 and 4), checked pair by pair "
        "on mean report scores; a tie (often the very same run) does not count as holding.",
        "\n\n".join(f"- {line}" for line in claims(results, written["gains"])),
        "## Report scores (GradTS Table 2 layout)",
        "Report split ×100, mean ± sample std over seeds.",
        markdown(written["comparison"], True),
        f"## Gains over {baseline}: verdicts across seeds",
        markdown(written["gains"], False) if len(written["gains"]) else f"(no method besides {baseline} yet)",
        GAINS_CAPTION if len(written["gains"]) else "",
        figure("06_gains.png", "gains over single-task") if len(written["gains"]) else "",
        *power_note(written.get("power")),
        "## Cost (GradTS Table 3 layout)",
        COST_CAPTION,
        "\n".join([COST_START, markdown(written["cost"], False), COST_END]),
        "## Selections (GradTS Fig. 1)",
        markdown(written["selection"], True) if len(written["selection"]) else "(no selections yet)",
        figure("06_selection_matrix.png", "selection matrix") if len(written["selection"]) else "",
    ]
    if benches:
        sections += ["## Control tasks (notebook 09)",
                     "Auxiliary tasks whose usefulness is known by construction, cut from the primary's own "
                     "train split (`aux_select.data.controls`), beside the GLUE pool as candidates.",
                     controls_headline(benches)]
        for bench in benches:
            sections += [f"### Cost of the {bench.primary} control benchmark",
                         "Minutes, mean over seeds, as the store recorded each part when it was first computed.",
                         markdown(bench.cost_table(), False),
                         figure(f"09_{bench.primary}_controls.png", f"{bench.primary} control benchmark")]
    if "transfer" in written:
        sections += transfer_section(written["transfer"], written["selectors"], figure)
    budget = out_dir / "budget.json"
    if budget.exists():
        choice = json.loads(budget.read_text())["choice"]
        sections += ["## The budget (notebook 00, select split only)",
                     f"Rule: {choice['rule']}. Chosen: lr {choice['lr']:g}, primary steps "
                     + ", ".join(f"{p} {s}" for p, s in choice["primary_steps"].items()) + ".",
                     figure("00_budget.png", "budget study")]
    return "\n\n".join(s for s in sections if s) + "\n"
