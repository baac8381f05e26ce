# One command sets up, one runs the tests (README).  Both create .venv if missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test check lint typecheck clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/dpsynth run ../shared/datasets/adult/adult_train.csv \
		--metadata metadata/adult.json --generator aim --epsilon 1 --delta 1e-9 \
		--rows 10000 --out-dir demo-output

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

test: check
	$(BIN)/python -m pytest -n 2 -q --durations=25

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
