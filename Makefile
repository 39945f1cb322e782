# bcjourney tasks. `make demo` and `make test` are the README's two commands; both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo

.PHONY: setup demo test test-fast lint check bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,dev]"
	touch $@

# Generate a week of realistic data, run the whole pipeline on it, and score the links against the truth.
demo: setup
	rm -rf $(DEMO)
	$(BIN)/bcjourney generate --out $(DEMO)/landing --days 7 --per-day 1700 --seed 42
	$(BIN)/bcjourney run --landing $(DEMO)/landing --lake $(DEMO)/lake
	$(BIN)/bcjourney evaluate --lake $(DEMO)/lake --truth $(DEMO)/landing/truth.csv
	$(BIN)/bcjourney query --lake $(DEMO)/lake athena_queries/01_registration_rate_by_page_category.sql
	$(BIN)/bcjourney report --lake $(DEMO)/lake --out $(DEMO)/report

test: setup
	$(BIN)/pytest -q -n 2

lint:
	bash .ci/lint_template.sh

# Static checks: ruff over the whole tree, mypy over the layer package (what Lambda runs)
check: setup
	$(BIN)/ruff check .
	$(BIN)/mypy layers/core/python/bcjourney

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis
