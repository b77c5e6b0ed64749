# Every target creates what it needs from the package registries (a .venv in this folder).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint types pytest coverage docs docs-serve bench stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: a legacy program captured with no edits, gen-tests, pytest green, a change caught (in demo_work/)
demo: $(STAMP)
	$(PY) examples/demo.py

## test: lint, format check, types, the test suite with coverage, then the docs' strict build
test: lint types pytest docs

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples docs/hooks
	$(VENV)/bin/ruff format --check src tests benchmarks examples docs/hooks

types: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	rm -f .coverage .coverage.*
	$(VENV)/bin/pytest -n 2 --cov --cov-report= -q -m "not slow"; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; \
	  $(MAKE) --no-print-directory coverage; exit $$rc

# The coverage table shows the total and only the files below COVERAGE_SHOWN_BELOW percent
# (subprocesses included: [tool.coverage.run] patch). `make coverage COVERAGE_SHOWN_BELOW=101`
# lists every file.
COVERAGE_SHOWN_BELOW ?= 85
coverage: $(STAMP)
	@$(VENV)/bin/coverage report --sort=cover | awk -v below=$(COVERAGE_SHOWN_BELOW) ' \
	  NR <= 2 || /^-+$$/ || /^TOTAL/ || /skipped/ { print; next } \
	  $$NF ~ /%$$/ && $$NF + 0 < below { print; next } \
	  $$NF ~ /%$$/ { hidden++ } \
	  END { if (hidden) printf "%d more files at %d%% or above (make coverage COVERAGE_SHOWN_BELOW=101 lists them).\n", hidden, below }'

## docs: the documentation site, built strictly (a broken link or reference fails) and offline.
# (No --quiet: it hides the warnings that --strict counts, and the build then passes.)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

## bench: the benchmark suite (not part of `make test`); its figures go to the docs' JSON
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'  # the peers it measures against (MonkeyType)
	$(PY) -m benchmarks --json docs/performance/bench.json

## stress: the long variants of the reliability tests
stress: $(STAMP)
	$(VENV)/bin/pytest -q -m slow -p no:randomly

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* captures site demo_work
