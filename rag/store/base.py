"""The Store contract: what a build hands a store (:class:`IndexContents`), what every store
does (:class:`Store`), and what `rag index --check` reports (:class:`IntegrityReport`).

Two stores implement it: the index folder (rag.store.folder, the default) and Milvus
(rag.store.milvus); ``rag.store.open_store`` picks one from ``--store`` / ``RAG_STORE``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from rag.records import Chunk
    from rag.store.generations import IndexSummary, Manifest
    from rag.store.index import Index


@dataclass(frozen=True)
class IndexContents:
    """Everything a build writes, in chunk order (positions 0..n-1)."""

    chunks: list[Chunk]
    rows: list[list[int]]  # per chunk: the rows of its sentences in sentence_vectors
    chunk_vectors: np.ndarray  # float32 [chunks, dim], L2-normalised
    sentence_vectors: np.ndarray  # float32 [sentences, dim], L2-normalised
    terms: list[list[str]]  # per chunk: its stemmed BM25 words (rag.ingest.lexical.tokenize)
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
    """One index's storage. Implementations: :class:`FileStore`, rag.store.milvus.MilvusStore."""

    @property
    def key(self) -> str:
        """Identifies the index within a process (the engine cache's key)."""

    @property
    def label(self) -> str:
        """Where the index is, for messages ("index" or "milvus:./rag.db")."""

    def exists(self) -> bool:
        """True when a build was ever completed here."""

    def generation(self) -> str | None:
        """The live build's name (None: nothing built). Cheap: what a watcher polls to learn
        that the index changed."""

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
