.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VARIANT ?= standardized
PORT ?= 8000
# mkdocs-material prints a banner about MkDocs 2 on every build; the site does not depend on it.
export NO_MKDOCS_2_WARNING := 1
SRC ?= legacy

.PHONY: help install compare test serve db-stop bench bench-twice load perf-report audit lint diff lock clean tracebacks symbols audit-docs perf-stubs docs docs-serve docs-check

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.lock pyproject.toml audit/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	# The project and the audit, editable, with the locked setuptools: nothing more is fetched.
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e . -e ./audit
	touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies

compare: install ## Run every scenario on legacy and standardized; print the table
	$(BIN)/python -m playbook compare

test: install ## Run the spec against both variants (pytest -m legacy / -m standardized for one)
	$(BIN)/python -m pytest

tracebacks: install ## Capture each catalog failure from the legacy services for the docs (docs/generated)
	$(BIN)/python -m playbook.docs_tools.tracebacks

symbols: install ## Cut the definitions the docs include out of the code (docs/generated)
	$(BIN)/python -m playbook.docs_tools.symbols

audit-docs: install ## Write the audit's report on each entry point a page names (docs/generated)
	$(BIN)/python -m playbook.docs_tools.audit_excerpts

perf-stubs: install ## Mark the performance figures not measured yet, where make perf-report wrote none
	$(BIN)/python -m playbook.docs_tools.perf_stubs

docs: install tracebacks symbols audit-docs perf-stubs ## Build the docs site strictly into site/
	$(BIN)/mkdocs build --strict

docs-serve: install tracebacks symbols audit-docs perf-stubs ## Serve the docs on 127.0.0.1:8001, reloading on change
	$(BIN)/mkdocs serve -a 127.0.0.1:8001

docs-check: install tracebacks symbols audit-docs perf-stubs ## Build the docs, then check the key pages in headless Chromium
	$(BIN)/python -m playbook.docs_tools.check

serve: install ## Serve VARIANT (legacy|standardized) on 127.0.0.1:PORT with the simulator mounted
	$(BIN)/python -m playbook serve --variant $(VARIANT) --port $(PORT)

db-stop: install ## Stop an embedded PostgreSQL left running in .pgdata
	$(BIN)/python -m playbook db-stop

bench: install ## Batch, sitemap and places jobs in paired rounds; the batch's per-item breakdown and memory (reports/bench/)
	$(BIN)/python -m benchmarks.run

bench-twice: install ## The paired rounds twice in a row, their ratios side by side (agree within 10%?)
	$(BIN)/python -m benchmarks.run --ratios-only --out reports/bench/run-1.json
	$(BIN)/python -m benchmarks.run --ratios-only --out reports/bench/run-2.json
	$(BIN)/python -m benchmarks.agreement reports/bench/run-1.json reports/bench/run-2.json

load: install ## Load test both variants with locust (reports/load/)
	$(BIN)/python -m benchmarks.load

perf-report: install ## Tables and plots from the last bench and load runs (reports/perf, docs/generated/perf)
	$(BIN)/python -m benchmarks.perf_report

audit: install ## Scan SRC (default: legacy) for background-task anti-patterns
	$(BIN)/python -m playbook audit $(SRC)

lint: install ## ruff (lint and format check) and strict mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

diff: ## The migration: diff -ru legacy standardized, caches left out
	@diff -ru --exclude=__pycache__ --exclude='*.pyc' legacy standardized; test $$? -le 1

lock: install ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --generate-hashes --quiet -o requirements.lock

clean: ## Remove .venv, reports, the built site and caches (keeps the database in .pgdata)
	rm -rf $(VENV) reports site docs/generated .pytest_cache .benchmarks .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
