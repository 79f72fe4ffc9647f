# One-machine platform: `make up` starts everything, `make test` runs the test suite.
# Everything installs from the registries: PyPI (venv), Maven Central (jars), npm (dashboard).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLATFORM := $(BIN)/platform
MVN ?= mvn
# The installer of the venv (from PyPI, into the venv itself).
UV_VERSION := 0.13.9
WHEELHOUSE := $(HOME)/.cache/streaming-platform/wheels
WEB := dashboard/web
# When this `make` started: `platform pipeline` prints the time from here to a live pipeline.
# Simply expanded: a recursive variable would be re-read (later) in each recipe's environment.
ifndef MAKE_STARTED_AT
export MAKE_STARTED_AT := $(shell date +%s)
endif
# `make up TOPOLOGY=cluster`: what `platform up` starts (the `topology` setting).
ifdef TOPOLOGY
export PLATFORM_TOPOLOGY := $(TOPOLOGY)
endif

.PHONY: help setup venv jars web postgres browser up demo down status config test lint format bench bench-fixed bench-runtime fault-drill lock clean env

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup:  ## install everything the platform needs (idempotent; the parts side by side)
	@$(MAKE) --no-print-directory -s -j4 venv jars web postgres

venv: $(VENV)/.installed  ## Python virtualenv with the pinned dependencies
$(VENV)/.installed: requirements/lock.txt pyproject.toml
	@echo "→ creating virtualenv $(VENV) (pinned: requirements/lock.txt; first run ~1-2 min)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv installs the same pinned set as pip would, with parallel downloads (pip: ~5 min cold here).
	@$(BIN)/pip install --progress-bar off -q uv==$(UV_VERSION)
	@# pyspark ships as sdists only: pip builds their wheels once (its cache), uv rebuilt them each install.
	@$(BIN)/pip wheel --progress-bar off -q --no-deps -w $(WHEELHOUSE) $$(grep -E '^pyspark(-client)?==' requirements/lock.txt)
	@$(BIN)/uv pip install --python $(BIN)/python --find-links $(WHEELHOUSE) -r requirements/lock.txt
	@$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	@$(BIN)/pip check
	@touch $@
	@echo "✓ virtualenv ready"

jars: jvm/.resolved  ## every JVM artifact (Kafka, Elasticsearch, Spark connector) via Maven
jvm/.resolved: $(shell find jvm -name pom.xml -not -path '*/target/*') $(shell find jvm -path '*/src/*' -type f 2>/dev/null)
	@echo "→ resolving JVM artifacts with Maven (jvm/pom.xml)"
	@$(MVN) -B -q -f jvm/pom.xml package -DskipTests
	@touch $@
	@echo "✓ jars ready"

web: $(WEB)/dist/index.html  ## build the dashboard front end
$(WEB)/dist/index.html: $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/package-lock.json $(WEB)/index.html
	@echo "→ building the dashboard front end (npm ci && npm run build)"
	@cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build

# The one PostgreSQL version setting is runtime/postgres.py's VERSION (compose's default is tested equal).
PG_VERSION := $(shell sed -n 's/^VERSION = "\([0-9]*\)"$$/\1/p' src/streaming_platform/runtime/postgres.py)

postgres:  ## Debian's PostgreSQL server, runtime/postgres.py's VERSION (Airflow's metadata under the cluster topology)
	@test -n "$(PG_VERSION)" || { echo "✗ no VERSION in src/streaming_platform/runtime/postgres.py"; exit 1; }
	@test -x /usr/lib/postgresql/$(PG_VERSION)/bin/postgres || { echo "→ installing postgresql-$(PG_VERSION) (apt-get)"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-$(PG_VERSION) >/dev/null; }
	@test -x /usr/lib/postgresql/$(PG_VERSION)/bin/postgres || { echo "✗ postgresql-$(PG_VERSION) did not install"; exit 1; }

browser:  ## Debian's Chromium for the end-to-end page test
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

up: setup  ## start the services, then the pipeline (platform_setup, streaming_app) through Airflow
	@$(PLATFORM) up
	@$(PLATFORM) pipeline

demo: setup  ## `make up`, then demo_load: events flow on the dashboard
	@$(PLATFORM) up
	@$(PLATFORM) demo

down:  ## stop what `make up` started
	@$(PLATFORM) down

status:  ## one line per service
	@$(PLATFORM) status

config:  ## the effective configuration and where each value comes from
	@$(PLATFORM) config

test: setup browser  ## front-end unit tests, then pytest with the services it needs (reused if running)
	@echo "→ dashboard front-end unit tests (vitest)"
	@cd $(WEB) && npm test --silent
	@$(PLATFORM) test -- $(PYTEST_ARGS)

lint:  ## ruff
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

format:
	@$(BIN)/ruff format . && $(BIN)/ruff check --fix .

fault-drill: setup  ## Elasticsearch down 10 min, then Kafka 5 min, under a live stream: invariants
	@$(PLATFORM) up kafka elasticsearch
	@$(BIN)/python bench/fault_drill.py $(BENCH_ARGS)

bench-runtime: setup  ## startup time, RSS per service, Kafka and Elasticsearch ceilings
	@$(BIN)/python bench/runtime_bench.py $(BENCH_ARGS)

bench: setup  ## the end-to-end pipeline benchmark (starts Kafka and Elasticsearch if needed)
	@$(PLATFORM) up kafka elasticsearch
	@$(BIN)/python bench/pipeline_bench.py $(BENCH_ARGS)

bench-fixed: setup  ## the app at a steady rate: latency and CPU by part (A/B one change)
	@$(PLATFORM) up kafka elasticsearch
	@$(BIN)/python bench/fixed_rate_bench.py $(BENCH_ARGS)

lock:  ## re-resolve requirements/base.in into requirements/lock.txt
	@rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	@/tmp/lock-venv/bin/pip install -q -r requirements/base.in
	@{ sed -n '1,2p' requirements/lock.txt; /tmp/lock-venv/bin/pip freeze; } > requirements/lock.txt.new && mv requirements/lock.txt.new requirements/lock.txt

env:  ## .env for docker compose with random secrets (never overwrites an existing .env)
	@$(PYTHON) docker/make_env.py

clean:  ## remove build outputs (not the state folder)
	rm -rf $(VENV) jvm/*/target jvm/.resolved $(WEB)/dist $(WEB)/node_modules
