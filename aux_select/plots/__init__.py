"""Figures, on top of everything: each function takes plain results (dicts, DataFrames, result
objects), never trainers, and returns a matplotlib Figure; `save` writes it as PNG."""
from aux_select.plots.autosem import (
                                      plot_ablation,
                                      plot_objective_seeded,
                                      plot_posteriors,
                                      plot_pulls,
                                      plot_trials,
                                      plot_utilities,
                                      posterior_replay,
)
from aux_select.plots.comparison import plot_budget, plot_controls, plot_gains, plot_selection_matrix
from aux_select.plots.data import plot_label_distribution, plot_length_distribution
from aux_select.plots.gradts import (
                                      importance_picker,
                                      plot_greedy_trials,
                                      plot_head_importance,
                                      plot_instance_taus,
                                      plot_tau_matrix,
)
from aux_select.plots.saving import save
from aux_select.plots.transfer import plot_selector_cost, plot_transfer

__all__ = ["plot_ablation", "plot_objective_seeded", "plot_posteriors", "plot_pulls", "plot_trials", "plot_utilities",
           "posterior_replay", "plot_budget", "plot_controls", "plot_gains", "plot_selection_matrix",
           "plot_label_distribution", "plot_length_distribution", "importance_picker", "plot_greedy_trials",
           "plot_head_importance", "plot_instance_taus", "plot_tau_matrix", "save", "plot_selector_cost",
           "plot_transfer"]
