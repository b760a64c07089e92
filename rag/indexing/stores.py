"""Where an index is kept: the interface the indexer, retriever and library use, and the
choice between the embedded default (FAISS + bm25s files in a folder) and a Milvus store.

Both hold the same things (chunk records, chunk and sentence vectors, the BM25 words, the
manifest's per-file hashes) and switch to a new build atomically; ranking, reranking and
answering run in rag on top of either (see Index.dense_search and Index.lexical_search).

Chosen by ``--store`` / ``RAG_STORE``:

- unset or ``files``: the index folder (``--index``), as always;
- ``milvus:./rag.db``: a Milvus Lite file (one process at a time may open it);
- ``milvus://HOST:19530``, ``milvus:https://…``: a Milvus server or cluster (a token in
  ``RAG_MILVUS_TOKEN``); several ``rag serve`` replicas can share it.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from rag.indexing.index import Index
    from rag.indexing.store import IndexSummary, Manifest
    from rag.records import Chunk


@dataclass(frozen=True)
class IndexContents:
    """Everything a build writes, in chunk order (positions 0..n-1)."""

    chunks: list[Chunk]
    rows: list[list[int]]  # per chunk: the rows of its sentences in sentence_vectors
    chunk_vectors: np.ndarray  # float32 [chunks, dim], L2-normalised
    sentence_vectors: np.ndarray  # float32 [sentences, dim], L2-normalised
    terms: list[list[str]]  # per chunk: its stemmed BM25 words (rag.indexing.lexical.tokenize)
    doc_freq: Counter[str]  # stemmed word -> chunks holding it


@dataclass(frozen=True)
class IntegrityReport:
    """What `rag index --check` found: the parts checked and those that no longer match."""

    where: str  # the store's label
    checked: int  # parts checked (0: an index folder built before checksums were recorded)
    damaged: list[str]
    matched: str  # what an intact part does, for the message ("files match their checksums")
    repair: str  # the command that repairs a damaged index

    def summary(self) -> str:
        """One line for the CLI."""
        if self.damaged:
            damaged = ", ".join(self.damaged)
            return (
                f"Index {self.where} is damaged: {damaged} no longer match its manifest; "
                f"repair it with {self.repair}."
            )
        if not self.checked:
            return (
                f"Index {self.where} was built before checksums were recorded; `rag index --force` adds them."
            )
        return f"Index {self.where} is intact: {self.checked} {self.matched}."


class Store(Protocol):
    """One index's storage. Implementations: :class:`FileStore`, rag.indexing.milvus.MilvusStore."""

    @property
    def key(self) -> str:
        """Identifies the index within a process (the engine cache's key)."""

    @property
    def label(self) -> str:
        """Where the index is, for messages ("index" or "milvus:./rag.db")."""

    def exists(self) -> bool:
        """True when a build was ever completed here."""

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Held for a whole build: one writer at a time."""

    def load(self) -> Index:
        """The live build, pinned (a reader always sees one whole build).

        Raises:
            IndexNotFoundError, IndexCorruptError, UnsupportedFormatError, StoreError.
        """

    def manifest(self) -> Manifest | None:
        """The live build's manifest when it can be read, even if other parts cannot."""

    def damaged(self, manifest: Manifest) -> list[str]:
        """Parts of the live build that no longer match what the manifest recorded."""

    def write(self, manifest: Manifest, contents: IndexContents) -> None:
        """Write a complete new build, then make it live in one atomic step (caller holds the lock)."""

    def check(self) -> IntegrityReport:
        """Every part of the live build against what its manifest recorded.

        Raises:
            IndexNotFoundError: nothing was built there; IndexCorruptError, StoreError.
        """

    def summary(self) -> IndexSummary:
        """Per source file: chunks, title, when embedded (empty when nothing was built)."""


