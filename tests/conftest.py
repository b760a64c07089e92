"""Shared fixtures: the real embedder and one seed index built once per test session, and
their deterministic stand-ins (HashEmbedder) for the fast lane.

Markers (pyproject.toml): ``model`` (loads all-MiniLM-L6-v2), ``browser`` (drives
chromium), ``benchmark`` (reads ../shared/benchmarks), ``llm`` (runs SmolLM2 or a llama.cpp
server). A test using a fixture that loads the model is marked ``model`` here
automatically; `make test-fast` deselects all four, and in that lane loading the real model
fails the test, so an unmarked model test cannot slip in and slow the lane down.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # the tests must pass with no network
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Collections made in the UI and other folders' indexes: never the user's own data folder.
os.environ.setdefault("RAG_DATA_DIR", tempfile.mkdtemp(prefix="rag-test-data-"))

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


# Fixtures that load the real embedding model: a test using any of them is a `model` test.
MODEL_FIXTURES = frozenset(
    {
        "embedder",
        "built_seed_index",
        "seed_index_copy",
        "engine",
        "injected_engine",
        "smollm2",
        "llama_server",
    }
)
LLM_FIXTURES = frozenset({"smollm2", "llama_server"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)
        if used & LLM_FIXTURES:
            item.add_marker(pytest.mark.llm)


@pytest.fixture(autouse=True)
def _fast_lane_never_loads_the_model(request, monkeypatch):
    """In a run that deselects `model`, loading the real model is a test bug: say which mark is missing."""
    if "not model" not in (request.config.getoption("-m") or "") or request.node.get_closest_marker("model"):
        return
    from rag.embedding import embedders

    def refuse(*args, **kwargs):
        raise AssertionError(
            "This test loads the real embedding model: mark it `model` (or use fake_embedder)."
        )

    monkeypatch.setattr(embedders.SentenceTransformerEmbedder, "__init__", refuse)


def _index_seeds(tmp_path_factory, embedder, name: str) -> Path:
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths

    index_dir = tmp_path_factory.mktemp(name) / "index"
    build_index(load_paths([SEEDS]), index_dir, embedder=embedder)
    return index_dir


def _copy(index_dir: Path, target: Path) -> Path:
    shutil.copytree(index_dir, target)
    return target


def _open(index_dir: Path, embedder):
    from rag.engine import Engine
    from rag.store import load_index

    return Engine.open(load_index(index_dir), embedder)


@pytest.fixture()
def eval_script(monkeypatch):
    """Load a script of eval/ by file name ("train_reader.py") as its own module, registered as
    an import would be (dataclasses resolve a module's annotations through sys.modules)."""

    def load(script: str):
        spec = importlib.util.spec_from_file_location(f"eval_{script[:-3]}", ROOT / "eval" / script)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def fake_embedder():
    """The deterministic hashing embedder: no model, same interface."""
    from rag.embedding.embedders import HashEmbedder

    return HashEmbedder()


@pytest.fixture(scope="session")
def fake_seed_index(tmp_path_factory, fake_embedder) -> Path:
    """The seeds indexed once with the fake embedder (tests that modify it take a copy)."""
    return _index_seeds(tmp_path_factory, fake_embedder, "fake-seed-index")


@pytest.fixture()
def fake_index_copy(fake_seed_index, tmp_path) -> Path:
    return _copy(fake_seed_index, tmp_path / "fake-index")


@pytest.fixture(scope="session")
def fake_engine(fake_seed_index, fake_embedder):
    return _open(fake_seed_index, fake_embedder)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def embedder():
    from rag.embedding.embedders import get_embedder

    return get_embedder()


@pytest.fixture(scope="session")
def built_seed_index(tmp_path_factory, embedder) -> Path:
    """The seeds indexed once; tests that modify an index get a copy (seed_index_copy)."""
    return _index_seeds(tmp_path_factory, embedder, "seed-index")


@pytest.fixture()
def seed_index_copy(built_seed_index, tmp_path) -> Path:
    return _copy(built_seed_index, tmp_path / "index")


@pytest.fixture(scope="session")
def engine(built_seed_index, embedder):
    return _open(built_seed_index, embedder)


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target
