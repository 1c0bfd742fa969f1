# Two entry points, each self-contained on a fresh machine (Python 3.11 + pip):
#   make suite   set up .venv, run the suite on every installed framework, write reports/latest/
#   make test    set up .venv, run the project's tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: suite test setup lint browser screenshots clean

suite: setup
	$(BIN)/conformance run

test: setup lint browser
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# docs/summary.png and docs/seed001.{svg,png}: the suite's own report, rendered by headless Chromium.
screenshots: setup browser
	$(BIN)/conformance run --report-only --out reports/latest
	$(BIN)/python -m conformance.report.screenshots reports/latest/report.json --out docs \
	  --figure 'seed001/bce/probs/two-point/a={a}' --name seed001

setup: $(STAMP)

# The HTML report is tested in a real headless Chromium: Debian's package, since a test
# tool's own browser download fails here. Installed when missing and apt-get is usable.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	  >/dev/null; } || echo "chromium not installed: the browser tests will be skipped"

# Reinstall only when the project's dependencies or their pins change; pip's cache makes a fresh
# venv ~2 min. pyproject.toml's extras are ranges; constraints.txt pins the exact versions the
# README's figures come from. Keras 2 (tf_keras) goes in without its dependencies, at the minor
# version of the TensorFlow installed: its own requirement is the full `tensorflow` wheel.
CONSTRAINTS := constraints.txt
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[all,dev]'
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) --no-deps "tf_keras==$$($(BIN)/python -c 'from importlib.metadata import version; print(version("tensorflow-cpu").rsplit(".", 1)[0])').*"
	touch $(STAMP)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
