# One venv holds everything; `make install` (implied by the other targets) builds it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-unit lint typecheck template-check bench build clean

$(STAMP): requirements-dev.txt layers/common/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/csms-local run

test: $(STAMP)
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

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
