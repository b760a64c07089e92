"""The contract both answerers keep, so the engine picks one and streams it the same way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag.records import Answer
from rag.search.hits import Retrieval


class Answerer(Protocol):
    """Turns a question's ranking into a cited answer (or an abstention), streamed.

    ``name`` is what ``Answer.generator`` records. ``stream`` yields the answer text in pieces
    as it is produced, then the final :class:`Answer`, whose citations are the checked ones;
    consumers show the pieces and then replace them with the answer.
    """

    name: str

    def stream(self, retrieval: Retrieval, k: int) -> Iterator[str | Answer]:
        """Answer from the top ``k`` passages of ``retrieval``: text pieces, then the Answer."""
        ...


def final(stream: Iterator[str | Answer]) -> Answer:
    """The :class:`Answer` that ends an answerer's stream (the pieces before it are dropped).

    Raises:
        RuntimeError: the stream ended without one (a bug in the answerer).
    """
    answer = None
    for item in stream:
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise RuntimeError("The answer stream ended without an Answer.")
    return answer
