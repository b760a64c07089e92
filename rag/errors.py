"""The one exception hierarchy of rag.

Every error a user can cause derives from :class:`RagError`, whose message says what went
wrong *and how to fix it*. The CLI and the UI print ``str(error)`` as one line; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class for errors meant to be shown to the user."""


class QuestionError(RagError, ValueError):
    """The question is empty, blank or too long (also a ``ValueError`` for callers)."""


class CorpusError(RagError):
    """The corpus is missing, empty, or holds nothing that can be indexed."""


class DocumentError(CorpusError):
    """One document is refused or unreadable: its type, content, size or name is not accepted."""


class IndexNotFoundError(RagError):
    """No index exists where one was expected."""


class IndexCorruptError(RagError):
    """An index file is missing, truncated or unreadable."""


class StaleIndexError(RagError):
    """The index was built from other files or settings than the ones asked for."""


class EmbedderMismatchError(StaleIndexError):
    """The index was built with another embedding model than the one in use."""


class UnsupportedFormatError(RagError):
    """An index folder written by an incompatible version of rag."""


class GeneratorError(RagError):
    """A generative backend is unknown, missing, or failed."""


class DatasetError(RagError):
    """An evaluation dataset is missing or malformed."""


class ConfigError(RagError):
    """An environment variable holds a value rag cannot use."""


class StoreError(RagError):
    """A remote index store (a Milvus server, a Milvus Lite file) cannot be reached, refuses
    the request, or is held by another process."""


class StoreDamagedError(StoreError):
    """A Milvus Lite store's files are damaged (truncated or overwritten): it cannot be opened.
    ``rag index`` sets the damaged copy aside and rebuilds."""


class UnsupportedModelError(RagError):
    """An embedding model is not of the shape rag exports to ONNX (a BERT-style transformer,
    mean or CLS pooling); the torch model is used instead."""


class IndexWriteError(RagError, OSError):
    """A new index could not be written (a full disk, a read-only folder); the previous index
    is unchanged. Also an ``OSError``, which is what it was."""
