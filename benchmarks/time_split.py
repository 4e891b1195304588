"""Where one `cpu` MTL run's time goes: each part's wall and process CPU seconds, and its share.

Trains one run (by default MRPC with QNLI-proxy at the profile's uniform mix, seed 0) into a fresh
temporary store, with a timer around each part of the work:

  data           loading the tasks and dropping the primary's report text (`Experiment.training_tasks`)
  model load     tokenizer and pretrained encoder with its heads (`load_tokenizer`, `build_model`)
  tokenising     `tokenize`: the first call per task and split tokenises, later ones read the cache
  training       optimiser steps (`Trainer.step`: batch, forward, backward, clip, AdamW)
  select evals   scoring the primary on select during training (predictions, metric, bootstrap SE,
                 keeping the best weights: `_evaluate_select`)
  report eval    the kept weights on report (`Trainer.predict(..., "report")`)
  checkpoints    `save_checkpoint` (only with train.checkpoint_every)
  store writes   `Store.put`
  other          the rest of the run's wall time (the loop, loss syncs, the result)

A part's time excludes the parts called inside it (tokenising during the first select evaluation
counts as tokenising). Absolute times say little on a shared
machine; the shares are what to compare before and after a change (run it on both commits):

    AUX_SELECT_DATA=../shared/data python benchmarks/time_split.py [--primary MRPC --aux QNLI-proxy]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from functools import wraps

import aux_select.train.run as run_module
import aux_select.train.trainer as trainer_module
from aux_select.experiment.context import Experiment
from aux_select.runtime.store import Store
from aux_select.train.trainer import Trainer


class Clock:
    """Wall and process CPU seconds since it was made (its own, so the script also times older commits)."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def since(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


SPENT: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # part -> [wall s, CPU s], exclusive
INSIDE: list[list[float]] = []  # per timed call in progress: [wall, CPU] of the timed calls inside it


def timing(owner, name: str, part) -> None:
    """Replace owner.name by a wrapper adding its (wall, CPU) seconds, less those of timed calls
    inside it, to SPENT[part(*args)] (part returns None: time it as its caller's)."""
    original = getattr(owner, name)

    @wraps(original)
    def timed(*args, **kwargs):
        label = part(*args, **kwargs)
        if label is None:
            return original(*args, **kwargs)
        clock = Clock()
        INSIDE.append([0.0, 0.0])
        try:
            return original(*args, **kwargs)
        finally:
            (wall, cpu), (inner_wall, inner_cpu) = clock.since(), INSIDE.pop()
            spent = SPENT[label]
            spent[0], spent[1] = spent[0] + wall - inner_wall, spent[1] + cpu - inner_cpu
            if INSIDE:
                INSIDE[-1][0] += wall
                INSIDE[-1][1] += cpu
    setattr(owner, name, timed)


def instrument() -> None:
    def fixed(label):
        return lambda *args, **kwargs: label
    timing(Experiment, "training_tasks", fixed("data"))
    timing(trainer_module, "load_tokenizer", fixed("model load"))
    timing(trainer_module, "build_model", fixed("model load"))
    timing(trainer_module, "tokenize", fixed("tokenising"))
    timing(Trainer, "step", fixed("training"))
    timing(run_module, "_evaluate_select", fixed("select evals"))
    timing(Trainer, "predict", lambda self, task, split, *a, **k: "report eval" if split == "report" else None)
    timing(run_module, "save_checkpoint", fixed("checkpoints"))
    timing(Store, "put", fixed("store writes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primary", default="MRPC")
    parser.add_argument("--aux", nargs="*", default=["QNLI-proxy"], help="auxiliary tasks (uniform mix)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="GLUE folder (default: AUX_SELECT_DATA)")
    args = parser.parse_args()
    instrument()
    with tempfile.TemporaryDirectory() as store:
        exp = Experiment(args.profile, seed=args.seed, data_dir=args.data_dir, store=Store(store), progress=False)
        clock = Clock()
        run = exp.run([args.primary, *args.aux])
        wall, cpu = clock.since()
    SPENT["other"][0] += wall - sum(w for part, (w, _) in SPENT.items() if part != "other")
    SPENT["other"][1] += cpu - sum(c for part, (_, c) in SPENT.items() if part != "other")
    print(f"# {args.profile}: {'+'.join(run.tasks)} {':'.join(map(str, run.ratio))}, {run.steps} steps "
          f"({run.primary_steps} of the primary), {len(run.history)} select evaluations; "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"{'part':<14} {'wall s':>8} {'CPU s':>8} {'share (CPU)':>12}")
    for part, (w, c) in sorted(SPENT.items(), key=lambda item: -item[1][1]):
        print(f"{part:<14} {w:8.1f} {c:8.1f} {c / cpu:12.3f}")


if __name__ == "__main__":
    main()
