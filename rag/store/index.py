"""A loaded index: chunks, their vectors, sentence vectors, FAISS and BM25, read from disk."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError
from rag.ingest.lexical import idf_weights
from rag.records import Chunk
from rag.store.generations import (
    BM25,
    CHUNK_VECTORS,
    CHUNKS,
    DOC_FREQ,
    FAISS,
    SENTENCE_VECTORS,
    TERMS,
    Manifest,
    collect_garbage,
    damaged_files,
    live_name,
    read_live,
    read_manifest,
    rebuild_hint,
)
from rag.store.terms import StemmedOnUse, StoredTerms
from rag.store.vectors import MappedFile, memory_map, read_faiss

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

    from rag.store.bm25_matrix import Bm25Matrix
    from rag.store.terms import ChunkTerms


@dataclass
class Index:
    """Everything retrieval and answering read, held in memory once per process."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    sentence_rows: list[list[int]]  # per chunk: rows of its sentences in sentence_vectors
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    faiss: Any
    bm25: Bm25Matrix
    doc_freq: dict[str, int]  # stemmed term -> number of chunks containing it
    # The chunks' stemmed words as the build wrote them (None: an index written before they
    # were, or a store without files: stemmed on first use instead).
    stored_terms: ChunkTerms | None = None
    # The memory-mapped files under the arrays above, checked before each question's reads.
    mapped: tuple[MappedFile, ...] = ()

    @property
    def size(self) -> int:
        """How many chunks the index holds."""
        return len(self.chunks)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """The IDF weight of each distinct term over this index's chunks (see lexical.idf_weights)."""

        return idf_weights(terms, self.doc_freq, self.size)

    @cached_property
    def terms(self) -> ChunkTerms:
        """The stemmed words of the chunks, their sentences and titles (rag.store.terms)."""

        return self.stored_terms if self.stored_terms is not None else StemmedOnUse(self.chunks)

    def spellings(self, term: str) -> list[str]:
        """``term`` and the index's terms that extend it or that it extends (at least 4
        letters: "german" and "germani", "gpt-5" and "gpt-5.4-cyber"), at most 30."""
        import bisect

        vocabulary = self._vocabulary
        found = [term] if term in self.doc_freq else []
        at = bisect.bisect_left(vocabulary, term)
        while at < len(vocabulary) and vocabulary[at].startswith(term) and len(found) < 30:
            if vocabulary[at] != term:
                found.append(vocabulary[at])
            at += 1
        for end in range(len(term) - 1, 3, -1):  # shorter terms it starts with
            if term[:end] in self.doc_freq:
                found.append(term[:end])
        return found

    @cached_property
    def _vocabulary(self) -> list[str]:
        return sorted(self.doc_freq)

    def positions_of(self, source: str) -> list[int]:
        """The positions of the chunks of one document (file name or corpus id), in order."""
        return self._by_source.get(source, [])

    @cached_property
    def _by_source(self) -> dict[str, list[int]]:
        by_source: dict[str, list[int]] = {}
        for position, chunk in enumerate(self.chunks):
            by_source.setdefault(chunk.source, []).append(position)
        return by_source

    @property
    def location(self) -> str:
        """Where the index lives, for messages: its folder here, a store's address elsewhere."""
        return str(self.path.parent)

    # First-stage search. A store that holds the index elsewhere (rag.store.milvus)
    # overrides these five; everything after them (fusion, reranking, answering) is shared,
    # so answers do not depend on the engine that holds the data.

    def check_files(self) -> None:
        """Refuse to read memory-mapped files that shrank since they were mapped: a read past
        a truncated file's end kills the process with SIGBUS, so one question fails instead,
        with a log line. (One stat per file: about a microsecond.)

        Raises:
            IndexCorruptError: a file is shorter than when it was loaded; rebuild the index.
        """
        for file in self.mapped:
            if file.shrunk():
                message = (
                    f"{file.path.name} of the index in {self.location} was cut short while it was in "
                    f"use; {rebuild_hint(self.path.parent)} (a new build is loaded at once)."
                )
                log.error("%s", message)
                raise IndexCorruptError(message)

    def dense_search(self, vector: np.ndarray, depth: int) -> dict[int, float]:
        """The ``depth`` chunks closest to ``vector`` (float32 [dim], L2-normalised): position -> cosine.

        Raises:
            IndexCorruptError: a memory-mapped file was cut short (see :meth:`check_files`).
        """
        self.check_files()  # first on every question's path: before any mapped row is read
        scores, ids = self.faiss.search(vector[None, :], min(depth, self.size))
        return {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}

    def lexical_search(self, terms: list[str], depth: int) -> dict[int, float]:
        """The ``depth`` best chunks by BM25 over the stemmed ``terms``: position -> raw BM25
        score (only positive scores)."""
        import numpy as np

        n = self.size
        if not terms or not n:
            return {}
        depth = min(depth, n)
        bm25 = self.bm25.scores(terms)
        top = np.argpartition(-bm25, depth - 1)[:depth] if depth < n else np.arange(n)
        return {int(i): float(bm25[i]) for i in top if bm25[i] > 0}

    def cosines(self, positions: list[int], vector: np.ndarray) -> list[float]:
        """The exact cosine of each chunk of ``positions`` to ``vector``, from the stored vectors."""
        import numpy as np

        return list(map(float, np.asarray(self.chunk_vectors[positions]) @ vector))

    def chunks_with(self, term: str, positions: np.ndarray) -> np.ndarray:
        """Which of ``positions`` (int64 [n]) hold the stemmed ``term``: bool [n], read off
        BM25's term-document matrix, so no chunk text is tokenized at query time."""
        import numpy as np

        return np.isin(positions, self.bm25.chunks_with(term))

    def prefetch(self, positions: Iterable[int], *, sentences: bool = False) -> None:
        """Fetch the records (and with ``sentences``, the sentence vectors) of these chunks in
        one round trip where the store is remote; a no-op here (in memory or memory-mapped)."""

    def outdated(self) -> bool:
        """True when a newer build is live in this index's folder and this one should be
        reloaded: one small file read (``CURRENT``). A build by another process (`rag index`
        beside a running server) is seen on the next question, and so is one by this process
        in the moment before it drops its cached engines."""
        return live_name(self.path.parent) not in (None, self.path.name)

    def in_memory(self) -> Index:
        """This index with every record and vector readable without a round trip (what a
        build reads when it reuses the vectors of unchanged documents)."""
        return self


