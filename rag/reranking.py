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
* ``phrase3``  – the same for runs of three words.

Weights were chosen on the dev half of SQuAD v1.1 (eval/tune_retrieval.py); each feature's
contribution is measured there by ablation and reported in the README.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.index import Index
from rag.lexical import tokenize

if TYPE_CHECKING:
    import numpy as np

    from rag.retrieval import Candidates, Hit

RERANK_FEATURES = ("fused", "sentence", "coverage", "title", "phrase", "phrase3")


def _default_weights() -> dict[str, float]:
    # eval/tune_retrieval.py, dev halves: on SQuAD (1,000 questions) sentence weights 0.25
    # and 0.5 tie (Hit@1 0.818 / 0.817); on COVID-QA (300) 0.5 wins (0.817 against 0.797).
    # Phrases, on the dev halves (COVID-QA 690 q, SQuAD 1,500): Hit@1 0.796 → 0.822 and
    # 0.825 → 0.826 with pairs at 0.6 and triples at 0.3 (pairs alone: 0.817 / 0.825).
    return {"fused": 1.0, "sentence": 0.5, "coverage": 0.3, "title": 0.2, "phrase": 0.6, "phrase3": 0.3}


@dataclass(frozen=True)
class RerankSettings:
    weights: dict[str, float] = field(default_factory=_default_weights)


class Reranker:
    def __init__(self, index: Index, settings: RerankSettings | None = None):
        self.index = index
        self.settings = settings or RerankSettings()
        self._n = max(index.size, 1)
        self._title_terms = lru_cache(maxsize=65536)(lambda title: frozenset(tokenize(title)))
        # Chunk words are stemmed at query time (about 1 ms for 30 chunks); popular chunks
        # come back often enough for a cache to pay.
        self._chunk_terms = lru_cache(maxsize=8192)(
            lambda position: tuple(tokenize(index.chunks[position].text))
        )

    def _chunks_with(self, term: str, positions: np.ndarray) -> np.ndarray:
        """Which of ``positions`` contain ``term``: read off BM25's term-document matrix,
        so no chunk text is tokenized at query time."""
        import numpy as np

        term_id = self.index.bm25.vocab_dict.get(term)
        if term_id is None:
            return np.zeros(len(positions), dtype=bool)
        matrix = self.index.bm25.scores
        indptr = matrix["indptr"]
        # bm25s leaves out the closing pointer of its last vocabulary entry.
        end = indptr[term_id + 1] if term_id + 1 < len(indptr) else len(matrix["indices"])
        docs = matrix["indices"][indptr[term_id] : end]
        return np.isin(positions, docs)

    def features(self, candidates: Candidates, hits: list[Hit]) -> list[list[float]]:
        import numpy as np

        weights = {
            t: math.log(1.0 + self._n / (self.index.doc_freq.get(t, 0) + 0.5)) for t in set(candidates.terms)
        }
        total = sum(weights.values()) or 1.0
        positions = np.array([h.position for h in hits], dtype=np.int64)
        coverage = np.zeros(len(hits))
        for term, weight in weights.items():
            coverage += weight * self._chunks_with(term, positions)
        best = max((h.score for h in hits), default=1.0) or 1.0
        pairs, triples = _ngrams(candidates.terms, 2), _ngrams(candidates.terms, 3)
        rows = []
        for hit, covered in zip(hits, coverage / total):
            sentence_rows = self.index.sentence_rows[hit.position]
            sentence = float((self.index.sentence_vectors[sentence_rows] @ candidates.vector).max()) if sentence_rows else 0.0
            title = self._title_terms(self.index.chunks[hit.position].title)
            rows.append([
                hit.score / best,
                sentence,
                float(covered),
                sum(w for t, w in weights.items() if t in title) / total,
                _share(pairs, self._chunk_terms(hit.position), 2),
                _share(triples, self._chunk_terms(hit.position), 3),
            ])
        return rows

    def rerank(self, candidates: Candidates, hits: list[Hit]) -> list[Hit]:
        from dataclasses import replace

        weights = [self.settings.weights.get(f, 0.0) for f in RERANK_FEATURES]
        rows = self.features(candidates, hits)
        rescored = [replace(h, score=sum(w * x for w, x in zip(weights, row))) for h, row in zip(hits, rows)]
        rescored.sort(key=lambda h: -h.score)
        return rescored


def _ngrams(terms: list[str] | tuple[str, ...], n: int) -> set[tuple[str, ...]]:
    return {gram for gram in zip(*(terms[i:] for i in range(n))) if len(set(gram)) == n}


def _share(grams: set[tuple[str, ...]], terms: tuple[str, ...], n: int) -> float:
    """The share of ``grams`` that occur in ``terms`` (0 when the question has none)."""
    if not grams:
        return 0.0
    return len(grams & _ngrams(terms, n)) / len(grams)
