"""The login check shared by the web UI, the /v1 API and `rag mcp --http`, with a lockout
after failures.

Without it, a password could be guessed as fast as the server answers (40 wrong ones took
under 0.1 s). After ``FAILURES_ALLOWED`` wrong passwords for one user name within a minute,
that name is refused, even with the right password, until the minute of failures has
passed. The count is per user name, so an attacker spraying other names cannot lock the
real user out, and the real user's own typos cost one minute at worst.

The moving-window counting is the `limits` library's (maintained, the engine behind
slowapi and Flask-Limiter) rather than our own timestamps.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from limits import parse, storage, strategies

FAILURES_ALLOWED = "10/minute"  # wrong passwords per user name before it is locked


class LoginGuard:
    """``guard(username, password) -> bool``: Gradio's ``auth`` callable, lockout included.

    Usage example::

        guard = LoginGuard(("ana", "s3cret"))
        app.launch(auth=guard)
    """

    def __init__(self, login: tuple[str, str], failures_allowed: str = FAILURES_ALLOWED) -> None:
        self.username, self.password = login
        self.window = parse(failures_allowed)
        self.failures = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._lock = threading.Lock()  # test-then-hit as one step under concurrent logins

    def __call__(self, username: str, password: str) -> bool:
        """True for the right login while its user name is not locked; counts failures."""
        with self._lock:
            if self.locked(username):
                return False
            # Both compared in constant time, always: no early exit that times the user name.
            same_name = secrets.compare_digest(username.encode(), self.username.encode())
            same_password = secrets.compare_digest(password.encode(), self.password.encode())
            right = same_name and same_password
            if not right:
                self.failures.hit(self.window, "login", username)
            return right

    def locked(self, username: str) -> bool:
        """Whether ``username`` has used up its wrong passwords for now."""
        return not self.failures.test(self.window, "login", username)

    def check_token(self, token: str) -> bool:
        """The API's form of the login: ``"<username>:<password>"`` (bearer or basic auth)."""
        username, _, password = token.partition(":")
        return self(username, password)

    def check_header(self, authorization: str) -> bool:
        """An HTTP ``Authorization`` header: ``Bearer <username>:<password>`` (what the
        `openai` client sends as its API key) or basic auth; anything else is refused."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return self.check_token(value.strip())
        if scheme.lower() == "basic":
            try:
                return self.check_token(base64.b64decode(value.strip()).decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError):
                return False
        return False


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RequireLogin:
    """ASGI middleware: every HTTP request needs the login (:meth:`LoginGuard.check_header`),
    checked before the app reads a byte of its body; others get 401 in one JSON line.

    Usage example::

        app = RequireLogin(server.streamable_http_app(), LoginGuard(("ana", "s3cret")))
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], guard: LoginGuard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on when it carries the login (lifespan events always pass)."""
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if not self.guard.check_header(headers.get(b"authorization", b"").decode("latin-1")):
                body = json.dumps(
                    {
                        "error": "Wrong or missing credentials: send the login as a bearer token "
                        "('<username>:<password>') or as HTTP basic auth."
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Basic realm="rag"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
