"""The query side of a Milvus store (rag.store.milvus): an Index whose first-stage search
runs in Milvus and whose chunk records and vectors are read on demand, in batches, and kept
in a bounded cache, so a replica holds no copy of the collection."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import IndexCorruptError
from rag.records import Chunk
from rag.store.index import Index

if TYPE_CHECKING:
    import numpy as np

    from rag.store.milvus import MilvusStore


FETCH_ROWS = 4_096  # ids per get/query request (Milvus caps a query at 16,384 results)
CACHED_ROWS = 65_536  # chunk records and sentence vectors kept per process, most recent first


def term_key(term: str) -> str:
    """A stemmed word as 16 hex digits: one token to any analyzer (64 bits: no collisions
    in practice at a vocabulary of millions)."""
    return hashlib.blake2b(term.encode("utf-8"), digest_size=8).hexdigest()


class _Rows:
    """Rows of a Milvus collection by id, fetched in batches and kept (most recent first)."""

    def __init__(self, store: MilvusStore, collection: str, field: str, size: int):
        self.store, self.collection, self.field, self.size = store, collection, field, size
        self.cache: OrderedDict[int, Any] = OrderedDict()

    def __len__(self) -> int:
        return self.size

    def fetch(self, ids: Iterable[int]) -> None:
        """Read the rows of ``ids`` not yet cached, in as few requests as possible."""
        missing = sorted({int(i) for i in ids} - self.cache.keys())
        for start in range(0, len(missing), FETCH_ROWS):
            part = missing[start : start + FETCH_ROWS]
            rows = self.store.call("read", "get", self.collection, ids=part, output_fields=[self.field])
            if len(rows) != len(part):
                raise IndexCorruptError(
                    f"The index in {self.store.label} lost rows of {self.collection}; rebuild it with "
                    f"`rag index --store {self.store.label} PATHS…`."
                )
            for row in rows:
                self.cache[int(row["id"])] = self.decode(row[self.field])
        while len(self.cache) > CACHED_ROWS:
            self.cache.popitem(last=False)

    def decode(self, value: Any) -> Any:
        return value

    def one(self, i: int) -> Any:
        if not 0 <= i < self.size:
            raise IndexError(i)
        value = self.cache.get(i)
        if value is None:
            self.fetch([i])
            value = self.cache[i]
        else:
            self.cache.move_to_end(i)
        return value


class _Vectors(_Rows):
    """A read-only float32 [size, dim] table: ``table[i]`` and ``table[[i, j, …]]`` as numpy."""

    def decode(self, value: Any) -> Any:
        import numpy as np

        return np.asarray(value, dtype=np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        import numpy as np

        if isinstance(key, (int, np.integer)):
            return self.one(int(key))
        ids = [int(i) for i in key]
        self.fetch(ids)
        if not ids:
            return np.zeros((0, self.store_dimension), dtype=np.float32)
        return np.stack([self.one(i) for i in ids])

    store_dimension = 0


class _Records(_Rows, Sequence[Chunk]):
    """The chunk records: ``records[position]`` is a Chunk, ``records.rows(position)`` its
    sentence rows."""

    def decode(self, value: Any) -> tuple[Chunk, list[int]]:
        row = json.loads(value)
        rows = row.pop("rows")
        return Chunk.from_json(row), rows

    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return [self.one(i)[0] for i in range(*position.indices(self.size))]
        return self.one(int(position))[0]

    def rows(self, position: int) -> list[int]:
        return list(self.one(int(position))[1])


class _SentenceRows(Sequence[list[int]]):
    def __init__(self, records: _Records):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, position: Any) -> Any:
        return self.records.rows(position)


@dataclass
class MilvusIndex(Index):
    """An index whose first-stage search runs in Milvus and whose records and vectors are
    read on demand (a question reads a few dozen chunks), so a replica holds no copy."""

    store: MilvusStore | None = None
    generation: str = ""
    checked: float = 0.0  # when the live generation was last compared with this one
    _terms_cache: dict[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def open(cls, store: MilvusStore, generation: str) -> MilvusIndex:
        """The index of ``generation``, with its manifest and document frequencies read.

        Raises:
            IndexCorruptError: a part of the generation is missing (a build dropped it, or it
                was damaged); UnsupportedFormatError; StoreError.
        """
        manifest = store.manifest_of(generation)
        doc_freq = store.get_json(generation, "doc_freq")
        chunks_name, sentences_name = (store.collection(generation, p) for p in ("chunks", "sentences"))
        for name in (chunks_name, sentences_name):
            if not store.call("open", "has_collection", name):
                raise IndexCorruptError(
                    f"The index in {store.label} is missing {name}; rebuild it with "
                    f"`rag index --store {store.label} PATHS…`."
                )
            store.call("open", "load_collection", name)
        records = _Records(store, chunks_name, "record", manifest.chunks)
        chunk_vectors = _Vectors(store, chunks_name, "vector", manifest.chunks)
        sentence_vectors = _Vectors(store, sentences_name, "vector", manifest.sentences)
        chunk_vectors.store_dimension = sentence_vectors.store_dimension = manifest.dimension
        return cls(
            path=Path(store.label) / generation,
            manifest=manifest,
            chunks=records,  # type: ignore[arg-type]
            sentence_rows=_SentenceRows(records),  # type: ignore[arg-type]
            chunk_vectors=chunk_vectors,  # type: ignore[arg-type]
            sentence_vectors=sentence_vectors,  # type: ignore[arg-type]
            faiss=None,
            bm25=None,  # type: ignore[arg-type]  # Milvus scores BM25 itself (lexical_search)
            doc_freq=doc_freq,
            store=store,
            generation=generation,
            checked=time.monotonic(),
        )

    @property
    def size(self) -> int:  # noqa: D102 - see Index
        return self.manifest.chunks

    @property
    def location(self) -> str:  # noqa: D102
        return self._store.label

    @property
    def _store(self) -> MilvusStore:
        assert self.store is not None
        return self.store

    def _collection(self, part: str) -> str:
        return self._store.collection(self.generation, part)

    def dense_search(self, vector: np.ndarray, depth: int) -> dict[int, float]:  # noqa: D102
        found = self._store.call(
            "search",
            "search",
            self._collection("chunks"),
            data=[vector.tolist()],
            anns_field="vector",
            limit=min(depth, self.size),
            search_params={"metric_type": "IP"},
            output_fields=[],
        )
        return {int(hit["id"]): float(hit["distance"]) for hit in found[0]}

    def lexical_search(self, terms: list[str], depth: int) -> dict[int, float]:  # noqa: D102
        if not terms:
            return {}
        found = self._store.call(
            "search",
            "search",
            self._collection("chunks"),
            data=[" ".join(map(term_key, terms))],
            anns_field="sparse",
            limit=min(depth, self.size),
            search_params={"metric_type": "BM25"},
            output_fields=[],
        )
        # Milvus Lite reports BM25 as a negative distance, a server as the score itself.
        scores = {int(hit["id"]): abs(float(hit["distance"])) for hit in found[0]}
        return {p: s for p, s in scores.items() if s > 0}

    def cosines(self, positions: list[int], vector: np.ndarray) -> list[float]:  # noqa: D102
        return list(map(float, self.chunk_vectors[positions] @ vector))

    def chunks_with(self, term: str, positions: np.ndarray) -> np.ndarray:  # noqa: D102
        import numpy as np

        return np.array([term in self._bm25_terms(int(p)) for p in positions], dtype=bool)

    def _bm25_terms(self, position: int) -> frozenset[str]:
        """The words BM25 indexed for a chunk (its title and cleaned sentences, as the build
        tokenized them: the folder index reads the same set off bm25s's matrix), cached."""
        found = self._terms_cache.get(position)
        if found is None:
            from rag.ingest.chunking import embedding_text
            from rag.ingest.lexical import tokenize

            chunk = self.chunks[position]
            found = frozenset(tokenize(embedding_text(chunk.title, chunk.sentences)))
            if len(self._terms_cache) >= CACHED_ROWS:
                self._terms_cache.clear()
            self._terms_cache[position] = found
        return found

    def prefetch(self, positions: Iterable[int], *, sentences: bool = False) -> None:  # noqa: D102
        records: _Records = self.chunks  # type: ignore[assignment]
        positions = list(positions)
        records.fetch(positions)
        if sentences:
            vectors: _Vectors = self.sentence_vectors  # type: ignore[assignment]
            vectors.fetch(row for p in positions for row in records.rows(p))

    def in_memory(self) -> Index:
        """Every record and vector read into memory (for a build that reuses them)."""
        import numpy as np

        records: _Records = self.chunks  # type: ignore[assignment]
        vectors: _Vectors = self.chunk_vectors  # type: ignore[assignment]
        sentences: _Vectors = self.sentence_vectors  # type: ignore[assignment]
        chunks, rows, chunk_vectors = [], [], np.zeros((self.size, self.manifest.dimension), np.float32)
        for start in range(0, self.size, FETCH_ROWS):
            ids = range(start, min(start + FETCH_ROWS, self.size))
            for value in self._read(records, ids):
                chunks.append(value[0])
                rows.append(value[1])
            chunk_vectors[start : start + len(ids)] = self._read(vectors, ids)
        sentence_vectors = np.zeros((self.manifest.sentences, self.manifest.dimension), np.float32)
        for start in range(0, self.manifest.sentences, FETCH_ROWS):
            ids = range(start, min(start + FETCH_ROWS, self.manifest.sentences))
            sentence_vectors[start : start + len(ids)] = self._read(sentences, ids)
        return replace(
            self,
            chunks=chunks,
            sentence_rows=rows,
            chunk_vectors=chunk_vectors,
            sentence_vectors=sentence_vectors,
        )

    def _read(self, table: _Rows, ids: range) -> list[Any]:
        """Rows ``ids`` in order, read in one query without filling the cache."""
        found = self._store.call(
            "read",
            "query",
            table.collection,
            filter=f"id >= {ids.start} and id < {ids.stop}",
            output_fields=[table.field],
        )
        by_id = {int(row["id"]): table.decode(row[table.field]) for row in found}
        if len(by_id) != len(ids):
            raise IndexCorruptError(
                f"The index in {self.location} lost rows of {table.collection}; rebuild it with "
                f"`rag index --store {self.location} PATHS…`."
            )
        return [by_id[i] for i in ids]

    def outdated(self) -> bool:
        """True when another build made a new generation live (checked at most once a second:
        replicas sharing one server pick up each other's uploads)."""
        now = time.monotonic()
        if now - self.checked < 1.0:
            return False
        self.checked = now
        return self._store.generation() != self.generation
