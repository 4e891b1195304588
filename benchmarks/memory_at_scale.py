"""Host memory at MNLI's size: the training batches' and GradTS-fg's instance matrices', before and
after a change, side by side in one run.

On synthetic data of MNLI's train size (390k tokenised pairs of 20 to 120 tokens, memory-mapped
Arrow, as a tokenised split is) and bert-base's 12 x 12 heads, each measurement runs in a fresh
process, once with this checkout's `aux_select` and once with another's (`--before`, e.g. a
`git worktree` of an older commit), and prints the peak resident memory above the process's
memory before it (MB, sampled every 20 ms):

  batches     a training stream's first 20 batches of 32 (`make_loader`, as trainers draw them)
  fg matrices GradTS-fg's instance matrices of every row, computed by the code's own function from
              synthetic float64 gradients a batch at a time (in place of the fine-tuned model's)
  fg taus     seconds per 10k rows of `instance_taus` (every row's tau-b with the primary's matrix)

    git worktree add /tmp/before <commit>
    python benchmarks/memory_at_scale.py --before /tmp/before [--rows 390000]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parents[1]
HEADS = (12, 12)  # bert-base: layers x heads


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_above(fn) -> float:
    """Peak RSS (MB) while `fn()` runs, above the RSS before it."""
    base, peak, done = rss_mb(), [0.0], threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_mb())
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    fn()
    done.set()
    thread.join()
    return max(peak[0], rss_mb()) - base


def make_split(folder: Path, rows: int) -> Path:
    """A tokenised split of `rows` pairs, written once as Arrow."""
    import numpy as np
    from datasets import Dataset
    path = folder / f"split-{rows}.arrow"
    if not path.exists():
        rng = np.random.default_rng(0)
        lengths = rng.integers(20, 121, size=rows)
        ids = [[101] + [1000 + int(k) % 500] * int(n - 2) + [102] for k, n in enumerate(lengths)]
        ds = Dataset.from_dict({"input_ids": ids, "token_type_ids": [[0] * len(x) for x in ids],
                                "attention_mask": [[1] * len(x) for x in ids], "labels": [int(k) % 3 for k in range(rows)]})
        ds.save_to_disk(str(folder / "split"))
        path.write_text(str(folder / "split"))
    return Path(path.read_text())


def measure(folder: str, rows: int) -> dict:
    """In this process: the three measurements with whatever `aux_select` is importable."""
    import numpy as np
    from datasets import load_from_disk

    from aux_select.data.batching import make_loader
    from aux_select.methods.gradts import importance
    from aux_select.methods.gradts.select import instance_taus
    from aux_select.model.encoders import EncoderConfig, load_tokenizer
    tokenizer = load_tokenizer(EncoderConfig(name="minilm"))
    split = load_from_disk(str(make_split(Path(folder), rows)))

    def batches():
        stream = iter(make_loader(split, tokenizer, 32, shuffle=True, seed=0))
        for _ in range(20):
            next(stream)

    rng = np.random.default_rng(1)

    def gradients(trainer, task, indices, batch_size, progress):  # float64 (B, L, H) per batch, as the model gives them
        for start in range(0, len(indices), batch_size):
            pos = list(range(start, min(start + batch_size, len(indices))))
            yield pos, np.abs(rng.standard_normal((len(pos), *HEADS))), np.full(len(pos), 40.0)

    # GradTS-fg's instance matrices as the code computes them, with the gradients above in place of a model's
    importance.finetuned, importance.example_gradients = (lambda *a: SimpleNamespace(model=None)), gradients
    importance.gate_shape = lambda model: HEADS
    task, exp = SimpleNamespace(name="MNLI", train=range(rows)), SimpleNamespace(progress=False)
    config = importance.ImportanceConfig(batch_size=32)
    matrices = peak_above(lambda: importance._compute_instance_importance(exp, task, config))
    out = {"batches_mb": peak_above(batches), "fg_matrices_mb": matrices}
    sample = importance.instance_importance(rng.random((10_000, *HEADS)))
    start = time.perf_counter()
    instance_taus(rng.random(HEADS), sample)
    out["fg_taus_s_per_10k"] = time.perf_counter() - start
    return out


def run(code: Path, folder: str, rows: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, __file__, "--measure", folder, "--rows", str(rows)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="a checkout of the older code (a git worktree)")
    parser.add_argument("--rows", type=int, default=390_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.rows)))
        return
    with tempfile.TemporaryDirectory() as folder:
        make_split(Path(folder), args.rows)
        after = run(HERE, folder, args.rows)
        before = run(args.before, folder, args.rows) if args.before else None
    for name, value in after.items():
        line = f"{name}: {value:.1f}"
        if before:
            line = f"{name}: before {before[name]:.1f}, after {value:.1f}, after/before {value / before[name]:.3f}"
        print(line)


if __name__ == "__main__":
    main()
