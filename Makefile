# The two quick-start commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint bench clean browser eval lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Exactly the locked versions (hash-checked), then the project itself with nothing more.
$(VENV)/.installed: pyproject.toml requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## Regenerate the lock files from pyproject.toml (requirements.txt: what a deploy installs;
## requirements-dev.txt: with the tests and the embedded PostgreSQL). Needs uv.
lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --python-platform linux -o requirements.txt
	uv pip compile pyproject.toml --extra test --extra embedded --generate-hashes --python-version 3.11 --python-platform linux -o requirements-dev.txt

## Set up, then serve on the embedded PostgreSQL with the seven example advisors.
run: $(VENV)/.installed
	$(BIN)/advisor-bot db upgrade
	$(BIN)/advisor-bot db seed --if-empty
	$(BIN)/advisor-bot serve --port $(PORT)

## Set up, then run the linter and the whole test suite (the console's tests drive Debian's Chromium).
test: $(VENV)/.installed browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## Debian's chromium for the console's browser tests, installed when missing (root or sudo).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { APT="apt-get"; [ "$$(id -u)" = 0 ] || APT="sudo apt-get"; \
	    $$APT update -qq && DEBIAN_FRONTEND=noninteractive $$APT install -y -qq chromium >/dev/null; } || \
	  { echo "install Debian's chromium package (apt-get install chromium) for the console's tests"; exit 1; }

## The evaluation suite against the configured model (OPENAI_*; ARGS="--base-url … --model …").
eval: $(VENV)/.installed
	$(BIN)/advisor-bot eval $(ARGS)

## ruff, formatting, mypy --strict, and the architecture's import contracts (docs/architecture.md).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Every benchmark of docs/benchmarks.md, figures and plots rewritten (about 20 minutes).
## wrk (the C load generator) comes from the system's packages when it is missing.
bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	command -v wrk >/dev/null || apt-get install -y wrk || sudo apt-get install -y wrk
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .advisor-bot .pytest_cache .ruff_cache
