"""Stop that stops the model: the answer being written in each browser session, closable.

Gradio's ``cancels=`` only stops *awaiting* an event's generator: a sync generator is left
where it is, and with it the model's HTTP stream (or llama.cpp's loop), which went on writing
for as long as the answer would have taken (measured: 9.6 s more after Stop). And the
generator is often not suspended at all but running, reading the model's tokens while it
verifies sentences, so it cannot be closed from outside. So each answer gets a stop event,
passed down to the backend's stream (rag.answer.generators.base.Stoppable), which ends at the
next token and closes its connection (the server sees it end); the answer's generator is then
closed as well, once its step in progress ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long Stop keeps trying to close an answer whose next piece is being computed (a close
# waits for the step in progress: one token of a model, or one search).
CLOSE_WAIT_SECONDS = 30.0


class Streams:
    """The answer generator each session is writing now, by session id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Generator[Any, None, None], threading.Event]] = {}

    def track(
        self, session: str, answer_for: Callable[[threading.Event], Generator[T, None, None]]
    ) -> Iterator[T]:
        """The items of ``answer_for(stop)``, an answer that ends when ``stop`` is set; it can
        be stopped by :meth:`stop` meanwhile."""
        stop = threading.Event()
        answer = answer_for(stop)
        with self._lock:
            self._running[session] = (answer, stop)
        try:
            yield from answer
        finally:
            with self._lock:
                if self._running.get(session, (None,))[0] is answer:
                    del self._running[session]

    def stop(self, session: str) -> bool:
        """Stop the session's answer: its model's stream ends at the next token, and the answer
        is closed in a thread as soon as its step in progress ends (this returns at once).
        False when nothing was being written."""
        with self._lock:
            answer, stop = self._running.pop(session, (None, None))
        if answer is None or stop is None:
            return False
        stop.set()
        threading.Thread(target=_close, args=(answer,), name="rag-stop", daemon=True).start()
        return True


def _close(answer: Generator[Any, None, None]) -> None:
    deadline = time.monotonic() + CLOSE_WAIT_SECONDS
    while True:
        try:
            answer.close()
            return
        except ValueError:  # "generator already executing": its current step has not ended
            if time.monotonic() > deadline:
                log.warning("An answer could not be stopped within %.0f s.", CLOSE_WAIT_SECONDS)
                return
            time.sleep(0.02)
