# Leadly: `make up` runs it on this machine, `make test` runs the whole test suite.
# A fresh machine needs only Python 3.11+ and make: uv is installed on first use when missing,
# then `uv sync --frozen` installs the locked dependencies into .venv.

PYTHON ?= python3
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="tests/cli -x"`.
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (0 runs in one process; see docs/getting-started.md).
# Tests marked xdist_group("...") share one worker (--dist loadgroup): their setup runs once.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help up test lint format bench sync

# Sets the shell variable $uv for the rest of a recipe line: uv from PATH, ~/.local/bin or
# `python3 -m uv`; otherwise installs it (pip --user, then the official installer).
FIND_UV = uv=""; \
	for c in uv "$$HOME/.local/bin/uv" "$$HOME/.cargo/bin/uv"; do \
		if command -v "$$c" >/dev/null 2>&1; then uv="$$c"; break; fi; \
	done; \
	if [ -z "$$uv" ] && $(PYTHON) -m uv --version >/dev/null 2>&1; then uv="$(PYTHON) -m uv"; fi; \
	if [ -z "$$uv" ]; then \
		echo "uv is not installed: installing it (pip install --user uv) ..."; \
		$(PYTHON) -m pip install --user --quiet uv 2>/dev/null \
			|| $(PYTHON) -m pip install --user --quiet --break-system-packages uv 2>/dev/null \
			|| $(PYTHON) -m pip install --quiet uv 2>/dev/null \
			|| { command -v curl >/dev/null 2>&1 && curl -LsSf https://astral.sh/uv/install.sh | sh; } \
			|| true; \
		if $(PYTHON) -m uv --version >/dev/null 2>&1; then uv="$(PYTHON) -m uv"; \
		elif [ -x "$$HOME/.local/bin/uv" ]; then uv="$$HOME/.local/bin/uv"; \
		else echo "Could not install uv; see https://docs.astral.sh/uv/getting-started/installation/" >&2; exit 1; fi; \
	fi; \
	$$uv sync --frozen --quiet

help:
	@echo "make up     run Leadly here: embedded PostgreSQL, migrations, demo data, API, worker,"
	@echo "            dashboards (Streamlit, :8501) and Dagster (:3000)"
	@echo "make test   run the whole test suite (TEST_WORKERS=$(TEST_WORKERS), PYTEST_ARGS=...)"
	@echo "make lint   ruff check + ruff format --check + the import contracts (lint-imports)"
	@echo "make format ruff format + ruff check --fix"
	@echo "make bench  run the benchmarks in bench/"

sync:
	@$(FIND_UV)

up:
	@$(FIND_UV); exec $$uv run --frozen --no-sync leadly up

test:
	@$(FIND_UV); \
	if [ "$(TEST_WORKERS)" -gt 0 ] 2>/dev/null; then xdist="-p xdist -n $(TEST_WORKERS) --dist loadgroup"; else xdist=""; fi; \
	exec $$uv run --frozen --no-sync pytest $$xdist $(PYTEST_ARGS)

lint:
	@$(FIND_UV); $$uv run --frozen --no-sync ruff check . && $$uv run --frozen --no-sync ruff format --check . \
		&& $$uv run --frozen --no-sync lint-imports --no-cache

format:
	@$(FIND_UV); $$uv run --frozen --no-sync ruff format . && $$uv run --frozen --no-sync ruff check --fix .

bench:
	@$(FIND_UV); \
	for f in bench/*.py; do \
		case "$$(basename "$$f")" in _*) continue;; esac; \
		echo "== $$f"; $$uv run --frozen --no-sync python "$$f" || exit 1; \
	done
