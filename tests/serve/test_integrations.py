"""The OpenAI-compatible endpoints (through the official `openai` client) and the MCP server
(through the official `mcp` client over stdio), on a real server with the real model."""

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from rag.search.followup import Turn, resolve
from tests.ports import on_free_port

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[2]
MISTRAL = "How many parameters does Mistral Medium 3.5 have?"


@pytest.fixture()
def served(built_seed_index, corpus_copy, tmp_path, monkeypatch):
    """`rag serve` over a copy of the seeds, with a login; yields (base URL of /v1, engine)."""
    from rag.library import Library
    from rag.ui.app import build_app, serve

    monkeypatch.setenv("RAG_USERNAME", "ana")
    monkeypatch.setenv("RAG_PASSWORD", "s3cret")
    index = tmp_path / "served-index"
    shutil.copytree(built_seed_index, index)
    app = build_app([Library("seeds", corpus_copy, index)])
    url = on_free_port(lambda port: serve(app, host="127.0.0.1", port=port, block=False))
    try:
        yield url.rstrip("/") + "/v1", app.rag_libraries.engine("seeds")
    finally:
        app.close()


def test_the_openai_client_gets_cited_answers_streamed_or_not(served):
    from openai import OpenAI

    base, engine = served
    client = OpenAI(base_url=base, api_key="ana:s3cret")
    assert [m.id for m in client.models.list()] == ["rag:seeds"]

    reply = client.chat.completions.create(model="rag:seeds", messages=[{"role": "user", "content": MISTRAL}])
    content = reply.choices[0].message.content
    expected = engine.ask(MISTRAL)
    assert content.startswith(expected.text) and "128-billion-parameter" in content
    assert "Sources:\n[1] 003_dd93d9c36f4005fd.txt" in content
    cited = reply.model_extra["citations"][0]
    original = (ROOT / "seeds" / cited["source"]).read_text(encoding="utf-8")
    assert original[cited["start"] : cited["end"]] == cited["sentence"] and not reply.model_extra["abstained"]

    stream = client.chat.completions.create(
        model="rag:seeds", stream=True, messages=[{"role": "user", "content": MISTRAL}]
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3 and streamed == content  # the same text, in pieces
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"] == [cited]


def test_an_abstention_a_follow_up_and_bad_requests(served):
    import httpx
    from openai import AuthenticationError, BadRequestError, NotFoundError, OpenAI

    base, _ = served
    client = OpenAI(base_url=base, api_key="ana:s3cret")
    reply = client.chat.completions.create(
        model="rag:seeds", messages=[{"role": "user", "content": "What is the boiling point of tungsten?"}]
    )
    assert reply.model_extra["abstained"] and reply.choices[0].message.content.startswith(
        "The documents do not contain an answer"
    )
    follow = client.chat.completions.create(
        model="rag:seeds",
        messages=[
            {"role": "user", "content": "What is Mistral Medium 3.5?"},
            {"role": "assistant", "content": "A 128-billion-parameter model. [1]"},
            {"role": "user", "content": "When was it released?"},
        ],
    )
    assert "Mistral Medium 3.5" in follow.model_extra["searched_for"]
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=base, api_key="ana:wrong").models.list()
    assert httpx.get(base + "/models", auth=("ana", "s3cret")).status_code == 200  # basic auth too
    with pytest.raises(NotFoundError, match="rag:seeds"):
        client.chat.completions.create(model="rag:other", messages=[{"role": "user", "content": MISTRAL}])
    with pytest.raises(BadRequestError, match="empty"):
        client.chat.completions.create(model="rag:seeds", messages=[{"role": "user", "content": "  "}])
    for raw in (b"{not json", b"[1, 2]"):  # OpenAI's error shape, not FastAPI's
        refused = httpx.post(base + "/chat/completions", content=raw, auth=("ana", "s3cret"))
        assert refused.status_code == 400 and "JSON" in refused.json()["error"]["message"]
    assert httpx.post(base + "/chat/completions", content=b"{not json").status_code == 401  # login first
    with pytest.raises(BadRequestError, match="choose one of: extractive"):
        client.chat.completions.create(
            model="rag:seeds:gpt-17", messages=[{"role": "user", "content": MISTRAL}]
        )


FOLLOW_UP = "And what share of its revenues is generated in Europe?"


def test_the_mcp_server_answers_like_ask_and_refuses_bad_arguments(
    built_seed_index, corpus_copy, tmp_path, engine
):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    index = tmp_path / "mcp-index"
    shutil.copytree(built_seed_index, index)
    rag = str(Path(sys.executable).with_name("rag"))
    params = StdioServerParameters(
        command=rag,
        args=["mcp", "--corpus", str(corpus_copy), "--index", str(index)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )

    async def session() -> dict:
        async with Client(params, read_timeout_seconds=300) as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            asked = await client.call_tool("ask", {"question": MISTRAL, "k": 5})
            cited = asked.structured_content["citations"][0]
            span = await client.call_tool(
                "read_span", {"source": cited["source"], "start": cited["start"], "end": cited["end"]}
            )
            found = await client.call_tool("search", {"query": "SoftBank bridge loan", "k": 2})
            listed = await client.call_tool("list_documents", {})
            follow = await client.call_tool(
                "ask", {"question": FOLLOW_UP, "history": [[MISTRAL, asked.structured_content["text"]]]}
            )
            bad = [
                await client.call_tool("read_span", {"source": "../secret.txt", "start": 0, "end": 5}),
                await client.call_tool("read_span", {"source": cited["source"], "start": 10, "end": 5}),
                await client.call_tool("ask", {"question": "   "}),
                await client.call_tool("search", {"query": "loan", "k": 0}),
            ]
            return dict(
                tools=tools, asked=asked, span=span, found=found, listed=listed, follow=follow, bad=bad
            )

    result = asyncio.run(session())
    assert result["tools"] == ["ask", "list_documents", "read_span", "search"]
    expected = engine.ask(MISTRAL)
    assert result["asked"].structured_content["text"] == expected.text
    assert result["span"].content[0].text == expected.citations[0].sentence
    assert len(result["found"].structured_content["result"]) == 2
    assert {d["name"] for d in result["listed"].structured_content["result"]} >= {"003_dd93d9c36f4005fd.txt"}
    # A follow-up with the conversation is rewritten as rag.ask(history=...) rewrites it.
    followed = result["follow"].structured_content
    assert followed["question"] == engine.ask(resolve(FOLLOW_UP, [Turn(MISTRAL)]).resolved).question
    assert followed["question"] != FOLLOW_UP and followed["citations"][0]["number"] == 1
    messages = [r.content[0].text for r in result["bad"]]
    assert all(r.is_error for r in result["bad"]), messages
    assert "no document" in messages[0] and "start < end" in messages[1]
    assert "empty" in messages[2] and "k must be" in messages[3]
