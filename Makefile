# Two entry points, each self-contained on a fresh machine (Python 3.11 + pip):
#   make suite   set up .venv, run the suite on every installed framework, write reports/latest/
#   make test    set up .venv, run the project's tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: suite test setup lint clean

suite: setup
	$(BIN)/conformance run

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(STAMP)

# Reinstall only when the project's dependencies change; pip's cache makes a fresh venv ~2 min.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
