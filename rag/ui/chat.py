"""One chat turn, streamed: resolve a follow-up, ask, show the pieces, then the cited answer.

No Gradio here: ``respond`` yields :class:`ChatUpdate` records that rag/ui/app.py hands to the
components, and tests drive it directly. Errors a user can fix become the assistant's
message; anything else is logged with its traceback and shown as a one-line apology.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from rag.answer.generators import EXTRACTIVE
from rag.engine import Engine, check_question
from rag.errors import RagError
from rag.ingest.formats import read_document
from rag.library import Library
from rag.records import Answer
from rag.search.followup import resolve
from rag.ui.panels import document_html, sources_html
from rag.ui.render import answer_html, error_html, streaming_html
from rag.ui.state import ChatTurn, Conversation

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong while answering; the server log has the details. Try again, or rephrase."


@dataclass
class ChatUpdate:
    """What the chat shows after each step; ``panel`` None leaves the source panel as it is."""

    history: list[dict[str, Any]]
    conversation: Conversation
    panel: str | None = None
    seconds_to_first_piece: float | None = None


def respond(
    engine_for: Callable[[], Engine],
    message: str,
    history: list[dict[str, Any]] | None,
    conversation: Conversation | None,
    *,
    k: int = 5,
    generator: str | None = None,
    library: str = "",
    stop: threading.Event | None = None,
) -> Iterator[ChatUpdate]:
    """Answer ``message`` in the context of ``conversation``, yielding the chat as it grows.

    ``engine_for`` is called once per turn, so a library re-indexed since the last turn is
    answered from its new index. Setting ``stop`` ends a model's stream at its next token.
    The last update carries the rendered answer and its sources.
    """
    conversation = conversation if conversation is not None else Conversation()
    history = list(history or [])
    history.append({"role": "user", "content": message or ""})
    turn = len(conversation.turns)
    started = time.perf_counter()
    resolved = message or ""
    try:
        question = check_question(message)
        rewrite = resolve(question, conversation.followup_history())
        resolved = rewrite.resolved
        shown = resolved if rewrite.rewritten else None
        # A model's sentences arrive only once verified: say so while it writes.
        checking = _generator_option(generator) != {}
        history.append(
            {"role": "assistant", "content": streaming_html("", resolved=shown, checking=checking)}
        )
        yield ChatUpdate(history, conversation)
        engine = engine_for()
        answer: Answer | None = None
        pieces: list[str] = []
        first: float | None = None
        # Closed on the way out, also when this generator is closed (Stop): that ends the
        # backend's stream at once, not when the garbage collector finds it.
        stream = engine.ask_stream(resolved, k=int(k), stop=stop, **_generator_option(generator))
        try:
            for item in stream:
                if isinstance(item, Answer):
                    answer = item
                    break
                pieces.append(item)
                if first is None:
                    first = time.perf_counter() - started
                history[-1] = {
                    "role": "assistant",
                    "content": streaming_html("".join(pieces), resolved=shown, checking=checking),
                }
                yield ChatUpdate(history, conversation, seconds_to_first_piece=first)
        finally:
            getattr(stream, "close", lambda: None)()
        if stop is not None and stop.is_set():
            return  # Stop: the chat already shows "stopped"; a late answer must not replace it
        if answer is None:
            raise RagError("The answer stream ended without an answer; try again.")
        seconds = time.perf_counter() - started
        if shown is not None:
            answer = _said_already(answer, conversation)
        conversation.turns.append(ChatTurn(message, resolved, answer, library, rewritten=shown is not None))
        history[-1] = {
            "role": "assistant",
            "content": answer_html(answer, turn, resolved=shown, seconds=seconds),
        }
        yield ChatUpdate(history, conversation, sources_html(answer, turn), first)
    except (RagError, ValueError) as error:  # QuestionError is both; the message says the fix
        yield _failed(history, conversation, message, resolved, library, str(error))
    except Exception:  # keep the UI alive; the log has the traceback
        log.exception("Answering %r failed", message)
        yield _failed(history, conversation, message, resolved, library, UNEXPECTED)


def _said_already(answer: Answer, conversation: Conversation) -> Answer:
    """A follow-up answered with exactly the sentences of the answer before it ("Why?" after a
    "why" question) says so, rather than repeating itself without a word."""
    last = next((t.answer for t in reversed(conversation.turns) if t.answer is not None), None)
    if answer.abstained or last is None or last.abstained or answer.note:
        return answer

    def cited(a: Answer) -> set[tuple[str, int, int]]:
        return {(c.source, *c.sentence_span) for c in a.citations}

    if not answer.citations or cited(answer) != cited(last):
        return answer
    return replace(answer, note="The documents say nothing more on this than the answer above.")


def _failed(
    history: list[dict[str, Any]],
    conversation: Conversation,
    message: str,
    resolved: str,
    library: str,
    text: str,
) -> ChatUpdate:
    if history and history[-1]["role"] == "assistant":
        history.pop()  # the "searching…" placeholder
    history.append({"role": "assistant", "content": error_html(text)})
    conversation.turns.append(ChatTurn(message or "", resolved, None, library, text))
    return ChatUpdate(history, conversation, "")


def _generator_option(generator: str | None) -> dict[str, str]:
    """``generator=`` only for a generative choice: the extractive answerer is the default."""
    if not generator or generator == EXTRACTIVE:
        return {}
    return {"generator": generator}


def show_citation(conversation: Conversation | None, turn: int, number: int) -> str:
    """The source panel for a clicked marker: that answer's sources, ``number`` in focus."""
    try:
        record, _ = (conversation or Conversation()).citation(int(turn), int(number))
    except (RagError, ValueError, TypeError) as error:
        return f"<div class='rag-sources'><p class='rag-warning'>{escape(str(error))}</p></div>"
    assert record.answer is not None
    return sources_html(record.answer, int(turn), active=int(number))


def open_document(
    conversation: Conversation | None, turn: int, number: int, library_for: Callable[[str], Library]
) -> str:
    """The whole document of a citation, scrolled to and highlighting the cited sentence."""
    try:
        record, citation = (conversation or Conversation()).citation(int(turn), int(number))
    except (RagError, ValueError, TypeError) as error:
        return f"<div class='rag-sources'><p class='rag-warning'>{escape(str(error))}</p></div>"
    text, problem, page_view = None, "", ""
    assert record.answer is not None
    css = "rag-closest" if record.answer.abstained else "rag-support"
    try:
        path = library_for(record.library).path_of(citation.source, indexed=True)
        text = read_document(path)
        if (
            citation.page is not None
            and path.suffix.lower() == ".pdf"
            and text[citation.start : citation.end] == citation.text
        ):
            from rag.ui.pdf_view import page_html  # PDFium: loaded when a PDF is first opened

            page_view = page_html(path, citation.page, citation.sentence, css, citation.span) or ""
    except RagError as error:  # deleted or unreadable since it was cited
        problem = str(error)
    return document_html(
        text,
        citation,
        int(turn),
        int(number),
        problem,
        abstained=record.answer.abstained,
        page_view=page_view,
    )
