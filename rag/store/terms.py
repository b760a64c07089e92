"""The stemmed words of each chunk, of each of its sentences and of its title.

The reranker reads them for its ~30 candidates of every question and the answerer for the
passages it reads. Stemming them on first use cost about 1 ms of a 7 ms warm question on the
SQuAD index (0.1 ms per chunk a question had not met before; measured 2026-12-01), and every
question of a large corpus meets new chunks. So a build writes them beside the chunks
(``terms/``, ~0.7 s for SQuAD's 4,116 chunks, 1.6 MB) and a load reads them memory-mapped.
An index written before that, or held by a store with no files of its own (Milvus), stems
on first use (:class:`StemmedOnUse`); the words are the same either way.

Layout of ``terms/`` (names in rag.store.generations): the chunks' words as ids into
``vocab.json``, segment after segment (``ids.npy``); where each segment starts
(``segments.npy``); each chunk's first segment (``chunks.npy``). A chunk's segments are its
text's words in order with repeats (the reranker looks for the question's phrases there),
its title's distinct words, then each sentence's distinct words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.ingest.lexical import tokenize
from rag.store.generations import TERM_CHUNKS, TERM_IDS, TERM_SEGMENTS, TERM_VOCAB, TERMS
from rag.store.vectors import MappedFile, memory_map

if TYPE_CHECKING:
    from rag.records import Chunk

# Between the words of ChunkTerms.joined: no word holds it (words are runs of word characters).
SEPARATOR = "\x1f"
_CACHED = 8192  # chunks whose decoded words are kept (the popular ones)


class ChunkTerms:
    """Per chunk position: ``text`` (its words in order), ``sentences`` (each sentence's
    set of words), ``title`` (its title's words) and ``joined`` (``text`` in one string,
    framed and separated by SEPARATOR, so whether a run of words occurs in the chunk is one
    substring search). Each is computed once per chunk and kept."""

    def __init__(
        self,
        text: Callable[[int], tuple[str, ...]],
        sentences: Callable[[int], tuple[frozenset[str], ...]],
        title: Callable[[int], frozenset[str]],
    ) -> None:
        self.text = lru_cache(maxsize=_CACHED)(text)
        self.sentences = lru_cache(maxsize=_CACHED)(sentences)
        self.title = lru_cache(maxsize=_CACHED)(title)
        self.joined = lru_cache(maxsize=_CACHED)(
            lambda position: SEPARATOR + SEPARATOR.join(self.text(position)) + SEPARATOR
        )


class StemmedOnUse(ChunkTerms):
    """The words stemmed from the chunks' text the first time a chunk is read."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:

        super().__init__(
            lambda position: tuple(tokenize(chunks[position].text)),
            lambda position: tuple(frozenset(tokenize(s.text)) for s in chunks[position].sentences),
            lambda position: frozenset(tokenize(chunks[position].title)),
        )


class StoredTerms(ChunkTerms):
    """The words a build wrote into ``terms/`` (see the module docstring), memory-mapped."""

    def __init__(self, generation: Path, chunks: int) -> None:
        """Open the files of ``generation``, which holds ``chunks`` chunks.

        Raises:
            ValueError: the files disagree with each other or with the chunk count, or one is
                not an array; OSError: one is missing (the loader reports both as damage).
        """

        self._generation = generation
        self._ids = memory_map(generation / TERM_IDS)
        self._segments = memory_map(generation / TERM_SEGMENTS)
        self._firsts = memory_map(generation / TERM_CHUNKS)
        self.mapped = [
            MappedFile.of(generation / name, array)
            for name, array in (
                (TERM_IDS, self._ids),
                (TERM_SEGMENTS, self._segments),
                (TERM_CHUNKS, self._firsts),
            )
        ]
        if not (
            len(self._firsts) == chunks + 1
            and len(self._segments) == int(self._firsts[-1]) + 1
            and int(self._segments[-1]) == len(self._ids)
        ):
            # The loader reports it as damage, with how to rebuild (rag.store.index._read).
            raise ValueError(f"the files in {generation / TERMS} disagree with the index's {chunks} chunks")
        super().__init__(self._text, self._sentences, self._title)

    @cached_property
    def _vocab(self) -> list[str]:
        # Read on first use, not at load: a new process answering one question reads it then.
        return json.loads((self._generation / TERM_VOCAB).read_text(encoding="utf-8"))

    def _segment(self, segment: int) -> list[str]:
        vocab = self._vocab
        start, end = int(self._segments[segment]), int(self._segments[segment + 1])
        return [vocab[i] for i in self._ids[start:end].tolist()]

    def _text(self, position: int) -> tuple[str, ...]:
        return tuple(self._segment(int(self._firsts[position])))

    def _title(self, position: int) -> frozenset[str]:
        return frozenset(self._segment(int(self._firsts[position]) + 1))

    def _sentences(self, position: int) -> tuple[frozenset[str], ...]:
        first, end = int(self._firsts[position]), int(self._firsts[position + 1])
        return tuple(frozenset(self._segment(s)) for s in range(first + 2, end))


def write_terms(folder: Path, chunks: Sequence[Chunk]) -> None:
    """Stem ``chunks`` and write their words into ``folder/terms/`` (a generation being written)."""
    import numpy as np

    vocab: dict[str, int] = {}
    ids: list[int] = []
    segments = [0]
    firsts = [0]

    def add(words: Sequence[str]) -> None:
        ids.extend(vocab.setdefault(word, len(vocab)) for word in words)
        segments.append(len(ids))

    for chunk in chunks:
        add(tokenize(chunk.text))
        add(sorted(set(tokenize(chunk.title))))
        for sentence in chunk.sentences:
            add(sorted(set(tokenize(sentence.text))))
        firsts.append(len(segments) - 1)
    (folder / TERMS).mkdir()
    np.save(folder / TERM_IDS, np.asarray(ids, dtype=np.int32))
    np.save(folder / TERM_SEGMENTS, np.asarray(segments, dtype=np.int64))
    np.save(folder / TERM_CHUNKS, np.asarray(firsts, dtype=np.int64))
    (folder / TERM_VOCAB).write_text(json.dumps(list(vocab), ensure_ascii=False), encoding="utf-8")
