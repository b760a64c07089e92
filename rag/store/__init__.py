"""Storage: where an index is kept, and how it is read back for search.

Here: the choice of store (``open_store``, ``load_index``: the folder, or Milvus by
``--store`` / ``RAG_STORE``). base (the :class:`~rag.store.base.Store` contract and what a
build hands it) → folder (the default: FAISS + BM25 files in an index
folder) over generations (the folder's file names, atomic generations, locks, manifest),
vectors (FAISS), bm25_matrix (BM25 scores from the saved matrix) and terms (each chunk's
stemmed words); milvus and milvus_index (the same contract in Milvus). index is the read
side every store returns: dense and lexical search over the chunks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.store.base import Store
    from rag.store.index import Index


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
        from rag.store.folder import FileStore

        return FileStore(index_dir)
    if spec.startswith("milvus:"):
        from rag.store.milvus import MilvusStore

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
    from rag.store.milvus import parse_spec

    return parse_spec(spec).lite


def load_index(index_dir: Path | str) -> Index:
    """Load the index of the configured store (``RAG_STORE``; default: the folder ``index_dir``).

    Raises:
        IndexNotFoundError, IndexCorruptError, UnsupportedFormatError: see :func:`load_folder`.
        StoreError: a remote store cannot be reached or refuses the request.
    """
    return open_store(index_dir).load()
