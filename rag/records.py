"""Typed records passed between the stages: sentences, chunks, passages, citations, answers.

Offsets are always character offsets into the *original* file text (before cleaning), so a
person can check any citation with ``original[start:end]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rag.injection import looks_like_instruction

# What every answer mode says when the documents do not hold the answer (Answer.abstained).
NOT_FOUND = "The documents do not contain an answer to this question."
# Between two pages of a document's text (form feed, as pdftotext writes it): a PDF's
# extracted text carries one per page turn, so any offset tells its page.
PAGE_BREAK = "\f"


def page_at(text: str, offset: int, first_page: int = 1) -> int:
    """The 1-based page of ``text[offset]``: ``first_page`` plus the page breaks before it."""
    return first_page + text.count(PAGE_BREAK, 0, offset)


@dataclass(frozen=True)
class Sentence:
    """One cleaned sentence and where it came from in the original file."""

    text: str  # normalised text (what is embedded and matched)
    start: int  # offsets of the sentence in the original file text
    end: int


@dataclass(frozen=True)
class Section:
    """A titled run of sentences: one article of a tag page, or the part under a heading."""

    title: str
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded and retrieved.

    ``text`` is the original file text ``original[start:end]``; ``sentences`` are the cleaned
    sentences inside it (repeats and boilerplate between them are left out of the embedding).
    """

    id: int
    source: str  # file name relative to the corpus root, or a corpus id for JSONL corpora
    title: str  # section or article title
    text: str
    start: int
    end: int
    sentences: tuple[Sentence, ...]
    page: int | None = None  # 1-based page where ``text`` starts, for paged documents (PDFs)

    def is_table_row(self, index: int) -> bool:
        """Whether sentence ``index`` is a table row: its span is a Markdown row ("| … |"), its
        text the row read with its header."""
        return self.text.startswith("|", self.sentences[index].start - self.start)

    @property
    def clean_text(self) -> str:
        """The chunk's cleaned sentences joined by spaces (what is matched, not what is cited)."""
        return " ".join(s.text for s in self.sentences)

    def to_json(self) -> dict[str, Any]:
        """The chunk as one JSON object of chunks.jsonl."""
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "sentences": [[s.text, s.start, s.end] for s in self.sentences],
            **({"page": self.page} if self.page is not None else {}),
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Chunk:
        """A chunk from its JSON object in chunks.jsonl."""
        return cls(
            id=row["id"],
            source=row["source"],
            title=row["title"],
            text=row["text"],
            start=row["start"],
            end=row["end"],
            sentences=tuple(Sentence(t, s, e) for t, s, e in row["sentences"]),
            page=row.get("page"),
        )


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and rank for one question."""

    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    rank: int
    chunk_id: int
    page: int | None = None  # 1-based page where ``text`` starts, for paged documents (PDFs)


@dataclass(frozen=True)
class Citation:
    """A passage cited by an answer, with the span of the sentence that supports it.

    ``sentence_start``/``sentence_end`` are offsets *inside* ``text``; the sentence's offsets
    in the original file are ``start + sentence_start`` and ``start + sentence_end``.
    ``span_start``/``span_end`` (inside ``text`` too, within the sentence) mark the words the
    reader picked as the answer itself; None when no reader chose a span there.
    """

    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    sentence_start: int
    sentence_end: int
    page: int | None = None  # 1-based page of the sentence in a paged document (PDF), else None
    span_start: int | None = None
    span_end: int | None = None

    @property
    def sentence(self) -> str:
        """The supporting sentence, exactly as it stands in the source file."""
        return self.text[self.sentence_start : self.sentence_end]

    @property
    def span(self) -> str:
        """The answer span inside the sentence, exactly as in the source file ("" when none)."""
        if self.span_start is None or self.span_end is None:
            return ""
        return self.text[self.span_start : self.span_end]

    @property
    def span_in_file(self) -> tuple[int, int] | None:
        """(start, end) of the answer span in the source file, or None."""
        if self.span_start is None or self.span_end is None:
            return None
        return self.start + self.span_start, self.start + self.span_end

    @classmethod
    def of(
        cls, chunk: Chunk, sentence_index: int, score: float, span: tuple[int, int] | None = None
    ) -> Citation:
        """Cite ``chunk`` as the passage, its sentence ``sentence_index`` as the support and,
        when given, ``span`` (file offsets, inside that sentence) as the answer itself."""
        sentence = chunk.sentences[sentence_index]
        if span is not None and not sentence.start <= span[0] < span[1] <= sentence.end:
            raise ValueError(f"span {span} is not inside the sentence {sentence.start}-{sentence.end}")
        return cls(
            source=chunk.source,
            title=chunk.title,
            text=chunk.text,
            start=chunk.start,
            end=chunk.end,
            score=round(score, 4),
            sentence_start=sentence.start - chunk.start,
            sentence_end=sentence.end - chunk.start,
            page=(
                None if chunk.page is None else page_at(chunk.text, sentence.start - chunk.start, chunk.page)
            ),
            span_start=None if span is None else span[0] - chunk.start,
            span_end=None if span is None else span[1] - chunk.start,
        )

    @property
    def sentence_span(self) -> tuple[int, int]:
        """(start, end) of the sentence in the source file: ``read()[start:end]`` is the
        sentence (``start``/``end`` alone are the passage's)."""
        return self.start + self.sentence_start, self.start + self.sentence_end

    @property
    def location(self) -> str:
        """Where the sentence is, for people: "p. 12, chars 340–415" (no page outside PDFs)."""
        start, end = self.sentence_span
        page = f"p. {self.page}, " if self.page is not None else ""
        return f"{page}chars {start}–{end}"

    def payload(self, number: int) -> dict[str, Any]:
        """This citation as clients receive it (the Gradio API, ``/v1`` and MCP alike).

        ``start``/``end`` are the cited sentence's character offsets in the document text
        (``rag.formats.read_document(source)[start:end]``), ``passage_start``/``passage_end``
        the passage's; ``number`` is its marker in the answer text (``[number]``).
        """
        start, end = self.sentence_span
        span = self.span_in_file
        return {
            "number": number,
            "source": self.source,
            "title": self.title,
            "sentence": self.sentence,
            "start": start,
            "end": end,
            # The answer itself inside the sentence (the reader's span): its words and file
            # offsets; "" and None when the sentence is cited without a span.
            "span": self.span,
            "span_start": None if span is None else span[0],
            "span_end": None if span is None else span[1],
            "passage": self.text,
            "passage_start": self.start,
            "passage_end": self.end,
            "page": self.page,  # 1-based page of a PDF; None for other documents
            # The passage holds text addressed to AI assistants (a possible prompt injection):
            # the flag the web UI shows over it.
            "flagged": looks_like_instruction(self.text),
        }


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer and what supports it.

    ``citation`` is the 1-based number of its marker in ``Answer.citations`` (None when no
    passage supports it); ``support`` is how strongly the cited span supports it (0..1).
    """

    text: str
    citation: int | None
    support: float = 1.0

    @property
    def supported(self) -> bool:
        """True when the sentence cites a passage."""
        return self.citation is not None


@dataclass(frozen=True)
class Answer:
    """What :func:`rag.ask` returns.

    ``text`` ends every sentence with citation markers like ``[1]``, numbered in the order of
    ``citations``. When ``abstained`` is true the text says plainly that the documents do not
    contain the answer, and ``citations`` lists the closest passages, not claimed as support.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    confidence: float = 0.0
    sentences: list[AnswerSentence] = field(default_factory=list)  # per-sentence support
    generator: str = "extractive"  # which backend wrote the text
    note: str = ""  # shown to the user, e.g. "the local model failed; extractive answer shown"
    model: str = ""  # the model that backend ran ("qwen2.5:3b", a GGUF file); "" for the extractive

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data (citations and sentences as dicts); see :meth:`from_dict`."""
        return asdict(self)

    def payload(self) -> dict[str, Any]:
        """The answer as clients receive it (the Gradio API, ``/v1`` and MCP alike): the text,
        whether it abstained, its confidence (0..1), who wrote it (backend and model), and each citation's
        :meth:`Citation.payload`. Unlike :meth:`to_dict` it is meant to be read, not read back."""
        return {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "generator": self.generator,
            "model": self.model,
            "note": self.note,
            "citations": [c.payload(n) for n, c in enumerate(self.citations, 1)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """The answer :meth:`to_dict` gave ``data`` for (e.g. read back from a browser's storage).

        Every field is checked for its kind, and every sentence's citation number for a
        citation it can point at: such data may have been edited.

        Raises:
            ValueError: ``data`` is not such an answer (a field missing, unknown or of the wrong kind).
        """
        try:
            fields = dict(data)
            citations = [Citation(**c) for c in fields.pop("citations", [])]
            sentences = [AnswerSentence(**s) for s in fields.pop("sentences", [])]
            answer = cls(**fields, citations=citations, sentences=sentences)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Not an answer record: {error}") from None
        _check_kinds(
            answer,
            {"question": str, "text": str, "generator": str, "note": str, "model": str, "abstained": bool},
        )
        _check_kinds(answer, {"confidence": (int, float)})
        for citation in citations:
            _check_kinds(citation, {"source": str, "title": str, "text": str})
            _check_kinds(citation, {"start": int, "end": int, "sentence_start": int, "sentence_end": int})
            _check_kinds(citation, {"score": (int, float), "page": (int, type(None))})
            _check_kinds(citation, {"span_start": (int, type(None)), "span_end": (int, type(None))})
        for sentence in sentences:
            _check_kinds(sentence, {"text": str, "citation": (int, type(None)), "support": (int, float)})
            if sentence.citation is not None and not 1 <= sentence.citation <= len(citations):
                raise ValueError(
                    f"Not an answer record: sentence cites [{sentence.citation}], which is not there."
                )
        return answer


def _check_kinds(record: object, kinds: Mapping[str, Any]) -> None:
    for name, kind in kinds.items():
        value = getattr(record, name)
        if not isinstance(value, kind) or (
            kind is not bool and isinstance(value, bool) and bool not in _as_tuple(kind)
        ):
            raise ValueError(f"Not an answer record: {name} is {type(value).__name__}.")


def _as_tuple(kind: Any) -> tuple[Any, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
