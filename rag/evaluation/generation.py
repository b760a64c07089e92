"""Evaluation of a generative backend: the usual answer figures plus what only generation
has — the share of generated sentences verification rejected, time to first token and
decoding speed. The extractive path is measured by :func:`rag.evaluation.metrics.run`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.answer.generators.base import Generator
from rag.answer.grounded import GroundedAnswerer, Verified
from rag.engine import Engine
from rag.evaluation.datasets import Example
from rag.evaluation.metrics import Outcome, auroc, score
from rag.search.retrieval import to_passages


@dataclass(frozen=True)
class Generation:
    """How one answer was written: seconds to the first piece, tokens, decoding seconds."""

    first_piece: float | None
    tokens: int
    decode_seconds: float  # from the first piece to the last
    claims: int  # sentences verification checked (abstention statements are none)
    unsupported: int  # of them, the ones it rejected


def run_generated(
    engine: Engine, examples: list[Example], generator: Generator, k: int = 5, depth: int = 20
) -> list[tuple[Outcome, Generation]]:
    """Ask every question with ``generator``, timing the stream as a user sees it."""

    timed = _Timed(generator)
    grounded = GroundedAnswerer(engine.index, engine.embedder, engine.answerer, timed)
    pairs = []
    for example in examples:
        started = time.perf_counter()
        timed.reset()
        retrieval = engine.retriever.search(example.question)
        verified: Verified | None = None
        for item in grounded.generate(retrieval, k):
            if isinstance(item, Verified):
                verified = item
        seconds = time.perf_counter() - started
        if verified is None:
            raise RuntimeError("The grounded answerer ended without an answer.")
        answer, verdicts = verified.answer, verified.verdicts
        passages = to_passages(engine.index, retrieval.hits[:depth])
        # The model's own tokens, timed where they arrive: the grounded stream shows only
        # checked sentences, so its pieces would time verification, not decoding.
        generated = "".join(timed.pieces)
        first, last = timed.first, timed.last
        tokens = generator.count_tokens(generated) if generated else 0
        generation = Generation(
            first - started if first else None,
            tokens,
            (last - first) if first and last else 0.0,
            len(verdicts),
            sum(not v.supported for v in verdicts),
        )
        pairs.append((Outcome(example, answer, passages, seconds), generation))
    return pairs


class _Timed:
    """A generator that passes another's stream through, noting when its pieces arrive."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name, self.context_tokens, self.max_tokens = inner.name, inner.context_tokens, inner.max_tokens
        self.reset()

    def reset(self) -> None:
        self.pieces: list[str] = []
        self.first: float | None = None
        self.last: float | None = None

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def stream(self, prompt: Any) -> Iterator[str]:
        for piece in self.inner.stream(prompt):
            self.last = time.perf_counter()
            self.first = self.first or self.last
            self.pieces.append(piece)
            yield piece


def generation_figures(pairs: list[tuple[Outcome, Generation]], name: str) -> dict[str, float]:
    """unsupported_sentences (share of generated sentences verification rejected, over the
    answers the backend wrote), fallback_rate, ttft_p50_ms and tokens_per_s (decoding)."""
    written = [(o, g) for o, g in pairs if o.answer.generator == name]
    claims = sum(g.claims for _, g in written)
    figures: dict[str, float] = {
        "unsupported_sentences": sum(g.unsupported for _, g in written) / claims if claims else 0.0,
        "fallback_rate": 1 - len(written) / len(pairs) if pairs else 0.0,
    }
    firsts = [g.first_piece * 1000 for _, g in written if g.first_piece is not None]
    if firsts:
        figures["ttft_p50_ms"] = statistics.median(firsts)
    decoded = sum(max(g.tokens - 1, 0) for _, g in written)
    decode_seconds = sum(g.decode_seconds for _, g in written)
    if decode_seconds > 0:
        figures["tokens_per_s"] = decoded / decode_seconds
    return figures


def evaluate_generated(
    engine: Engine, examples: list[Example], generator: Generator, k: int = 5
) -> dict[str, object]:
    """`rag eval --generator NAME`: the answer figures of :func:`rag.evaluation.metrics.score` plus
    :func:`generation_figures`, after one warm-up answer (loads the model)."""

    engine.ask("warm-up question", k=k, generator=generator)
    pairs = run_generated(engine, examples, generator, k=k)
    outcomes = [o for o, _ in pairs]
    figures: dict[str, object] = {"generator": generator.name, **score(outcomes).figures}
    figures.update(generation_figures(pairs, generator.name))
    if any(not o.example.answerable for o in outcomes) and any(o.example.answerable for o in outcomes):
        figures["abstention_auroc"] = auroc(outcomes)
    return figures
