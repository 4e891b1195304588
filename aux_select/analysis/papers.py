"""The papers' own numbers, read from their tables as data (never retyped).

    tables = paper_tables()                    # every row of tables.csv, values as printed
    paper_scores(tables, "MRPC", "accuracy")   # {method: value} from GradTS's GLUE-pool tables
    autosem_selections()                       # AutoSeM's stage-1 tasks and stage-2 ratios

The folder is `AUX_SELECT_PAPERS`, else `papers/` beside the data root (`AUX_SELECT_DATA`,
e.g. ../shared/papers beside ../shared/data). `tables.csv` has one number a row: paper, table,
method, task, metric, value, split (what the paper reports: GradTS and AutoSeM Tables 2-3 GLUE
dev, AutoSeM Table 1 GLUE test), note.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from aux_select.analysis.tables import primary_metrics
from aux_select.methods.registry import MethodResult, baseline_method, claimed_order, method_names

COLUMNS = ["paper", "table", "method", "task", "metric", "value", "split", "note"]
SPLITS = ("dev", "test", "train", "n/a")  # train: the data statistics of GradTS Table 7

# GradTS's tables over the 8-task GLUE pool, which is our "glue" pool: Table 2 (Single-Task,
# NO-SEL, AutoSeM-p1, AutoSeM, GradTS-trial, GradTS-fg), Table 6 (the HEU baselines) and Table 9
# (GradTS-thres beside trial and fg). Earlier tables win where two print one method's number.
GLUE_POOL_TABLES = ("2", "6", "9")
# what the papers ran, for the caption beside every comparison
SETTINGS = {
    "GradTS": "MT-DNN on bert-base-cased, 7 epochs over every task at lr 5e-5, the best dev score "
              "over epochs, GLUE dev; one NVIDIA RTX-8000",
    "AutoSeM": "BiLSTM + ELMo, early stopping on dev; Table 1 on GLUE test, Tables 2-3 on GLUE dev",
}


def papers_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The folder of tables.csv: `path` (which must hold it), else AUX_SELECT_PAPERS, else
    papers/ beside the data root; None when neither is there."""
    if path is not None:
        if not (Path(path) / "tables.csv").is_file():
            raise FileNotFoundError(f"{path} holds no tables.csv")
        return Path(path)
    data = os.environ.get("AUX_SELECT_DATA")
    for candidate in (os.environ.get("AUX_SELECT_PAPERS"), Path(data).parent / "papers" if data else None):
        if candidate and (Path(candidate) / "tables.csv").is_file():
            return Path(candidate)
    return None


