"""Hybrid retrieval: dense FAISS search and BM25, fused into one ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rag.embedders import Embedder
from rag.index import Index
from rag.lexical import tokenize
from rag.records import Passage

if TYPE_CHECKING:
    import numpy as np

Fusion = Literal["weighted", "rrf", "dense", "bm25"]


@dataclass(frozen=True)
class RetrieverSettings:
    fusion: Fusion = "weighted"
    depth: int = 50  # candidates taken from each retriever before fusing
    dense_weight: float = 0.5  # weighted fusion: share of the dense cosine (rest: BM25/max)
    rrf_k: int = 60


@dataclass(frozen=True)
class Hit:
    """One fused result: the chunk's position in the index and the evidence behind its rank."""

    position: int
    score: float
    dense: float
    lexical: float  # BM25 divided by the best BM25 score of this query


@dataclass(frozen=True)
class Retrieval:
    question: str
    vector: np.ndarray  # the question's embedding, reused by the answerer
    terms: list[str]  # the question's stemmed content words
    hits: list[Hit]


class Retriever:
    """Ranks an index's chunks for a question.

    Usage example::

        retriever = Retriever(load_index("index"), get_embedder())
        passages = retriever.passages("Who is the Commission spokesperson?", k=5)
    """

    def __init__(self, index: Index, embedder: Embedder, settings: RetrieverSettings | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrieverSettings()

    def search(self, question: str, k: int) -> Retrieval:
        import numpy as np

        settings = self.settings
        vector = self.embedder.encode([question])[0]
        terms = tokenize(question)
        n = self.index.size
        depth = min(max(settings.depth, k), n)

        dense_scores, dense_ids = self.index.faiss.search(vector[None, :], depth)
        dense = {int(i): float(s) for i, s in zip(dense_ids[0], dense_scores[0]) if i >= 0}
        bm25_all = self.index.bm25.get_scores(terms) if terms else np.zeros(n, dtype=np.float32)
        top_lexical = np.argsort(-bm25_all)[:depth]
        best_bm25 = float(bm25_all[top_lexical[0]]) if n and bm25_all[top_lexical[0]] > 0 else 1.0
        lexical = {int(i): float(bm25_all[i]) / best_bm25 for i in top_lexical if bm25_all[i] > 0}

        positions = set(dense) | set(lexical)
        missing_dense = [p for p in positions if p not in dense]
        if missing_dense:  # exact cosine for BM25-only candidates, from the stored vectors
            cosines = self.index.chunk_vectors[missing_dense] @ vector
            dense.update(zip(missing_dense, map(float, cosines)))

        dense_rank = _ranks(dense)
        lexical_rank = _ranks(lexical)

        def fused(p: int) -> float:
            if settings.fusion == "dense":
                return dense[p]
            if settings.fusion == "bm25":
                return lexical.get(p, 0.0)
            if settings.fusion == "rrf":
                return sum(1.0 / (settings.rrf_k + r[p] + 1) for r in (dense_rank, lexical_rank) if p in r)
            lex = float(bm25_all[p]) / best_bm25
            return settings.dense_weight * dense[p] + (1 - settings.dense_weight) * lex

        hits = [
            Hit(p, fused(p), dense[p], float(bm25_all[p]) / best_bm25)
            for p in positions
        ]
        hits.sort(key=lambda h: -h.score)
        return Retrieval(question, vector, terms, hits)

    def passages(self, question: str, k: int) -> list[Passage]:
        return to_passages(self.index, self.search(question, k).hits[:k])


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    return {p: rank for rank, p in enumerate(sorted(scores, key=lambda p: -scores[p]))}


def to_passages(index: Index, hits: list[Hit]) -> list[Passage]:
    passages = []
    for rank, hit in enumerate(hits, 1):
        chunk = index.chunks[hit.position]
        passages.append(
            Passage(chunk.source, chunk.title, chunk.text, chunk.start, chunk.end, hit.score, rank, chunk.id)
        )
    return passages
