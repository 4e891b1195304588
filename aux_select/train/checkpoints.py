"""Checkpoints of a running MTL run (`train.run_mtl`), so that a killed run resumes where it was.

A checkpoint is a folder root/step-NNNNNNNN: the `Trainer.checkpoint` files (weights, optimiser,
scheduler, RNG and stream positions), the run's own loop state as JSON (`run.json`: losses,
select evaluations, early-stopping counters) and its extra tensors as safetensors (the best
weights so far). It is written in a temporary folder and renamed, so it is whole or absent, and
only the newest is kept. No pickles.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from safetensors.torch import load_file, save_file

if TYPE_CHECKING:
    from aux_select.train.trainer import Trainer


def replace_newest(root: Path, name: str, write: Callable[[Path], None]) -> Path:
    """Write root/<name> through `write(folder)` in a temporary folder, rename it into place (so
    it is whole or absent) and drop the older folders of the same prefix (before the "-"): only
    the newest is needed to resume. Shared by MTL runs and AutoSeM's stage 1."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    for old in root.glob(f"{name.split('-')[0]}-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def save_checkpoint(root: Path, step: int, trainer: "Trainer", state: dict,
                    tensors: dict[str, torch.Tensor] | None = None, prefix: str = "step") -> Path:
    """Write root/<prefix>-NNNNNNNN (the trainer, `state` as JSON, `tensors`) and drop older ones:
    prefix "step" for an MTL run's steps, "round" for AutoSeM stage 1's rounds."""
    def write(folder: Path) -> None:
        trainer.checkpoint(folder)
        if tensors:
            save_file({k: v.contiguous() for k, v in tensors.items()}, folder / "tensors.safetensors")
        (folder / "run.json").write_text(json.dumps(state))  # NaN and -inf kept, as Python's json reads them

    return replace_newest(root, f"{prefix}-{step:08d}", write)


def load_checkpoint(root: Path, identity: dict, device: torch.device,
                    prefix: str = "step") -> tuple[Path, dict, dict] | None:
    """(folder, state, tensors) of the newest complete checkpoint under `root`, or None. A
    checkpoint of another run (its state's "identity" differs) raises ValueError."""
    done = sorted(p for p in root.glob(f"{prefix}-*") if (p / "run.json").exists())
    if not done:
        return None
    state = json.loads((done[-1] / "run.json").read_text())
    if state.get("identity") != identity:
        raise ValueError(f"the checkpoint in {done[-1]} belongs to another run (other tasks, ratio or "
                         "settings); pass another checkpoint folder or delete it")
    path = done[-1] / "tensors.safetensors"
    tensors = load_file(path, device=str(device)) if path.exists() else {}
    return done[-1], state, tensors
