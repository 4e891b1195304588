"""`aux-select` (= `python -m aux_select.reproduce`): every method for each primary (or the
control-task benchmark), its summary and figures, then the tables and RESULTS.md over every primary.

    aux-select --primaries RTE MRPC --seeds 0 1 2 --profile cpu       # = python -m aux_select.reproduce
    aux-select --primaries MRPC --seeds 0 1 2 --controls              # controls_<primary>.json instead
    aux-select --primaries MRPC RTE --seeds 0 1 2 --transfer          # transfer_<primary>.json: the matrix's rows
    aux-select --primaries RTE --plugin mymethods --methods Single-Task My-Method
    aux-select --primaries RTE --notebooks                            # also notebook 06 per primary, executed

Each primary runs `methods.run_methods` (with --controls `analysis.run_control_benchmark`, with
--transfer `analysis.run_transfer`: each candidate at 1:1 and every selector) and writes
compare_<primary>.json (merged with what is there) and its figures; a primary whose summary
already covers the asked methods and seeds is skipped. Every run goes through the store, so an
interrupted reproduction loses at most the run in progress: start the same command again. Then
the aggregate tables (markdown + CSV), figures and RESULTS.md are written from every requested
primary's summary, primaries in GLUE order. It runs from an installed package: outputs go under
the working directory unless told (--out-dir, --figures-dir, --store-dir).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from aux_select.experiment.context import output_dirs
from aux_select.experiment.profiles import override
from aux_select.methods.registry import method_names
from aux_select.reproduce.notebooks import execute_notebook, notebooks_folder
from aux_select.reproduce.summaries import COMPARE, CONTROLS, TRANSFER, aggregate, is_done, run_primary, summary_path
from aux_select.runtime.devices import ALLOW_CPU
from aux_select.runtime.executor import make_executor
from aux_select.runtime.store import Store


def load_plugins(plugins: Sequence[str]) -> None:
    """Import each plugin, which registers its methods (or tasks): a module name importable from
    the working directory (`mymethods`, `mypackage.methods`) or the path of a .py file."""
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: a module beside the user is found
    for plugin in plugins:
        if plugin.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(plugin).stem, plugin)
            if spec is None or not Path(plugin).is_file():
                raise FileNotFoundError(f"--plugin {plugin}: no such file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # a Dask worker that unpickles its functions finds it by name
            spec.loader.exec_module(module)
        else:
            importlib.import_module(plugin)


def _plugin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--plugin", nargs="+", default=[], metavar="MODULE",
                        help="modules (or .py files) to import first: methods they register can be named in --methods")
    return parser


def parser() -> argparse.ArgumentParser:
    """The command line (methods: every registered one, at the time it is built)."""
    parser = argparse.ArgumentParser(prog="aux-select", description=__doc__,
                                     parents=[_plugin_parser()], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primaries", nargs="+", required=True, help="primary tasks, e.g. RTE MRPC CoLA WNLI")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds (default: 0)")
    parser.add_argument("--methods", nargs="+", default=method_names(), choices=method_names(), metavar="METHOD",
                        help=f"methods (default: every registered one: {', '.join(method_names())})")
    parser.add_argument("--profile", default="cpu", help="smoke | cpu | paper (default: cpu)")
    parser.add_argument("--set", dest="settings", nargs="+", default=[], metavar="NAME=VALUE",
                        help="profile settings to change, e.g. gradts.threshold=0.5 train.lr=5e-5 "
                             "(summaries then go to results/<profile>+<hash>; runs share the store)")
    parser.add_argument("--data-dir", default=None, help="GLUE folder (default: AUX_SELECT_DATA, then the hub)")
    parser.add_argument("--out-dir", default=None, help="summaries and tables (default: results/<profile>)")
    parser.add_argument("--figures-dir", default=None, help="figures (default: figures/<profile>)")
    parser.add_argument("--store-dir", default=None, help="stored runs (default: AUX_SELECT_STORE, then results/<profile>/store)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--controls", action="store_true",
                      help="run the control-task benchmark per primary (controls_<primary>.json) instead of the comparison")
    kind.add_argument("--transfer", action="store_true",
                      help="measure each primary's row of the transfer matrix (each candidate at 1:1 against the "
                           "primary alone) and rank its candidates with every selector (transfer_<primary>.json)")
    parser.add_argument("--aggregate-only", action="store_true", help="only write the tables from existing summaries")
    parser.add_argument("--notebooks", nargs="?", const="", default=None, metavar="PATH",
                        help="also execute notebook 06 (--controls: 09, --transfer: 10) per primary into <out>/notebooks, reading "
                             "back what was stored (default PATH: the checkout's notebooks/ folder)")
    parser.add_argument("--executor", default="serial",
                        help="where the work runs: serial (default), local:N (N worker processes) or a Dask "
                             "scheduler address tcp://host:8786; each primary in turn fans out its methods at "
                             "every seed, and AutoSeM's GP points, as units")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="train here on the CPU what a profile that names a GPU (train.device=cuda) finds "
                             "unstored, instead of stopping (results are stored under the profile's device and "
                             "record 'cpu'); sets AUX_SELECT_ALLOW_CPU=1")
    return parser


def _run_primaries(args: argparse.Namespace, todo: Sequence[str], profile, out_dir: Path, figures_dir: Path,
                   store: Store) -> None:
    """Each primary in turn; with --executor its units (methods at seeds, GP points) go to the workers,
    which need absolute paths, and the executor made here is closed at the end."""
    executor, data_dir = make_executor(args.executor), args.data_dir
    if args.executor != "serial":
        data_dir, store = (str(Path(data_dir).resolve()) if data_dir else None), Store(store.root.resolve())
    try:
        for primary in tqdm(todo, desc="primaries", disable=len(todo) < 2):
            path = run_primary(primary, methods=args.methods, seeds=args.seeds, profile=profile, data_dir=data_dir,
                               out_dir=out_dir, figures_dir=figures_dir, store=store, kind=summary_kind(args),
                               executor=executor)
            print(f"{primary}: wrote {path}")
    finally:
        executor.close()


def summary_kind(args: argparse.Namespace) -> str:
    return CONTROLS if args.controls else TRANSFER if args.transfer else COMPARE


def main(argv: Sequence[str] | None = None) -> None:
    load_plugins(_plugin_parser().parse_known_args(argv)[0].plugin)  # before --methods is checked
    args = parser().parse_args(argv)
    profile = override(args.profile, args.settings)  # unknown settings stop here, before anything runs
    if args.allow_cpu:
        os.environ[ALLOW_CPU] = "1"  # read where a run resolves its device, here and in local workers
    out_dir, figures_dir, store = output_dirs(profile, args.out_dir, args.figures_dir, args.store_dir)
    out_dir, figures_dir = out_dir.resolve(), figures_dir.resolve()
    notebooks = notebooks_folder(args.notebooks) if args.notebooks is not None else None  # fails before training
    if not args.aggregate_only:
        kind = summary_kind(args)
        todo = [p for p in args.primaries if not is_done(out_dir, p, args.methods, args.seeds, profile.label, kind)]
        for primary in set(args.primaries) - set(todo):
            print(f"{primary}: every method and seed already in {summary_path(out_dir, primary, kind)}; skipped")
        _run_primaries(args, todo, profile, out_dir, figures_dir, store)
        for primary in args.primaries if notebooks else []:
            executed = execute_notebook(primary, notebooks=notebooks, methods=args.methods, seeds=args.seeds,
                                        profile=profile.name, settings=args.settings, data_dir=args.data_dir,
                                        out_dir=out_dir, figures_dir=figures_dir, store_dir=store.root.resolve(),
                                        kind=kind, primaries=args.primaries if args.transfer else ())
            print(f"{primary}: executed {executed}")
    if not any(summary_path(out_dir, p).exists() for p in args.primaries) and (args.controls or args.transfer):
        print(f"the {'control benchmarks' if args.controls else 'transfer rows'} are in {out_dir}; RESULTS.md, which "
              f"shows them, needs the primaries' comparison too: run the same command without "
              f"{'--controls' if args.controls else '--transfer'}")
        return
    for name, path in aggregate(args.primaries, out_dir, figures_dir, profile.label).items():
        print(f"{name}: {path}")
