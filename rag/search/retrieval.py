"""Hybrid retrieval: dense FAISS search and BM25, fused, reranked, near-duplicates collapsed.

Stages, each measurable on its own (``rag eval`` prints them side by side):

1. candidates – the top ``depth`` chunks by MiniLM cosine (FAISS) and by BM25;
2. fusion     – a weighted sum of the cosine and BM25 divided by the query's best BM25
                score (or reciprocal-rank fusion, kept for comparison);
3. rerank     – the fused top ``rerank_depth`` rescored with evidence the index already
                holds: the best *sentence* cosine inside the chunk (sentence vectors are
                computed at index time), the IDF-weighted share of the question's words in
                the chunk and in its title (see rag/search/reranking.py);
4. collapse   – overlapping chunks of one section are near-duplicates: only the best stays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from rag.embedding.embedders import Embedder
from rag.ingest.lexical import tokenize
from rag.records import Passage
from rag.search.hits import Candidates, Hit, Retrieval
from rag.search.reranking import Reranker
from rag.search.spelling import Speller
from rag.store.index import Index

Mode = Literal["bm25", "dense", "hybrid", "rerank"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid", "rerank")


@dataclass(frozen=True)
class RetrieverSettings:
    """How candidates are found, fused and reranked; the defaults are the measured best."""

    mode: Mode = "rerank"
    fusion: Literal["weighted", "rrf"] = "weighted"
    depth: int = 50  # candidates taken from each retriever before fusing
    # Weighted fusion: share of the cosine (the rest: BM25/best). 0.6 was best of 0.3–0.7 on
    # SQuAD's dev half (MRR@10 0.861 at 0.5); RRF (k=60) trailed it there (0.823).
    dense_weight: float = 0.6
    rrf_k: int = 60
    rerank_depth: int = 30  # fused candidates the reranker rescores
    collapse: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}.")
        if self.fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion must be 'weighted' or 'rrf', got {self.fusion!r}.")
        if self.depth < 1 or self.rerank_depth < 1 or self.rrf_k < 1:
            raise ValueError("depth, rerank_depth and rrf_k must be at least 1.")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be in [0, 1], got {self.dense_weight}.")


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
        self.reranker = Reranker(index)
        self.speller = Speller(index.doc_freq)
        self._text_keys: dict[int, int] = {}  # chunk position -> hash of its normalised text

    def candidates(self, question: str) -> Candidates:
        """The top ``depth`` chunks by cosine and by BM25 with both scores, before fusion."""
        # A typo is read as the corpus word it was meant to be, for both retrievers.
        spelt, terms = self.speller.correct(question, tokenize(question))
        vector = self.embedder.encode([spelt])[0]
        index, depth = self.index, self.settings.depth
        dense = index.dense_search(vector, depth)
        raw = index.lexical_search(terms, depth)
        best = max(raw.values(), default=0.0)
        lexical = {p: s / best for p, s in raw.items()} if best > 0 else {}
        missing = [p for p in lexical if p not in dense]
        if missing:  # exact cosine for BM25-only candidates, from the stored vectors
            dense.update(zip(missing, index.cosines(missing, vector), strict=True))
        index.prefetch(dense)
        return Candidates(question, vector, terms, dense, lexical, spelt if spelt != question else "")

    def rank(self, candidates: Candidates, mode: Mode | None = None) -> list[Hit]:
        """Order the candidates under ``mode`` (default: the settings' mode)."""
        settings = self.settings
        mode = mode or settings.mode
        dense, lexical = candidates.dense, candidates.lexical
        if mode == "dense":
            hits = [Hit(p, s, s, lexical.get(p, 0.0), fused=s) for p, s in dense.items()]
        elif mode == "bm25":
            hits = [Hit(p, s, dense[p], s, fused=s) for p, s in lexical.items()]
        else:
            fused = {p: self._fuse(p, candidates) for p in dense}
            hits = [Hit(p, fused[p], dense[p], lexical.get(p, 0.0), fused=fused[p]) for p in dense]
        hits.sort(key=lambda h: -h.score)
        if mode == "rerank":
            head = self.reranker.rerank(candidates, hits[: settings.rerank_depth])
            hits = head + hits[settings.rerank_depth :]
        return self._drop_copies(self._collapse(hits)) if settings.collapse else hits

    def _fuse(self, position: int, candidates: Candidates) -> float:
        settings = self.settings
        if settings.fusion == "rrf":
            ranks = self._rrf_ranks(candidates)
            return sum(1.0 / (settings.rrf_k + r[position] + 1) for r in ranks if position in r)
        return settings.dense_weight * candidates.dense[position] + (
            1 - settings.dense_weight
        ) * candidates.lexical.get(position, 0.0)

    @staticmethod
    def _rrf_ranks(candidates: Candidates) -> tuple[dict[int, int], dict[int, int]]:
        def ranks(scores: dict[int, float]) -> dict[int, int]:
            return {p: r for r, p in enumerate(sorted(scores, key=lambda p: -scores[p]))}

        return ranks(candidates.dense), ranks(candidates.lexical)

    def _drop_copies(self, hits: list[Hit]) -> list[Hit]:
        """Keep only the best-ranked of chunks with the same text.

        A byte-identical copy of a file (or a page saved twice) would otherwise fill two
        result slots with one passage, cite the same sentence twice, and leave the top
        passage no lead over the next one to show.
        """
        seen: set[int] = set()
        kept = []
        for hit in hits:
            key = self._text_key(hit.position)
            if key not in seen:
                seen.add(key)
                kept.append(hit)
        return kept

    def _text_key(self, position: int) -> int:
        # A 64-bit hash of the normalised text, cached: only the positions that were hits.
        key = self._text_keys.get(position)
        if key is None:
            key = hash(" ".join(self.index.chunks[position].clean_text.lower().split()))
            self._text_keys[position] = key
        return key

    def _collapse(self, hits: list[Hit]) -> list[Hit]:
        """Fold chunks of one section whose spans overlap into a single passage.

        Overlapping chunks repeat sentences, so listing both wastes a result slot; dropping
        the worse one would lose its other sentences, so each run of overlapping chunks
        becomes one passage, ranked by its best chunk.
        """
        sections: dict[tuple[str, str], list[Hit]] = {}
        for hit in hits:
            chunk = self.index.chunks[hit.position]
            sections.setdefault((chunk.source, chunk.title), []).append(hit)
        folded: list[Hit] = []
        for members in sections.values():
            members.sort(key=lambda h: self.index.chunks[h.position].start)
            run, run_end = [members[0]], self.index.chunks[members[0].position].end
            for hit in members[1:]:
                chunk = self.index.chunks[hit.position]
                if chunk.start < run_end:
                    run.append(hit)
                    run_end = max(run_end, chunk.end)
                else:
                    folded.append(_fold(run))
                    run, run_end = [hit], chunk.end
            folded.append(_fold(run))
        folded.sort(key=lambda h: -h.score)
        return folded

    def search(self, question: str) -> Retrieval:
        """The ranking of every candidate chunk for ``question`` (the answerers read its head)."""
        candidates = self.candidates(question)
        return candidates.ranked(self.rank(candidates))

    def passages(self, question: str, k: int) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first."""
        return to_passages(self.index, self.search(question).hits[:k])


def _fold(run: list[Hit]) -> Hit:
    if len(run) == 1:
        return run[0]  # most runs: a copy of the hit per hit was a tenth of a question's time
    best = max(run, key=lambda h: h.score)
    return replace(best, also=tuple(h.position for h in run if h is not best))


def merged_span(index: Index, hit: Hit) -> tuple[int, int, str]:
    """Start, end and original text of a hit's chunk joined with the chunks folded into it."""
    chunks = sorted((index.chunks[p] for p in hit.positions), key=lambda c: c.start)
    start, end, text = chunks[0].start, chunks[0].end, chunks[0].text
    for chunk in chunks[1:]:
        if chunk.start > end:  # not contiguous: keep the best chunk's own span
            primary = index.chunks[hit.position]
            return primary.start, primary.end, primary.text
        if chunk.end > end:
            text += chunk.text[end - chunk.start :]
            end = chunk.end
    return start, end, text


def to_passages(index: Index, hits: list[Hit]) -> list[Passage]:
    """Hits as Passage records (ranks from 1), folded chunks joined into one span."""
    passages = []
    for rank, hit in enumerate(hits, 1):
        chunk = index.chunks[hit.position]
        start, end, text = merged_span(index, hit)
        page = next((c.page for p in hit.positions if (c := index.chunks[p]).start == start), chunk.page)
        passages.append(Passage(chunk.source, chunk.title, text, start, end, hit.score, rank, chunk.id, page))
    return passages
