"""Figures over methods: gains with their intervals, the selection matrix (GradTS Fig. 1), the
budget study's curves and the control benchmark."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from aux_select.analysis.verdicts import NO_EVIDENCE

# ----------------------------------------------------------------------------- method comparison

def plot_gains(gains: pd.DataFrame) -> plt.Figure:
    """Each method's report gain over single-task with its seed × row bootstrap interval
    (`analysis.seed_verdicts`), a panel per primary; filled dots: a verdict (beats or loses),
    hollow: no evidence."""
    primaries = list(dict.fromkeys(gains["primary"]))
    n_methods = gains.groupby("primary").size().max()
    fig, axes = plt.subplots(1, len(primaries), figsize=(max(4.2 * len(primaries), 8.0), 1.3 + 0.42 * n_methods),
                             squeeze=False, sharey=False)
    for ax, primary in zip(axes[0], primaries):
        part = gains[gains["primary"] == primary].reset_index(drop=True)
        y = np.arange(len(part))
        ax.errorbar(part["gain"], y, xerr=[part["gain"] - part["low"], part["high"] - part["gain"]],
                    fmt="none", ecolor="grey", capsize=3)
        ax.scatter(part["gain"], y, c=np.where(part["verdict"] != NO_EVIDENCE, "crimson", "white"),
                   edgecolors="crimson", zorder=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, part["method"])
        ax.invert_yaxis()
        seeds = int(part["seeds"].max())
        ax.set(title=f"{primary} ({seeds} seed{'s' if seeds > 1 else ''})",
               xlabel=f"gain over single-task, {part['metric'][0]} × 100")
    marker = dict(marker="o", ls="none", markeredgecolor="crimson")
    fig.legend(handles=[Line2D([], [], markerfacecolor="crimson", label="beats or loses (test across seeds)", **marker),
                        Line2D([], [], markerfacecolor="white", label="no evidence either way", **marker),
                        Line2D([], [], color="grey", label="95 % seed × row bootstrap interval")],
               loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("Report gain over single-task, each method's final run")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_selection_matrix(matrices: dict[str, pd.DataFrame], ncols: int = 3) -> plt.Figure:
    """GradTS Fig. 1: per method, primaries × auxiliary tasks, shaded by the fraction of seeds
    that selected the task (`analysis.selection_matrix`)."""
    nrows = -(-len(matrices) // ncols)
    first = next(iter(matrices.values()))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * (1.6 + 0.6 * first.shape[1]), nrows * (1.6 + 0.45 * len(first))),
                             squeeze=False)
    for ax, (method, frame) in zip(axes.flat, matrices.items()):
        seeds = frame.attrs.get("seeds", {})
        rows = [f"{p} ({seeds[p]} seed{'s' if seeds[p] != 1 else ''})" if p in seeds else p for p in frame.index]
        sns.heatmap(frame.set_axis(rows), vmin=0, vmax=1, cmap="Blues", annot=True, fmt=".2g", cbar=False, ax=ax,
                    linewidths=0.5, linecolor="white")
        ax.set(title=method, xlabel="auxiliary task", ylabel="primary")  # blank: the primary itself
        ax.tick_params(axis="x", rotation=45)
        ax.tick_params(axis="y", rotation=0)
    for ax in axes.flat[len(matrices):]:
        ax.axis("off")
    fig.suptitle("Selected auxiliary tasks (fraction of seeds; blank: the primary itself, never a candidate)")
    fig.tight_layout()
    return fig


def plot_budget(curves: list[dict], choice: dict | None = None) -> plt.Figure:
    """Select score against the primary's steps, one panel per primary, a line per learning rate
    with its ±1 select standard error; `choice` marks the chosen rate's chosen steps."""
    frame = pd.DataFrame(curves)
    primaries = list(dict.fromkeys(frame["primary"]))
    fig, axes = plt.subplots(1, len(primaries), figsize=(3.2 * len(primaries), 3.2), squeeze=False)
    for ax, primary in zip(axes[0], primaries):
        for lr, curve in frame[frame["primary"] == primary].groupby("lr"):
            line, = ax.plot(curve["step"], curve["select_score"], marker="o", ms=3, label=f"lr {lr:g}")
            ax.fill_between(curve["step"], curve["select_score"] - curve["select_se"],
                            curve["select_score"] + curve["select_se"], color=line.get_color(), alpha=0.15)
        limit = choice.get("limits", {}).get(primary, choice["max_steps"]) if choice is not None else None
        if limit is not None and limit < frame["step"].max():  # the primary's own limit, where it moved on
            ax.axvspan(limit, frame["step"].max(), color="grey", alpha=0.12, lw=0,
                       label="beyond the compute limit")
        if choice is not None and primary in choice["primary_steps"]:
            ax.axvline(choice["primary_steps"][primary], color="black", ls="--", lw=1,
                       label=f"chosen: {choice['primary_steps'][primary]} steps")
        ax.set(title=primary, xlabel="primary steps", ylabel="select score")
        ax.legend(fontsize=7)
    fig.suptitle("Single-task select score against budget (±1 select s.e.)" +
                 (f"; chosen lr {choice['lr']:g}" if choice else ""), y=1.02)
    fig.tight_layout()
    return fig


def plot_controls(truth: pd.DataFrame, table: pd.DataFrame, primary: str) -> plt.Figure:
    """The control-task benchmark (`control_benchmark`): left, each control's measured gain over
    the primary alone with its seed x row interval (filled: helpful or harmful by the test across seeds);
    right, per method, the share of seeds that selected each control, with its mean place in
    the method's ranking written in the cell where the method ranks."""
    kinds = [c.removeprefix("selected ") for c in table.columns if c.startswith("selected ")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.9 + 0.42 * max(len(table), 4)),
                                      gridspec_kw={"width_ratios": [1, 1.3]})
    y = np.arange(len(truth))
    left.errorbar(truth["gain"], y, xerr=[truth["gain"] - truth["low"], truth["high"] - truth["gain"]],
                  fmt="none", ecolor="grey", capsize=3)
    shown = truth["verdict"] != NO_EVIDENCE  # filled: helpful or harmful by the test across seeds
    left.scatter(truth["gain"], y, c=np.where(shown, "crimson", "white"), edgecolors="crimson", zorder=3)
    left.axvline(0, color="black", lw=0.8)
    left.set_yticks(y, truth.index)
    left.invert_yaxis()
    seeds = int(truth["seeds"].max())
    left.set(title=f"ground truth: {primary} + control at 1:1 ({seeds} seed{'s' if seeds > 1 else ''})",
             xlabel=f"gain over {primary} alone, report {truth['metric'].iloc[0]} × 100")
    shares = table[[f"selected {k}" for k in kinds]].set_axis(kinds, axis=1)
    ranks = table[[f"rank {k}" for k in kinds]].set_axis(kinds, axis=1)
    notes = np.array([[f"{share:.0%}" + ("" if np.isnan(rank) else f"\n#{rank:.3g}") for share, rank in zip(*pair)]
                      for pair in zip(shares.to_numpy(), ranks.to_numpy(dtype=float))])  # (methods, controls)
    sns.heatmap(shares, vmin=0, vmax=1, cmap="Blues", annot=notes, fmt="", cbar_kws={"label": "share of seeds selecting it"},
                ax=right)
    right.set(title="selected by each method (#: mean rank)", xlabel=f"{primary}~", ylabel="")
    fig.tight_layout()
    return fig
