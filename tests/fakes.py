"""Deterministic stand-ins for a generative model, so the grounded path is tested offline."""

from __future__ import annotations

from collections.abc import Iterator

from rag.answer.prompting import OMITTED, Prompt
from rag.ingest.lexical import tokenize
from rag.ingest.text import split_sentences
from rag.ingest.tokens import count_tokens
from rag.records import NOT_FOUND


class CopyingGenerator:
    """A Generator that "writes" the prompt's passage sentence sharing most of the question's
    words, with its passage marker: what a faithful model would do, without a model."""

    name = "copying"
    context_tokens = 8192
    max_tokens = 128

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        question = set(tokenize(prompt.question))
        best: tuple[float, str, int] = (0.0, NOT_FOUND, 0)
        for passage in prompt.passages:
            for sentence in split_sentences(passage.text):
                if sentence.text == OMITTED:
                    continue
                overlap = len(question & set(tokenize(sentence.text))) / max(len(question), 1)
                if overlap > best[0]:
                    best = (overlap, sentence.text, passage.number)
        _, text, number = best
        yield f"{text} [{number}]" if number else text


class ScriptedGenerator:
    """A Generator that writes the given text, in word-sized pieces."""

    name = "scripted"
    context_tokens = 8192
    max_tokens = 128

    def __init__(self, text: str) -> None:
        self.text = text

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        for word in self.text.split(" "):
            yield word + " "
