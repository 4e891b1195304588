#!/usr/bin/env bash
# Lowest-versions check: every dependency at the floor pyproject.toml states
# (ci/lowest-requirements.txt pins each one), in a venv outside the checkout, on the lowest
# Python that requires-python allows when it is here, then the fast tests.
#
#   bash ci/lowest.sh [extra pytest args]      (or: make lowest)
#
# LOWEST_VENV (default /tmp/aux_select-lowest-venv) is made again only when it is missing or
# that Python or ci/lowest-requirements.txt changed; the checkout itself goes in with --no-deps, so nothing
# there can lift a pin. LOWEST_PYTHON picks the interpreter that makes the venv.
# torch 2.4 has no CPU-only wheel on PyPI: the venv pulls the CUDA packages (~2.5 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${LOWEST_VENV:-/tmp/aux_select-lowest-venv}"
reqs="ci/lowest-requirements.txt"
# the lowest Python that pyproject.toml's requires-python (">=3.X") allows, when it is here
lowest_minor="$(sed -n 's/^requires-python *= *">=3\.\([0-9]*\)".*/\1/p' pyproject.toml)"
if [[ -z "${LOWEST_PYTHON:-}" ]]; then
    LOWEST_PYTHON=python3
    for p in "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3."$lowest_minor".*/bin/python \
             "$(command -v python3."$lowest_minor" || true)"; do
        if [[ -x "$p" ]] && "$p" -c "import sys; assert sys.version_info[:2] == (3, $lowest_minor)" 2>/dev/null; then
            LOWEST_PYTHON="$p"; break
        fi
    done
fi

want="$("$LOWEST_PYTHON" --version) $(cat "$reqs")"
if [[ ! -x "$venv/bin/python" ]] || [[ "$want" != "$(cat "$venv/.lowest-stamp" 2>/dev/null)" ]]; then
    echo "lowest: making $venv with $("$LOWEST_PYTHON" --version) and $reqs"
    rm -rf "$venv"
    "$LOWEST_PYTHON" -m venv "$venv"
    start=$SECONDS
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off -r "$reqs"
    "$venv/bin/python" -m pip check
    printf "%s" "$want" > "$venv/.lowest-stamp"
    echo "lowest: installed in $((SECONDS - start)) s"
fi
# the checkout at hand, every time (a moved or re-cloned checkout must not be left stale)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
"$venv/bin/python" -c 'import torch, transformers, datasets, numpy, scipy, sklearn, pandas
print("lowest:", ", ".join(f"{m.__name__} {m.__version__}" for m in (torch, transformers, datasets, numpy, scipy, sklearn, pandas)))'

# the fast tests at the floors
PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -m "not slow" "$@"
