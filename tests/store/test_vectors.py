"""FAISS index types: flat for small corpora, IVF-PQ re-scored from memory-mapped vectors above."""

import numpy as np
import pytest

from bench.scale import clustered_vectors, exact_neighbours, queries_like
from rag.store import vectors
from rag.store.vectors import (
    RescoredIndex,
    build_faiss,
    index_type_for,
    memory_map,
    read_faiss,
    write_faiss,
)


def test_index_type_follows_corpus_size():
    assert index_type_for(0) == index_type_for(vectors.FLAT_MAX_VECTORS) == "flat"
    assert index_type_for(vectors.FLAT_MAX_VECTORS + 1) == "ivfpq"


def test_small_corpora_stay_exact():
    data = clustered_vectors(500)
    index, kind = build_faiss(data)
    assert kind == "flat" and index.ntotal == 500


def test_ivfpq_round_trip_rescores_with_exact_cosines(tmp_path):
    data = clustered_vectors(4000)
    np.save(tmp_path / "v.npy", data)
    index, kind = build_faiss(data, "ivfpq")
    assert kind == "ivfpq"
    write_faiss(index, tmp_path / "faiss.index")
    loaded = read_faiss(tmp_path / "faiss.index", "ivfpq", memory_map(tmp_path / "v.npy"))
    assert isinstance(loaded, RescoredIndex) and loaded.ntotal == 4000 and loaded.d == 384
    queries = queries_like(data, 50)
    scores, ids = loaded.search(queries, 10)
    # The scores are true cosines, best first, so fusion with BM25 sees exact dense scores.
    for query, row_scores, row_ids in zip(queries, scores, ids, strict=True):
        assert np.allclose(row_scores, data[row_ids] @ query, atol=1e-5)
        assert np.all(np.diff(row_scores) <= 1e-6)
    truth = exact_neighbours(data, queries)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(ids, truth, strict=True)])
    assert recall >= 0.9


def test_ivfpq_needs_its_vectors(tmp_path):
    index, _ = build_faiss(clustered_vectors(1000), "ivfpq")
    write_faiss(index, tmp_path / "faiss.index")
    with pytest.raises(ValueError, match="vectors"):
        read_faiss(tmp_path / "faiss.index", "ivfpq")
    with pytest.raises(ValueError, match="choose from"):
        build_faiss(clustered_vectors(10), "hnsw")


def test_large_corpus_index_loads_and_answers(tmp_path, seeds_dir, embedder, monkeypatch):
    """An index over the IVF-PQ threshold (lowered here) is written, loaded and used."""
    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths
    from rag.store import load_index

    monkeypatch.setattr(vectors, "FLAT_MAX_VECTORS", 10)
    build_index(load_paths([seeds_dir / "003_dd93d9c36f4005fd.txt"]), tmp_path / "index", embedder=embedder)
    index = load_index(tmp_path / "index")
    assert index.manifest.faiss_type == "ivfpq" and isinstance(index.faiss, RescoredIndex)
    assert isinstance(index.chunk_vectors.base, np.memmap)  # read row by row, not held in RAM
    answer = Engine.open(index, embedder).ask("How many parameters does Mistral Medium 3.5 have?")
    assert "128-billion-parameter" in answer.text
