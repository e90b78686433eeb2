# Two commands for a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ventanilla demo

lint: $(STAMP)
	$(BIN)/ruff check connector webhooks mappings tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest --cov --cov-branch --cov-report=term:skip-covered -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# Retrain the shipped nature model on the labelled sets; blind5 and blind6 stay unread so
# tests/test_triage_quality.py measures it on writers it never saw.
model: $(STAMP)
	$(BIN)/ventanilla triage train tests/fixtures/triage --exclude blind5 --exclude blind6 \
		--out connector/models/nature.npz

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
