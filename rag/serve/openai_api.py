"""OpenAI-compatible chat endpoints on `rag serve`, so chat clients (Open WebUI, LibreChat,
Continue, the `openai` library) can ask the documents and still show checkable citations.

* ``GET /v1/models`` lists one model per collection: ``rag:<collection>``; a mode suffix
  picks the answer mode (``rag:seeds:llama-cpp``), as does a ``rag_mode`` request field.
* ``POST /v1/chat/completions`` answers the last user message; the earlier turns feed the
  follow-up rewriter, as in the chat tab. ``stream: true`` sends server-sent events in the
  standard ``chat.completion.chunk`` format; otherwise one ``chat.completion``.

The message content is the answer with ``[n]`` markers, then a "Sources:" list (file,
title, character span, the cited sentence). The same citations come as structured data in
an extra ``citations`` field, so a client that knows rag can render them. Generated answers
are streamed only after verification (their pieces are the verified sentences), so no
client ever shows text that is withdrawn afterwards.

The routes are FastAPI's, added to the Gradio app's own FastAPI server (same process and
port as the UI). With $RAG_USERNAME/$RAG_PASSWORD set they need the same login: HTTP basic
auth, or a bearer token ``<username>:<password>`` (what the `openai` client sends as its
API key).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from rag.answer.generators import EXTRACTIVE, modes
from rag.engine import check_question
from rag.errors import GeneratorError, QuestionError, RagError
from rag.injection import looks_like_instruction
from rag.records import Answer
from rag.search.followup import Turn, resolve
from rag.serve.collections import Libraries
from rag.serve.login import LoginGuard

log = logging.getLogger("rag.serve")

PREFIX = "rag:"
INJECTION_FLAG = "⚠ text addressed to AI assistants (a possible prompt injection) — "
MAX_K = 20
# A request body is a conversation: 1 MB holds hundreds of turns (a question is at most
# rag.config.MAX_QUESTION_CHARS); a larger one is refused before it is read.
MAX_BODY_BYTES = 1_000_000


class ApiError(Exception):
    """An OpenAI-style error response: status, message, type and code."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def response(self) -> JSONResponse:
        """The error as the OpenAI API writes it."""
        body = {"error": {"message": self.message, "type": self.kind, "code": self.code}}
        return JSONResponse(body, status_code=self.status)


def model_name(collection: str, mode: str = EXTRACTIVE) -> str:
    """The model id of a collection and answer mode: ``rag:seeds``, ``rag:seeds:llama-cpp``."""
    return f"{PREFIX}{collection}" if mode == EXTRACTIVE else f"{PREFIX}{collection}:{mode}"


def parse_model(model: str, libraries: Libraries) -> tuple[str, str]:
    """(collection, mode) of a model id; a bare "rag" means the default collection.

    Raises:
        ApiError: 404 for an unknown collection, 400 for an unknown mode.
    """
    name = model.removeprefix(PREFIX) if model.startswith(PREFIX) else ("" if model == "rag" else model)
    # A collection's own name may hold ':' ("my:notes"): the longest name that the id starts
    # with is the collection, and what follows its ':' the mode.
    collection = next(
        (n for n in sorted(libraries.names, key=len, reverse=True) if name == n or name.startswith(n + ":")),
        name.partition(":")[0],
    )
    mode = name[len(collection) + 1 :]
    collection = collection or libraries.get(None).name
    if collection not in libraries.names:
        known = ", ".join(model_name(n) for n in libraries.names)
        raise ApiError(
            404, f"The model {model!r} does not exist; use one of: {known}.", code="model_not_found"
        )
    return collection, _checked_mode(mode or EXTRACTIVE)


def _checked_mode(mode: str) -> str:
    """``mode`` when it is an answer mode.

    Raises:
        ApiError: 400, naming the modes there are.
    """
    if mode not in modes():
        raise ApiError(400, f"Unknown answer mode {mode!r}; choose one of: {', '.join(modes())}.")
    return mode


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def conversation(messages: Any) -> tuple[str, list[Turn]]:
    """The last user message and the earlier (question, answer) turns.

    Raises:
        ApiError: 400 when there is no user message.
    """
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects.")
    users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise ApiError(400, "messages hold no user message to answer.")
    turns: list[Turn] = []
    question: str | None = None
    for message in messages[: users[-1]]:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "user":
            question = _text(message.get("content"))
        elif message.get("role") == "assistant" and question is not None:
            turns.append(Turn(question, question, _text(message.get("content"))))
            question = None
    return _text(messages[users[-1]].get("content")), turns


def markdown_safe(text: str) -> str:
    """Document text made inert for a client that renders Markdown: raw HTML (``<script>``,
    ``<img>``), images (a beacon that calls home when shown) and links (``javascript:``) are
    shown as the characters they are, by CommonMark's backslash escapes; the words are the
    document's. The structured ``citations`` keep the exact text."""
    return (
        text.replace("\\", "\\\\")
        .replace("<", "\\<")
        .replace("![", "!\\[")
        .replace("](", "]\\(")
        .replace("]:", "]\\:")
    )


def sources_text(answer: Answer) -> str:
    """The "Sources:" list under an answer (or the closest passages under an abstention), its
    document text made Markdown-safe; a passage addressed to AI assistants is flagged, as in
    the web UI."""
    if not answer.citations:
        return ""
    lines = ["Closest passages (not an answer):" if answer.abstained else "Sources:"]
    for number, citation in enumerate(answer.citations, 1):
        sentence = markdown_safe(" ".join(citation.sentence.split()))
        where = f"{markdown_safe(citation.source)} — {markdown_safe(citation.title)}, {citation.location}"
        flag = INJECTION_FLAG if looks_like_instruction(citation.text) else ""
        lines.append(f'[{number}] {flag}{where}: "{sentence}"')
    return "\n".join(lines)


