"""Turn answers into what the chat shows: one HTML message per answer, markers clickable.

Pure functions, no Gradio: the unit tests and the browser both see exactly this output.
Gradio's sanitiser keeps ``class``, ``href``, ``id`` and ``title`` but drops ``data-*``
attributes, so a citation marker says which answer and which source it means in its
``href`` (``#cite-<turn>-<n>``); the page script (rag/ui/assets.py) turns a click on it into a
request for that source. Every piece of document or user text is HTML-escaped here.
"""

from __future__ import annotations

import re
from html import escape

from rag.records import Answer, Citation

NOT_FOUND_HEADING = "Not found in your documents"
COPY_BUTTON = "<button class='rag-copy' title='Copy the answer and its sources'>Copy</button>"
_MARKER = re.compile(r"\[(\d+)\]")


def _one_line(text: str) -> str:
    # The chat renders Markdown: a newline inside a message could end the HTML block.
    return " ".join(text.split())


def marker_html(turn: int, number: int, citation: Citation | None) -> str:
    """A clickable ``[n]`` that shows source ``n`` of answer ``turn`` in the source panel."""
    tip = f"{citation.title} — {citation.source}" if citation is not None else f"Source {number}"
    return (
        f"<a class='rag-cite' href='#cite-{turn}-{number}' title='{escape(_one_line(tip), quote=True)}'>"
        f"[{number}]</a>"
    )


def _linked(text: str, turn: int, citations: list[Citation]) -> str:
    """Escape ``text`` and make its ``[n]`` markers clickable (only those with a source)."""

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= len(citations):
            return marker_html(turn, number, citations[number - 1])
        return match.group(0)

    return _MARKER.sub(link, escape(_one_line(text)))


def _body_html(answer: Answer, turn: int) -> str:
    if not answer.sentences:
        return _linked(answer.text, turn, answer.citations)
    parts = []
    for sentence in answer.sentences:
        # Answers keep verified sentences only (rag.answer.grounded drops the rest), so every
        # sentence has its citation; the check narrows the type.
        if sentence.citation is None:
            continue
        text = escape(_one_line(sentence.text))
        parts.append(
            f"{text} {marker_html(turn, sentence.citation, answer.citations[sentence.citation - 1])}"
        )
    return " ".join(parts)


def rewrite_html(resolved: str | None) -> str:
    """The "Searched for: …" line shown above an answer to a rewritten follow-up."""
    if not resolved:
        return ""
    return f"<div class='rag-rewrite'>Searched for: <em>{escape(_one_line(resolved))}</em></div>"


def answer_html(
    answer: Answer, turn: int, *, resolved: str | None = None, seconds: float | None = None
) -> str:
    """The assistant's chat message for ``answer`` (turn = its number in the conversation)."""
    rewrite = rewrite_html(resolved)
    note = f"<div class='rag-note'>{escape(_one_line(answer.note))}</div>" if answer.note else ""
    timing = f" · {seconds:.2f} s" if seconds is not None else ""
    writer = escape(answer.generator + (f": {answer.model}" if answer.model else ""))
    if answer.abstained:
        # One line per document, with all its markers: the same source twice read as two.
        by_source: dict[str, list[int]] = {}
        for n, c in enumerate(answer.citations, 1):
            by_source.setdefault(c.source, []).append(n)
        maybe = " ".join(
            "<li>"
            + " ".join(marker_html(turn, n, answer.citations[n - 1]) for n in numbers)
            + f" {escape(_one_line(answer.citations[numbers[0] - 1].title or source))} "
            f"<span class='rag-file'>{escape(source)}</span></li>"
            for source, numbers in by_source.items()
        )
        related = (
            f"<div class='rag-maybe'>Maybe related (not an answer):<ul>{maybe}</ul></div>" if maybe else ""
        )
        return (
            f"<div class='rag-answer rag-abstained'>{rewrite}"
            f"<div class='rag-notfound'>{NOT_FOUND_HEADING}</div>"
            f"<p class='rag-text'>{escape(_one_line(answer.text))}</p>{related}{note}"
            f"<div class='rag-foot'>{writer}{timing}</div></div>"
        )
    sources = len(answer.citations)
    return (
        f"<div class='rag-answer'>{rewrite}<p class='rag-text'>{_body_html(answer, turn)}</p>{note}"
        f"<div class='rag-foot'>{writer} · {sources} source{'s' if sources != 1 else ''}"
        f"{timing} · {COPY_BUTTON}</div></div>"
    )


CHECKING = "Checking each sentence against your documents…"


def streaming_html(text: str, *, resolved: str | None = None, checking: bool = False) -> str:
    """The message while the answer is still arriving (markers not yet linked).

    ``checking``: a model is writing, and its sentences appear only once verified, so a line
    under them says that more is being checked (the stream can pause for a sentence that
    fails and is never shown).
    """
    shown = (
        escape(_one_line(text))
        if text.strip()
        else "<span class='rag-thinking'>Searching your documents…</span>"
    )
    state = f"<div class='rag-checking'>{CHECKING}</div>" if checking else ""
    return (
        f"<div class='rag-answer rag-streaming'>{rewrite_html(resolved)}<p class='rag-text'>{shown}</p>"
        f"{state}</div>"
    )


STOPPED = "Stopped before the answer was finished; nothing of it is shown."


def stopped_html() -> str:
    """A turn the user stopped: its unverified text is withdrawn, and the message says so."""
    return f"<div class='rag-answer rag-stopped'><p class='rag-text rag-note'>{STOPPED}</p></div>"


def error_html(message: str) -> str:
    """A failed turn: the message says what went wrong and how to fix it, never a traceback."""
    return f"<div class='rag-answer rag-error'><p class='rag-text'>⚠️ {escape(_one_line(message))}</p></div>"
