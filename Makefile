# Thin wrappers: every target is one call into the venv's `crm`, pytest or a linter.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup lint test demo bench up down status

# The virtualenv is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $(STAMP)

# Everything a bare machine needs: the venv, the Kafka jars (Maven Central), redis-server and
# prometheus with promtool (apt).
setup: $(STAMP)
	deploy/kafka/kafka.sh fetch
	deploy/redis/redis.sh install
	deploy/prometheus/prometheus.sh install

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/crm schemas export --check

# The test command (README, .ci/run). Tests start Kafka and Redis themselves when needed.
test: setup lint
	$(BIN)/pytest

demo: setup
	$(BIN)/crm dev up
	$(BIN)/crm demo

bench: setup
	$(BIN)/crm dev up
	$(BIN)/crm bench

up: setup
	$(BIN)/crm dev up

down:
	$(BIN)/crm dev down

status:
	$(BIN)/crm dev status
