# fupin-gis: `make demo` serves the demo map, `make test` runs every test.
# Both install what is missing first (apt packages, .venv, front-end assets).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
SEED ?= 1
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test setup system venv assets db lint bench clean

demo: setup
	$(BIN)/fupin-gis demo --seed $(SEED) --if-empty
	$(BIN)/fupin-gis serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

setup: system venv assets

system:
	@bash scripts/install-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

assets: web/node_modules/.installed

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

db: setup
	$(BIN)/fupin-gis db up

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python bench/run.py

clean:
	-$(BIN)/fupin-gis db down
	rm -rf $(VENV) var web/node_modules
