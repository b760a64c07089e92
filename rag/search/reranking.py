"""Second-stage reranking of fused candidates with evidence already in the index.

No cross-encoder ships in any package on this machine, so the reranker combines signals that
cost microseconds per chunk:

* ``fused``    – the first-stage score (relative to the best candidate);
* ``sentence`` – the best cosine between the question and one *sentence* of the chunk: a
                 chunk whose single sentence matches the question beats one that is only
                 loosely about the topic (sentence vectors are stored at index time);
* ``coverage`` – the IDF-weighted share of the question's content words in the chunk;
* ``title``    – the same share in the chunk's title alone;
* ``phrase``   – the share of the question's adjacent content-word pairs ("human bocavirus",
                 "incubation period") found adjacent in the chunk: bag-of-words scores cannot
                 tell a chunk holding the question's phrases from one holding its words apart;
* ``phrase3``  – the same for runs of three words;
* ``sentence_coverage`` – the IDF-weighted share of the question's words in the chunk's best
                 sentence: the words of an answer sit together, not spread over the chunk;
* ``lexical``  – BM25 divided by the query's best BM25 score. ``fused`` already holds 0.4 of
                 it; its weight here is negative, taking that share back out: once the
                 candidates are fixed, the coverage shares rank them better than BM25's
                 saturated, length-normalised score does.

Weights were chosen on the dev halves of SQuAD v1.1 and COVID-QA together
(eval/tune_retrieval.py); each feature's contribution is measured there by ablation and
reported in docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.config import check_weights
from rag.ingest.lexical import coverage
from rag.search.hits import Candidates, Hit
from rag.store.index import Index
from rag.store.terms import SEPARATOR

if TYPE_CHECKING:
    pass


RERANK_FEATURES = (
    "fused",
    "sentence",
    "coverage",
    "title",
    "phrase",
    "phrase3",
    "sentence_coverage",
    "lexical",
)


def _default_weights() -> dict[str, float]:
    # eval/tune_retrieval.py: coordinate ascent on Hit@1 + MRR@10/2 summed over the dev halves
    # of SQuAD v1.1 (1,500 questions) and COVID-QA (690). Dev Hit@1, SQuAD / COVID-QA:
    # fused + sentence + coverage + title 0.825 / 0.796; + phrases 0.826 / 0.822;
    # + sentence coverage and lexical 0.847 / 0.822.
    return {
        "fused": 1.0,
        "sentence": 0.6,
        "coverage": 0.35,
        "title": 0.05,
        "phrase": 0.4,
        "phrase3": 0.25,
        "sentence_coverage": 0.4,
        "lexical": -0.4,
    }


@dataclass(frozen=True)
class RerankSettings:
    """The weight of each rerank feature (keys from RERANK_FEATURES; a missing one weighs 0)."""

    weights: dict[str, float] = field(default_factory=_default_weights)

    def __post_init__(self) -> None:
        check_weights(self.weights, RERANK_FEATURES, "RerankSettings.weights")


class Reranker:
    """Rescores the fused head of a ranking with the features above (see RERANK_FEATURES)."""

    def __init__(self, index: Index, settings: RerankSettings | None = None):
        self.index = index
        self.settings = settings or RerankSettings()

    def features(self, candidates: Candidates, hits: list[Hit]) -> list[list[float]]:
        """One row of RERANK_FEATURES values per hit, in the order of ``hits``."""
        import numpy as np

        weights = self.index.idf(set(candidates.terms))
        total = sum(weights.values()) or 1.0
        positions = np.array([h.position for h in hits], dtype=np.int64)
        self.index.prefetch(positions.tolist(), sentences=True)
        chunk_coverage = np.zeros(len(hits))
        for term, weight in weights.items():
            chunk_coverage += weight * self.index.chunks_with(term, positions)
        best = max((h.score for h in hits), default=1.0) or 1.0
        pairs, triples = _gram_keys(candidates.terms, 2), _gram_keys(candidates.terms, 3)
        rows = []
        for hit, covered in zip(hits, chunk_coverage / total, strict=True):
            sentence_rows = self.index.sentence_rows[hit.position]
            vectors = self.index.sentence_vectors[sentence_rows]
            sentence = float((vectors @ candidates.vector).max()) if sentence_rows else 0.0
            terms = self.index.terms
            title = terms.title(hit.position)
            rows.append(
                [
                    hit.score / best,
                    sentence,
                    float(covered),
                    coverage(weights, title),
                    _share(pairs, terms.joined(hit.position)),
                    _share(triples, terms.joined(hit.position)),
                    max((coverage(weights, words) for words in terms.sentences(hit.position)), default=0.0),
                    hit.lexical,
                ]
            )
        return rows

    def rerank(self, candidates: Candidates, hits: list[Hit]) -> list[Hit]:
        """``hits`` rescored (weighted sum of their features) and sorted best first."""
        from dataclasses import replace

        weights = [self.settings.weights.get(f, 0.0) for f in RERANK_FEATURES]
        rows = self.features(candidates, hits)
        rescored = [
            replace(h, score=sum(w * x for w, x in zip(weights, row, strict=True)))
            for h, row in zip(hits, rows, strict=True)
        ]
        rescored.sort(key=lambda h: -h.score)
        return rescored


def _ngrams(terms: list[str] | tuple[str, ...], n: int) -> set[tuple[str, ...]]:
    # Shifted copies of one list: zip stops at the shortest, which is the point.
    return {gram for gram in zip(*(terms[i:] for i in range(n)), strict=False) if len(set(gram)) == n}


def _gram_keys(terms: list[str] | tuple[str, ...], n: int) -> list[str]:
    """The question's n-grams of distinct words, each written as ChunkTerms.joined writes terms."""
    return [SEPARATOR + SEPARATOR.join(gram) + SEPARATOR for gram in _ngrams(terms, n)]


def _share(keys: list[str], joined: str) -> float:
    """The share of the question's n-grams (``keys``) that occur in a chunk's ``joined`` terms
    (0 when the question has none).

    A substring search in one string per chunk, not the chunk's own n-gram set: building that
    set for each of the ~30 reranked chunks was a fifth of a warm question's time.
    """
    if not keys:
        return 0.0
    return sum(key in joined for key in keys) / len(keys)
