# darkroom: `make run` brings the whole system up, `make test` passes the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# torch==2.13.0 is a local CPU wheel on these machines; an unpinned torch pulls CUDA.
export PIP_FIND_LINKS ?= /opt/wheels

.PHONY: run test chaos bench lint check clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

run: venv
	$(VENV)/bin/darkroom up

test: venv
	$(PY) -m pytest

# 300 jobs through the local pool while workers are killed and interrupted at random
chaos: venv
	DARKROOM_CHAOS_JOBS=300 DARKROOM_CHAOS_SECONDS=120 $(PY) -m pytest -s -q --timeout 1200 tests/test_pool_e2e.py -k chaos

# Every stage against the obvious way, side by side; rewrites the tables in BENCHMARKS.md (under 15 min on 2 cores)
bench: venv
	$(PY) -m bench

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
