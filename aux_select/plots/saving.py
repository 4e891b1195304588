"""`save`: a figure written as PNG, its folder made."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt


def save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Write `fig` as a PNG (creating the folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    return path
