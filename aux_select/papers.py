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

import pandas as pd

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


def selection_beside_paper(primary: str, selected: list[str], ratio: dict[str, int] | None = None,
                           path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Our stage-1 selection (and stage-2 ratio, {task: entry}, primary first) beside AutoSeM's
    own for the primary (section 5.2: BiLSTM + ELMo, full GLUE with QQP and the real MNLI and
    QNLI): a row each."""
    rows = [{"who": "ours", "selected": ", ".join(selected) or "-",
             "ratio": ":".join(map(str, ratio.values())) if ratio else "-",
             "ratio order": ":".join(ratio) if ratio else "-"}]
    theirs = autosem_selections(path)
    if primary in theirs.index:
        row = theirs.loc[primary]
        rows.append({"who": "AutoSeM paper", "selected": ", ".join(row["selected"]), "ratio": row["ratio"],
                     "ratio order": row["ratio_order"]})
    return pd.DataFrame(rows).set_index("who")
