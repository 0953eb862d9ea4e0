# Every target bootstraps .venv itself; `make venv` is idempotent (reinstalls only when
# pyproject.toml changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PTB_TIMEDELTA := true

.PHONY: venv test lint format bench run demo backtest check-config clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest

run: venv
	$(BIN)/python -m bot run

demo: venv
	$(BIN)/python -m bot demo

bench: venv
	$(BIN)/python -m benchmarks

backtest: venv
	$(BIN)/python -m bot backtest --prices ../shared/data/prices/daily_close

check-config: venv
	$(BIN)/python -m bot check-config

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
