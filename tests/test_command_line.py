"""The command line from an installed package, in a folder that is not the checkout: a method of
the user's own module (--plugin) runs beside a built-in one, its summary, tables and RESULTS.md
are written under the working directory, and a second call trains nothing."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
from aux_select.methods import method_result, register_method, run_part

@register_method("Toy-First")
def toy_first(exp, primary, candidates):
    """The first candidate at 1:1."""
    run = exp.run([primary, candidates[0]], [1, 1])
    return method_result("Toy-First", exp, run, [run_part(run)], ranking=list(candidates))
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package installed (not editable) into a folder of its own, with its console script."""
    source, target = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("site")
    # a copy of what the package is built from, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "aux_select", source / "aux_select", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # with setuptools at hand the wheel builds offline; else pip fetches it into an isolated build
    offline = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *offline,
                    "--target", str(target), str(source)], check=True, capture_output=True)
    return target


def aux_select(installed: Path, cwd: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("AUX_SELECT_STORE", None)
    done = subprocess.run([sys.executable, str(installed / "bin" / "aux-select"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_installed_command_runs_a_plugin_method_outside_the_checkout(installed, fixture_data_dir, tmp_path):
    where = subprocess.run([sys.executable, "-c", "import aux_select; print(aux_select.__file__)"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True)
    assert where.stdout.startswith(str(installed))  # the installed copy, not the checkout
    (tmp_path / "toy_methods.py").write_text(PLUGIN)
    args = ["--primaries", "WNLI", "--methods", "Single-Task", "Toy-First", "--plugin", "toy_methods",
            "--profile", "smoke", "--data-dir", str(fixture_data_dir)]
    out = aux_select(installed, tmp_path, *args)
    assert "WNLI: wrote" in out
    summary = json.loads((tmp_path / "results" / "smoke" / "compare_WNLI.json").read_text())
    assert [r["method"] for r in summary["results"]] == ["Single-Task", "Toy-First"]
    toy = summary["results"][1]
    assert toy["selected"] == [summary["settings"]["candidates"][0]] and toy["ranking"] == summary["settings"]["candidates"]
    assert "Toy-First" in (tmp_path / "results" / "smoke" / "summary" / "comparison.md").read_text()
    assert "Toy-First" in (tmp_path / "results" / "smoke" / "RESULTS.md").read_text()
    assert (tmp_path / "figures" / "smoke" / "06_WNLI_gains.png").is_file()
    runs = sorted((tmp_path / "results" / "smoke" / "store" / "run").glob("*.json"))
    assert len(runs) == 2  # WNLI alone and WNLI + the first candidate, each trained once

    again = aux_select(installed, tmp_path, *args)
    assert "WNLI: every method and seed already in" in again
    assert sorted((tmp_path / "results" / "smoke" / "store" / "run").glob("*.json")) == runs


def test_a_plugin_that_is_not_there_is_named(tmp_path):
    from aux_select.reproduce import load_plugins
    with pytest.raises(FileNotFoundError, match="nothing.py"):
        load_plugins([str(tmp_path / "nothing.py")])
    with pytest.raises(ModuleNotFoundError, match="no_such_plugin"):
        load_plugins(["no_such_plugin"])


def test_notebooks_outside_a_checkout_are_asked_for_by_path(tmp_path):
    from aux_select.reproduce import notebooks_folder
    with pytest.raises(FileNotFoundError, match="--notebooks PATH"):
        notebooks_folder(tmp_path)
    assert notebooks_folder(ROOT / "notebooks") == ROOT / "notebooks"
