"""Generative answers that keep rag's promise: every sentence shown cites a checked span.

The flow for one question: the retrieved passages are fitted into a grounded prompt
(:mod:`rag.answer.prompting`), the backend streams its answer, and :mod:`rag.answer.verification` finds
the support of each sentence in the passages. Supported sentences are shown with markers
to their verified spans; unsupported ones are dropped (from ``Answer.text`` and
``Answer.sentences``; the note says how many). Showing them, even marked, would put uncited,
possibly injected or invented text next to cited text, which is the one thing the product
promises not to do. When the passages fail the extractive answerer's calibrated evidence
check (a true sentence can still miss the question), the answer abstains. When the backend fails or
times out, or none of its sentences is supported (or it says "not found") although the
extractive answerer would answer, the extractive answer is returned with a note saying so.
While the model writes, each sentence is verified as soon as it is complete and streamed only
when supported, so a reader never sees text that is withdrawn afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generators.base import Generator, model_name
from rag.answer.prompting import Prompt, build_prompt
from rag.answer.verification import Support, Verifier, is_abstention, split_answer
from rag.embedding.embedders import Embedder
from rag.errors import GeneratorError
from rag.records import NOT_FOUND, Answer, AnswerSentence, Citation
from rag.search.hits import Retrieval
from rag.store.index import Index

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verified:
    """A generated answer with the verdict on every sentence the model wrote (for evaluation)."""

    answer: Answer
    verdicts: list[Support]


class GroundedAnswerer:
    """Answers with a generative backend, citing only what verification supports.

    Usage example::

        grounded = GroundedAnswerer(engine.index, engine.embedder, engine.answerer, generator)
        for item in grounded.stream(engine.retriever.search(question), 5):
            ...  # str pieces while the model writes, then the final Answer
    """

    def __init__(
        self, index: Index, embedder: Embedder, extractive: ExtractiveAnswerer, generator: Generator
    ) -> None:
        self.index = index
        self.extractive = extractive
        self.generator = generator
        self.name = generator.name
        self.verifier = Verifier(index, embedder)

    def prompt(self, retrieval: Retrieval, k: int) -> Prompt:
        """The grounded prompt for the top ``k`` passages, fitted to the generator's window."""
        passages = [
            sorted(((p, self.index.chunks[p]) for p in hit.positions), key=lambda pair: pair[1].start)
            for hit in retrieval.hits[:k]
        ]
        return build_prompt(
            retrieval.question,
            passages,
            count_tokens=self.generator.count_tokens,
            context_tokens=self.generator.context_tokens,
            answer_tokens=self.generator.max_tokens,
        )

    def stream(self, retrieval: Retrieval, k: int) -> Iterator[str | Answer]:
        """Yield the model's text in pieces, then the verified :class:`Answer`."""
        for item in self.generate(retrieval, k):
            yield item.answer if isinstance(item, Verified) else item

    def generate(self, retrieval: Retrieval, k: int) -> Iterator[str | Verified]:
        """:meth:`stream`, ending with the verdicts on every generated sentence as well.

        Only verified text is streamed: each sentence the model completes is checked at once
        and, when supported, yielded as ``"<sentence> [n] "`` (``n`` its citation number in the
        final answer, whose text these pieces add up to). Unsupported sentences never appear,
        so nothing shown is withdrawn later. When the passages do not answer the question (the
        extractive answerer abstains), the final answer abstains whatever the model writes,
        so nothing is streamed at all.
        """
        generator = self.generator
        # The extractive answer costs milliseconds; it is the fallback and names the closest
        # passages when the generated answer has no support.
        extractive = self.extractive.answer(retrieval, k)
        pieces: list[str] = []
        known: dict[str, Support] = {}  # verdicts on the sentences completed so far
        cited: dict[tuple[int | None, int | None], int] = {}  # support -> citation number
        try:
            prompt = self.prompt(retrieval, k)
            labels = [f"{p.title}: " for p in prompt.passages]
            for piece in generator.stream(prompt):
                pieces.append(piece)
                if extractive.abstained:
                    continue
                # Every sentence but the last is complete; verify the new ones as they finish.
                for sentence in split_answer("".join(pieces), labels)[:-1]:
                    if sentence in known or is_abstention(sentence):
                        continue
                    verdict = known[sentence] = self.verifier.verify(
                        [sentence], prompt.passages, prompt.question
                    )[0]
                    if verdict.supported:
                        number = cited.setdefault((verdict.position, verdict.sentence), len(cited) + 1)
                        yield f"{sentence} [{number}] "
        except Exception as error:  # GeneratorError, or a backend's own bug: never cost an answer
            if not isinstance(error, GeneratorError):
                logger.warning("The %s generator failed", generator.name, exc_info=True)
            reason = str(error) if isinstance(error, GeneratorError) else f"{type(error).__name__}: {error}"
            if cited:  # verified sentences are on screen: keep them, say the rest is missing
                kept = self.finish("".join(pieces), prompt, extractive, cut_short=True, known=known)
                if not kept.answer.abstained and kept.answer.citations:
                    note = (
                        f"The {generator.name} model stopped early ({reason}); "
                        "its checked sentences are shown."
                    )
                    yield Verified(replace(kept.answer, note=note), kept.verdicts)
                    return
            yield Verified(_fallback(extractive, generator.name, reason), [])
            return
        generated = "".join(pieces)
        cut_short = generator.count_tokens(generated) >= generator.max_tokens - 2
        yield self.finish(generated, prompt, extractive, cut_short=cut_short, known=known)

    def finish(
        self,
        generated: str,
        prompt: Prompt,
        extractive: Answer,
        *,
        cut_short: bool = False,
        known: dict[str, Support] | None = None,
    ) -> Verified:
        """Verify ``generated`` against ``prompt``'s passages and build the answer.

        ``cut_short``: the model used its whole token budget, so an unfinished last sentence
        is dropped. ``known``: verdicts already reached while streaming (sentence -> verdict),
        reused so that the answer says exactly what the stream showed.
        """
        sentences_written = split_answer(generated, [f"{p.title}: " for p in prompt.passages])
        if sentences_written and cut_short and not sentences_written[-1].endswith((".", "!", "?", '"', "”")):
            sentences_written.pop()  # cut off by the token limit mid-sentence: not a claim
        claims = [s for s in sentences_written if not is_abstention(s)]
        known = dict(known or {})
        fresh = [c for c in claims if c not in known]
        known.update(zip(fresh, self.verifier.verify(fresh, prompt.passages, prompt.question), strict=True))
        verdicts = [known[c] for c in claims]
        name = self.name
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
        # calibrated evidence check of the extractive answerer (rag.answer.extractive) decides whether
        # the passages answer the question at all, for every backend alike.
        if not citations and not extractive.abstained:
            # The documents answer (the extractive answerer's calibrated check says so) but
            # nothing the model wrote could be verified, or it said it found nothing: the
            # exact quotes are the answer, with a note, as when the backend fails.
            reason = "had no support in the documents" if claims else "said the documents do not answer"
            return Verified(_fallback(extractive, name, reason, failed=False), verdicts)
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
            abstention = Answer(
                question,
                NOT_FOUND,
                extractive.citations[:3],
                abstained=True,
                confidence=extractive.confidence,
                generator=name,
                note=note,
                model=model_name(self.generator),
            )
            return Verified(abstention, verdicts)
        text = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
        note = ""
        if dropped:
            were = "sentences of the {} model's answer had no support in the documents and were"
            was = "sentence of the {} model's answer had no support in the documents and was"
            note = f"{dropped} {(were if dropped > 1 else was).format(name)} left out."
        answer = Answer(
            question,
            text,
            citations,
            abstained=False,
            confidence=extractive.confidence,
            sentences=sentences,
            generator=name,
            note=note,
            model=model_name(self.generator),
        )
        return Verified(answer, verdicts)

    def _citation(self, verdict: Support) -> Citation:
        return Citation.of(self.index.chunks[verdict.position], verdict.sentence, verdict.score)  # type: ignore[index,arg-type]


def _fallback(
    extractive: Answer, name: str, reason: str, *, failed: bool = True, claims: bool = True
) -> Answer:
    """The extractive answer, noted as shown in place of the ``name`` model's."""
    from dataclasses import replace

    if failed:
        note = f"The {name} model failed ({reason}); the extractive answer is shown instead."
    else:
        note = f"The {name} model's answer {reason}; the extractive answer (exact quotes) is shown instead."
    return replace(extractive, note=note)