def _answer(libraries: Libraries, body: dict[str, Any]) -> tuple[Answer, str, str]:
    model = body.get("model") or "rag"
    if not isinstance(model, str):
        raise ApiError(400, "model must be a string such as 'rag:seeds'.")
    collection, mode = parse_model(model, libraries)
    mode = _checked_mode(body.get("rag_mode") or mode)
    k = body.get("rag_k", 5)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:  # true is no count
        raise ApiError(400, f"rag_k must be an integer from 1 to {MAX_K}.")
    message, history = conversation(body.get("messages"))
    try:
        question = check_question(message)
        resolved = resolve(question, history).resolved
        engine = libraries.engine(collection)
        answer = engine.ask(resolved, k=k, generator=None if mode == EXTRACTIVE else mode)
    except QuestionError as error:
        raise ApiError(400, str(error)) from error
    except GeneratorError as error:
        raise ApiError(400, str(error)) from error
    except RagError as error:
        raise ApiError(500, str(error), kind="server_error") from error
    return answer, model_name(collection, mode), resolved


def _flag(body: dict[str, Any], name: str) -> bool:
    """A boolean field of the request (absent or null: false); anything else is refused, so
    that ``"stream": "no"`` is not read as a request to stream."""
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise ApiError(400, f"{name} must be true or false, not {json.dumps(value)[:40]}.")


def _completion(answer: Answer, model: str, resolved: str) -> dict[str, Any]:
    content = markdown_safe(answer.text) + ("\n\n" + sources_text(answer) if answer.citations else "")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": answer.payload()["citations"],
        "abstained": answer.abstained,
        "searched_for": resolved,
    }


def _chunks(answer: Answer, model: str, resolved: str) -> Iterator[str]:
    """Server-sent events: the role, one piece per answer sentence, the sources, then the end."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    pieces = [f"{markdown_safe(s.text)} [{s.citation}]" for s in answer.sentences] or [
        markdown_safe(answer.text)
    ]
    for number, piece in enumerate(pieces):
        yield event({"content": piece if number == 0 else " " + piece})
    if answer.citations:
        yield event({"content": "\n\n" + sources_text(answer)})
    yield event(
        {}, "stop", citations=answer.payload()["citations"], abstained=answer.abstained, searched_for=resolved
    )
    yield "data: [DONE]\n\n"


def _authorized(request: Request, guard: LoginGuard | None) -> bool:
    # The UI's check: the same lockout after wrong passwords.
    return guard is None or guard.check_header(request.headers.get("authorization", ""))


async def _json_object(request: Request) -> dict[str, Any] | ApiError:
    """The request's JSON object, or the OpenAI-style error for a body that is not one.

    Read only after the login is checked, and at most :data:`MAX_BODY_BYTES`: a declared
    ``Content-Length`` over it is refused before a byte is read, and an undeclared (chunked)
    body is counted while it arrives and cut off there. FastAPI would read and parse any
    body itself, before the login, were it a declared ``dict`` parameter.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _too_large()
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return _too_large()
            chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to answer: one line, not a traceback
        log.info("A /v1 client hung up while sending its request.")
        return ApiError(400, "The client hung up before its request was complete.")
    try:
        body = json.loads(b"".join(chunks))
    except ValueError as error:  # also a body that is not UTF-8
        return ApiError(400, f"The request body is not valid JSON ({error}); send a JSON object.")
    except RecursionError:  # JSON nested thousands deep: Python's parser gives up
        return ApiError(400, "The request body is nested too deeply to read; send a flat JSON object.")
    if not isinstance(body, dict):
        return ApiError(400, "The request body must be a JSON object with 'model' and 'messages'.")
    return body


def _too_large() -> ApiError:
    return ApiError(
        413, f"The request body is larger than {MAX_BODY_BYTES // 1_000_000} MB; send a shorter conversation."
    )


def openai_router(libraries: Libraries, guard: LoginGuard | None) -> APIRouter:
    """The /v1 routes over ``libraries``, behind the UI's login ``guard`` when one is set."""
    router = APIRouter(prefix="/v1")
    refused = ApiError(
        401,
        "Wrong or missing credentials: send the UI's login as the API key "
        "('<username>:<password>') or as HTTP basic auth.",
        kind="authentication_error",
    )

    @router.get("/models")
    def list_models(request: Request) -> JSONResponse:
        if not _authorized(request, guard):
            return refused.response()
        data = [
            {"id": model_name(n), "object": "model", "created": 0, "owned_by": "rag"} for n in libraries.names
        ]
        return JSONResponse({"object": "list", "data": data})

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        if not _authorized(request, guard):  # before a byte of the body is read
            return refused.response()
        body = await _json_object(request)
        if isinstance(body, ApiError):
            return body.response()
        try:
            stream = _flag(body, "stream")
            # Answering is CPU work: in a worker thread, so the server keeps reading requests.
            answer, model, resolved = await run_in_threadpool(_answer, libraries, body)
        except ApiError as error:
            return error.response()
        if stream:
            return StreamingResponse(_chunks(answer, model, resolved), media_type="text/event-stream")
        return JSONResponse(_completion(answer, model, resolved))

    return router
