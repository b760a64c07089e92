"""`rag mcp`: the documents as an MCP server, for assistants that speak the Model Context
Protocol (Claude Desktop, Cursor, agents). Built with the official SDK (``mcp``'s
MCPServer), over stdio by default or streamable HTTP on 127.0.0.1 with ``--http``.

Tools:

* ``ask(question, k, collection)`` — the cited answer: text with ``[n]`` markers, whether
  it abstained, and every citation's file, title and character span;
* ``search(query, k, collection)`` — the ranked passages with their spans;
* ``list_documents(collection)`` — the documents of a collection;
* ``read_span(source, start, end, collection)`` — the text of a document between two
  offsets, so an assistant can check a citation itself.

Bad arguments come back as a tool error with one clear line (the SDK marks the result
``isError``), never a crash of the server. Nothing but protocol messages is written to
stdout: logs go to stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.config import login_from_env
from rag.errors import RagError
from rag.ingest.formats import read_document
from rag.search.followup import Turn, resolve
from rag.serve.collections import Libraries, default_libraries
from rag.serve.login import LoginGuard, RequireLogin

MAX_SPAN = 20_000  # characters read_span returns at most: a citation, not a whole book


def build_server(libraries: Libraries) -> Any:
    """The MCPServer with rag's tools over ``libraries`` (the first is the default)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer(
        "rag",
        instructions=(
            "Answers questions from the user's own documents. Every answer sentence cites a "
            "character span of a source file; use read_span to check one. When the documents "
            "do not hold the answer, ask says so (abstained: true)."
        ),
    )

    def engine_of(collection: str) -> Any:
        try:
            return libraries.engine(collection or None)
        except RagError as error:
            raise ToolError(str(error)) from error

    def checked_k(k: int) -> int:
        if not 1 <= k <= 20:
            raise ToolError(f"k must be from 1 to 20, got {k}.")
        return k

    @server.tool()
    def ask(
        question: str, k: int = 5, collection: str = "", history: list[tuple[str, str]] | None = None
    ) -> dict[str, Any]:
        """Answer a question from the documents; every sentence cites a source span.

        ``history``: the conversation so far as [question, answer] pairs, oldest first; a
        follow-up ("and when was that?") is then rewritten to stand alone, and ``question``
        in the result is what was answered.
        """
        engine = engine_of(collection)
        if history:
            question = resolve(question, [Turn(q, q, a) for q, a in history]).resolved
        try:
            answer = engine.ask(question, k=checked_k(k))
        except (RagError, ValueError) as error:
            raise ToolError(str(error)) from error
        return answer.payload()

    @server.tool()
    def search(query: str, k: int = 5, collection: str = "") -> list[dict[str, Any]]:
        """The passages that best match a query, best first, with their character spans."""
        engine = engine_of(collection)
        try:
            passages = engine.retrieve(query, k=checked_k(k))
        except (RagError, ValueError) as error:
            raise ToolError(str(error)) from error
        return [
            {
                "rank": p.rank,
                "source": p.source,
                "title": p.title,
                "start": p.start,
                "end": p.end,
                "score": round(p.score, 4),
                "text": p.text,
            }
            for p in passages
        ]

    @server.tool()
    def list_documents(collection: str = "") -> list[dict[str, Any]]:
        """The documents of a collection: name, title, size in bytes and chunks indexed."""
        try:
            library = libraries.get(collection or None)
        except RagError as error:
            raise ToolError(str(error)) from error
        return [
            {"name": d.name, "title": d.title, "size": d.size, "chunks": d.chunks}
            for d in library.documents()
        ]

    @server.tool()
    def read_span(source: str, start: int, end: int, collection: str = "") -> str:
        """The text of document ``source`` from character ``start`` to ``end`` (as cited)."""

        try:
            library = libraries.get(collection or None)
            text = read_document(library.path_of(source, indexed=True))
        except RagError as error:
            raise ToolError(str(error)) from error
        if not 0 <= start < end <= len(text):
            raise ToolError(f"start and end must satisfy 0 <= start < end <= {len(text)} for {source}.")
        if end - start > MAX_SPAN:
            raise ToolError(f"At most {MAX_SPAN:,} characters per call; ask for a shorter span.")
        return text[start:end]

    return server


def run(
    corpora: Sequence[Path] = (),
    index: Path | None = None,
    *,
    http: bool = False,
    host: str = "127.0.0.1",
    port: int = 8765,
) -> None:
    """`rag mcp`: serve the tools over stdio, or streamable HTTP at http://HOST:PORT/mcp.

    Over HTTP with $RAG_USERNAME/$RAG_PASSWORD set, every request needs that login, as on
    `/v1` (a bearer token ``<username>:<password>`` or basic auth, with the same lockout).
    """
    libraries = Libraries(default_libraries(corpora, index))
    libraries.engine(None)  # load the model and index before the first request
    server = build_server(libraries)
    login = login_from_env()
    if http:
        from rag.serve.timeouts import install

        install()  # read timeouts on half-sent requests (rag.serve.timeouts)
    if http and login:
        import uvicorn

        app = RequireLogin(server.streamable_http_app(host=host), LoginGuard(login))
        uvicorn.run(app, host=host, port=port, log_level="warning")
    elif http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
