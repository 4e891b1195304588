"""Figures of the data: length and label distributions per task (notebook 01)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def plot_length_distribution(lengths: dict[str, list[int]], max_len: int | None = None) -> plt.Figure:
    """Tokens per example for each task (a violin per task); `max_len` marks truncation."""
    frame = pd.DataFrame([(task, n) for task, ns in lengths.items() for n in ns], columns=["task", "tokens"])
    fig, ax = plt.subplots(figsize=(1.1 * len(lengths) + 2, 4))
    sns.violinplot(frame, x="task", y="tokens", cut=0, density_norm="width", inner="quartile", ax=ax)
    if max_len is not None:
        ax.axhline(max_len, color="crimson", ls="--", lw=1, label=f"max_len = {max_len}")
        ax.legend(loc="upper right")
    ax.set(xlabel="task", ylabel="tokens per example (both sentences)", title="Example length by task")
    return fig


def plot_label_distribution(label_counts: dict[str, dict[str, int]]) -> plt.Figure:
    """Share of each label in each classification task's training data."""
    frame = pd.DataFrame([(task, label, n / sum(counts.values()))
                          for task, counts in label_counts.items() for label, n in counts.items()],
                         columns=["task", "label", "share"])
    fig, axes = plt.subplots(1, len(label_counts), figsize=(2.2 * len(label_counts), 3), sharey=True,
                             squeeze=False)
    for ax, (task, part) in zip(axes[0], frame.groupby("task", sort=False)):
        sns.barplot(part, x="label", y="share", ax=ax, color="steelblue")
        ax.set(title=task, xlabel="label", ylabel="share of train rows")
        ax.tick_params(axis="x", rotation=45)
    fig.suptitle("Label distribution (train)")
    fig.tight_layout()
    return fig
