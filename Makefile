# Estate — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup run test test-sqlite test-postgresql lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e sdk -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/estate serve --host $(HOST) --port $(PORT) --demo

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff format --check src sdk tests bench plugins
	$(BIN)/ruff check src sdk tests bench plugins
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src sdk tests bench plugins
	$(BIN)/ruff check --fix src sdk tests bench plugins

bench: setup
	$(BIN)/python bench/ingest.py --resources 100000 --db sqlite
	$(BIN)/python bench/ingest.py --resources 100000 --db postgresql
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/upload.py

clean:
	rm -rf $(VENV) .estate .pytest_cache .mypy_cache .ruff_cache
