"""The analysis layer: tables in the papers' layout, statistics over report rows and seeds, the
papers' own numbers, RESULTS.md, the control-task benchmark, the budget study and the measured
transfer matrix with the selectors scored against it."""
from aux_select.analysis.budget import BudgetStudy, budget_study, choose_budget, curves_table
from aux_select.analysis.controls import ControlBenchmark, run_control_benchmark
from aux_select.analysis.papers import claims, paper_scores, paper_tables, papers_table, selection_beside_paper
from aux_select.analysis.report import markdown, results_markdown
from aux_select.analysis.statistics import paired_bootstrap
from aux_select.analysis.tables import comparison_table, cost_table, scores_table, selection_matrix
from aux_select.analysis.transfer import (
                                         TransferRow,
                                         run_transfer,
                                         run_transfer_matrix,
                                         selector_scores,
                                         transfer_table,
                                         verdict_counts,
)
from aux_select.analysis.verdicts import seed_verdicts

__all__ = ["BudgetStudy", "budget_study", "choose_budget", "curves_table", "ControlBenchmark",
           "run_control_benchmark", "claims", "paper_scores", "paper_tables", "papers_table", "selection_beside_paper",
           "markdown", "results_markdown", "paired_bootstrap", "comparison_table",
           "cost_table", "scores_table", "selection_matrix", "seed_verdicts", "TransferRow", "run_transfer", "run_transfer_matrix",
           "selector_scores", "transfer_table", "verdict_counts"]
