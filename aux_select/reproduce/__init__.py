"""The command line (`cli`: `aux-select`, `python -m aux_select.reproduce`), what it writes per
primary and over all of them (`summaries`), and the notebooks it can execute (`notebooks`)."""
from aux_select.reproduce.cli import load_plugins, main, parser
from aux_select.reproduce.notebooks import execute_notebook, notebooks_folder, readable_bars
from aux_select.reproduce.summaries import aggregate, is_done, run_primary, summary_path

__all__ = ["load_plugins", "main", "parser", "execute_notebook", "notebooks_folder", "readable_bars", "aggregate",
           "is_done", "run_primary", "summary_path"]
