"""Shared fixtures: the real embedder and one seed index built once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # the tests must pass with no network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def embedder():
    from rag.indexing.embedders import get_embedder

    return get_embedder()


@pytest.fixture(scope="session")
def built_seed_index(tmp_path_factory, embedder) -> Path:
    """The seeds indexed once; tests that modify an index get a copy (seed_index_copy)."""
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths

    index_dir = tmp_path_factory.mktemp("seed-index") / "index"
    build_index(load_paths([SEEDS]), index_dir, embedder=embedder)
    return index_dir


@pytest.fixture()
def seed_index_copy(built_seed_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(built_seed_index, target)
    return target


@pytest.fixture(scope="session")
def engine(built_seed_index, embedder):
    from rag.engine import Engine
    from rag.indexing.index import load_index

    return Engine.open(load_index(built_seed_index), embedder)


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target
