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
# The audit parses with this interpreter's grammar: some evaluated services need Python 3.13.
AUDIT_EVAL_PYTHON ?= $(BIN)/python
# Mermaid, served by the site itself; the release is pinned and its tarball checked.
MERMAID_VERSION := 11.17.2
MERMAID_SHA256 := 6ad2f42c3fc26bbf9e45cbb6d11898972573ea52b33a5f4ff51952899f950ffd
VENDOR := docs/javascripts/vendor
MERMAID_STAMP := $(VENDOR)/.mermaid-$(MERMAID_VERSION)

.PHONY: help install vendor versions matrix compare test mutate serve worker db-stop db-reset fuzz bench bench-twice load perf-report audit audit-eval lint diff lock clean tracebacks symbols audit-docs spec outputs docs docs-serve docs-zensical docs-check

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

mutate: install ## Break the code one mutation at a time, in a copy; the spec must catch each (MUTATIONS=a,b)
	$(BIN)/python -m playbook.harness.mutation $(if $(MUTATIONS),--only $(MUTATIONS)) $(MUTATE_ARGS)

tracebacks: install ## Capture each catalog failure from the legacy services for the docs (docs/generated)
	$(BIN)/python -m playbook.docs_tools.tracebacks

symbols: install ## Cut the definitions the docs include out of the code (docs/generated)
	$(BIN)/python -m playbook.docs_tools.symbols

audit-docs: install ## Write the audit's report on each entry point a page names, and its checks for each F and R id (docs/generated)
	$(BIN)/python -m playbook.docs_tools.audit_excerpts

spec: install ## Write the spec page's sections from tests/ (docs/generated); SPEC_ARGS=--link links bare test names on the pages
	$(BIN)/python -m playbook.docs_tools.spec $(SPEC_ARGS)

outputs: install ## Run the commands whose output the pages show, and write what they print (docs/generated)
	$(BIN)/python -m playbook.docs_tools.outputs

versions: install ## Write the releases the lock file pins, for the pages to include (docs/generated)
	$(BIN)/python -m playbook.docs_tools.versions

matrix: install ## Run the version-dependent failures on several FastAPI and SQLAlchemy releases (docs/snapshots)
	$(BIN)/python -m playbook.docs_tools.matrix

$(MERMAID_STAMP):
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/npm
	npm pack --silent mermaid@$(MERMAID_VERSION) --pack-destination $(VENDOR)/npm >/dev/null
	echo "$(MERMAID_SHA256)  $(VENDOR)/npm/mermaid-$(MERMAID_VERSION).tgz" | sha256sum --check --quiet
	tar -xzf $(VENDOR)/npm/mermaid-$(MERMAID_VERSION).tgz -O package/dist/mermaid.min.js > $(VENDOR)/mermaid.min.js
	rm -rf $(VENDOR)/npm
	touch $@

vendor: $(MERMAID_STAMP) ## Fetch the pinned mermaid release the site serves (docs/javascripts/vendor)

DOCS_INPUTS := install vendor versions tracebacks symbols audit-docs spec outputs

docs: $(DOCS_INPUTS) ## Build the docs site strictly into site/
	$(BIN)/mkdocs build --strict

docs-serve: $(DOCS_INPUTS) ## Serve the docs on 127.0.0.1:8001, reloading on change
	$(BIN)/mkdocs serve -a 127.0.0.1:8001

docs-zensical: $(DOCS_INPUTS) ## Build the same site with Zensical, strictly, into site/ (CI does; make docs stays on mkdocs-material)
	$(BIN)/zensical build --strict --clean -f mkdocs.yml

docs-check: $(DOCS_INPUTS) ## Build the docs, then check every page and search in headless Chromium
	$(BIN)/python -m playbook.docs_tools.check

serve: install ## Serve VARIANT (legacy|standardized) on 127.0.0.1:PORT; EXECUTOR=background|procrastinate
	$(BIN)/python -m playbook serve --variant $(VARIANT) --port $(PORT)

worker: install ## Run a procrastinate worker on the database make serve uses (WORKER_CONCURRENCY jobs at once)
	$(BIN)/python -m playbook worker

db-stop: install ## Stop an embedded PostgreSQL left running in .pgdata
	$(BIN)/python -m playbook db-stop

db-reset: install ## Drop the database make serve uses (its jobs are lost); it is created again on the next serve
	$(BIN)/python -m playbook db-reset

bench: install ## Batch, sitemap and places jobs in paired rounds, a batch's per-item breakdown and memory; one batch on 1, 2, 4 workers
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m pytest benchmarks/test_scaling_bench.py --benchmark-enable --benchmark-json=reports/bench/scaling.json -q
	$(BIN)/python -m benchmarks.scaling reports/bench/scaling.json

bench-twice: install ## The paired rounds twice in a row, their ratios side by side (agree within 10%?)
	$(BIN)/python -m benchmarks.run --ratios-only --out reports/bench/run-1.json
	$(BIN)/python -m benchmarks.run --ratios-only --out reports/bench/run-2.json
	$(BIN)/python -m benchmarks.agreement reports/bench/run-1.json reports/bench/run-2.json

load: install ## Load test both variants with locust (reports/load/)
	$(BIN)/python -m benchmarks.load

perf-report: install ## Tables and plots from the last bench, load and compare runs, recorded for the docs (docs/snapshots/perf)
	$(BIN)/python -m benchmarks.perf_report
	$(BIN)/python -m playbook.docs_tools.perf_snapshot

audit: install ## Scan SRC (default: legacy) for background-task anti-patterns
	$(BIN)/python -m playbook audit $(SRC)

fuzz: install ## Schemathesis against both variants' served schema, every check and phase (reports/fuzz/)
	$(BIN)/python -m playbook.harness.fuzz

audit-eval: install ## Score the audit on real code (.audit-eval/, skipped when absent); time 250..2,000 generated files
	PYTHONPATH=audit $(AUDIT_EVAL_PYTHON) audit/eval/score.py
	PYTHONPATH=audit $(AUDIT_EVAL_PYTHON) audit/eval/scale.py

lint: install ## ruff (lint and format check) and strict mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

diff: ## The migration: diff -ru legacy standardized, caches left out
	@diff -ru --exclude=__pycache__ --exclude='*.pyc' legacy standardized; test $$? -le 1

lock: install ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --generate-hashes --quiet -o requirements.lock

clean: ## Remove .venv, reports, the built site, the fetched mermaid and caches (keeps the database in .pgdata)
	rm -rf $(VENV) reports site docs/generated $(VENDOR) .pytest_cache .benchmarks .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
