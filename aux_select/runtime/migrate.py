"""Bring a store written by older code up to today's keys, training nothing.

    python -m aux_select.runtime.migrate results/cpu/store

Schema 3 keys held the device and the precision as they resolved where the key was computed
("cpu", "bf16"), so a driver without a GPU never found what GPU workers had stored. Schema 4 keys
hold what the profile asks for, which every schema-3 spec also holds in its training settings
(`spec["train"]["device"]`, `["precision"]`): each record is rewritten under its new key with
its value and creation time unchanged, an array beside it is renamed with it, and the store's
SUPERSEDED list follows. Records already at schema 4 are left alone; a record of any other
schema is reported, not guessed at. Weights cached under `finetuned/` have no record to say what
made them: they are left, and fine-tuned again on the first miss.

    python -m aux_select.runtime.migrate results/cpu/store --drop-patience

When a profile turns early stopping off (`train.patience` to None; `cpu` did on 2026-12-06), a run
that patience never stopped trained exactly as it would have without it: `drop_patience` re-keys
those, and deletes the runs patience did stop (trained again, whole, on the next miss) and the
stored GP searches (`gp_search`), which the next search replays point by point from the runs.
Entries in SUPERSEDED are left as they are.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from aux_select.runtime.store import SCHEMA_VERSION, Store, make_key

SUPERSEDED = "SUPERSEDED"  # kind/key lines of entries that current code need not read back


def spec_3_to_4(spec: dict) -> dict:
    """A schema-3 spec's schema-4 form: the device and precision its profile asked for."""
    if "train" not in spec:
        raise ValueError("a schema-3 spec without training settings: its requested device is unknown")
    return {**spec, "device": spec["train"]["device"], "precision": spec["train"]["precision"]}


@dataclass
class Migration:
    """What `migrate_store` did: old key -> new key per moved record (kind/key), and what it left."""
    moved: dict[str, str] = field(default_factory=dict)
    current: int = 0                                  # records already at this schema
    unknown: list[str] = field(default_factory=list)  # records of no schema this code knows
    dropped: list[str] = field(default_factory=list)  # records deleted, to be computed again


def migrate_store(store: Store, progress: bool = True) -> Migration:
    """Rewrite every schema-3 record of `store` under its schema-4 key (see the module docstring)."""
    assert SCHEMA_VERSION == 4, "migrate_store knows schema 3 -> 4 only; add the step to this schema"
    done = Migration()
    files = sorted(store.root.glob("*/*.json"))
    for path in tqdm(files, desc="migrating store", disable=not progress):
        record = json.loads(path.read_text(encoding="utf-8"))
        kind, key, spec = record["kind"], record["key"], record["spec"]
        if key == make_key(kind, spec):
            done.current += 1
            continue
        if key != make_key(kind, spec, schema=3):
            done.unknown.append(f"{kind}/{key}")
            continue
        new_spec = spec_3_to_4(spec)
        new_key = make_key(kind, new_spec)
        store.put(kind, new_spec, record["value"], created=record["created"])
        array = store.path(kind, key, ".npy")
        if array.exists():
            os.replace(array, store.path(kind, new_key, ".npy"))
        path.unlink()
        done.moved[f"{kind}/{key}"] = f"{kind}/{new_key}"
    _follow_superseded(store.root / SUPERSEDED, done.moved)
    return done


def stopped_by_patience(record: dict) -> bool:
    """A run record whose `train.patience` ended it before the primary's budget (neither the search
    rule's stop, `stopped_at`, nor a failure)."""
    value, train = record["value"], record["spec"]["train"]
    history = value.get("history") or []
    return bool(train.get("patience")) and value.get("stopped_at") is None and not value.get("failure") \
        and bool(history) and history[-1]["primary_step"] < train["max_steps"]


def drop_patience(store: Store, progress: bool = True) -> Migration:
    """Move `store`'s records to `train.patience=None` keys where patience changed nothing (the
    module docstring); records listed in SUPERSEDED are left alone."""
    done, superseded = Migration(), _listed(store.root / SUPERSEDED)
    for path in tqdm(sorted(store.root.glob("*/*.json")), desc="dropping patience", disable=not progress):
        record = json.loads(path.read_text(encoding="utf-8"))
        name, spec = f"{record['kind']}/{record['key']}", record["spec"]
        if name in superseded or not spec.get("train", {}).get("patience"):
            done.current += 1
        elif record["kind"] == "gp_search" or (record["kind"] == "run" and stopped_by_patience(record)):
            path.unlink()
            done.dropped.append(name)
        else:
            new_spec = {**spec, "train": {**spec["train"], "patience": None}}
            store.put(record["kind"], new_spec, record["value"], created=record["created"])
            array = store.path(record["kind"], record["key"], ".npy")
            if array.exists():
                os.replace(array, store.path(record["kind"], make_key(record["kind"], new_spec), ".npy"))
            path.unlink()
            done.moved[name] = f"{record['kind']}/{make_key(record['kind'], new_spec)}"
    return done


def _listed(listing: Path) -> set[str]:
    if not listing.exists():
        return set()
    return {line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"}


def _follow_superseded(listing: Path, moved: dict[str, str]) -> None:
    """Rename the moved entries in the SUPERSEDED list (comments kept)."""
    if not listing.exists():
        return
    lines = listing.read_text(encoding="utf-8").splitlines()
    listing.write_text("\n".join(moved.get(line.strip(), line) for line in lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rewrite a store's schema-3 records under schema-4 keys.")
    parser.add_argument("store", help="the store folder, e.g. results/cpu/store")
    parser.add_argument("--drop-patience", action="store_true",
                        help="instead: move records to train.patience=None keys where patience changed nothing")
    args = parser.parse_args(argv)
    if args.drop_patience:
        done = drop_patience(Store(args.store))
        print(f"{len(done.moved)} records moved to patience-free keys, {len(done.dropped)} deleted to be computed "
              f"again, {done.current} left as they are" + "".join(f"\n  deleted {k}" for k in done.dropped))
        return
    done = migrate_store(Store(args.store))
    print(f"{len(done.moved)} records moved to schema-4 keys, {done.current} already there, "
          f"{len(done.unknown)} of an unknown schema left as they are" + "".join(f"\n  {k}" for k in done.unknown))


if __name__ == "__main__":
    main()
