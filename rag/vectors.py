"""FAISS indexes over L2-normalised vectors (inner product = cosine similarity)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def build_faiss(vectors: np.ndarray) -> tuple[Any, str]:
    """An exact inner-product index: at the sizes a local corpus reaches, exact search
    takes well under a millisecond per query, so there is nothing to trade recall for."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(vectors)
    return index, "flat"


def write_faiss(index: Any, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_faiss(path: Path) -> Any:
    """Read a FAISS index; FAISS's own errors surface as RuntimeError."""
    import faiss

    return faiss.read_index(str(path))
