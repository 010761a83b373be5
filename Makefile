# `make run` and `make test` bootstrap .venv themselves (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.raytuner-installed
PYTEST_ARGS ?=

.PHONY: run test test-fast lint-imports install clean bench bench-quick

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/raytuner run experiments/quickstart.yaml --report

# The layers of the package (.importlinter): faces -> runner -> console -> registries -> results -> spec.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

# Everything: the layer contracts, unit tests (no Ray) and integration tests (a real local Ray).
test: $(STAMP) lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# The inner loop: layer contracts and unit tests only (no Ray starts; under a minute).
test-fast: $(STAMP) lint-imports
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# The benchmark suite: every scripts/bench_*.py, each in a fresh process -> BENCHMARKS.md
# (bench: under 30 minutes; bench-quick: small settings, under 5). BENCH_ARGS="--only scale".
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) scripts/bench.py $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(PY) scripts/bench.py --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) results .pytest_cache
