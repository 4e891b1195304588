"""The methods layer: the method registry (the two papers' methods and their baselines, registered
in `catalogue`), the greedy search, AutoSeM (`autosem/`), GradTS (`gradts/`) and running every
method for a primary (`run_methods`)."""
from aux_select.methods import catalogue  # noqa: F401  (registers the built-in methods)
from aux_select.methods.autosem.ablations import run_ablations
from aux_select.methods.autosem.stage1 import autosem_p1, run_stage1
from aux_select.methods.autosem.stage2 import run_stage2
from aux_select.methods.baselines import heuristic, no_sel, single_task
from aux_select.methods.gradts.importance import importance_matrices, mean_tau_matrix, task_importance
from aux_select.methods.gradts.select import gradts_fg, gradts_thres, gradts_trial
from aux_select.methods.registry import MethodResult, get_method, method_names, register_method
from aux_select.methods.run import Comparison, run_method, run_methods, save_comparison

__all__ = ["run_ablations", "autosem_p1", "run_stage1", "run_stage2", "heuristic", "no_sel", "single_task",
           "importance_matrices", "mean_tau_matrix", "task_importance", "gradts_fg", "gradts_thres", "gradts_trial",
           "MethodResult", "get_method", "method_names", "register_method", "Comparison", "run_method",
           "run_methods", "save_comparison"]
