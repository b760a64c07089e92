"""Read timeouts (rag.serve.timeouts): a half-sent request is cut off, a slow answer is not.

A real uvicorn server on a loopback socket the test binds itself (no pick-then-bind race),
with the read timeout shortened; nothing here measures time, it only waits for what the
server does."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from rag.serve import timeouts


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow":
        await asyncio.sleep(1.0)  # longer than the read timeout: the server is busy, not the client
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.setattr(timeouts, "READ_TIMEOUT_S", 0.3)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app, http=timeouts.TimedH11Protocol, log_level="warning", lifespan="off")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(served.serve(sockets=[listening])), daemon=True)
    thread.start()
    while not served.started:
        time.sleep(0.01)
    yield listening.getsockname()
    served.should_exit = True
    thread.join(timeout=10)


def _reply(address, *pieces: bytes) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    with socket.create_connection(address, timeout=10) as client:
        for piece in pieces:
            client.sendall(piece)
        received = b""
        try:
            while chunk := client.recv(4096):
                received += chunk
        except TimeoutError:
            pass
        return received


def test_a_half_sent_head_gets_408_and_is_closed(server):
    reply = _reply(server, b"GET / HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    assert reply.startswith(b"HTTP/1.1 408")


def test_a_half_sent_body_is_closed(server):
    reply = _reply(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly some")
    assert reply.startswith(b"HTTP/1.1 408")


def test_a_whole_request_and_a_slow_answer_are_served(server):
    whole = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert _reply(server, whole).startswith(b"HTTP/1.1 200")
    slow = b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert _reply(server, slow).endswith(b"ok")


def test_install_names_the_protocol_for_uvicorn():
    from uvicorn import config

    saved = dict(config.HTTP_PROTOCOLS)
    try:
        timeouts.install()
        loaded = uvicorn.Config(_app, lifespan="off")
        loaded.load()
        assert loaded.http_protocol_class is timeouts.TimedH11Protocol
    finally:
        config.HTTP_PROTOCOLS.clear()
        config.HTTP_PROTOCOLS.update(saved)
