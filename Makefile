# bandwise developer entry points: `make run` and `make test` install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-dev run test test-quick test-deploy lint format postgres-binaries pgbouncer test-tools deploy-tools engine-tools bench-tools lock clean

install: $(RUNTIME_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3

$(RUNTIME_STAMP): $(VENV)/bin/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@rm -f $(DEV_STAMP)
	touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $@

run: install
	$(BIN)/bandwise serve

# PostgreSQL server binaries for the tests' throwaway cluster (Debian/Ubuntu).
postgres-binaries:
	@bash scripts/ensure-postgres-binaries.sh

# PgBouncer for the pooling and fault tests (tests/faults).
pgbouncer:
	@bash scripts/ensure-pgbouncer.sh

# Headless Chromium and promtool for the monitoring tests (Debian/Ubuntu).
test-tools:
	@bash scripts/ensure-test-tools.sh

# shellcheck and a Docker Compose client for the deploy tests (Debian/Ubuntu).
deploy-tools:
	@bash scripts/ensure-deploy-tools.sh

# pgloader, which benchmarks/import_vs_pgloader.py compares the import with (Debian/Ubuntu).
bench-tools:
	@bash scripts/ensure-benchmark-tools.sh

# Docker Engine, docker-compose and debootstrap for the tests on a real engine (Debian/Ubuntu).
engine-tools:
	@bash scripts/ensure-deploy-engine.sh

test: install-dev postgres-binaries pgbouncer test-tools deploy-tools
	$(BIN)/pytest $(PYTEST_ARGS)

# The fast lane: pure and SQLite-only tests; no PostgreSQL, PgBouncer, Chromium, promtool,
# shellcheck, compose or Redis, and no `bandwise` child processes. One pytest-xdist worker per
# core (QUICK_WORKERS=0 runs them in this process); worksteal evens out the long tests. Scratch
# files go to RAM where there is room (scripts/scratch-root.sh): the tests check behaviour, not
# the disk, like the test cluster's fsync=off. QUICK_SCRATCH_ROOT=/tmp keeps them on disk.
QUICK_MARKERS := not postgres and not system_tools and not slow and not engine
QUICK_WORKERS ?= auto
QUICK_SCRATCH_ROOT ?= $(shell bash scripts/scratch-root.sh)

test-quick: install-dev
	scratch=$$(mktemp -d "$(QUICK_SCRATCH_ROOT)/bandwise-quick.XXXXXX") && \
	trap 'rm -rf "$$scratch"' EXIT && \
	$(BIN)/pytest -m "$(QUICK_MARKERS)" -n $(QUICK_WORKERS) --dist worksteal \
		--basetemp="$$scratch" $(PYTEST_ARGS)

# The compose stack, the deploy scripts and the scale-out shape on a Docker daemon of the
# tests' own (tests/deploy/engine). BANDWISE_ENGINE_ROOT keeps its images between runs.
test-deploy: install-dev engine-tools
	$(BIN)/pytest -m engine tests/deploy/engine $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src testkit tests benchmarks
	$(BIN)/ruff format --check src testkit tests benchmarks
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix src testkit tests benchmarks
	$(BIN)/ruff format src testkit tests benchmarks

# Re-resolve the lock files from pyproject.toml (needs the package registry). pip freeze only
# sees what this Python needs, so pins for older Pythons (the image installs the lock with
# --no-deps) are added with their markers.
MARKER_PINS := async-timeout==5.0.1 ; python_full_version < "3.11.3"

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip==25.3
	.lock-venv/bin/pip install --quiet -e .
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' | grep -v '^async-timeout==' \
		| { cat; echo '$(MARKER_PINS)'; } > requirements.lock
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' | grep -v '^async-timeout==' \
		| { cat; echo '$(MARKER_PINS)'; } > requirements-dev.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
