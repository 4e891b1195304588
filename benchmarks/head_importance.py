"""Per-example head-gate gradients from one backward pass, against the alternatives.

Prints, measured side by side in one run (alternating, several repeats, medians; ratios only):
  batched_vs_per_example: X   speed-up of one backward with a gate set per example over one
                              backward per example (unpadded) for the same batch (target >= 1.5)
  per_example_overhead: X     time of the per-example pass over a plain batched gradient of the
                              same batch with shared gates (target <= 1.15)

Encoder: the bundled MiniLM (`EncoderConfig()`), eval mode. The batch is built the way gradts
builds its batches (rows sorted by length, cut into chunks): the median-length chunk of 256 RTE
train pairs when AUX_SELECT_DATA is set, else of synthetic pairs. Only forward/backward passes.

    AUX_SELECT_DATA=../shared/data python benchmarks/head_importance.py [--encoder minilm]
"""
from __future__ import annotations

import argparse
import statistics

import torch
from transformers import DataCollatorWithPadding

from aux_select.data.batching import tokenize
from aux_select.data.loading import data_root, load_task
from aux_select.data.synthetic import synthetic_task
from aux_select.methods.gradts.importance import gate_grads
from aux_select.model.encoders import EncoderConfig, load_tokenizer
from aux_select.model.heads import build_model
from aux_select.runtime.cost import timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="minilm", help="encoder name (default: the bundled MiniLM)")
    parser.add_argument("--data-dir", default=None, help="GLUE folder (default: AUX_SELECT_DATA)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="alternating timed rounds per side")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    pool = 8 * args.batch_size
    if data_root(args.data_dir) is not None:
        task, source = load_task("RTE", args.data_dir, train_cap=pool), "RTE"
    else:
        task, source = synthetic_task("toy", n_train=pool, pair=True), "synthetic"
    encoder = EncoderConfig(name=args.encoder)
    tokenizer = load_tokenizer(encoder)
    model = build_model(encoder, [task.spec], len(tokenizer)).eval()
    rows = tokenize(task.train, tokenizer, encoder.max_len).to_dict()
    # a batch as gradts builds them: length-sorted rows cut into chunks, here the median chunk
    order = sorted(range(len(task.train)), key=lambda i: len(rows["input_ids"][i]))
    middle = order[(len(order) - args.batch_size) // 2:][:args.batch_size]
    examples = [{k: v[i] for k, v in rows.items()} for i in middle]
    collate = DataCollatorWithPadding(tokenizer)
    batch = collate(examples)
    singles = [collate([x]) for x in examples]  # each alone: no padding at all

    sides = {
        "per_example": lambda: gate_grads(model, task.name, batch, per_example=True),
        "shared": lambda: gate_grads(model, task.name, batch, per_example=False),
        "loop": lambda: [gate_grads(model, task.name, x, per_example=False) for x in singles],
    }
    for fn in sides.values():  # warm-up outside the clock
        fn()
    times = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, fn in sides.items():
            times[name].append(timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}

    tokens = batch["attention_mask"]
    print(f"# encoder {args.encoder}, batch {args.batch_size} {source} examples, padded to "
          f"{tokens.shape[1]} tokens ({tokens.float().mean():.0%} real), {args.repeats} alternating "
          f"repeats, {torch.get_num_threads()} threads")
    print(f"batched_vs_per_example: {med['loop'] / med['per_example']:.3f}")
    print(f"per_example_overhead: {med['per_example'] / med['shared']:.3f}")


if __name__ == "__main__":
    main()
