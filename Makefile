# The two commands a fresh clone needs:
#   make serve   serve the app in this folder on the embedded store
#   make test    run the whole test suite (lint, types, tests)
# Both install what they need into .venv first.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest serve dev bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

serve: install
	$(BIN)/reactor serve

dev: install
	$(BIN)/reactor dev

bench: install
	$(BIN)/python bench/commits.py

clean:
	rm -rf $(VENV) .reactor
