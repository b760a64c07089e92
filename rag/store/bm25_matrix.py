"""BM25 scores at question time from bm25s's saved matrix, with numpy alone.

bm25s writes its index as the BM25 weight of every (term, chunk) pair, precomputed, in a
compressed sparse column matrix (``data``/``indices``/``indptr`` .npy files) beside its
vocabulary; scoring a question is summing the columns of its terms. Builds keep writing
with bm25s. Loads read those files here instead of through ``bm25s.BM25.load``, because
importing bm25s imports scipy.sparse: ~0.25 s of a new process's ~1.3 s to its first
answer, for a sum numpy does alone. The sum is bm25s's own (its numpy backend,
``np.add.at`` in float32, term by term), so the scores are the same to the bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = "data.csc.index.npy"
INDICES = "indices.csc.index.npy"
INDPTR = "indptr.csc.index.npy"
VOCAB = "vocab.index.json"
PARAMS = "params.index.json"
NONOCCURRENCE = "nonoccurrence_array.index.npy"  # BM25L and BM25+ only


@dataclass(frozen=True)
class Bm25Matrix:
    """A saved bm25s index: term -> id, and per term the chunks holding it with their weight.

    Usage example::

        matrix = Bm25Matrix.load(generation / "bm25")
        scores = matrix.scores(["nobel", "prize"])   # float32 [chunks]
    """

    vocab: dict[str, int]
    data: np.ndarray  # float32 [postings]: BM25 weight of the pair
    indices: np.ndarray  # int32 [postings]: chunk position of the pair
    indptr: np.ndarray  # int64 [terms or terms + 1]: where each term's postings start
    chunks: int
    nonoccurrence: np.ndarray | None = None  # float32 [terms]: BM25L/BM25+ score of an absent term

    @classmethod
    def load(cls, folder: Path) -> Bm25Matrix:
        """Read the files bm25s's ``BM25.save`` wrote into ``folder``.

        Raises:
            OSError: a file is missing (the caller reports the index as incomplete).
            ValueError: a file is not what bm25s writes.
        """
        params = json.loads((folder / PARAMS).read_text(encoding="utf-8"))
        vocab = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
        nonoccurrence = folder / NONOCCURRENCE
        return cls(
            vocab=vocab,
            data=np.load(folder / DATA),
            indices=np.load(folder / INDICES),
            indptr=np.load(folder / INDPTR),
            chunks=int(params["num_docs"]),
            nonoccurrence=np.load(nonoccurrence) if nonoccurrence.is_file() else None,
        )

    def postings(self, term_id: int) -> slice:
        """Where the pairs of term ``term_id`` lie in ``data`` and ``indices``."""
        # bm25s leaves out the closing pointer of its last vocabulary entry.
        end = self.indptr[term_id + 1] if term_id + 1 < len(self.indptr) else len(self.indices)
        return slice(int(self.indptr[term_id]), int(end))

    def chunks_with(self, term: str) -> np.ndarray:
        """The positions of the chunks holding ``term`` (int32 [n]; empty for an unknown term)."""
        term_id = self.vocab.get(term)
        if term_id is None:
            return np.zeros(0, dtype=np.int32)
        return self.indices[self.postings(term_id)]

    def scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the stemmed ``terms`` ([chunks], the matrix's dtype: float32).

        A term repeated counts again, and a term outside the vocabulary adds nothing, as in
        bm25s's ``get_scores``.
        """
        ids = [self.vocab[term] for term in terms if term in self.vocab]
        scores = np.zeros(self.chunks, dtype=self.data.dtype)  # bm25s's "dtype" param, float32 by default
        for term_id in ids:
            span = self.postings(term_id)
            np.add.at(scores, self.indices[span], self.data[span])
        if self.nonoccurrence is not None and ids:
            scores += self.nonoccurrence[ids].sum()
        return scores
