"""AutoSeM's figures: Beta posteriors (Fig. 3), utilities and pulls over rounds, the GP's trials
and objective, the ablations. Each takes plain results and returns a matplotlib Figure."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import beta as beta_dist

from aux_select.methods.trial import Trial

# ----------------------------------------------------------------------------- AutoSeM stage 1

def _task_colors(tasks: list[str], primary: str) -> dict[str, tuple]:
    """Black for the primary, a distinct palette colour for every other task."""
    others = [t for t in tasks if t != primary]
    palette = sns.color_palette("tab10" if len(others) <= 10 else "husl", len(others))
    return {primary: (0.0, 0.0, 0.0), **dict(zip(others, palette))}


def plot_posteriors(alpha: list[float], beta: list[float], tasks: list[str], primary: str, *,
                    selected: list[str] = (), title: str | None = None) -> plt.Figure:
    """AutoSeM Fig. 3: the Beta(α, β) utility posterior of every task (top) and its central
    95 % interval with the mean (bottom); the primary is drawn thick and black, selected
    tasks are starred."""
    colors = _task_colors(list(tasks), primary)
    x = np.linspace(0, 1, 801)[1:-1]  # open interval: a prior below 1 has an infinite pdf at 0 or 1
    fig, (ax, bars) = plt.subplots(2, 1, figsize=(10, 4.5 + 0.3 * len(tasks)), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 0.4 + 0.3 * len(tasks)]})
    for task, a, b in zip(tasks, alpha, beta):
        is_primary = task == primary
        label = f"{task}{' (primary)' if is_primary else ''}{' ★' if task in selected else ''}: E[θ] = {a / (a + b):.2f}"
        y = beta_dist.pdf(x, a, b)
        ax.plot(x, y, color=colors[task], lw=3 if is_primary else 1.6, label=label, zorder=3 if is_primary else 2)
        if is_primary:
            ax.fill_between(x, y, color=colors[task], alpha=0.12)
    ax.set(ylabel="density", ylim=(0, None),
           title=title or "Task utility posteriors Beta(α, β) after stage 1")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title="★ selected" if len(selected) else None,
              title_fontsize=8)
    for i, (task, a, b) in enumerate(zip(tasks, alpha, beta)):
        lo, hi = beta_dist.interval(0.95, a, b)
        bars.plot([lo, hi], [i, i], color=colors[task], lw=7 if task == primary else 4, solid_capstyle="butt")
        bars.plot([a / (a + b)], [i], "o", color="white", mec=colors[task], mew=1.5, ms=6)
    bars.axvline(0.5, color="grey", ls="--", lw=1)
    bars.set_yticks(range(len(tasks)), list(tasks))
    for tick in bars.get_yticklabels():
        tick.set_fontweight("bold" if tick.get_text() == primary else "normal")
    bars.set(ylim=(len(tasks) - 0.5, -0.5), xlim=(0, 1), xlabel="task utility θ",
             title="central 95 % interval (○ mean; dashed: 0.5 selection threshold)")
    bars.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def plot_utilities(trajectory: list[dict], tasks: list[str], primary: str | None = None) -> plt.Figure:
    """Utility α/(α+β) of every task after each round; markers where the task was pulled
    (filled: reward 1, hollow: reward 0)."""
    primary = primary or tasks[0]
    colors = _task_colors(list(tasks), primary)
    rounds = [row["round"] for row in trajectory]
    a, b = (np.array([row[k] for row in trajectory]) for k in ("alpha", "beta"))  # (rounds, tasks)
    utility = a / (a + b)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for k, task in enumerate(tasks):
        is_primary = task == primary
        ax.plot(rounds, utility[:, k], color=colors[task], lw=2.6 if is_primary else 1.4,
                label=f"{task} (primary)" if is_primary else task, zorder=3 if is_primary else 2)
        pulled = [i for i, row in enumerate(trajectory) if row["arm"] == task]
        for i in pulled:
            ax.plot(rounds[i], utility[i, k], "o", ms=4, mec=colors[task],
                    color=colors[task] if trajectory[i]["reward"] else "white", zorder=4)
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="0.5 (selection threshold)")
    ax.set(xlabel="round", ylabel="utility E[θ] = α / (α + β)", ylim=(0, 1),
           title="Task utility over rounds (dots: pulled; filled = reward 1, hollow = reward 0)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def plot_pulls(pulls: dict[str, int], primary: str | None = None) -> plt.Figure:
    """Rounds in which each task was trained (the primary, black, defaults to the first)."""
    tasks = list(pulls)
    primary = primary or tasks[0]
    colors = _task_colors(tasks, primary)
    fig, ax = plt.subplots(figsize=(1.0 * len(tasks) + 2, 3.5))
    ax.bar_label(ax.bar(tasks, [pulls[t] for t in tasks], color=[colors[t] for t in tasks]))
    ax.margins(y=0.12)  # room for the labels
    ax.set(ylabel="rounds pulled", title=f"Bandit pulls per task ({sum(pulls.values())} rounds)")
    ax.tick_params(axis="x", rotation=30)
    for tick in ax.get_xticklabels():
        tick.set_fontweight("bold" if tick.get_text() == primary else "normal")
    fig.tight_layout()
    return fig


def posterior_replay(posterior_at, tasks: list[str], primary: str, rounds: int):
    """An ipywidgets slider that redraws the posteriors after any round (0: the prior).
    `posterior_at(round) -> (alpha, beta)`, e.g. `Stage1Result.posterior_at`. A headless run
    renders the last round once and does not block."""
    import ipywidgets as widgets

    def show(after_round: int) -> None:
        alpha, beta = posterior_at(after_round)
        plot_posteriors(alpha, beta, tasks, primary, title=f"Posteriors after round {after_round}")
        plt.show()

    slider = widgets.IntSlider(value=rounds, min=0, max=rounds, continuous_update=False, description="round")
    return widgets.interact(show, after_round=slider)


# ----------------------------------------------------------------------------- AutoSeM stage 2 and ablations

def plot_trials(trials: Sequence[Trial], tasks: list[str], metric: str, *, n_initial_points: int | None = None,
                title: str | None = None) -> plt.Figure:
    """Every mixing-ratio trial in order: the primary's select score (filled; hollow where the search
    stopped the run early: what it reached), its report score (hollow squares; none for a stopped
    run), the best select score so far (step line) and failed runs (red ×, drawn at the bottom),
    above a table of the ratios (one row per task; the best trial outlined).
    `trials`: `Stage2Result.trials`."""
    n = len(trials)
    x = np.arange(1, n + 1)
    select = np.array([np.nan if t.failure else t.select_score for t in trials], float)
    report = np.array([np.nan if t.failure else t.report_score for t in trials], float)
    best_so_far = pd.Series(select).cummax().ffill().to_numpy()  # a failed trial keeps the best so far
    fig, (ax, grid) = plt.subplots(2, 1, figsize=(max(6.0, 0.55 * n + 2.5), 4.2 + 0.35 * len(tasks)), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 0.5 + 0.35 * len(tasks)]})
    if n_initial_points:
        ax.axvspan(0.5, min(n_initial_points, n) + 0.5, color="grey", alpha=0.1, label="random initial points")
    stopped = np.array([t.stopped_at is not None for t in trials], bool)
    ax.plot(x[~stopped], select[~stopped], "o", color="steelblue", label=f"select {metric}")
    if stopped.any():
        ax.plot(x[stopped], select[stopped], "o", mfc="none", color="steelblue",
                label=f"select {metric} reached when stopped early")
    ax.plot(x, report, "s", mfc="none", color="darkorange", label=f"report {metric} (not used to choose)")
    ax.step(x, best_so_far, where="post", color="steelblue", lw=1.2, alpha=0.7, label="best select so far")
    failed = [i + 1 for i, t in enumerate(trials) if t.failure]
    finite = np.concatenate([select[np.isfinite(select)], report[np.isfinite(report)]])
    low = float(finite.min()) if finite.size else 0.0
    if failed:
        ax.plot(failed, [low] * len(failed), "x", color="crimson", ms=9, mew=2, label="failed run")
    chosen = np.where(stopped, np.nan, select)  # a stopped run is never the answer
    best = int(np.nanargmax(chosen)) if np.isfinite(chosen).any() else None
    if best is not None:
        ax.plot(best + 1, select[best], "*", color="gold", mec="black", ms=16, zorder=5, label="chosen ratio")
    ax.set(ylabel=metric, title=title or f"Mixing-ratio trials ({tasks[0]} primary)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ratios = np.array([t.ratio for t in trials]).T  # (tasks, trials)
    grid.imshow(ratios, aspect="auto", cmap="Blues", extent=(0.5, n + 0.5, len(tasks) - 0.5, -0.5))
    for (k, i), value in np.ndenumerate(ratios):
        grid.text(i + 1, k, str(value), ha="center", va="center", fontsize=8,
                  color="white" if value > 0.6 * max(ratios.max(), 1) else "black")
    if best is not None:
        grid.add_patch(plt.Rectangle((best + 0.5, -0.5), 1, len(tasks), fill=False, ec="gold", lw=2.5))
    grid.set_yticks(range(len(tasks)), tasks)
    grid.set(xlabel="trial", xticks=x)
    fig.tight_layout()
    return fig


def plot_ablation(rows: list[dict], metric: str, primary: str | None = None) -> plt.Figure:
    """AutoSeM Table 2 as bars: select and report score of every setup (`AblationResult.rows`
    as dicts: name, select_score, report_score); a skipped setup is labelled as such."""
    def label(r: dict) -> str:  # say what an educated guess really trained when data forced a stand-in
        trained = "+" + "+".join(r.get("tasks", [])[1:])
        return r["name"] if not r["name"].startswith("+") or len(trained) < 2 or trained == r["name"] \
            else f"{r['name']}\n(trained {trained})"

    names = [label(r) for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.6 * len(rows)))
    for offset, key, color in ((-0.2, "select_score", "steelblue"), (0.2, "report_score", "darkorange")):
        values = np.array([r[key] for r in rows], float)
        bars = ax.barh(y + offset, np.nan_to_num(values), height=0.38, color=color, label=f"{key.split('_')[0]} {metric}")
        ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.3f}" for v in values], fontsize=8, padding=2)
    for i, r in enumerate(rows):
        if np.isnan(r["select_score"]) and np.isnan(r["report_score"]):
            ax.text(0.01, i, "skipped (no data)", va="center", fontsize=8, color="grey", transform=ax.get_yaxis_transform())
    ax.set_yticks(y, names)
    ax.invert_yaxis()  # the table's order, top to bottom
    ax.margins(x=0.15)
    ax.set(xlabel=metric, title=f"Ablations{f' ({primary} primary)' if primary else ''}: AutoSeM Table 2")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_objective_seeded(result, seed: int = 0, **kwargs) -> np.ndarray:
    """`skopt.plots.plot_objective`, reproducible: it draws its partial-dependence samples from
    numpy's global generator (it takes no random_state), so seed that for the call and restore it."""
    from skopt.plots import plot_objective
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return plot_objective(result, **kwargs)
    finally:
        np.random.set_state(state)
