"""The login check shared by the web UI and the /v1 API, with a lockout after failures.

Without it, a password could be guessed as fast as the server answers (40 wrong ones took
under 0.1 s). After ``FAILURES_ALLOWED`` wrong passwords for one user name within a minute,
that name is refused, even with the right password, until the minute of failures has
passed. The count is per user name, so an attacker spraying other names cannot lock the
real user out, and the real user's own typos cost one minute at worst.

The moving-window counting is the `limits` library's (maintained, the engine behind
slowapi and Flask-Limiter) rather than our own timestamps.
"""

from __future__ import annotations

import secrets
import threading

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