class FileStore:
    """The embedded default: generations of plain files in one folder (see rag.indexing.store)."""

    def __init__(self, index_dir: Path | str):
        """The index kept in the folder ``index_dir`` (made by the first build when missing).

        Raises:
            ConfigError: ``index_dir`` is a file.
        """
        self.index_dir = Path(index_dir)
        if self.index_dir.exists() and not self.index_dir.is_dir():
            raise ConfigError(
                f"{self.index_dir} is a file, not an index folder: pass --index a folder "
                "(a new one is created when it does not exist)."
            )

    @property
    def key(self) -> str:  # noqa: D102 - see Store
        return str(self.index_dir.resolve())

    @property
    def label(self) -> str:  # noqa: D102
        return str(self.index_dir)

    def exists(self) -> bool:  # noqa: D102
        from rag.indexing.store import CURRENT

        return (self.index_dir / CURRENT).exists()

    def lock(self) -> contextlib.AbstractContextManager[None]:  # noqa: D102
        from rag.indexing.store import build_lock

        return build_lock(self.index_dir)

    def load(self) -> Index:  # noqa: D102
        from rag.indexing.index import load_folder

        return load_folder(self.index_dir)

    def manifest(self) -> Manifest | None:  # noqa: D102
        from rag.errors import RagError
        from rag.indexing.store import MANIFEST, Manifest, live_generation

        try:
            text = (live_generation(self.index_dir) / MANIFEST).read_text(encoding="utf-8")
            return Manifest.from_json(json.loads(text))
        except (RagError, OSError, ValueError, TypeError):
            return None

    def damaged(self, manifest: Manifest) -> list[str]:  # noqa: D102
        from rag.errors import RagError
        from rag.indexing.store import damaged_files, live_generation

        try:
            return damaged_files(live_generation(self.index_dir), manifest)
        except RagError:  # CURRENT names a folder that is gone: nothing to compare
            return []

    def write(self, manifest: Manifest, contents: IndexContents) -> None:  # noqa: D102
        from rag.indexing.store import write_generation

        write_generation(self.index_dir, manifest, lambda folder: write_folder(folder, contents, manifest))

    def check(self) -> IntegrityReport:  # noqa: D102
        from rag.indexing.store import damaged_files, read_live, read_manifest

        def check(generation: Path) -> tuple[int, list[str]]:
            manifest = read_manifest(generation, self.index_dir)
            return len(manifest.checksums), damaged_files(generation, manifest)

        checked, damaged = read_live(self.index_dir, check)
        repair = f"`rag index --index {self.index_dir} PATHS…` (the same paths as before)"
        return IntegrityReport(str(self.index_dir), checked, damaged, "files match their checksums", repair)

    def summary(self) -> IndexSummary:  # noqa: D102
        from rag.indexing.store import read_summary

        return read_summary(self.index_dir)


def write_folder(folder: Path, contents: IndexContents, manifest: Manifest) -> None:
    """The files of one generation (names in rag.indexing.store); sets ``manifest.faiss_type``."""
    import numpy as np

    from rag.indexing.chunk_terms import write_terms
    from rag.indexing.lexical import import_bm25s
    from rag.indexing.store import BM25, CHUNK_VECTORS, CHUNKS, DOC_FREQ, FAISS, SENTENCE_VECTORS
    from rag.indexing.vectors import build_faiss, write_faiss

    faiss_index, manifest.faiss_type = build_faiss(contents.chunk_vectors)
    bm25s = import_bm25s()
    with (folder / CHUNKS).open("w", encoding="utf-8") as out:
        for chunk, chunk_rows in zip(contents.chunks, contents.rows, strict=True):
            out.write(json.dumps({**chunk.to_json(), "rows": chunk_rows}, ensure_ascii=False) + "\n")
    np.save(folder / CHUNK_VECTORS, contents.chunk_vectors)
    np.save(folder / SENTENCE_VECTORS, contents.sentence_vectors)
    write_faiss(faiss_index, folder / FAISS)
    bm25 = bm25s.BM25()
    bm25.index(contents.terms, show_progress=False)
    bm25.save(str(folder / BM25), show_progress=False)
    (folder / DOC_FREQ).write_text(json.dumps(contents.doc_freq), encoding="utf-8")
    write_terms(folder, contents.chunks)


def store_spec() -> str | None:
    """The configured store (``--store`` / ``RAG_STORE``); None for the index folder."""
    from rag.config import store

    return store()


def open_store(index_dir: Path | str) -> Store:
    """The store of the configured kind for ``index_dir`` (a Milvus store keeps its build
    lock there when it has no folder of its own).

    Raises:
        ConfigError: ``RAG_STORE`` is not a form rag knows (the message lists them).
    """
    spec = store_spec()
    if spec is None:
        return FileStore(index_dir)
    if spec.startswith("milvus:"):
        from rag.indexing.milvus import MilvusStore

        return MilvusStore(spec, Path(index_dir))
    raise ConfigError(
        f"Unknown store {spec!r}: use files (the default), milvus:./rag.db (a Milvus Lite file) "
        "or milvus://HOST:19530 (a Milvus server)."
    )


def one_process_only() -> bool:
    """True when the configured store can be open in one process at a time (a Milvus Lite
    file): the UI then builds in its own process instead of a worker."""
    spec = store_spec()
    if spec is None or not spec.startswith("milvus:"):
        return False
    from rag.indexing.milvus import parse_spec

    return parse_spec(spec).lite