def load_folder(index_dir: Path | str) -> Index:
    """Load the live generation of an index folder, pinned (see store.read_live).

    Every file read in full is checked against the manifest's checksum; the memory-mapped
    vector files are checked by builds and `rag index --check`. Generations a crashed or
    concurrent build left behind are removed first, when no build is running.

    Raises:
        IndexNotFoundError: nothing was built there.
        IndexCorruptError: a file is missing, truncated, damaged or unreadable; the message
            says how to rebuild.
        UnsupportedFormatError: written by an incompatible version.
    """
    index_dir = Path(index_dir)
    collect_garbage(index_dir)
    return read_live(index_dir, lambda generation: _load_generation(generation, index_dir))


def _load_generation(generation: Path, index_dir: Path) -> Index:
    manifest = read_manifest(generation, index_dir)
    damaged = damaged_files(generation, manifest, everything=False)
    if damaged:
        raise IndexCorruptError(
            f"Index file {generation / damaged[0]} is damaged (its checksum does not match); "
            f"repair it with `rag index --index {index_dir} PATHS…` (damaged files are rebuilt)."
        )
    try:
        return _read(generation, index_dir, manifest)
    except (IndexCorruptError, FileNotFoundError):
        raise  # FileNotFoundError: the generation was removed under us; read_live retries
    except Exception as error:  # FAISS, numpy and bm25s raise many types on bad bytes
        raise IndexCorruptError(
            f"The index in {index_dir} cannot be read ({type(error).__name__}: {error}); "
            f"{rebuild_hint(index_dir)}."
        ) from error


def _read(generation: Path, index_dir: Path, manifest: Manifest) -> Index:
    from rag.store.bm25_matrix import Bm25Matrix

    chunks, rows = [], []
    with (generation / CHUNKS).open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            rows.append(record.pop("rows"))
            chunks.append(Chunk.from_json(record))
    # Memory-mapped: retrieval and answering read a few dozen rows per question, so a large
    # index needs no RAM for them (1.5 GB of chunk vectors alone at 1 M chunks).
    chunk_vectors = memory_map(generation / CHUNK_VECTORS)
    sentence_vectors = memory_map(generation / SENTENCE_VECTORS)
    faiss_index = read_faiss(generation / FAISS, manifest.faiss_type, chunk_vectors)
    bm25 = Bm25Matrix.load(generation / BM25)
    doc_freq = json.loads((generation / DOC_FREQ).read_text(encoding="utf-8"))
    stored_terms = StoredTerms(generation, len(chunks)) if (generation / TERMS).is_dir() else None
    consistent = (
        len(chunks) == manifest.chunks == faiss_index.ntotal == len(chunk_vectors)
        and len(sentence_vectors) == manifest.sentences
        and all(0 <= r < len(sentence_vectors) for row in rows for r in row)
    )
    if not consistent:
        raise IndexCorruptError(
            f"The files of the index in {index_dir} disagree on their sizes; {rebuild_hint(index_dir)}."
        )
    mapped = [
        MappedFile.of(generation / CHUNK_VECTORS, chunk_vectors),
        MappedFile.of(generation / SENTENCE_VECTORS, sentence_vectors),
        *(stored_terms.mapped if stored_terms is not None else []),
    ]
    return Index(
        generation,
        manifest,
        chunks,
        rows,
        chunk_vectors,
        sentence_vectors,
        faiss_index,
        bm25,
        doc_freq,
        stored_terms,
        tuple(file for file in mapped if file is not None),
    )
