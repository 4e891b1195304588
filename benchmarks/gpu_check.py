"""The `paper` code path on a GPU, briefly: steps per second, peak GPU and host memory, and the
device and precision it resolved to.

Trains one MTL run of the `paper` profile (device cuda, precision auto, batch 32, 128 tokens, AdamW,
checkpoints on) for `--steps` primary steps on the bundled MiniLM encoder (no hub needed;
`--encoder bert-base-cased` where the hub or its cache is there), into a fresh temporary store, and
prints what the run recorded. Absolute times are the point here (one GPU, nothing else on it);
`python -m aux_select.analysis.paper_scale --steps-per-second X` turns the steps per second of
bert-base into GPU hours per method.

    AUX_SELECT_DATA=../shared/data python benchmarks/gpu_check.py [--steps 300] [--primary RTE --aux MRPC]

Without a GPU the profile's device stops it (`NoDevice`); `--allow-cpu` runs the same path on the CPU.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import override
from aux_select.runtime.devices import ALLOW_CPU, NoDevice
from aux_select.runtime.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="primary steps (auxiliary batches come on top)")
    parser.add_argument("--primary", default="RTE")
    parser.add_argument("--aux", default="MRPC")
    parser.add_argument("--encoder", default="minilm", help="minilm (bundled) or a hub name, e.g. bert-base-cased")
    parser.add_argument("--allow-cpu", action="store_true")
    args = parser.parse_args()
    if args.allow_cpu:
        os.environ[ALLOW_CPU] = "1"
    profile = override("paper", ["epochs=null", f"train.max_steps={args.steps}", f"train.eval_every={args.steps}",
                                 f"encoder.name={args.encoder}", f"train.checkpoint_every={args.steps}"])
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    with tempfile.TemporaryDirectory() as store:
        exp = Experiment(profile, store=Store(store), progress=False)
        try:
            run = exp.run([args.primary, args.aux], [1, 1])
        except NoDevice as e:
            sys.exit(f"no GPU here: {e}")
    print(f"device: {run.device}, precision: {run.precision}, encoder: {args.encoder}")
    print(f"steps: {run.steps} of all tasks in {run.wall_time_s:.1f} s: {run.steps / run.wall_time_s:.2f} steps/s "
          f"(batch {profile.train.batch_size}, up to {profile.encoder.max_len} tokens; select and report scored, "
          f"one checkpoint written)")
    gpu = f"{run.device_memory_mb / 1024:.2f} GB" if run.device_memory_mb is not None else "none (not on a GPU)"
    print(f"peak GPU memory: {gpu}; peak host memory: {run.peak_memory_mb / 1024:.2f} GB")
    print(f"select {run.select_score:.4f}, report {run.report_score:.4f} (a few hundred steps: a check, not a result)")


if __name__ == "__main__":
    main()
