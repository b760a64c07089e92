"""The records passed between the search stages and on to the answerers.

They sit below both retrieval and reranking, so neither imports the other's module for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from rag.search.answer_types import AnswerType, expected_type

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Hit:
    """One ranked chunk: its position in the index and the evidence behind its rank.

    ``dense`` is the cosine of question and chunk (-1..1); ``lexical`` the chunk's BM25 score
    divided by the best BM25 score of this question (0..1); ``fused`` the first-stage score,
    kept when the reranker replaces ``score``.
    """

    position: int
    score: float
    dense: float
    lexical: float
    also: tuple[int, ...] = ()  # overlapping chunks of the same section folded into this one
    fused: float = 0.0

    @property
    def positions(self) -> tuple[int, ...]:
        """This chunk's position first, then those of the chunks folded into it."""
        return (self.position, *self.also)


@dataclass(frozen=True)
class Candidates:
    """Everything both retrievers found for one question, before any fusion."""

    question: str
    vector: np.ndarray  # float32 [dim], L2-normalised
    terms: list[str]  # the question's stemmed content words (rag.ingest.lexical.tokenize)
    dense: dict[int, float]  # chunk position -> cosine
    lexical: dict[int, float]  # chunk position -> BM25 / best BM25
    spelt: str = ""  # the question with its typos corrected (rag.search.spelling); "": none

    def ranked(self, hits: list[Hit]) -> Retrieval:
        """These candidates' question, ranked as ``hits`` (what the answerers read)."""
        return Retrieval(self.question, self.vector, self.terms, hits, self.spelt)


@dataclass(frozen=True)
class Retrieval:
    """A question's ranking, with what the answerers reuse instead of recomputing."""

    question: str
    vector: np.ndarray  # the question's embedding, float32 [dim]
    terms: list[str]  # the question's stemmed content words
    hits: list[Hit]  # best first, overlapping chunks already folded
    spelt: str = ""  # the question with its typos corrected (rag.search.spelling); "": none

    @property
    def read_as(self) -> str:
        """The question as the answerer reads it (kinds, names, numbers): typos corrected."""
        return self.spelt or self.question

    @cached_property
    def expected(self) -> AnswerType:
        """The kind of answer the question asks for (rag.search.answer_types), read once and
        shared by every stage that needs it."""
        return expected_type(self.read_as)
