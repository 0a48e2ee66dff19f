# Two commands on a fresh machine: `make release` and `make test`.
# Each creates .venv/ when missing and installs the pinned set into it (torch first: the CPU build on disk).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cardlive-installed

.PHONY: setup setup-browser test test-fast lint release clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# Headless Chromium for the conformance HTML-report test (Debian, as root); without it that test is skipped.
setup-browser:
	apt-get update && apt-get install -y chromium

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 -q

test-fast: lint
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

release: setup
	$(BIN)/cardlive release --out build/release

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
