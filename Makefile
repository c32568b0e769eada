# One set of targets, used locally and by .ci/run.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: env demo test lint typecheck exercises check clean

$(BIN)/coursekit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# dev includes the nbgrader extra: the tests run the real nbgrader.
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

env: $(BIN)/coursekit

# The main job: check the graders against the solutions, the stubs and every mutant, then grade the sample class.
demo: env
	$(BIN)/coursekit check
	# mallory's training_loop never returns: a 10 s limit per part keeps the demo short.
	$(BIN)/coursekit grade examples/submissions --out out/demo --force --time-limit 10

exercises: env
	$(BIN)/coursekit build-exercises

check: env
	$(BIN)/coursekit check

lint: env
	$(BIN)/ruff check coursekit tests graders solutions exercises bench examples/build_sample_class.py
	$(BIN)/ruff format --check coursekit tests graders solutions exercises bench examples/build_sample_class.py

typecheck: env
	$(BIN)/mypy

test: lint typecheck
	# The slowest tests, listed at the end, show where CI time goes.
	$(BIN)/python -m pytest tests --durations=30

clean:
	rm -rf $(VENV) out build .pytest_cache .mypy_cache .ruff_cache
