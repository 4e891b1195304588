"""Two single-threaded Dask workers against one process with two torch threads.

Prints, measured side by side in one run (these machines are noisy, so only ratios):
  local2_vs_serial: X      speed-up of a fixed set of independent MTL runs (single-task runs of two
                           primaries at two seeds) on a LocalCluster of two single-threaded worker
                           processes ("local:2") over the same runs one after another in this process
                           with two torch threads (above 1: the workers are faster)
  gp_batch2_vs_serial: X   speed-up of a GP search of the same budget (n_calls) with two proposals per
                           step on the two workers (batch_size=2) over today's search (k=1), serially
                           with two torch threads

    AUX_SELECT_DATA=../shared/data python benchmarks/parallel.py      # the cpu profile on GLUE: a long run
    AUX_SELECT_DATA=../shared/data python benchmarks/parallel.py --primary-steps 60  # the same, shorter runs
    python benchmarks/parallel.py --quick                             # smoke profile, fixture data: seconds

The cluster's start and its workers' first imports and data loading are not timed (a one-off cost
of seconds); every timed workload writes to a fresh store, so nothing is read back. Run it on an
otherwise idle machine: two workers need two free cores.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

from aux_select.experiment.context import Experiment, as_experiment
from aux_select.experiment.profiles import override
from aux_select.methods.autosem.stage2 import run_stage2
from aux_select.runtime.cost import timed
from aux_select.runtime.executor import make_executor
from aux_select.runtime.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "data"


def run_unit(exp: Experiment, item: tuple) -> None:
    """One MTL run as a unit: item = (seed, tasks)."""
    seed, names = item
    exp.with_seed(seed).run(list(names))


def warm_up(exp: Experiment, items: list) -> None:
    exp.map(run_unit, items)  # on a worker: serially, there


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke profile on the test fixtures: seconds, not minutes")
    parser.add_argument("--data-dir", default=None,
                        help="GLUE folder (default: AUX_SELECT_DATA; --quick: the fixtures)")
    parser.add_argument("--primary-steps", type=int, default=None,
                        help="every timed run's primary steps (default: the profile's); auxiliary batches on top")
    args = parser.parse_args()
    if args.quick:
        profile, data_dir, primaries, pool, n_calls = "smoke", FIXTURES, ("WNLI", "MRPC"), ("MRPC",), 4
    else:
        profile, data_dir, primaries, pool, n_calls = "cpu", args.data_dir, ("RTE", "MRPC"), ("MRPC", "CoLA"), 6
    gp_primary = primaries[0]  # its GP search mixes it with `pool`, n_calls runs
    jobs = [(seed, (p,)) for p in primaries for seed in (0, 1)]
    work = Path(tempfile.mkdtemp(prefix="aux_select_parallel_"))

    if args.primary_steps is not None:  # same profile otherwise: precision, cap, eval cadence
        steps = {p: args.primary_steps for p in (*primaries, *pool)}
        profile = override(profile, [f"primary_steps={json.dumps(steps)}"])
    base = Experiment(profile, data_dir=data_dir, progress=False)

    def context(name: str, executor="serial") -> Experiment:  # loaded tasks shared with `base`
        return as_experiment(base, store=Store(work / name), executor=executor)

    executor = make_executor("local:2")
    try:
        # warm both sides untimed: imports, data, tokenising, a first model (seed 99 is never timed);
        # `client.run` reaches every worker, whose later contexts share what it loaded
        warm = [(99, (p,)) for p in dict.fromkeys((*primaries, *pool))]
        context("warm").map(run_unit, warm)
        executor.client.run(warm_up, context("warm-workers"), warm)
        torch.set_num_threads(2)  # the serial side: one process, both cores

        serial = timed(lambda: context("serial").map(run_unit, jobs))
        local2 = timed(lambda: context("local2", executor).map(run_unit, jobs))
        gp_serial = timed(lambda: run_stage2(gp_primary, list(pool), context("gp-serial"), n_calls=n_calls))
        gp_batch2 = timed(lambda: run_stage2(gp_primary, list(pool), context("gp-batch2", executor),
                                             n_calls=n_calls, batch_size=2))
    finally:
        executor.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"local2_vs_serial: {serial / local2:.2f}")
    print(f"gp_batch2_vs_serial: {gp_serial / gp_batch2:.2f}")


if __name__ == "__main__":  # the LocalCluster's worker processes import this file again
    main()
