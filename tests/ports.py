"""Loopback ports for test servers without the pick-then-bind race.

A port picked by binding port 0 and closing the socket can be taken by another process
before the server binds it. Servers are therefore started through :func:`on_free_port`,
which retries with a new port when the start fails for that reason, and a port that must
refuse connections is held bound (but not listening) for as long as it is needed.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class PortTaken(OSError):
    """The server could not bind its port (raise it from a start function to retry)."""


def _pick() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_free_port(start: Callable[[int], T], attempts: int = 5) -> T:
    """``start(port)`` on a free loopback port, again on another port if binding fails."""
    error: OSError | None = None
    for _ in range(attempts):
        try:
            return start(_pick())
        except OSError as problem:  # the port was taken meanwhile (PortTaken, or the server's own)
            error = problem
    assert error is not None
    raise error


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound by this test, never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])
