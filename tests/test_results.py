"""The committed `cpu` results agree with each other: the summary tables are what `reproduce`
writes from the committed compare_<primary>.json files, and the README quotes them unchanged."""
from pathlib import Path

import pytest

from aux_select import reproduce

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "cpu"
TABLES = ("comparison", "gains", "cost", "selection")
PRIMARIES = sorted(p.name.removeprefix("compare_").removesuffix(".json") for p in RESULTS.glob("compare_*.json"))

pytestmark = pytest.mark.skipif(not PRIMARIES, reason="no committed cpu comparison")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    """The tables written again from the committed JSON files, in a temp folder."""
    out = tmp_path_factory.mktemp("cpu")
    for primary in PRIMARIES:
        (out / f"compare_{primary}.json").write_bytes((RESULTS / f"compare_{primary}.json").read_bytes())
    reproduce.aggregate(PRIMARIES, out, out / "figures")
    return out / "summary"


@pytest.mark.parametrize("name", TABLES)
def test_committed_table_is_what_the_committed_json_gives(regenerated, name):
    same = (RESULTS / "summary" / f"{name}.md").read_text() == (regenerated / f"{name}.md").read_text()
    assert same, (
        f"results/cpu/summary/{name}.md is stale: run python -m aux_select.reproduce "
        f"--primaries {' '.join(PRIMARIES)} --aggregate-only --profile cpu")


@pytest.mark.parametrize("name", TABLES)
def test_readme_quotes_the_committed_table(name):
    table = (RESULTS / "summary" / f"{name}.md").read_text().strip()
    quoted = table in (ROOT / "README.md").read_text()
    assert quoted, (
        f"README.md does not quote results/cpu/summary/{name}.md; paste the table in unchanged")
