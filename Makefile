# The two commands of the README: `make demo` and `make test`. Each sets itself up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
SDK_DIR := wix_pipelines_tests/sdk_conformance
SDK_INSTALLED := $(SDK_DIR)/node_modules/.package-lock.json
export DAGSTER_HOME := $(CURDIR)/data/dagster_home

# A running emulator for `make ui` (start it with `make emulator`); a real site overrides these three.
EMULATOR_PORT ?= 8765
UI_ENV = WIX_API_BASE_URL=$${WIX_API_BASE_URL:-http://127.0.0.1:$(EMULATOR_PORT)} \
	WIX_API_KEY=$${WIX_API_KEY:-emulator-api-key} WIX_SITE_ID=$${WIX_SITE_ID:-emulator-site}

.PHONY: setup demo test lint ui emulator bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(SDK_INSTALLED): $(SDK_DIR)/package-lock.json
	npm ci --prefix $(SDK_DIR) --no-audit --no-fund --loglevel=error

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

setup: $(INSTALLED) $(SDK_INSTALLED) $(DAGSTER_HOME)/dagster.yaml

demo: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m wix_pipelines.cli demo $(DEMO_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check wix_pipelines wix_pipelines_tests bench
	$(VENV)/bin/ruff format --check wix_pipelines wix_pipelines_tests bench

test: setup lint
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

emulator: $(INSTALLED)
	$(PY) -m wix_pipelines.cli emulator --port $(EMULATOR_PORT) --seed 1 --contacts 5000 --reviews 10000 --ratings 15000

ui: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(UI_ENV) $(VENV)/bin/dagster dev -w workspace.yaml

# dlt is a bench-only extra (the peer we compare against), never a runtime dependency.
$(VENV)/.bench-installed: $(INSTALLED)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SDK_DIR)/node_modules data/*.duckdb data/*.wal
