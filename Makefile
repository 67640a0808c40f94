# dongbo — the two commands of the README, and their helpers.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin

.PHONY: demo test test-chaos test-chaos-ten stop lint unit integration venv clean help fuzz

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

venv: $(VENV)/.installed  ## create the virtual environment and install dongbo with its dev tools

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: venv  ## stack up, worker, a simulated city day replayed end to end, summary (leaves the stack up)
	$(BIN)/dongbo stack up
	$(BIN)/dongbo demo

test: venv lint  ## lint, then every test but the chaos suite (starts its own Kafka and Redis on other ports, stops them after)
	$(BIN)/pytest -q --timeout=600 tests --ignore=tests/chaos

test-chaos: venv  ## the crash and fault suite: SIGKILLs, broker and Redis restarts mid-stream (DONGBO_CHAOS_DOSSIERS)
	$(BIN)/pytest -q --timeout=3600 tests/chaos

test-chaos-ten: venv  ## the crash and fault suite ten times in a row, stopping at the first failure (about 70 min)
	@for i in 1 2 3 4 5 6 7 8 9 10; do echo "== test-chaos run $$i of 10"; $(MAKE) --no-print-directory test-chaos || exit 1; done

unit: venv  ## only the tests that need no service
	$(BIN)/pytest -q tests/unit

integration: venv  ## only the tests against the real Kafka / Redis
	$(BIN)/pytest -q --timeout=600 tests/integration

FUZZ_SECONDS ?= 60
fuzz: venv  ## coverage-guided fuzzing (atheris) of every decoder, normaliser and importer, FUZZ_SECONDS each
	@mkdir -p out; for t in $$($(PY) -c 'from tests.fuzz.harness import TARGETS; print(" ".join(TARGETS))'); do \
	  echo "== $$t"; $(PY) -m tests.fuzz.harness $$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=out/ || exit 1; \
	done

lint: venv  ## ruff (lint + format), mypy, and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contract dongbo schemas streams producers sinks monitoring
	$(BIN)/lint-imports

stop:  ## stop everything the project started (demo worker, demo stack, test stack)
	-@test -x $(BIN)/dongbo && $(BIN)/dongbo stack down
	-@test -x $(BIN)/dongbo && DONGBO_STACK_HOME=.stack-test DONGBO_KAFKA_BOOTSTRAP=127.0.0.1:19092 \
	   DONGBO_REDIS_URL=redis://127.0.0.1:16379/0 DONGBO_REPORT_URL=postgresql://dongbo@127.0.0.1:15432/dongbo \
	   $(BIN)/dongbo stack down

clean: stop  ## stop, then remove the stacks' data and the virtual environment
	rm -rf .stack .stack-test $(VENV)
