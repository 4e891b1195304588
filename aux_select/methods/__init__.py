"""The methods layer: the method registry (the two papers' methods and their baselines, registered
in `catalogue`), the greedy search, AutoSeM (`autosem/`), GradTS (`gradts/`) and running every
method for a primary (`run_methods`); cheap selectors that rank candidates without an MTL run
(`run_selector`)."""
from aux_select.methods import catalogue  # noqa: F401  (registers the built-in methods)
from aux_select.methods.autosem.ablations import run_ablations
from aux_select.methods.autosem.stage1 import run_stage1
from aux_select.methods.autosem.stage2 import run_stage2
from aux_select.methods.baselines import heuristic_search
from aux_select.methods.gradts.importance import importance_matrices, mean_tau_matrix, task_importance
from aux_select.methods.gradts.select import filter_by_instances, select_by_threshold, select_by_trials
from aux_select.methods.registry import (
    HEAD_MATRICES,
    SINGLE_TASK_RUN,
    MethodResult,
    baseline_method,
    get_method,
    method_names,
    method_result,
    register_method,
    run_part,
)
from aux_select.methods.run import Comparison, run_method, run_methods, save_comparison
from aux_select.methods.selectors import SelectorRanking, register_selector, run_selector, selector_names

__all__ = ["run_ablations", "run_stage1", "run_stage2", "heuristic_search", "importance_matrices", "mean_tau_matrix",
           "task_importance", "filter_by_instances", "select_by_threshold", "select_by_trials", "HEAD_MATRICES",
           "SINGLE_TASK_RUN", "MethodResult", "baseline_method", "get_method", "method_names", "method_result",
           "register_method", "run_part", "Comparison", "run_method", "run_methods", "save_comparison",
           "SelectorRanking", "register_selector", "run_selector", "selector_names"]
