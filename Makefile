# darkroom: `make run` brings the whole system up, `make test` passes the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# torch==2.13.0 is a local CPU wheel on these machines; an unpinned torch pulls CUDA.
export PIP_FIND_LINKS ?= /opt/wheels

.PHONY: run test chaos soak bench mutate lint check clean venv tools system-tools lint-deploy

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

run: venv
	$(VENV)/bin/darkroom up

test: venv tools system-tools
	$(PY) -m pytest

# Debian's chromium, for the page's browser test (it skips, saying why, without it)
# Debian packages the tests drive: chromium (the page's browser test), docker-compose v1 and
# packer (the deploy artifacts' checks). Installed when missing and root; else those tests skip.
SYSTEM_TOOLS := chromium docker-compose packer
system-tools:
	@missing=$$(for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else echo "missing $$missing and not root: the tests that need them will skip"; fi; \
	fi

# 300 jobs through the local pool while workers are killed and interrupted at random
chaos: venv
	DARKROOM_CHAOS_JOBS=300 DARKROOM_CHAOS_SECONDS=120 $(PY) -m pytest -s -q --timeout 1200 tests/test_chaos.py

# Mutation testing of the pure cores, each module against its own tests (mutmut; minutes, so not in `make test`)
mutate: venv
	$(PY) -m tests.support.mutate

# Every stage against the obvious way, side by side; rewrites the tables in BENCHMARKS.md (under 15 min on 2 cores)
bench: venv
	$(PY) -m bench

# the whole stack under load for a bounded time; the numbers in RELIABILITY.md come from it
SOAK_SECONDS ?= 300
soak: venv
	mkdir -p artifacts
	$(VENV)/bin/darkroom soak --seconds $(SOAK_SECONDS) --clients 32 --workers 2 --report artifacts/soak.md

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test

# checkov pins many packages: it gets a venv of its own (tests/deploy finds it there)
CHECKOV := .venv/checkov/bin/checkov
tools: $(CHECKOV)

$(CHECKOV):
	$(PYTHON) -m venv .venv/checkov
	.venv/checkov/bin/pip install --quiet checkov

# the deploy artifacts' linters (also run by tests/deploy/test_lint.py)
lint-deploy: venv tools
	$(VENV)/bin/cfn-lint infra/darkroom.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --skip-download --quiet --compact --framework cloudformation dockerfile \
		-f infra/darkroom.yaml -f docker/api.Dockerfile -f docker/worker.Dockerfile
	$(VENV)/bin/hadolint --failure-threshold warning docker/*.Dockerfile
	$(VENV)/bin/shellcheck ami/scripts/*.sh ami/files/darkroom-preread ami/files/darkroom-worker-run
	packer fmt -check ami/packer.pkr.hcl
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
