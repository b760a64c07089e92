# Everything a fresh machine needs: `make run` for the product, `make test` for the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install when the project's dependencies change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
TORCH := torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install run index test eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	# The CPU build of torch first: an unpinned torch would pull the CUDA build.
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

index: install
	HF_HUB_OFFLINE=1 $(BIN)/rag index seeds

run: index
	HF_HUB_OFFLINE=1 $(BIN)/rag serve --host $(HOST) --port $(PORT)

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

eval: install
	HF_HUB_OFFLINE=1 $(BIN)/rag eval

clean:
	rm -rf index/gen-* index/CURRENT index/datasets index/tune .pytest_cache
