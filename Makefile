.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VARIANT ?= standardized
PORT ?= 8000

.PHONY: help install compare test serve db-stop lock clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies

compare: install ## Run every scenario on legacy and standardized; print the table
	$(BIN)/python -m playbook compare

test: install ## Run the spec against both variants (pytest -m legacy / -m standardized for one)
	$(BIN)/python -m pytest

serve: install ## Serve VARIANT (legacy|standardized) on 127.0.0.1:PORT with the simulator mounted
	$(BIN)/python -m playbook serve --variant $(VARIANT) --port $(PORT)

db-stop: install ## Stop an embedded PostgreSQL left running in .pgdata
	$(BIN)/python -m playbook db-stop

lock: install ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --generate-hashes --quiet -o requirements.lock

clean: ## Remove .venv, reports and caches (keeps the database in .pgdata)
	rm -rf $(VENV) reports .pytest_cache .benchmarks
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
