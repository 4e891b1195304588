# Two commands on a fresh machine:
#   make demo   the main job: notebook 03 (full AutoSeM) for $(PRIMARY) on the local GLUE files
#   make test   the whole test suite
# Each makes the virtual environment $(VENV) first, or reuses it: the pinned CPU torch wheel
# (a bare or newer torch requirement would pull the CUDA stack), then `pip install -e ".[test]"`.
# It is made again only when it is missing or pyproject.toml is newer than its stamp.
#
# Variables (make VAR=value, or the environment):
#   AUX_SELECT_DATA  the data root; default ../shared/data when that folder exists, else unset
#                    (then every task loads from the Hugging Face hub); AUX_SELECT_DATA= drops it
#   PYTEST_ARGS      extra pytest arguments, e.g. PYTEST_ARGS='-m "not slow"' or "--collect-only -q"
#   PRIMARY, DEMO_OUT  the demo's primary task (RTE) and executed notebook (out.ipynb)
#   PYTHON, VENV, TORCH  the interpreter that makes the venv, its folder, the torch pin
#
# With a conda env or another environment that already has the package, run the commands
# below without make: `python -m pytest -q`, `papermill notebooks/03_gp_mixing.ipynb ...`.

SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PRIMARY ?= RTE
DEMO_OUT ?= out.ipynb
PYTEST_ARGS ?=
AUX_SELECT_DATA ?= $(if $(wildcard ../shared/data),../shared/data,)

VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the recipes run with the venv first on PATH, and the data root made absolute
RUN := PATH="$(abspath $(VENV))/bin:$$PATH" VIRTUAL_ENV="$(abspath $(VENV))" \
       AUX_SELECT_DATA="$(if $(AUX_SELECT_DATA),$(abspath $(AUX_SELECT_DATA)),)"

.PHONY: demo test venv lowest

demo: $(STAMP)
	$(RUN) $(VENV_PY) -m papermill notebooks/03_gp_mixing.ipynb $(DEMO_OUT) -p primary $(PRIMARY)

test: $(STAMP)
	$(RUN) $(VENV_PY) -m pytest -q $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV_PY) || { echo "making $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@

# every dependency at its floor (ci/lowest-requirements.txt) in a venv outside the checkout,
# then the fast tests; see ci/lowest.sh (LOWEST_VENV, LOWEST_PYTHON)
lowest:
	bash ci/lowest.sh $(PYTEST_ARGS)
