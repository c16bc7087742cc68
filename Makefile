# The two commands of the quick start are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/platform

.PHONY: setup run test worker worker-training beat web services lint clean benchmarks

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[training,generation,dev]'
	touch $(STAMP)

# The main job on the embedded default: SQLite, no servers, a demo campaign, web server + Celery worker.
run: setup
	bash platform/scripts/run_local.sh

# The whole suite on the real PostgreSQL, Redis, a real Celery worker and Debian's Chromium.
test: setup services
	$(PY) -m pytest $(PYTEST_ARGS)

services:
	bash platform/scripts/ensure_services.sh

# Lint and types over the whole tree (docs/architecture.md#lint-and-types; the rules and the strictness are in
# pyproject.toml): ruff's checks, ruff's format check, then mypy with the Django and DRF stubs.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Celery workers against the configured broker (CELERY_BROKER_URL, DATABASE_URL): platform jobs on `default`,
# GPU work on `training` and `generation`, in separate processes so a training run never delays an export.
# QEVAL_WORKER_QUEUES tells each worker its queues' visibility timeouts (docs/operations.md).
worker: setup
	QEVAL_WORKER_QUEUES=default $(VENV)/bin/celery -A config worker -Q default -n default@%h --loglevel=INFO

worker-training: setup
	QEVAL_WORKER_QUEUES=training,generation $(VENV)/bin/celery -A config worker -Q training,generation -n training@%h --concurrency=1 --prefetch-multiplier=1 --loglevel=INFO

beat: setup
	$(VENV)/bin/celery -A config beat --loglevel=INFO

web: setup
	$(VENV)/bin/gunicorn config.wsgi -c platform/docker/gunicorn.conf.py  # the web container's settings (workers per core, preload, recycling)

benchmarks: setup services
	$(PY) benchmarks/import_items.py
	$(PY) benchmarks/annotation_load.py
	$(PY) benchmarks/aggregate_export.py
	$(PY) benchmarks/qc_accuracy.py
	$(PY) benchmarks/adaptive_overlap.py
	$(PY) benchmarks/scorer_learns.py
	$(PY) benchmarks/faults.py

clean:
	rm -rf var/broker var/qeval.sqlite3
