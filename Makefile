# The two quick-start commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

## Set up, then serve on the embedded PostgreSQL with the seven example advisors.
run: $(VENV)/.installed
	$(BIN)/advisor-bot db upgrade
	$(BIN)/advisor-bot db seed --if-empty
	$(BIN)/advisor-bot serve --port $(PORT)

## Set up, then run the linter and the whole test suite.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Benchmarks (webhook acknowledgement, voice paths); write docs/benchmarks.md.
bench: $(VENV)/.installed
	$(BIN)/python -m bench.ack_latency
	$(BIN)/python -m bench.voice_latency

clean:
	rm -rf $(VENV) .advisor-bot .pytest_cache .ruff_cache
