"""The panel beside the chat: an answer's sources, and a whole document at a cited place.

Pure functions (HTML strings), like rag/ui/render.py. Passages and documents are escaped; the
supporting sentence is wrapped in ``<mark class='rag-support'>`` (for an abstention, the
closest sentence gets the neutral ``rag-closest`` instead: it is not support), and the reader's
answer span inside it in ``<strong class='rag-span'>``.
"""

from __future__ import annotations

import re
import time
from html import escape

from rag.injection import looks_like_instruction
from rag.library import DocumentInfo
from rag.records import Answer, Citation
from rag.ui.render import NOT_FOUND_HEADING, marker_html

EMPTY_PANEL = (
    "<div class='rag-sources rag-empty'><p><b>Sources</b></p><p>Every answer sentence ends with a marker "
    "like <span class='rag-cite'>[1]</span>. Click one to see its passage here, with the sentence that "
    "supports the answer highlighted.</p></div>"
)
_DOCUMENT_WINDOW = 150_000  # characters shown around the passage of a very long document


def _marked(
    text: str, start: int, end: int, css: str, element_id: str = "", inner: tuple[int, int] | None = None
) -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in a ``<mark>`` and, inside it,
    ``text[inner[0]:inner[1]]`` (the reader's answer span) in ``<strong class='rag-span'>``."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    ident = f" id='{element_id}'" if element_id else ""
    inside = escape(text[start:end])
    if inner is not None and start <= inner[0] < inner[1] <= end:
        a, b = inner
        span = f"<strong class='rag-span'>{escape(text[a:b])}</strong>"
        inside = f"{escape(text[start:a])}{span}{escape(text[b:end])}"
    marked = f"<mark class='{css}'{ident}>{inside}</mark>"
    return f"{escape(text[:start])}{marked}{escape(text[end:])}"


def _inner(citation: Citation, shift: int, abstained: bool) -> tuple[int, int] | None:
    """The answer span in a text that starts ``shift`` characters into the passage."""
    if abstained or citation.span_start is None or citation.span_end is None:
        return None  # a closest passage offers no answer
    return citation.span_start - shift, citation.span_end - shift


def _passage(citation: Citation, css: str) -> str:
    """The passage with its sentence marked, without the blank lines and indent around it."""
    text = citation.text
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    inner = _inner(citation, lead, css != "rag-support")
    return _marked(body, citation.sentence_start - lead, citation.sentence_end - lead, css, inner=inner)


def _span(citation: Citation) -> str:
    start, end = citation.sentence_span
    page = f"p. {citation.page} · " if citation.page is not None else ""
    return f"{page}characters {start:,}–{end:,}"


INJECTION_WARNING = (
    "⚠ This passage holds text addressed to AI assistants (a possible prompt injection). "
    "It is shown as written and is never used as an answer."
)


def _injection_warning(text: str) -> str:
    """A warning line above a passage that addresses the model; empty for ordinary text."""
    if not looks_like_instruction(text):
        return ""
    return f"<p class='rag-warning rag-injection' role='note'>{escape(INJECTION_WARNING)}</p>"


def _card(citation: Citation, turn: int, number: int, *, abstained: bool, active: bool) -> str:
    css = "rag-closest" if abstained else "rag-support"
    classes = "rag-source rag-active" if active else "rag-source"
    ident = "rag-target" if active else f"rag-source-{turn}-{number}"
    return (
        f"<div class='{classes}' id='{ident}'>"
        f"<div class='rag-source-head'>{marker_html(turn, number, citation)} "
        f"<b class='rag-title'>{escape(citation.title or citation.source)}</b></div>"
        f"<div class='rag-source-file'><code>{escape(citation.source)}</code> · {_span(citation)}</div>"
        f"{_injection_warning(citation.text)}"
        f"<blockquote class='rag-passage'>{_passage(citation, css)}</blockquote>"
        f"<a class='rag-open' href='#doc-{turn}-{number}'>Open the full document at this place ↗</a></div>"
    )


def sources_html(answer: Answer, turn: int = 0, active: int | None = None) -> str:
    """The sources of one answer; ``active`` (1-based) is the one whose marker was clicked."""
    if not answer.citations:
        return (
            "<div class='rag-sources'><p class='rag-empty'>No passages.</p></div>" if answer.abstained else ""
        )
    if answer.abstained:
        heading = (
            f"<h4 class='rag-maybe'>{NOT_FOUND_HEADING}</h4>"
            "<div class='rag-maybe'>Maybe related (not an answer)</div>"
        )
    else:
        heading = "<h4>Sources</h4>"
    question = f"<div class='rag-question'>for: {escape(' '.join(answer.question.split()))}</div>"
    cards = "".join(
        _card(c, turn, n, abstained=answer.abstained, active=n == active)
        for n, c in enumerate(answer.citations, 1)
    )
    return f"<div class='rag-sources'>{heading}{question}{cards}</div>"


def document_html(
    text: str | None,
    citation: Citation,
    turn: int,
    number: int,
    problem: str = "",
    *,
    abstained: bool = False,
    page_view: str = "",
) -> str:
    """The whole (extracted) document with the cited passage shaded and its sentence marked.

    ``text`` is None when the document cannot be read any more; ``problem`` says why. When
    the file changed since it was indexed, the offsets no longer fit it: that is said, and
    the indexed passage is shown instead of a wrongly placed highlight. ``page_view`` (a PDF's
    cited page, rendered with the sentence marked; see rag/ui/pdf_view.py) comes first, and the
    text view below it.
    """
    head = (
        f"<div class='rag-doc-head'>"
        f"<a class='rag-back' href='#cite-{turn}-{number}'>← Back to the sources</a>"
        f"<div><b class='rag-title'>{escape(citation.title or citation.source)}</b></div>"
        f"<div class='rag-source-file'><code>{escape(citation.source)}</code> · {_span(citation)}</div></div>"
    )
    css = "rag-closest" if abstained else "rag-support"  # a closest passage is not support
    sentence_start, sentence_end = citation.sentence_span
    if text is None or text[citation.start : citation.end] != citation.text:
        why = problem or "The file changed since it was indexed; re-upload it to index the new version."
        body = _marked(
            citation.text,
            citation.sentence_start,
            citation.sentence_end,
            css,
            "rag-target",
            _inner(citation, 0, abstained),
        )
        return (
            f"<div class='rag-docview'>{head}<p class='rag-warning'>{escape(why)} The indexed passage:</p>"
            f"<div class='rag-doc'>{body}</div></div>"
        )
    offset = 0
    if len(text) > _DOCUMENT_WINDOW:  # a browser chokes on megabytes of text in one element
        offset = max(0, sentence_start - _DOCUMENT_WINDOW // 2)
        text = text[offset : offset + _DOCUMENT_WINDOW]
    before = escape(text[: citation.start - offset])
    passage = _marked(
        text[citation.start - offset : citation.end - offset],
        sentence_start - citation.start,
        sentence_end - citation.start,
        css,
        "" if page_view else "rag-target",  # the page's mark is where the view opens
        _inner(citation, 0, abstained),
    )
    after = escape(text[citation.end - offset :])
    label = "<p class='rag-doc-label'>The text as indexed:</p>" if page_view else ""
    body = f"{before}<span class='rag-passage-in-doc'>{passage}</span>{after}"
    if not citation.source.lower().endswith((".txt", ".text")):
        body = _heading_marks(body)
    view = f"{head}{page_view}{label}<div class='rag-doc' id='rag-doc'>{body}</div>"
    return f"<div class='rag-docview'>{view}</div>"


# A heading line's "## " as Word, HTML, PDF and the rest are written out (rag.ingest.structure):
# the marks are rag's, not the document's, so the view hides them (the offsets stay exact).
_HEADING = re.compile(r"(^|\n)((?:<[^>]+>)*)(#{1,6} )", re.MULTILINE)


def _heading_marks(body: str) -> str:
    """``body`` (escaped HTML) with each line's leading Markdown heading marks hidden."""
    return _HEADING.sub(r"\1\2<span class='rag-md-mark' aria-hidden='true'>\3</span>", body)


def documents_rows(documents: list[DocumentInfo]) -> list[list[object]]:
    """Rows for the documents table: name, title, size, chunks, indexed time."""
    return [
        [
            d.name,
            d.title or "—",
            _size(d.size),
            d.chunks,
            _indexed(d),
        ]
        for d in documents
    ]


def _indexed(document: DocumentInfo) -> str:
    if document.left_out:
        return "removed from the index (upload it again to add it back)"
    if document.indexed:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(document.indexed))
    return "not indexed"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
