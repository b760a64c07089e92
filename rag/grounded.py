"""Generative answers that keep rag's promise: every sentence shown cites a checked span.

The flow for one question: the retrieved passages are fitted into a grounded prompt
(:mod:`rag.prompting`), the backend streams its answer, and :mod:`rag.verification` finds
the support of each sentence in the passages. Supported sentences are shown with markers
to their verified spans; unsupported ones are dropped (from ``Answer.text`` and
``Answer.sentences``; the note says how many). Showing them, even marked, would put uncited,
possibly injected or invented text next to cited text, which is the one thing the product
promises not to do. When nothing is
supported, or when the passages fail the extractive answerer's calibrated evidence check
(a true sentence can still miss the question), the answer abstains. When the backend
fails or times out, the extractive answer is returned with a note saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from rag.answering import ExtractiveAnswerer
from rag.embedders import Embedder
from rag.errors import GeneratorError
from rag.generators.base import Generator
from rag.index import Index
from rag.prompting import NOT_IN_DOCUMENTS, Prompt, build_prompt
from rag.records import Answer, AnswerSentence, Citation
from rag.retrieval import Retrieval
from rag.verification import Support, Verifier, is_abstention, split_answer

logger = logging.getLogger(__name__)


class GroundedAnswerer:
    """Answers with a generative backend, citing only what verification supports.

    Usage example::

        grounded = GroundedAnswerer(engine.index, engine.embedder, engine.answerer)
        for item in grounded.stream(engine.retriever.search(question, 5), 5, generator):
            ...  # str pieces while the model writes, then the final Answer
    """

    def __init__(self, index: Index, embedder: Embedder, answerer: ExtractiveAnswerer) -> None:
        self.index = index
        self.answerer = answerer
        self.verifier = Verifier(index, embedder)
        self.verdicts: list[Support] = []  # of the last answer, for evaluation

    def prompt(self, retrieval: Retrieval, k: int, generator: Generator) -> Prompt:
        passages = [
            sorted(((p, self.index.chunks[p]) for p in hit.positions), key=lambda pair: pair[1].start)
            for hit in retrieval.hits[:k]
        ]
        return build_prompt(
            retrieval.question,
            passages,
            count_tokens=generator.count_tokens,
            context_tokens=generator.context_tokens,
            answer_tokens=generator.max_tokens,
        )

    def stream(self, retrieval: Retrieval, k: int, generator: Generator) -> Iterator[str | Answer]:
        """Yield the model's text in pieces, then the verified :class:`Answer`."""
        # The extractive answer costs milliseconds; it is the fallback and names the closest
        # passages when the generated answer has no support.
        extractive = self.answerer.answer(retrieval, k)
        pieces: list[str] = []
        try:
            prompt = self.prompt(retrieval, k, generator)
            for piece in generator.stream(prompt):
                pieces.append(piece)
                yield piece
        except GeneratorError as error:
            yield _fallback(extractive, generator.name, str(error))
            return
        except Exception as error:  # a backend's own bug must not cost the user an answer
            logger.warning("The %s generator failed", generator.name, exc_info=True)
            yield _fallback(extractive, generator.name, f"{type(error).__name__}: {error}")
            return
        generated = "".join(pieces)
        cut_short = generator.count_tokens(generated) >= generator.max_tokens - 2
        yield self.finish(generated, prompt, generator.name, extractive, cut_short=cut_short)

    def finish(
        self, generated: str, prompt: Prompt, name: str, extractive: Answer, *, cut_short: bool = False
    ) -> Answer:
        """Verify ``generated`` against ``prompt``'s passages and build the answer.

        ``cut_short``: the model used its whole token budget, so an unfinished last sentence
        is dropped.
        """
        sentences_written = split_answer(generated, [f"{p.title}: " for p in prompt.passages])
        if sentences_written and cut_short and not sentences_written[-1].endswith((".", "!", "?", '"', "”")):
            sentences_written.pop()  # cut off by the token limit mid-sentence: not a claim
        claims = [s for s in sentences_written if not is_abstention(s)]
        verdicts = self.verifier.verify(claims, prompt.passages, prompt.question)
        self.verdicts = verdicts
        citations: list[Citation] = []
        numbers: dict[tuple[int | None, int | None], int] = {}
        sentences: list[AnswerSentence] = []
        for verdict in verdicts:
            if verdict.supported:
                key = (verdict.position, verdict.sentence)
                if key not in numbers:
                    citations.append(self._citation(verdict))
                    numbers[key] = len(citations)
                sentences.append(AnswerSentence(verdict.text, numbers[key], round(verdict.score, 4)))
        dropped = sum(not v.supported for v in verdicts)
        question = prompt.question
        # Supported is not enough: a model can copy a true sentence that does not answer. The
        # calibrated evidence check of the extractive answerer (rag.answering) decides whether
        # the passages answer the question at all, for every backend alike.
        if not citations or extractive.abstained:
            if citations:
                note = (
                    f"The {name} model's sentences are in the documents, but the passages do not match "
                    "the question closely enough to answer it."
                )
            elif claims:
                note = f"The {name} model's answer had no support in the documents, so it is not shown."
            else:
                note = ""
            return Answer(
                question,
                NOT_IN_DOCUMENTS,
                extractive.citations[:3],
                abstained=True,
                confidence=extractive.confidence,
                generator=name,
                note=note,
            )
        text = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
        note = ""
        if dropped:
            were = "sentences of the {} model's answer had no support in the documents and were"
            was = "sentence of the {} model's answer had no support in the documents and was"
            note = f"{dropped} {(were if dropped > 1 else was).format(name)} left out."
        return Answer(
            question,
            text,
            citations,
            abstained=False,
            confidence=extractive.confidence,
            sentences=sentences,
            generator=name,
            note=note,
        )

    def _citation(self, verdict: Support) -> Citation:
        return Citation.of(self.index.chunks[verdict.position], verdict.sentence, verdict.score)  # type: ignore[index,arg-type]


def _fallback(extractive: Answer, name: str, reason: str) -> Answer:
    from dataclasses import replace

    return replace(
        extractive,
        note=f"The {name} model failed ({reason}); the extractive answer is shown instead.",
    )
