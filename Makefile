# The README's two commands are `make run` and `make test`; CI calls `make test` through .ci/run.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kefu-installed
LOCK := requirements.lock
LOCK_VENV := .venv-lock
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup lock lock-upgrade model run serve test test-fast lint typecheck services cluster cluster-stop eval-gate eval-smoke eval-test eval-table bench clean

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11"; exit 1; }
	$(PY) -m venv $(VENV)
	$(PY) scripts/lock.py pin pip > $(VENV)/pip.lock
	$(BIN)/pip install -q --require-hashes -r $(VENV)/pip.lock

# Installs exactly the lock (every package, pinned with hashes; pip resolves nothing), then Kefu itself;
# `sync` uninstalls what an older lock had and fails unless the venv now equals the lock.
$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(PY) scripts/lock.py check
	$(BIN)/pip install --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	$(BIN)/python scripts/lock.py sync
	touch $(STAMP)

setup: $(STAMP) model

# Regenerate the lock after editing dependencies in pyproject.toml: keeps current pins where they still fit.
lock: $(LOCK_VENV)/bin/uv
	$(PY) scripts/lock.py write --uv $(LOCK_VENV)/bin/uv

# Re-resolve every package to the newest release pyproject.toml allows.
lock-upgrade: $(LOCK_VENV)/bin/uv
	$(PY) scripts/lock.py write --uv $(LOCK_VENV)/bin/uv --upgrade

$(LOCK_VENV)/bin/uv: scripts/lock-tools.txt
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --require-hashes -r scripts/lock-tools.txt
	touch $@

model: $(STAMP)
	$(BIN)/kefu model prepare

run: setup
	$(BIN)/kefu index update
	$(BIN)/kefu serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check kb indexer assistant evals ui tests
	$(BIN)/ruff format --check kb indexer assistant evals ui tests

typecheck: $(STAMP)
	$(BIN)/mypy

services: $(STAMP)
	bash scripts/services.sh

# Two replicas on one shared KB and index, PostgreSQL, Redis and nginx in front, on loopback (README
# "Running several replicas"); `make cluster-stop` ends nginx and the replicas.
cluster: setup
	bash scripts/cluster.sh start

cluster-stop:
	bash scripts/cluster.sh stop

test: setup services
	$(MAKE) lint typecheck
	set -a; [ -f .kefu/services.env ] && . .kefu/services.env; set +a; \
	$(BIN)/pytest -n 2 --dist loadgroup
	$(MAKE) eval-gate

test-fast: $(STAMP)
	$(BIN)/pytest -m "not model and not slow and not postgres and not browser and not cluster" -n 2

# The CI gate: the frozen test shop (never used for tuning) and a dev smoke set, each against its thresholds.
eval-gate: eval-smoke eval-test

eval-smoke: $(STAMP)
	$(BIN)/kefu eval run --set evals/sets/smoke.jsonl --out out/eval-smoke --gate evals/gates/smoke.json

TEST_SET := evals/sets/test.jsonl
TEST_KB := evals/test-kb

eval-test: $(STAMP)
	@if [ -f $(TEST_SET) ] && [ -d $(TEST_KB) ]; then \
		$(BIN)/kefu eval run --set $(TEST_SET) --kb $(TEST_KB) --out out/eval-test --gate evals/gates/test.json; \
	else \
		echo "eval-test: SKIPPED, $(TEST_SET) or $(TEST_KB)/ is missing: the frozen test gate did not run"; \
	fi

# Dev and test side by side, every metric (the table NOTES quotes).
eval-table: $(STAMP)
	$(BIN)/kefu eval run --set evals/sets/dev.jsonl --out out/dev
	$(BIN)/kefu eval run --set $(TEST_SET) --kb $(TEST_KB) --out out/test
	$(BIN)/kefu eval table out/dev out/test

bench: setup
	$(BIN)/kefu bench --out out/bench

clean:
	rm -rf $(VENV) $(LOCK_VENV) out .kefu
