# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run dev test test-fast lint bench chaos tail migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/orderwire run

# `make run`, restarting web, worker and relay when the code changes.
dev: $(STAMP)
	$(BIN)/orderwire dev

# The suite mostly waits on the processes it starts, so two pytest-xdist workers halve its
# time; a file's tests stay on one worker (they share module fixtures). TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit tools bench chaos $(PYTEST_ARGS)

# ruff, then mypy on the folders and with the strictness [tool.mypy] in pyproject.toml names.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

migrate: $(STAMP)
	$(BIN)/orderwire migrate

tail: $(STAMP)
	$(BIN)/orderwire tail

$(VENV)/.bench-stamp: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# orderwire vs the tutorial vs bare Celery, then 5,000 websockets on one web process (docs/benchmarks.md).
bench: $(VENV)/.bench-stamp
	$(BIN)/python -m bench all $(BENCH_ARGS)

# Faults under load, then every promise checked (docs/chaos.md); exits 1 if one breaks.
chaos: $(STAMP)
	$(BIN)/python -m chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
