"""Trainer throughput against a bare PyTorch loop, and what length-grouped dynamic padding buys.

Prints, measured side by side in one run (these machines are noisy, so only ratios):
  trainer_vs_raw_loop: X   trainer examples/s over a bare loop on the same batches (target >= 0.95).
                           The trainer pulls and collates its own batches; the bare loop gets the
                           same batches ready-made from an identically seeded twin, so the ratio
                           includes the trainer's data pipeline.
  dynamic_vs_pad128: X     speed-up of length-grouped dynamic padding over padding every batch to
                           128 tokens, same examples, on a mix of RTE, MRPC, CoLA and SST-2 (target >= 2.0)
  real_token_fraction: X   real tokens / all tokens in the dynamic batches (target >= 0.85)
  fused_adamw_vs_default: X  speed-up of one fused AdamW step over the default implementation
                           on the same model and gradients (why the Trainer uses the fused one)
  bf16_vs_fp32: X          speed-up of Trainer steps under bf16 autocast over fp32, same batches
                           (precision="bf16" against "fp32"; target >= 1.4 on a CPU with AVX-512 bf16)
  compile_s: X             seconds `torch.compile` adds before its steps run at full speed: the
                           compiled trainer's first pass over the batches (every task and shape it
                           meets, each a graph) less the eager trainer's time on the same batches
  compiled_vs_eager: X     speed-up of bf16 Trainer steps through `torch.compile(model)` over eager,
                           same batches, after that first pass
  compiled_vs_eager_run: X the same over one whole `cpu` MTL run (--run-steps, default 600), compile
                           time included: above 1 only if compiling pays for itself in one run

    AUX_SELECT_DATA=../shared/data python benchmarks/train_throughput.py [--encoder minilm]
"""
from __future__ import annotations

import argparse
import itertools
from dataclasses import replace

import torch
import torch.nn.functional as F

from aux_select.data.batching import make_loader
from aux_select.data.loading import load_task
from aux_select.model.encoders import EncoderConfig
from aux_select.runtime.cost import timed
from aux_select.train.config import TrainConfig
from aux_select.train.trainer import Trainer

MIX = ("RTE", "MRPC", "CoLA", "SST-2")


def raw_step(trainer: Trainer, task: str, batch: dict) -> None:
    """The bare PyTorch loop body: forward, backward, clip, step, zero (the model in train mode,
    dropout on, as `Trainer.step` runs it)."""
    loss, _ = trainer.model(task, **batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), 1.0)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)


def pad_to(batch: dict, length: int) -> dict:
    """The same examples padded to `length` tokens."""
    return {k: F.pad(v, (0, length - v.shape[1])) if v.ndim == 2 else v for k, v in batch.items()}


