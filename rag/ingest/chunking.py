"""Token-aware, sentence-aware packing of sections into chunks, with sentence overlap.

A chunk never cuts a sentence unless that sentence alone exceeds the budget; then it is
split between words. The budget is counted with tiktoken over the text that is embedded
(title plus sentences), and every chunk is also checked against the embedder's own limit,
because all-MiniLM-L6-v2 silently truncates past 256 word pieces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from rag.config import settings
from rag.ingest.text import normalise
from rag.ingest.tokens import DEFAULT_ENCODING, count_tokens
from rag.records import PAGE_BREAK, Chunk, Section, Sentence, page_at

_WORD = re.compile(r"\S+")

# Bump when cleaning, sectioning, sentence splitting or the lexical tokenizer change what an
# index holds: the manifest records it, so old indexes are rebuilt instead of silently reused.
# 5: CJK sentence ends, line-end hyphens joined, CRLF read as LF; 6: long "#" lines are
# text, glued list numbers ("2Anthropic") left out of sentences; 7: PDFs read by layout
# (sentences over line and page breaks, tables, no running headers), lines split at \n only,
# the web-furniture filter kept to web text, OCR'd pages' sections titled so
PARSER_VERSION = 7


@dataclass(frozen=True)
class ChunkerSettings:
    """How text is cut. Defaults were chosen by measurement on eval/qa.jsonl (see docs/evaluation.md)."""

    max_tokens: int = 128
    overlap_tokens: int = 32
    encoding: str = DEFAULT_ENCODING
    # How sentence vectors are made: "separate" (each sentence encoded alone) or "pooled"
    # (mean of the sentence's token embeddings from its chunk's own pass: one forward pass
    # per chunk; rag.indexing.build). Part of the index, like the cut: a change rebuilds.
    sentence_vectors: str = field(default_factory=lambda: _configured_sentence_vectors())

    def __post_init__(self) -> None:
        if self.sentence_vectors not in ("separate", "pooled"):
            raise ValueError(f"sentence_vectors must be separate or pooled, got {self.sentence_vectors!r}")
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError("overlap_tokens must be >= 0 and smaller than max_tokens")

    def to_json(self) -> dict[str, object]:
        """The settings as the manifest records them (a change means a full rebuild)."""
        recorded = asdict(self)
        if self.sentence_vectors == "separate":  # indexes from before the option stay valid
            del recorded["sentence_vectors"]
        return {**recorded, "parser_version": PARSER_VERSION}


def _configured_sentence_vectors() -> str:

    return settings().sentence_vectors or "separate"


def embedding_text(title: str, sentences: Iterable[Sentence]) -> str:
    """The text a chunk is embedded and lexically indexed as: its title, then its sentences."""
    body = " ".join(s.text for s in sentences)
    return f"{title}\n{body}" if title else body


def _split_long_sentence(original: str, sentence: Sentence, budget: int, encoding: str) -> list[Sentence]:
    """Cut one over-long sentence between words into pieces of at most ``budget`` tokens."""
    pieces: list[Sentence] = []
    piece_start: int | None = None
    piece_end = sentence.start
    used = 0
    for word in _WORD.finditer(original, sentence.start, sentence.end):
        cost = count_tokens(" " + word.group(), encoding)
        if piece_start is not None and used + cost > budget:
            pieces.append(Sentence(normalise(original[piece_start:piece_end]), piece_start, piece_end))
            piece_start, used = None, 0
        if piece_start is None:
            piece_start = word.start()
        piece_end = word.end()
        used += cost
    if piece_start is not None:
        pieces.append(Sentence(normalise(original[piece_start:piece_end]), piece_start, piece_end))
    return pieces


def chunk_sections(
    source: str,
    original: str,
    sections: list[Section],
    settings: ChunkerSettings,
    fits: Callable[[str], bool] | None = None,
) -> list[Chunk]:
    """Pack each section's sentences into chunks of at most ``settings.max_tokens`` tokens.

    Args:
        source: file name (or corpus id) recorded on every chunk.
        original: the file's original text; offsets point into it.
        sections: output of :func:`rag.ingest.structure.parse_sections`.
        settings: token budget and overlap.
        fits: the embedder's own check that a text is within its input limit.
    """
    chunks: list[Chunk] = []
    # Paged documents (PDFs; any text with form feeds) record where each chunk's page starts.
    paged = PAGE_BREAK in original or source.lower().endswith(".pdf")
    for section in sections:
        title_cost = count_tokens(section.title + "\n", settings.encoding) if section.title else 0
        budget = max(settings.max_tokens - title_cost, 8)
        units: list[Sentence] = []
        for sentence in section.sentences:
            if count_tokens(sentence.text, settings.encoding) > budget:
                units.extend(_split_long_sentence(original, sentence, budget, settings.encoding))
            else:
                units.append(sentence)
        for group in _pack(units, budget, settings, fits, section.title):
            start, end = group[0].start, group[-1].end
            chunks.append(
                Chunk(
                    id=len(chunks),  # renumbered across documents by the index build
                    source=source,
                    title=section.title,
                    text=original[start:end],
                    start=start,
                    end=end,
                    sentences=tuple(group),
                    page=page_at(original, start) if paged else None,
                )
            )
    return chunks


def _pack(
    units: list[Sentence],
    budget: int,
    settings: ChunkerSettings,
    fits: Callable[[str], bool] | None,
    title: str,
) -> list[list[Sentence]]:
    costs = [count_tokens(u.text, settings.encoding) + 1 for u in units]  # +1: the joining space
    groups: list[list[Sentence]] = []
    start = 0
    while start < len(units):
        end, used = start, 0
        while end < len(units) and (end == start or used + costs[end] <= budget):
            used += costs[end]
            end += 1
        # The embedder's tokenizer may count more pieces than tiktoken: shrink until it fits.
        while fits is not None and end - start > 1 and not fits(embedding_text(title, units[start:end])):
            end -= 1
        groups.append(units[start:end])
        if end == len(units):
            break
        # Next chunk starts with as many trailing sentences as fit in the overlap budget.
        next_start, overlap = end, 0
        while next_start - 1 > start and overlap + costs[next_start - 1] <= settings.overlap_tokens:
            next_start -= 1
            overlap += costs[next_start]
        start = next_start
    return groups
