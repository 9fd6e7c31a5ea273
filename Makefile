# riskpipe — two commands on a fresh machine: `make demo` and `make test`.
# Needs python3.11 and Java 17 on PATH; everything else comes from the package registries.

PYTHON   ?= python3.11
UV_VER   := 0.13.9
TOOLS    := .tools
UV       := $(TOOLS)/bin/uv
VENV     := .venv
STAMP    := $(VENV)/.synced
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench lint lock services clean help

help:
	@echo "make demo   set up, then run the whole pipeline on the embedded defaults"
	@echo "make test   set up, then run the full test suite"
	@echo "make bench  set up, then run the benchmarks (writes bench/results/*.json)"
	@echo "make lint   ruff"
	@echo "make lock   re-resolve uv.lock after changing pyproject.toml"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VER)"

# the environment is created from the committed lock file only (--frozen: never re-resolved here)
$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $(STAMP)

setup: $(STAMP)

lock: $(UV)
	$(UV) lock --python $(PYTHON)

services:
	@bash infra/services/ensure.sh

demo: setup
	$(VENV)/bin/riskpipe demo

test: setup services
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow and not services" $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests dags jobs bench feature_repo

clean:
	rm -rf data .pytest_cache
