# The README's commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench soak fuzz system-deps venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The Debian packages the interop, capture and GUI tests use (only where we are root).
system-deps:
	bash scripts/install-system-deps.sh

# DEMO_ARGS pass options on, e.g. make demo DEMO_ARGS="--lang pt".
DEMO_ARGS ?=
demo: system-deps venv
	$(BIN)/rtsp-workbench demo $(DEMO_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: system-deps venv lint
	bash scripts/run-tests.sh $(BIN)/python

# Each fuzz target for FUZZ_SECONDS (CI runs them for 10 s); reproducers go to fuzz-findings/.
FUZZ_SECONDS ?= 60
fuzz: venv
	$(BIN)/python -m fuzz --seconds $(FUZZ_SECONDS)

bench: venv system-deps
	$(BIN)/python -m bench

# 60 sessions for 10 minutes against one server (not in CI): loss, RSS and fds at both ends.
soak: venv system-deps
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
