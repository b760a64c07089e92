"""Read timeouts for the HTTP server: a client that stops half-way through a request is cut off.

uvicorn (under Gradio, and under ``rag mcp --transport http``) times out idle keep-alive
connections, but not a request whose head or body stops arriving: 300 such half-sent requests
held 300 descriptors for ever, and with a limit of 256 the page and every question timed out
(issue 30, row 5: the "slowloris" attack). :class:`TimedH11Protocol` is uvicorn's own h11
protocol plus one timer that runs while the server waits on the client, for the rest of a
request head or for the next piece of a body; when it fires the connection gets a 408 (if no
response began) and is closed. While the server answers, nothing is timed: a long streamed
answer is not the client's delay.

Gradio builds its ``uvicorn.Config`` itself and exposes no ``http=`` option, so
:func:`install` names this class for uvicorn's "auto" and "h11" protocol choices (uvicorn
looks them up in ``uvicorn.config.HTTP_PROTOCOLS`` when a server starts).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

# How long the server waits for the rest of a request head, or between two pieces of a
# request body. Browsers and HTTP clients send a whole request at once; 20 s covers a slow
# mobile link (nginx's client_header_timeout and client_body_timeout default to 60 s).
READ_TIMEOUT_S = 20.0
_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a read timeout while it waits on the client (see module)."""

    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """As uvicorn's, then the timer: the request head is awaited."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """As uvicorn's, then the timer again while more of the request is awaited."""
        super().data_received(data)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection."""
        self._disarm()
        super().connection_lost(exc)

    def _waiting_on_client(self) -> bool:
        """True while a request head is incomplete, or a request body is still coming."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return True  # between requests: the next head has not (all) arrived
        return bool(cycle.more_body) and not cycle.response_started

    def _arm(self) -> None:
        self._disarm()
        if self.transport.get_protocol() is not self:
            return  # upgraded to a WebSocket: that protocol times its own reads
        if not self.transport.is_closing() and self._waiting_on_client():
            self._read_timer = self.loop.call_later(READ_TIMEOUT_S, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing() or not self._waiting_on_client():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_408)
        log.info("Closed a connection from %s: no complete request in %.0f s.", self.client, READ_TIMEOUT_S)
        self.transport.close()


def install() -> None:
    """Make uvicorn servers started from now on in this process use :class:`TimedH11Protocol`."""
    from uvicorn import config

    name = f"{__name__}:TimedH11Protocol"
    config.HTTP_PROTOCOLS["auto"] = name
    config.HTTP_PROTOCOLS["h11"] = name
