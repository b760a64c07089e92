"""Public: read documents as rag indexes them (the code lives in :mod:`rag.ingest.formats`).

``read_document(path)[start:end]`` is the span a citation of ``path`` points at.
"""

from __future__ import annotations

from rag.ingest.formats import (
    SUFFIX_KINDS,
    SUFFIXES,
    describe,
    extract_text,
    read_document,
    sniff,
    supported_types,
)

__all__ = [
    "SUFFIXES",
    "SUFFIX_KINDS",
    "describe",
    "extract_text",
    "read_document",
    "sniff",
    "supported_types",
]
