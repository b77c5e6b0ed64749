# Every target creates what it needs from the package registries (a .venv in this folder).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint types pytest bench stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: capture a legacy program with no source edits, list its captures, replay them
demo: $(STAMP)
	$(PY) examples/demo.py

## test: lint, format check, types, then the test suite with coverage
test: lint types pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

types: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -n 2 --cov --cov-report=term -q -m "not slow"; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

## bench: the benchmark suite (not part of `make test`)
bench: $(STAMP)
	$(PY) -m benchmarks

## stress: the long variants of the reliability tests
stress: $(STAMP)
	$(VENV)/bin/pytest -q -m slow -p no:randomly

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* captures