def paper_tables(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every row of tables.csv, checked: the columns, a number in every value, a known split.
    Empty (with the columns) when the papers' folder is not there."""
    folder = papers_dir(path)
    if folder is None:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.read_csv(folder / "tables.csv", dtype={"table": str}, keep_default_na=False)
    if list(frame.columns) != COLUMNS:
        raise ValueError(f"{folder / 'tables.csv'} has columns {list(frame.columns)}, not {COLUMNS}")
    frame["value"] = pd.to_numeric(frame["value"], errors="raise")
    unknown = sorted(set(frame["split"]) - set(SPLITS))
    if unknown:
        raise ValueError(f"{folder / 'tables.csv'}: unknown split(s) {unknown}; expected {SPLITS}")
    return frame


def paper_scores(tables: pd.DataFrame, task: str, metric: str, paper: str = "GradTS",
                 from_tables: tuple[str, ...] = GLUE_POOL_TABLES) -> dict[str, float]:
    """{method: value (×100, as printed)} for `task` and `metric` from the paper's tables
    `from_tables`, the first table that prints a method winning."""
    rows = tables[(tables["paper"] == paper) & (tables["task"] == task) & (tables["metric"] == metric)
                  & tables["table"].isin(from_tables)]
    out: dict[str, float] = {}
    for table in from_tables:
        for method, value in rows[rows["table"] == table][["method", "value"]].itertuples(index=False):
            out.setdefault(method, float(value))
    return out


def autosem_selections(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """AutoSeM's own stage-1 selections and stage-2 ratios per primary (section 5.2), indexed by
    primary: selected (a list), ratio_order, ratio (text as printed, e.g. "1:5:5"), source."""
    folder = papers_dir(path)
    if folder is None:
        return pd.DataFrame(columns=["selected", "ratio_order", "ratio", "source"])
    frame = pd.read_csv(folder / "autosem-selections.csv", keep_default_na=False).set_index("primary")
    frame["selected"] = frame["stage1_selected"].str.split(";")
    return frame.rename(columns={"stage2_ratio_order": "ratio_order", "stage2_ratio": "ratio"})[
        ["selected", "ratio_order", "ratio", "source"]]


def selection_beside_paper(primary: str, selected: list[str], tasks: Sequence[str] = (),
                           ratio: Sequence[int] | None = None, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Our stage-1 selection (and stage-2 ratio over `tasks`, primary first, as
    `Stage2Result.tasks` and `.best_ratio` give them) beside AutoSeM's own for the primary
    (section 5.2: BiLSTM + ELMo, full GLUE with QQP and the real MNLI and QNLI): a row each."""
    rows = [{"who": "ours", "selected": ", ".join(selected) or "-",
             "ratio": ":".join(map(str, ratio)) if ratio else "-",
             "ratio order": ":".join(tasks) if ratio else "-"}]
    theirs = autosem_selections(path)
    if primary in theirs.index:
        row = theirs.loc[primary]
        rows.append({"who": "AutoSeM paper", "selected": ", ".join(row["selected"]), "ratio": row["ratio"],
                     "ratio order": row["ratio_order"]})
    return pd.DataFrame(rows).set_index("who")


# ----------------------------------------------------------------------------- beside the papers

def papers_table(results: Sequence[MethodResult], tables: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Our report score (mean over seeds, ×100) and gain over our Single-Task beside GradTS's
    value and its gain over its Single-Task, per primary on its first metric: the headline table.
    Also {primary: where the paper's numbers come from}: GradTS Tables 2, 6, 9 (the 8-task GLUE
    pool), or for a primary those tables lack (STS-B) Table 5 (its 12-task mixed pool)."""
    frame = pd.DataFrame([{"method": r.method, "primary": r.primary, "score": 100 * r.report[primary_metrics(r.primary)[0]]}
                          for r in results])
    table, sources = {}, {}
    for primary, rows in frame.groupby("primary", sort=False):
        metric = primary_metrics(primary)[0]
        ours = rows.groupby("method", sort=False)["score"].mean()
        theirs = paper_scores(tables, primary, metric)
        sources[primary] = "GradTS Tables 2, 6, 9 (GLUE pool)"
        if not theirs:
            theirs = paper_scores(tables, primary, metric, from_tables=("5",))
            sources[primary] = "GradTS Table 5 (12-task mixed pool)" if theirs else "not in either paper"
        theirs = pd.Series(theirs, dtype=float)
        column = f"{primary} {metric}"
        table[(column, "ours")] = ours
        table[(column, "ours Δ")] = ours - ours.get(baseline_method(), np.nan)
        table[(column, "paper")] = theirs
        table[(column, "paper Δ")] = theirs - theirs.get(baseline_method(), np.nan)
    order = [m for m in method_names() if m in set(frame["method"])]
    out = pd.DataFrame(table).reindex(order)
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out.round(1), sources


def claimed_pairs(means: pd.Series) -> list[str]:
    """The papers' claimed order (`registry.claimed_order`) checked pair by pair on mean scores,
    strictly: "a > b" holds, "a = b" is a tie (often the very same run), "a < b" does not."""
    ordered = [m for m in claimed_order() if m in means]
    sign = lambda a, b: ">" if means[a] > means[b] else "=" if means[a] == means[b] else "<"  # noqa: E731
    return [f"{a} {sign(a, b)} {b}" for a, b in zip(ordered, ordered[1:])]


def claims(results: Sequence[MethodResult], verdicts: pd.DataFrame) -> list[str]:
    """The reading of the results, one line per primary, made from them: which methods beat or
    lose to the baseline by the seed-level test (`analysis.seed_verdicts`: Holm-corrected over the
    primary's methods), on how many seeds, the smallest gain those seeds could detect, and the
    papers' claimed order pair by pair (strict; ties said)."""
    lines = []
    for primary in dict.fromkeys(r.primary for r in results):
        mine = verdicts[verdicts["primary"] == primary] if len(verdicts) else verdicts
        if not len(mine):  # the baseline alone so far: nothing to test
            n = len({r.seed for r in results if r.primary == primary})
            lines.append(f"**{primary}**: {baseline_method()} only so far ({n} seed{'s' if n != 1 else ''}); "
                         "no method to test against it yet.")
            continue
        metric, seeds = primary_metrics(primary)[0], int(mine["seeds"].max()) if len(mine) else 0
        said = {v: [f"{g['method']} ({g['gain']:+.1f} [{g['low']:.1f}, {g['high']:.1f}])"
                    for _, g in mine.iterrows() if g["verdict"] == v] for v in ("beats", "loses")}
        detectable = mine["detectable gain"].dropna() if len(mine) else pd.Series(dtype=float)
        power = (f"the smallest gain {seeds} seeds could detect: {detectable.min():.1f} to {detectable.max():.1f}"
                 if len(detectable) else "no seed-level test with one seed: every verdict is no evidence")
        means = pd.DataFrame([{"method": r.method, "score": r.report[metric]} for r in results
                              if r.primary == primary]).groupby("method")["score"].mean()
        pairs = claimed_pairs(means)
        lines.append(f"**{primary}** ({metric}, {seeds} seed{'s' if seeds != 1 else ''}, {len(mine)} methods tested; "
                     f"{power}): beat {baseline_method()}: {', '.join(said['beats']) or 'none'}; "
                     f"lose to it: {', '.join(said['loses']) or 'none'}; no evidence either way: "
                     f"{len(mine) - len(said['beats']) - len(said['loses'])}. "
                     + (f"The papers' order holds strictly for {sum('>' in p for p in pairs)} of {len(pairs)} adjacent "
                        f"pairs ({sum('=' in p for p in pairs)} ties): {'; '.join(pairs)}."
                        if pairs else "The papers' order: fewer than two of its methods here yet."))
    return lines
