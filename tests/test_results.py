"""The committed `cpu` results agree with each other and with the code: the profile is the
budget study's choice, RESULTS.md and the summary tables are what `reproduce --aggregate-only`
writes from the committed summaries, and the README quotes RESULTS.md's headline, control and cost
tables unchanged."""
import json
import os
import shutil
from pathlib import Path

import pytest

from aux_select import reproduce
from aux_select.analysis.budget import BudgetStudy, choose_budget
from aux_select.experiment.profiles import PROFILES
from aux_select.analysis.report import (
    CONTROLS_END,
    CONTROLS_START,
    COST_END,
    COST_START,
    HEADLINE_END,
    HEADLINE_START,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "cpu"
TABLES = ("comparison", "gains", "power", "cost", "selection")
PRIMARIES = sorted(p.name.removeprefix("compare_").removesuffix(".json") for p in RESULTS.glob("compare_*.json"))
AGGREGATE = (f"python -m aux_select.reproduce --primaries {' '.join(PRIMARIES)} --profile cpu --aggregate-only")

needs_comparisons = pytest.mark.skipif(not PRIMARIES, reason="no committed cpu comparison")
needs_controls = pytest.mark.skipif(not list(RESULTS.glob("controls_*.json")), reason="no committed control benchmark")


@pytest.mark.skipif(not (RESULTS / "budget.json").exists(),
                    reason="the budget study (notebook 00) has not finished: no results/cpu/budget.json yet")
def test_the_cpu_profile_is_the_committed_budget_studys_choice():
    study = BudgetStudy.from_json(json.loads((RESULTS / "budget.json").read_text()))
    # the rule, applied again to the committed curves (select scores only), gives the same choice
    assert choose_budget(study.curves, max_steps=study.choice["max_steps"]) == study.choice
    cpu = PROFILES["cpu"]
    assert cpu.train.lr == study.choice["lr"], "set PROFILES['cpu'].train.lr to results/cpu/budget.json's choice"
    assert cpu.primary_steps == study.choice["primary_steps"], \
        "set PROFILES['cpu'].primary_steps to results/cpu/budget.json's choice"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory, data_dir) -> Path:
    """RESULTS.md and the tables written again from the committed JSON files, in a temp folder
    laid out like the checkout (results/cpu, figures/cpu), so RESULTS.md's links are the same;
    the papers' numbers from the papers/ folder beside the data (as `reproduce` finds them)."""
    root = tmp_path_factory.mktemp("checkout")
    out = root / "results" / "cpu"
    out.mkdir(parents=True)
    for path in [*RESULTS.glob("compare_*.json"), *RESULTS.glob("controls_*.json"), *RESULTS.glob("budget.json")]:
        shutil.copy(path, out / path.name)
    before = os.environ.get("AUX_SELECT_PAPERS")
    os.environ["AUX_SELECT_PAPERS"] = str(data_dir.parent / "papers")
    try:
        reproduce.aggregate(PRIMARIES, out, root / "figures" / "cpu")
    finally:
        if before is None:
            del os.environ["AUX_SELECT_PAPERS"]
        else:
            os.environ["AUX_SELECT_PAPERS"] = before
    return out


@needs_comparisons
@pytest.mark.parametrize("name", TABLES)
def test_committed_table_is_what_the_committed_json_gives(regenerated, name):
    same = (RESULTS / "summary" / f"{name}.md").read_text() == (regenerated / "summary" / f"{name}.md").read_text()
    assert same, f"results/cpu/summary/{name}.md is stale: run {AGGREGATE}"


@needs_comparisons
def test_results_md_is_what_the_committed_json_gives(regenerated):
    assert (RESULTS / "RESULTS.md").read_text() == (regenerated / "RESULTS.md").read_text(), \
        f"results/cpu/RESULTS.md is stale: run {AGGREGATE}"


@pytest.mark.parametrize("start, end, what", [
    pytest.param(HEADLINE_START, HEADLINE_END, "headline table", marks=needs_comparisons),
    pytest.param(CONTROLS_START, CONTROLS_END, "control tasks table", marks=needs_controls),
    pytest.param(COST_START, COST_END, "cost table", marks=needs_comparisons)])
def test_readme_quotes_results_md_unchanged(start, end, what):
    text = (RESULTS / "RESULTS.md").read_text()
    block = text[text.index(start):text.index(end) + len(end)]
    assert block in (ROOT / "README.md").read_text(), \
        f"README.md does not quote results/cpu/RESULTS.md's {what}; paste it in unchanged"
