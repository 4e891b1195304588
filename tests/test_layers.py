"""The layout the README maps: layers that import only those below them, and modules and functions
short enough to read at once."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aux_select"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 320, 60  # "~300" and "~60"


def test_the_layers_contract_holds():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.fail("lint-imports not found: pip install -e '.[test]' installs import-linter")
    out = subprocess.run([lint], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def test_no_module_imports_its_own_layer_in_a_cycle():
    import grimp  # import-linter's graph
    graph = grimp.build_graph("aux_select")
    cycles = [(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
              if a != b and graph.chain_exists(importer=b, imported=a)]
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_modules_and_functions_are_short():
    long_modules, long_functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(PACKAGE)} ({len(source.splitlines())} lines)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(PACKAGE)}:{node.name} ({length} lines)")
    assert not long_modules and not long_functions, (long_modules, long_functions)


def test_the_readmes_library_map_names_every_module_with_its_length():
    import re
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("## Library"):readme.index("## Where this departs")]
    listed, layer = {}, None
    for line in block.splitlines():
        if found := re.match(r"  (\w+)/(\s|$)", line):
            layer = found.group(1)
        for name, count in re.findall(r"(\w+\.py)\s+\((\d+)\)", line):
            listed[next(p for p in (PACKAGE / layer).rglob(name))] = int(count)
    modules = {p for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert sorted(map(str, modules - set(listed))) == [], "modules the README's library map leaves out"
    wrong = [f"{p.relative_to(PACKAGE)}: README says {n}, it has {len(p.read_text().splitlines())}"
             for p, n in listed.items() if len(p.read_text().splitlines()) != n]
    assert not wrong, wrong
