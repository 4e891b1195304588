"""Figures of the measured transfer matrix (`analysis.transfer`): the gains as a heat map, and
every selector's quality against its cost."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from aux_select.analysis.verdicts import BEATS, LOSES, NO_EVIDENCE

MARK = {BEATS: "+", LOSES: "−", NO_EVIDENCE: ""}  # beside a cell's gain: the verdict across seeds


def plot_transfer(table: pd.DataFrame) -> plt.Figure:
    """Primaries × candidates, each cell the report gain (×100) of primary + candidate at 1:1 over
    the primary alone (`transfer_table`), with + (helpful) or − (harmful) where the test across
    seeds gives a verdict; blank where the pair is not in the pool (a primary is never its own candidate)."""
    gains = table.pivot(index="primary", columns="candidate", values="gain")  # (primaries, candidates)
    marks = table.assign(mark=table["verdict"].map(MARK)).pivot(index="primary", columns="candidate", values="mark")
    primaries = list(dict.fromkeys(table["primary"]))
    candidates = list(dict.fromkeys(table["candidate"]))
    gains, marks = gains.loc[primaries, candidates], marks.loc[primaries, candidates]
    seeds = table.groupby("primary")["seeds"].max()
    notes = np.array([[f"{g:+.1f}{m}" if np.isfinite(g) else "" for g, m in zip(grow, mrow)]
                      for grow, mrow in zip(gains.to_numpy(dtype=float), marks.fillna("").to_numpy())])
    limit = max(float(np.nanmax(np.abs(gains.to_numpy(dtype=float)))), 1.0)
    fig, ax = plt.subplots(figsize=(max(6.5, 2.4 + 0.95 * len(candidates)), 1.8 + 0.55 * len(primaries)))
    rows = [f"{p} ({seeds[p]} seed{'s' if seeds[p] != 1 else ''})" for p in primaries]
    sns.heatmap(gains.set_axis(rows), vmin=-limit, vmax=limit, center=0, cmap="RdBu", annot=notes, fmt="",
                cbar_kws={"label": "gain over the primary alone, report × 100"}, linewidths=0.5, linecolor="white", ax=ax)
    ax.set(xlabel="auxiliary candidate at 1:1", ylabel="primary")
    ax.tick_params(axis="x", rotation=45)
    ax.tick_params(axis="y", rotation=0)
    ax.set_title("Measured transfer: primary + candidate at 1:1 against the primary alone\n"
                 "(+ helpful, − harmful by the test across seeds; blank: not a candidate)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_selector_cost(scores: pd.DataFrame, metric: str = "kendall tau") -> plt.Figure:
    """Each selector's `metric` (mean over primaries, with the range of the primaries' seed-bootstrap
    intervals' means) against its CPU seconds per ranking with the stored work it reads (log x)."""
    by = scores.groupby("selector", sort=False)
    summary = pd.DataFrame({"quality": by[metric].mean(), "low": by[f"{metric} low"].mean(),
                            "high": by[f"{metric} high"].mean(),
                            "cost": by["CPU s with what it reads"].mean().clip(lower=1e-3)})
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colours = sns.color_palette("tab20", len(summary))
    for colour, (name, row) in zip(colours, summary.iterrows()):
        ax.errorbar(row["cost"], row["quality"], yerr=[[row["quality"] - row["low"]], [row["high"] - row["quality"]]],
                    fmt="o", color=colour, capsize=3, label=name)
    ax.set_xscale("log")
    ax.axhline(0, color="black", lw=0.8)
    primaries = scores["primary"].nunique()
    ax.set(xlabel="CPU seconds per ranking, with the stored work it reads (log; 1 ms where it reads nothing)",
           ylabel=f"{metric}, mean over {primaries} primar{'ies' if primaries != 1 else 'y'}",
           title="Selectors: quality against the measured transfer, and cost")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="grey", label="mean of the primaries' 95 % seed-bootstrap intervals"))
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig
