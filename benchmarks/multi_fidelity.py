"""AutoSeM's stage 2 with the multi-fidelity stop rule against the same search at full fidelity.

For one primary and seed: stage 1's selection (from the store, or trained), then the GP search of
stage 2 twice, once with every point trained whole (`search_stop.enabled=false`, as the papers
search) and once as the profile searches (`cpu`: points stop once they trail the best finished
one). Both read back what the store holds and train the rest. Prints, for each search, the chosen
ratio, its select score with its bootstrap standard error, the points that finished and stopped,
the steps trained, CPU and wall seconds (summed over the points' stored runs), then

  stopped_vs_full_steps: X   steps of the stopped search over the full one's (target <= 0.5)
  select_gap_in_se: X        (full's chosen score - stopped's chosen score) / full's select SE
                             (target <= 1)

    AUX_SELECT_DATA=../shared/data python benchmarks/multi_fidelity.py --primary MRPC --seed 0
"""
from __future__ import annotations

import argparse

from aux_select.experiment import Experiment, override
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.autosem.stage2 import Stage2Result, run_stage2, trial_run
from aux_select.runtime.store import default_store


def summary(exp: Experiment, result: Stage2Result) -> dict:
    runs = [trial_run(exp, result.tasks, t) for t in result.trials]
    best = next(r for t, r in zip(result.trials, runs) if t.finished and t.ratio == result.best_ratio)
    se = next(h["select_se"] for h in best.history if h["step"] == best.best_step)
    return {"ratio": result.best_ratio, "select": result.best_select_score, "se": se,
            "finished": sum(t.finished for t in result.trials),
            "stopped": sum(t.stopped_at is not None for t in result.trials),
            "steps": sum(r.steps for r in runs), "cpu_s": sum(r.cpu_time_s or float("nan") for r in runs),
            "wall_s": sum(r.wall_time_s for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primary", default="MRPC")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--data-dir", default=None, help="GLUE folder (default: AUX_SELECT_DATA)")
    parser.add_argument("--store", default=None, help="store folder (default: the profile's, results/<profile>/store)")
    args = parser.parse_args()
    store = default_store(args.store, args.profile)
    stopping = Experiment(args.profile, seed=args.seed, data_dir=args.data_dir, store=store)
    whole = Experiment(override(args.profile, ["search_stop.enabled=false"]), seed=args.seed, data_dir=args.data_dir,
                       store=store, catalogue=stopping.catalogue)
    selected = run_stage1(args.primary, stopping.candidates(args.primary), stopping).selected
    rows = {"full fidelity": summary(whole, run_stage2(args.primary, selected, whole)),
            "stopped early": summary(stopping, run_stage2(args.primary, selected, stopping))}
    print(f"# {args.profile} {args.primary} seed {args.seed}, stage 1 selected {', '.join(selected)}")
    print(f"{'search':<14} {'chosen ratio':<18} {'select':>7} {'SE':>6} {'finished':>8} {'stopped':>7} "
          f"{'steps':>6} {'CPU s':>7} {'wall s':>7}")
    for name, r in rows.items():
        print(f"{name:<14} {':'.join(map(str, r['ratio'])):<18} {r['select']:7.4f} {r['se']:6.4f} {r['finished']:8d} "
              f"{r['stopped']:7d} {r['steps']:6d} {r['cpu_s']:7.0f} {r['wall_s']:7.0f}")
    full, early = rows["full fidelity"], rows["stopped early"]
    print(f"stopped_vs_full_steps: {early['steps'] / full['steps']:.3f}")
    print(f"stopped_vs_full_cpu: {early['cpu_s'] / full['cpu_s']:.3f}")
    print(f"select_gap_in_se: {(full['select'] - early['select']) / full['se']:.2f}")


if __name__ == "__main__":
    main()
