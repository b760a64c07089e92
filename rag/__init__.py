"""rag: answers from your own documents, every sentence citing a span of a source file.

This is the public API. Importing it is cheap: models, FAISS and Gradio load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.errors import (
    CorpusError,
    EmbedderMismatchError,
    GeneratorError,
    IndexCorruptError,
    IndexNotFoundError,
    QuestionError,
    RagError,
    StaleIndexError,
)
from rag.records import Answer, Citation, Passage

if TYPE_CHECKING:
    from rag.api import ask, build_index, load_index, retrieve

__version__ = "0.1.0"

_LAZY = {"ask", "retrieve", "build_index", "load_index"}

__all__ = [
    "Answer",
    "Citation",
    "CorpusError",
    "EmbedderMismatchError",
    "GeneratorError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "Passage",
    "QuestionError",
    "RagError",
    "StaleIndexError",
    "ask",
    "build_index",
    "load_index",
    "retrieve",
]


def __getattr__(name: str) -> Any:
    # The api module pulls in numpy and the indexing code; defer that to first use.
    if name in _LAZY:
        from rag import api

        return getattr(api, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
