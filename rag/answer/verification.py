"""Check every sentence of a generated answer against the passages the model was shown.

The model's own ``[n]`` markers are ignored. Each generated sentence is compared with every
sentence of the prompt's passages by two measures:

* ``overlap`` – the IDF-weighted share of the generated sentence's content words (stemmed,
  stop words out, hyphenated words split) that the passage sentence holds: a claim built
  from words the source does not use is not in the source;
* ``cosine``  – MiniLM similarity, from the embedder already loaded and the sentence vectors
  stored in the index at build time (only the generated sentences are embedded).

``support = (cosine + overlap) / 2`` for the best passage sentence, and a sentence is
supported when ``support >= SUPPORT_THRESHOLD``. Two hard rules come first: every number in
the generated sentence must appear in the supporting sentence (a wrong figure with the right
words is the commonest hallucination), and a passage sentence that reads as an instruction to
the model ("ignore previous instructions …") never supports anything.

SUPPORT_THRESHOLD = 0.65 was measured on eval/qa.jsonl (``python eval/verification_threshold.py``):
copies of the evidence sentences and their clauses that hold the answer score median 0.96
(5th percentile 0.70), and 97.8 % of them reach 0.65; on-topic corpus sentences from
passages the model was *not* shown score median 0.36 (95th percentile 0.60), and 97.6 % of
them stay below (the rest are near-copies of a shown sentence, so truly supported);
evidence with a changed number and restated questions score 0. A wrongly kept sentence
breaks the product's promise, a wrongly dropped one only shortens an answer, so the
threshold sits at the top of the unsupported range rather than the bottom of the supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.answer.prompting import PromptPassage
from rag.ingest.lexical import coverage, tokenize
from rag.ingest.text import split_sentences
from rag.injection import looks_like_instruction

if TYPE_CHECKING:
    from rag.embedding.embedders import Embedder
    from rag.store.index import Index

SUPPORT_THRESHOLD = 0.65
_ALONE_LIMIT = 20_000  # sentence vectors kept per verifier on a pooled index (~30 MB)

_MARKERS = re.compile(r"\s*[\[【]\s*\d+(?:\s*[,;–-]\s*\d+)*\s*[\]】]")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_LEAD = re.compile(r"^\s*(?:answer|response)\s*:\s*", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ABSTENTION = re.compile(
    r"\b(do|does|did)(n[o']t| not) (contain|mention|say|provide|include|state|specify|answer|have)\b"
    r"|\b(no|not enough|insufficient) (information|answer|mention|details?)\b"
    r"|\b(cannot|can't|can ?not|unable to) (be )?(answer|determine|find|tell|say)"
    r"|\bnot (mentioned|provided|stated|specified|given|included) in\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Support:
    """The verdict on one generated sentence.

    ``position``/``sentence`` locate the supporting passage sentence (the chunk's position
    in the index, the sentence's index in the chunk); both are None when unsupported.
    """

    text: str
    position: int | None
    sentence: int | None
    score: float
    cosine: float
    overlap: float

    @property
    def supported(self) -> bool:
        """True when a passage sentence supports this one (``position`` is set)."""
        return self.position is not None


def split_answer(text: str, labels: Sequence[str] = ()) -> list[str]:
    """The distinct sentences of a generated answer, in order.

    Citation markers, list bullets, "Answer:" and the passage ``labels`` of the prompt
    (small models copy "Title: " along with the sentence) are removed first.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_ITEM.sub("", _LEAD.sub("", _MARKERS.sub("", line)))
        for label in labels:
            if label:
                line = line.replace(label, " ")
        for sentence in split_sentences(line):
            if sentence.text not in sentences:
                sentences.append(sentence.text)
    return sentences


def is_abstention(sentence: str) -> bool:
    """True for "the documents do not contain …"-style statements: no claim to verify."""
    return _ABSTENTION.search(sentence) is not None


# Words a model uses to talk about the passages rather than about the world.
_META = frozenset(
    tokenize("passage passages document documents text article question answer information detail")
)


def _terms(text: str) -> set[str]:
    return set(tokenize(text.replace("-", " ").replace("–", " "))) - _META


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


class Verifier:
    """Finds the supporting span of generated sentences in an index's passages.

    Usage example::

        verifier = Verifier(engine.index, engine.embedder)
        verdicts = verifier.verify(["Mistral Medium 3.5 has 128 billion parameters."], prompt.passages)
    """

    def __init__(self, index: Index, embedder: Embedder, threshold: float = SUPPORT_THRESHOLD) -> None:
        self.index = index
        self.embedder = embedder
        self.threshold = threshold
        self._alone: dict[tuple[int, int], Any] = {}  # pooled indexes: sentence -> vector alone

    def verify(
        self, sentences: Sequence[str], passages: Sequence[PromptPassage], question: str = ""
    ) -> list[Support]:
        """One :class:`Support` per sentence, against the sentences each passage showed.

        A sentence is not a claim, and so never supported, when it asks something (ends
        with "?") or only restates ``question`` (none of its words is new).
        """
        asked = _terms(question)
        candidates: list[tuple[int, int, int]] = []  # (position, sentence index, vector row)
        for passage in passages:
            for position, i in passage.sentences:
                if not looks_like_instruction(self.index.chunks[position].sentences[i].text):
                    candidates.append((position, i, self.index.sentence_rows[position][i]))
        if not sentences:
            return []
        if not candidates:
            return [Support(s, None, None, 0.0, 0.0, 0.0) for s in sentences]
        vectors = self.embedder.encode(list(sentences))
        texts = [self.index.chunks[p].sentences[i].text for p, i, _ in candidates]
        if self.index.manifest.chunker.get("sentence_vectors") == "pooled":
            # Pooled vectors were read in their chunk's context; SUPPORT_THRESHOLD was measured
            # between sentences encoded alone, so the shown sentences are encoded alone here,
            # each once (a streamed answer verifies sentence by sentence against the same ones).
            import numpy as np

            keys = [(p, i) for p, i, _ in candidates]
            missing = [k for k in dict.fromkeys(keys) if k not in self._alone]
            if len(self._alone) + len(missing) > _ALONE_LIMIT:
                self._alone.clear()
                missing = list(dict.fromkeys(keys))
            if missing:
                vectors_alone = self.embedder.encode(
                    [self.index.chunks[p].sentences[i].text for p, i in missing]
                )
                self._alone.update(zip(missing, vectors_alone, strict=True))
            stored = np.stack([self._alone[k] for k in keys])
        else:
            stored = self.index.sentence_vectors[[row for _, _, row in candidates]]
        cosines = vectors @ stored.T
        candidate_terms = [_terms(t) for t in texts]
        candidate_numbers = [_numbers(t) for t in texts]
        verdicts = []
        for j, sentence in enumerate(sentences):
            terms = _terms(sentence)
            if sentence.rstrip().endswith("?") or not terms - asked:
                verdicts.append(Support(sentence, None, None, 0.0, 0.0, 0.0))
                continue
            weights = self.index.idf(terms)
            numbers = _numbers(sentence)
            best = (-1.0, 0, 0.0, 0.0)
            for c, (c_terms, c_numbers) in enumerate(zip(candidate_terms, candidate_numbers, strict=True)):
                if not numbers <= c_numbers:
                    continue
                overlap = coverage(weights, c_terms)
                cosine = float(cosines[j, c])
                score = (cosine + overlap) / 2
                if score > best[0]:
                    best = (score, c, cosine, overlap)
            score, c, cosine, overlap = best
            score = max(score, 0.0)
            if weights and score >= self.threshold:
                position, index_in_chunk, _ = candidates[c]
                verdicts.append(Support(sentence, position, index_in_chunk, score, cosine, overlap))
            else:
                verdicts.append(Support(sentence, None, None, score, cosine, overlap))
        return verdicts
