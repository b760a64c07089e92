"""What the UI keeps per browser session: one conversation each.

Each session gets its own :class:`Conversation` (a ``gr.State``: Gradio copies the initial
value per session), so concurrent users never see each other's chats. The collections every
session shares are in rag.serve.collections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.errors import RagError
from rag.records import Answer, Citation
from rag.search.followup import Turn


@dataclass
class ChatTurn:
    """One question of a session and what came of it (``answer`` is None when it failed,
    and ``error`` then says why)."""

    question: str
    resolved: str
    answer: Answer | None
    library: str
    error: str = ""
    rewritten: bool = False  # ``resolved`` is a follow-up's rewrite, shown as "Searched for"


@dataclass
class Conversation:
    """The turns of one session; a citation marker ``#cite-<turn>-<n>`` indexes into them."""

    turns: list[ChatTurn] = field(default_factory=list)

    def followup_history(self) -> list[Turn]:
        """The answered turns, for resolving the next follow-up."""
        return [Turn(t.question, t.resolved, t.answer.text) for t in self.turns if t.answer is not None]

    def citation(self, turn: int, number: int) -> tuple[ChatTurn, Citation]:
        """The turn and its ``number``-th (1-based) citation.

        Raises:
            RagError: no such turn or citation (a stale page after "Clear", or a forged link).
        """
        if not 0 <= turn < len(self.turns) or self.turns[turn].answer is None:
            raise RagError("That answer is no longer in this conversation; ask the question again.")
        record = self.turns[turn]
        assert record.answer is not None
        if not 1 <= number <= len(record.answer.citations):
            raise RagError(f"Answer {turn + 1} has no source [{number}].")
        return record, record.answer.citations[number - 1]
