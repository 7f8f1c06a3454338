# Two venvs, built by `make install` (implied by the other targets):
#   .venv            the project on Python 3.11: handlers, local stack, tests, tools
#   .venv-localstack LocalStack community only (make run's local AWS), on a Python >= 3.13
#                    found on the machine (LOCALSTACK_BASE_PYTHON=/path/python3.13 picks one);
#                    without one, install still succeeds and make run uses moto's server.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LS_VENV  := .venv-localstack
LS_STAMP := $(LS_VENV)/.installed

.PHONY: install localstack run test test-unit lint typecheck template-check bench load soak build clean

$(STAMP): requirements-dev.txt layers/common/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Not created when no Python >= 3.13 exists: the next make looks again, in one line.
# Order-only on .venv (it runs the finder): a rebuilt .venv does not reinstall LocalStack.
$(LS_STAMP): requirements-localstack.txt | $(STAMP)
	@base="$$($(BIN)/python -m csms_local.services find-localstack-python)"; \
	if [ -z "$$base" ]; then \
	  echo "no Python >= 3.13 found for LocalStack: make run will use moto's server"; \
	  exit 0; \
	fi; \
	set -e; \
	echo "LocalStack venv $(LS_VENV) from $$base"; \
	test -x $(LS_VENV)/bin/python || "$$base" -m venv $(LS_VENV); \
	$(LS_VENV)/bin/pip install --quiet --upgrade pip; \
	$(LS_VENV)/bin/pip install --quiet -r requirements-localstack.txt; \
	touch $(LS_STAMP)

localstack: $(LS_STAMP)

install: $(STAMP) $(LS_STAMP)

run: install
	$(BIN)/csms-local run

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy layers/common local functions bench
	$(BIN)/pytest -q -n 2 --dist loadfile

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/common local functions bench

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region us-east-1

build: $(STAMP)
	$(BIN)/sam build

bench: install
	$(BIN)/python bench/run.py

# csms-sim against the running `make run` stack, beside a plain ocpp-package central
# system (the anchor) in the same run (LOAD_CHARGERS, LOAD_SECONDS, LOAD_PROFILE).
load: install
	$(BIN)/python bench/load.py

# The resilience suite (seeds' tests 13-18) in its long form: more frames, longer runs.
soak: install
	SOAK=1 $(BIN)/pytest -q -s -m resilience tests/resilience

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
