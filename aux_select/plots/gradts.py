"""GradTS figures: head-importance heatmaps (GradTS Fig. 3), the task x task Kendall tau heatmap
(Fig. 4) and a task picker. Plain arrays / DataFrames in, matplotlib Figures out; save with
`plots.save`. (Kept apart from plots.py only while that file is being edited by others.)"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from aux_select.methods.trial import Trial


def _heatmap(matrix: np.ndarray, ax: plt.Axes, title: str, colorbar: bool = False) -> None:
    sns.heatmap(matrix, ax=ax, vmin=0, vmax=1, cmap="viridis", square=True, cbar=colorbar,
                xticklabels=range(1, matrix.shape[1] + 1), yticklabels=range(1, matrix.shape[0] + 1))
    ax.set(title=title, xlabel="head", ylabel="layer")


def plot_head_importance(matrices: dict[str, np.ndarray], ncols: int = 4) -> plt.Figure:
    """One layers x heads heatmap per task on the shared [0, 1] scale (GradTS Fig. 3)."""
    n = len(matrices)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    L, H = next(iter(matrices.values())).shape
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * (0.35 * H + 1.2), nrows * (0.35 * L + 1.0)),
                             squeeze=False)
    for i, (ax, (task, matrix)) in enumerate(zip(axes.flat, matrices.items())):
        _heatmap(matrix, ax, task)
        if i % ncols:
            ax.set_ylabel("")  # only the first column names the axis
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.colorbar(axes.flat[0].collections[0], ax=axes, shrink=0.6, label="head importance")
    fig.suptitle("Attention-head importance per task (normalised per layer, then min-max)")
    return fig


def plot_tau_matrix(taus: pd.DataFrame, primary: str | None = None) -> plt.Figure:
    """Kendall's tau between every pair of tasks' head matrices (GradTS Fig. 4); the primary's
    row is outlined."""
    n = len(taus)
    fig, ax = plt.subplots(figsize=(0.8 * n + 2, 0.7 * n + 1.5))
    sns.heatmap(taus, ax=ax, vmin=-1, vmax=1, cmap="RdBu_r", annot=True, fmt=".2f", square=True,
                mask=np.eye(n, dtype=bool), cbar_kws={"label": "Kendall tau-b"})  # blank: a task with itself
    if primary in taus.index:
        i = list(taus.index).index(primary)
        ax.add_patch(plt.Rectangle((0, i), n, 1, fill=False, edgecolor="black", lw=2.5))
    ax.set(title="Task correlation of head importance (blank: a task with itself)", xlabel="task",
           ylabel="task" + (" (outlined: the primary)" if primary in taus.index else ""))
    return fig


def plot_greedy_trials(trials: Sequence[Trial], base_score: float, selected: list[str], metric: str,
                       title: str = "Greedy trial runs") -> plt.Figure:
    """The primary's select score after each MTL run of a greedy search (`SelectionResult.trials`),
    starting from the primary alone; the kept set's point is ringed, and a trial the search stopped
    early (it trailed the kept set) is hollow at the score it reached."""
    labels = ["alone"] + ["+ " + t.tasks[-1] for t in trials]
    scores = [base_score] + [t.select_score for t in trials]
    kept = len(selected)
    fig, ax = plt.subplots(figsize=(1.0 * len(labels) + 2, 3.5))
    x, y = np.arange(len(labels)), np.asarray(scores, float)
    early = np.array([False, *(t.stopped_at is not None for t in trials)])
    ax.plot(x, y, "-", color="steelblue")
    ax.plot(x[~early], y[~early], "o", color="steelblue")
    if early.any():
        ax.plot(x[early], y[early], "o", mfc="none", color="steelblue", label="stopped early: score reached")
    ax.plot([kept], [scores[kept]], "o", ms=14, mfc="none", mec="black", mew=2, label="kept set")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set(xlabel="auxiliary set tried, in order (each adds one task to the set before)",
           ylabel=f"select {metric}", title=title)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_instance_taus(taus: dict[str, Sequence[float]], threshold: float) -> plt.Figure:
    """Distribution of each auxiliary's instance-level tau with the primary (GradTS-fg, e.g. its
    `SelectionResult.instance_taus`); rows at or right of the threshold line are kept."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for task, tau in taus.items():
        tau = np.asarray(tau, dtype=float)
        tau = tau[np.isfinite(tau)]
        kept = (tau >= threshold).mean() if len(tau) else 0.0
        ax.hist(tau, bins=30, range=(-1, 1), histtype="step", lw=1.8, label=f"{task} ({kept:.0%} kept)")
    ax.axvline(threshold, color="crimson", ls="--", lw=1, label=f"threshold {threshold}")
    ax.set(xlabel="Kendall tau with the primary's matrix", ylabel="train rows",
           title="Instance-level tau (GradTS-fg)")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def importance_picker(matrices: dict[str, np.ndarray]):
    """An ipywidgets dropdown that shows one task's heatmap larger. A headless run renders the
    first task once and does not block."""
    import ipywidgets as widgets

    def show(task: str) -> None:
        fig, ax = plt.subplots(figsize=(6, 4))
        _heatmap(matrices[task], ax, f"{task}: head importance", colorbar=True)
        plt.show()

    return widgets.interact(show, task=widgets.Dropdown(options=list(matrices), description="task"))