def side_by_side(first, second, repeats: int) -> tuple[float, float]:
    """Total times of two workloads run in alternating blocks; which goes first alternates too,
    so neither always inherits the other's warm caches."""
    t_first = t_second = 0.0
    for r in range(repeats):
        if r % 2 == 0:
            t_first += timed(lambda: first(r))
            t_second += timed(lambda: second(r))
        else:
            t_second += timed(lambda: second(r))
            t_first += timed(lambda: first(r))
    return t_first, t_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="minilm", help="encoder name (default: the bundled MiniLM)")
    parser.add_argument("--data-dir", default=None, help="GLUE folder (default: AUX_SELECT_DATA)")
    parser.add_argument("--batch-size", type=int, default=16, help="the cpu profile's batch size")
    parser.add_argument("--steps", type=int, default=8, help="steps per timed block (a multiple of 4 tasks)")
    parser.add_argument("--repeats", type=int, default=6, help="alternating timed blocks per side")
    parser.add_argument("--run-steps", type=int, default=600, help="steps of one whole cpu MTL run (a 1:1 mix)")
    args = parser.parse_args()
    torch.manual_seed(0)

    tasks = [load_task(name, args.data_dir, train_cap=2000) for name in MIX]
    encoder = EncoderConfig(name=args.encoder, max_len=128)
    # fp32: the bare loop has no autocast, so the trainer is compared at the same precision
    config = TrainConfig(batch_size=args.batch_size, max_steps=10**6, warmup_ratio=0.0, precision="fp32")
    order = list(itertools.islice(itertools.cycle(MIX), args.steps * args.repeats))

    # real_token_fraction: one epoch of every task's length-grouped batches
    real = total = 0
    probe = Trainer(tasks, encoder, config)
    for task in MIX:
        for batch in make_loader(probe.encoded(task, "train"), probe.tokenizer, args.batch_size, shuffle=True):
            real, total = real + int(batch["attention_mask"].sum()), total + batch["attention_mask"].numel()

    # trainer_vs_raw_loop: twins with the same seed draw the same batches
    trainer, twin = Trainer(tasks, encoder, config), Trainer(tasks, encoder, config)
    # from_pretrained leaves a model in eval mode: without this the bare loop skips dropout and
    # gets ~20 % less work than the trainer (the cause of the 0.76 measured before)
    twin.model.train()
    ready = [(task, twin.next_batch(task)) for task in order]
    trainer.step(MIX[0], ready[0][1]), raw_step(twin, *ready[0])  # warm-up outside the clock
    def block(r: int) -> range:
        return range(r * args.steps, (r + 1) * args.steps)

    t_trainer, t_raw = side_by_side(lambda r: [trainer.step(order[i]) for i in block(r)],
                                    lambda r: [raw_step(twin, *ready[i]) for i in block(r)], args.repeats)

    # dynamic_vs_pad128: the same ready-made batches, dynamic and padded to 128
    padded = [(task, pad_to(batch, 128)) for task, batch in ready]
    t_dynamic, t_pad = side_by_side(lambda r: [raw_step(twin, *ready[i]) for i in block(r)],
                                    lambda r: [raw_step(twin, *padded[i]) for i in block(r)], args.repeats)

    # fused_adamw_vs_default: optimiser steps alone, on the twin's last gradients
    params = list(twin.model.parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    fused, default = (torch.optim.AdamW(params, lr=1e-5, fused=f) for f in (True, False))
    fused.step(), default.step()  # allocate state outside the clock
    t_fused, t_default = side_by_side(lambda r: [fused.step() for _ in range(3)],
                                      lambda r: [default.step() for _ in range(3)], args.repeats)

    # bf16_vs_fp32: two trainers stepping the same ready-made batches
    bf16 = Trainer(tasks, encoder, replace(config, precision="bf16"))
    bf16.step(*ready[0]), trainer.step(*ready[0])  # warm-up outside the clock
    t_bf16, t_fp32 = side_by_side(lambda r: [bf16.step(*ready[i]) for i in block(r)],
                                  lambda r: [trainer.step(*ready[i]) for i in block(r)], args.repeats)

    # compiled_vs_eager: bf16 steps through torch.compile(model) against eager, the same batches; the
    # compiled side's first pass over them (each task's graph, each new shape) is its compile time
    compiled = Trainer(tasks, encoder, replace(config, precision="bf16"))
    compiled.model = torch.compile(compiled.model)
    t_first = timed(lambda: [compiled.step(*ready[i]) for i in range(len(ready))])
    t_eager_pass = timed(lambda: [bf16.step(*ready[i]) for i in range(len(ready))])
    t_compiled, t_eager = side_by_side(lambda r: [compiled.step(*ready[i]) for i in block(r)],
                                       lambda r: [bf16.step(*ready[i]) for i in block(r)], args.repeats)
    compile_s = max(t_first - t_eager_pass, 0.0)
    per_step_eager, per_step_compiled = t_eager / len(ready), t_compiled / len(ready)
    whole_run = args.run_steps * per_step_eager / (compile_s + args.run_steps * per_step_compiled)

    print(f"# encoder {args.encoder}, batch {args.batch_size}, {args.steps * args.repeats} steps a side, "
          f"device {trainer.device}")
    print(f"trainer_vs_raw_loop: {t_raw / t_trainer:.3f}")
    print(f"dynamic_vs_pad128: {t_pad / t_dynamic:.3f}")
    print(f"real_token_fraction: {real / total:.3f}")
    print(f"fused_adamw_vs_default: {t_default / t_fused:.3f}")
    print(f"bf16_vs_fp32: {t_fp32 / t_bf16:.3f}")
    print(f"compile_s: {compile_s:.1f}")
    print(f"compiled_vs_eager: {t_eager / t_compiled:.3f}")
    print(f"compiled_vs_eager_run: {whole_run:.3f}  (a {args.run_steps}-step run, compile time included)")


if __name__ == "__main__":
    main()
