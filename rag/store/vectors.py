"""FAISS indexes over L2-normalised vectors (inner product = cosine similarity)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import passive_openmp

if TYPE_CHECKING:
    import numpy as np


# Index type by corpus size, chosen from `make bench` (bench/scale.py: 384-d synthetic
# vectors, 2 shared cores; figures in docs/scaling.md). Exact search reads every vector for every
# query: ~0.2 ms at 4 k chunks, ~1.5 ms at 20 k, then it falls out of the CPU caches: ~11 ms
# at 50 k, ~40 ms at 100 k, ~400 ms and a second 1.5 GB copy of the vectors at 1 M. Up to
# FLAT_MAX_VECTORS it is exact and well inside the query budget, so nothing is traded away.
# Above it, IVF-PQ (4-bit fast-scan codes, 48 bytes a vector, ~60 MB of RAM at 1 M) finds
# candidates in ~0.2 ms; their approximate scores are replaced by exact cosines read from the
# memory-mapped chunk_vectors.npy (RescoredIndex): recall@10 ~0.98 at 100 k and 1 M, and the
# BM25 fusion sees true cosines. HNSW (over 8-bit vectors) was measured too: as fast, but a
# 1 M build takes ~6 min on 2 cores, it holds ~500 MB, and recall@10 was 0.86 at efSearch 128.
FLAT_MAX_VECTORS = 20_000
IVF_NPROBE = 16  # inverted lists visited per query
RESCORE_FACTOR = 16  # candidates taken from the codes per result, then re-scored exactly


def import_faiss() -> Any:
    """Import FAISS with passive OpenMP waiting (its own runtime; rag.config.passive_openmp says why)."""

    passive_openmp()
    import faiss

    return faiss


def index_type_for(count: int) -> str:
    """The FAISS index type rag builds for ``count`` vectors (see FLAT_MAX_VECTORS)."""
    return "flat" if count <= FLAT_MAX_VECTORS else "ivfpq"


def build_faiss(vectors: np.ndarray, kind: str | None = None) -> tuple[Any, str]:
    """A FAISS index over L2-normalised ``vectors`` and its type (default: by corpus size).

    Args:
        vectors: float32 [n, dim], L2-normalised, so inner product is cosine.
        kind: "flat" (exact) or "ivfpq" (IVF-PQ codes, re-scored exactly on load).
    """
    faiss = import_faiss()
    import numpy as np

    dimension = vectors.shape[1]
    kind = kind or index_type_for(len(vectors))
    if kind == "flat" or dimension % 8:  # fast-scan PQ needs an even number of 4-dim pieces
        kind = "flat"
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(vectors)
        return index, kind
    if kind != "ivfpq":
        raise ValueError(f"Unknown FAISS index type {kind!r}; choose from 'flat', 'ivfpq'.")
    # ~sqrt(n) lists: a list holds ~1 k vectors at 1 M, so 16 probes scan ~1.6 % of the codes.
    # 4-bit "fast-scan" PQ over 4-dim pieces: dim/8 bytes a vector (48 at 384-d), scanned with
    # SIMD lookups; its k-means trains ~10x faster than 8-bit PQ's at the same code size.
    # (At least 39 training points per list, FAISS's own floor, for tiny forced builds.)
    nlist = max(1, min(4096, int(len(vectors) ** 0.5), len(vectors) // 39))
    index = faiss.index_factory(dimension, f"IVF{nlist},PQ{dimension // 4}x4fs", faiss.METRIC_INNER_PRODUCT)
    # k-means on 64 samples per list is as good as on all of them, and minutes faster at 1 M.
    sample = vectors[_spaced(len(vectors), min(len(vectors), 64 * nlist))]
    index.train(np.ascontiguousarray(sample))
    for start in range(0, len(vectors), 65_536):  # in slices: a memory-mapped input stays paged
        index.add(np.ascontiguousarray(vectors[start : start + 65_536]))
    index.nprobe = IVF_NPROBE
    return index, kind


@dataclass(frozen=True)
class MappedFile:
    """A file :func:`memory_map` mapped, with its size then. A mapped file that shrinks (a
    live index file truncated under a running server) would end the process with SIGBUS on
    the next read past its new end; :meth:`shrunk` lets a reader refuse first."""

    path: Path
    handle: Any  # the mmap.mmap under the array: its size() is the file's size now (fstat)
    size: int

    @classmethod
    def of(cls, path: Path, array: np.ndarray) -> MappedFile | None:
        """The file under ``array`` (from :func:`memory_map`); None for an array in memory."""
        import mmap

        base: Any = array
        while base is not None and not isinstance(base, mmap.mmap):
            base = getattr(base, "_mmap", None) or getattr(base, "base", None)
        return None if base is None else cls(path, base, base.size())

    def shrunk(self) -> bool:
        """True when the file is now shorter than when it was mapped (or cannot be asked)."""
        try:
            return bool(self.handle.size() < self.size)
        except (OSError, ValueError):  # closed, or the file is gone in a way fstat reports
            return True


def memory_map(path: Path) -> np.ndarray:
    """A read-only memory map of a .npy file, read page by page as rows are used.

    Random access is declared to the kernel so that reading one row maps one page, not the
    64 KB around it: a query touches a few dozen scattered rows, and read-around would pull
    most of a large file into this process's resident memory for nothing.
    """
    import mmap

    import numpy as np

    array = np.load(path, mmap_mode="r", allow_pickle=False)
    handle = getattr(array, "_mmap", None)
    if handle is not None and hasattr(handle, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        handle.madvise(mmap.MADV_RANDOM)
    # A plain ndarray view of the same pages (it keeps the map alive through .base): indexing
    # np.memmap goes through a Python __getitem__ that costs ~10 us per lookup.
    return array.view(np.ndarray)


def _spaced(total: int, count: int) -> Any:
    import numpy as np

    return np.linspace(0, total - 1, num=count).astype(np.int64) if count else np.zeros(0, np.int64)


class RescoredIndex:
    """An approximate FAISS index whose candidates are re-scored with exact cosines.

    ``vectors`` is normally the memory-mapped chunk_vectors.npy: only the rows of the
    candidates are read, so the full vectors never need to sit in RAM. Exposes the part of
    the FAISS interface rag uses (``ntotal``, ``search``, ``d``).

    Usage example::

        index = RescoredIndex(faiss.read_index("faiss.index"), np.load("v.npy", mmap_mode="r"))
        scores, ids = index.search(query[None, :], 10)
    """

    def __init__(self, index: Any, vectors: np.ndarray, factor: int = RESCORE_FACTOR) -> None:
        self.index = index
        self.vectors = vectors
        self.factor = factor

    @property
    def ntotal(self) -> int:
        """How many vectors the index holds (FAISS's name)."""
        return int(self.index.ntotal)

    @property
    def d(self) -> int:
        """The vectors' dimension (FAISS's name)."""
        return int(self.index.d)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's search: the ``k`` best (cosines, positions) per query row, exact cosines."""
        import numpy as np

        _, candidates = self.index.search(queries, k * self.factor)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
            found = np.unique(found[found >= 0])  # sorted rows read the memory map in order
            exact = np.asarray(self.vectors[found]) @ query
            best = np.argsort(-exact)[:k]
            scores[row, : len(best)] = exact[best]
            ids[row, : len(best)] = found[best]
        return scores, ids


def write_faiss(index: Any, path: Path) -> None:
    """Write a FAISS index (or the codes of a re-scored one) to ``path``."""
    faiss = import_faiss()

    faiss.write_index(index.index if isinstance(index, RescoredIndex) else index, str(path))


def read_faiss(path: Path, kind: str = "flat", vectors: np.ndarray | None = None) -> Any:
    """Read a FAISS index; FAISS's own errors surface as RuntimeError.

    An "ivfpq" index comes back wrapped in :class:`RescoredIndex` over ``vectors``.
    """
    faiss = import_faiss()

    index = faiss.read_index(str(path))
    if kind == "ivfpq":
        if vectors is None:
            raise ValueError("An ivfpq index is read with the vectors that re-score its candidates.")
        index.nprobe = IVF_NPROBE
        return RescoredIndex(index, vectors)
    return index
