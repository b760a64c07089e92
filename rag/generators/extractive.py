"""The default backend: no model. Selecting it makes the engine use the extractive answerer
(:mod:`rag.answering`), which picks verbatim, calibrated sentences.

It also implements the :class:`~rag.generators.base.Generator` contract without a model, so
the grounded path (prompt → stream → verification) can run offline and deterministically:
``stream`` copies the passage sentence that shares most of the question's words.
"""

from __future__ import annotations

from collections.abc import Iterator

from rag.generators.base import GeneratorSettings
from rag.lexical import tokenize
from rag.prompting import NOT_IN_DOCUMENTS, OMITTED, Prompt
from rag.text import split_sentences


class ExtractiveGenerator:
    """Usage example::

    answer = engine.ask("Who is the spokesperson?", generator="extractive")
    """

    name = "extractive"
    context_tokens = 8192
    max_tokens = 128

    def __init__(self, settings: GeneratorSettings | None = None) -> None:
        self.settings = settings or GeneratorSettings()

    def count_tokens(self, text: str) -> int:
        from rag.tokens import count_tokens

        return count_tokens(text)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        question = set(tokenize(prompt.question))
        best: tuple[float, str, int] = (0.0, NOT_IN_DOCUMENTS, 0)
        for passage in prompt.passages:
            for sentence in split_sentences(passage.text):
                if sentence.text == OMITTED:
                    continue
                overlap = len(question & set(tokenize(sentence.text))) / max(len(question), 1)
                if overlap > best[0]:
                    best = (overlap, sentence.text, passage.number)
        _, text, number = best
        yield f"{text} [{number}]" if number else text
