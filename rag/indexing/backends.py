"""Where a build's chunking and embedding run: in this process (:class:`LocalBackend`) or on a
Ray cluster (rag.indexing.distributed.RayBackend). ``build_index`` picks one explicitly from
its ``ray`` argument; the embedder stays the local model either way, so its id, dimension and
token counting are the index's (an index built through Ray is the one a local build makes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from rag.ingest.chunking import ChunkerSettings, chunk_sections
from rag.ingest.formats import web_text
from rag.ingest.structure import parse_sections

if TYPE_CHECKING:
    import numpy as np

    from rag.embedding.embedders import Embedder
    from rag.ingest.loading import SourceDocument
    from rag.records import Chunk

# Texts embedded between two progress reports: one encode batch (64), about a second on two
# cores for passage-sized texts, so a bar moves steadily even for a single large file.
PROGRESS_STEP = 64


class Backend(Protocol):
    """How a build splits documents into chunks and embeds texts."""

    # True when the build's own embedder computes the vectors here, so that bfloat16 builds
    # and pooled sentence vectors (one pass per chunk) apply.
    local: bool

    def split(
        self,
        documents: list[SourceDocument],
        settings: ChunkerSettings,
        embedder: Embedder,
        notify: Callable[[float, str], None],
    ) -> list[list[Chunk]]:
        """Each document's chunks, in the documents' order."""

    def encode(
        self, texts: list[str], embedder: Embedder, advance: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """float32 [len(texts), dim], L2-normalised, row i for texts[i]; ``advance(n)`` as n are done."""


class LocalBackend:
    """Chunking and embedding in this process, one document (and one progress step) at a time."""

    local = True

    def split(  # noqa: D102 - see Backend
        self,
        documents: list[SourceDocument],
        settings: ChunkerSettings,
        embedder: Embedder,
        notify: Callable[[float, str], None],
    ) -> list[list[Chunk]]:
        chunked = []
        for document in documents:
            notify(0.0, f"Splitting {document.source} into passages")
            sections = parse_sections(document.text, title=document.title, web=web_text(document.source))
            chunked.append(chunk_sections(document.source, document.text, sections, settings, embedder.fits))
        return chunked

    def encode(  # noqa: D102 - see Backend
        self, texts: list[str], embedder: Embedder, advance: Callable[[int], None] | None = None
    ) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        step = PROGRESS_STEP if advance is not None else max(len(texts), 1)
        for begin in range(0, len(texts), step):  # in slices, so progress can be reported
            out[begin : begin + step] = embedder.encode(texts[begin : begin + step])
            if advance is not None:
                advance(len(texts[begin : begin + step]))
        return out
