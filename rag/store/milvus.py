"""An index kept in Milvus through pymilvus's ``MilvusClient``: a Milvus Lite file
(``milvus:./rag.db``) or a Milvus server or cluster (``milvus://HOST:19530``).

Milvus holds what the index folder holds, one build (a *generation*) per pair of collections::

    rag_meta                      key -> value: "current" names the live generation; each
                                  generation's manifest and BM25 document frequencies, as JSON
                                  in pieces (a VARCHAR holds 65,535 bytes)
    rag_<generation>_chunks       id (= chunk position), vector (cosine via inner product),
                                  terms -> sparse (Milvus's BM25 function), record (chunk JSON)
    rag_<generation>_sentences    id (= sentence row), vector

A build fills a new generation's collections, writes its manifest, and only then upserts
"current": one row, so the switch is atomic and a crash mid-build leaves the previous index
live. The generation before the live one is kept (a replica may be mid-question on it); older
ones are dropped by the next build.

Ranking stays rag's: Milvus only returns the first-stage candidates (dense top-N and BM25
top-N, see rag.store.milvus_index); fusion, reranking and abstention run unchanged. The BM25
words are rag's own stemmed terms (rag.ingest.lexical.tokenize), each written as a hex key
so that any Milvus analyzer keeps it whole; the engine computes the BM25 weights with the
same k1 and b as bm25s. Two differences remain: Milvus keeps BM25 statistics per segment
(a large collection's scores differ slightly from one global index), and Milvus Lite reports
BM25 as a negative distance (its sign is dropped here).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import (
    ConfigError,
    IndexCorruptError,
    IndexNotFoundError,
    StoreDamagedError,
    StoreError,
    UnsupportedFormatError,
)
from rag.store.base import IndexContents, IntegrityReport
from rag.store.generations import FORMAT_VERSION, LOAD_ATTEMPTS, IndexSummary, Manifest
from rag.store.index import Index
from rag.store.milvus_index import FETCH_ROWS, MilvusIndex, term_key

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np


PREFIX = "rag"
META = f"{PREFIX}_meta"
CURRENT_KEY = "current"
PIECE_CHARS = 16_000  # a VARCHAR holds 65,535 bytes: 16,000 characters of at most 4 bytes each
MAX_VARCHAR = 65_535
INSERT_ROWS = 512  # rows per insert request: well under gRPC's 64 MB message limit at 384-d
# bm25s's defaults ("lucene" variant), so both stores weigh words alike.
BM25_K1, BM25_B = 1.5, 0.75
TIMEOUT_S = 10.0  # connecting, and each request


@dataclass(frozen=True)
class Address:
    """Where a Milvus store is: the URI pymilvus takes, and whether it is a Lite file."""

    spec: str
    uri: str
    lite: bool


def parse_spec(spec: str) -> Address:
    """``milvus:./rag.db`` (Milvus Lite), ``milvus://HOST:PORT`` or ``milvus:https://HOST``.

    Raises:
        ConfigError: not one of those forms.
    """
    rest = spec.removeprefix("milvus:")
    if rest.startswith("//"):
        return Address(spec, f"http:{rest}", lite=False)
    if rest.startswith(("http://", "https://")):
        return Address(spec, rest, lite=False)
    if not rest.endswith(".db"):
        raise ConfigError(
            f"{spec!r} is not a Milvus address: a Milvus Lite file ends in .db (milvus:./rag.db), "
            "a server is milvus://HOST:19530 or milvus:https://HOST."
        )
    return Address(spec, str(Path(rest).expanduser().absolute()), lite=True)


@contextlib.contextmanager
def _clear_errors(address: Address, doing: str) -> Iterator[None]:
    """pymilvus and gRPC errors as one StoreError line that names the fix."""
    try:
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise ConfigError(
            f"The store {address.spec} needs pymilvus: install rag's scale extra (pip install 'rag[scale]')."
        ) from None
    try:
        yield
    except MilvusException as error:
        message = str(error.message or error)
        if address.lite and _DAMAGE.search(message):
            raise StoreDamagedError(_damaged(address, message)) from None
        raise StoreError(_explain(address, doing, message, _causes(error))) from None
    except (ConnectionError, OSError, RuntimeError) as error:  # gRPC's own, and Lite's lock
        raise StoreError(_explain(address, doing, str(error))) from None


# What Milvus Lite says when one of its files is truncated or overwritten.
_DAMAGE = re.compile(
    r"parquet|magic bytes|corrupt|checksum|json|unexpected end|invalid (file|manifest)", re.I
)


def _damaged(address: Address, message: str) -> str:
    """One line naming the damage and the fix (``rag index`` repairs a Lite file)."""
    reason = message.strip().splitlines()[0][:300]
    return (
        f"The Milvus Lite store {address.uri} is damaged ({reason}). Rebuild it with "
        f"`rag index --store {address.spec} PATHS…`: the damaged copy is set aside beside it."
    )


def _causes(error: BaseException) -> str:
    """The details of the errors behind ``error``: pymilvus reports a refused login while
    connecting as "Fail connecting to server", and only the gRPC error it wraps says why
    (UNAUTHENTICATED, "auth check failure…")."""
    found: list[str] = []
    cause = error.__cause__ or error.__context__
    for _ in range(10):  # a chain can loop back on itself (pymilvus re-raises "from e" as e)
        if cause is None:
            break
        code = getattr(cause, "code", None)
        details = getattr(cause, "details", None)
        if callable(code) and callable(details) and details() not in found:  # a grpc.RpcError
            found.append(str(details()))
        cause = cause.__cause__ or cause.__context__
    return "; ".join(found)


def _explain(address: Address, doing: str, message: str, causes: str = "") -> str:
    lowered = f"{message} {causes}".lower()
    if address.lite and ("lock" in lowered or "in use" in lowered or "unavailable" in lowered):
        return (
            f"Cannot {doing} {address.spec}: another process has the Milvus Lite file open (Lite "
            "allows one). Stop it, or share one server: `milvus-lite server --data-dir "
            f"{address.uri}` and --store milvus://127.0.0.1:19530."
        )
    if any(word in lowered for word in ("auth", "token", "password", "permission", "denied", "401")):
        reason = causes if "auth" in causes.lower() else message.strip()
        return (
            f"Milvus at {address.uri} refused the credentials ({reason}); set "
            "RAG_MILVUS_TOKEN to user:password or the cluster's API key."
        )
    if any(word in lowered for word in ("connect", "unavailable", "deadline", "timeout", "timed out")):
        return (
            f"Cannot reach Milvus at {address.uri} to {doing} ({message.strip()}); start the "
            "server or fix --store / RAG_STORE."
        )
    return f"Milvus at {address.uri} failed to {doing}: {message.strip()}"


def _documents(contents: IndexContents) -> dict[str, list[Any]]:
    """source -> [chunks, document title] (the first part of a "Document › Section" title)."""
    documents: dict[str, list[Any]] = {}
    for chunk in contents.chunks:
        entry = documents.setdefault(chunk.source, [0, chunk.title.split(" › ")[0]])
        entry[0] += 1
    return documents


class MilvusStore:
    """An index in Milvus (see the module docstring); implements rag.store.base.Store.

    Usage example::

        store = MilvusStore("milvus:./rag.db", Path("index"))
        index = store.load()
    """

    def __init__(self, spec: str, index_dir: Path):
        self.address = parse_spec(spec)
        self.index_dir = index_dir
        self._client_: Any = None
        self._meta_loaded = False

    @property
    def key(self) -> str:  # noqa: D102 - see Store
        return f"milvus:{self.address.uri}"

    @property
    def label(self) -> str:  # noqa: D102
        return self.address.spec

    def client(self) -> Any:
        """The pymilvus MilvusClient, connected on first use (a Lite file starts its engine
        in this process)."""
        if self._client_ is None:
            from rag.config import settings

            with _clear_errors(self.address, "open"):
                from pymilvus import MilvusClient

                # pymilvus logs each failed call with its whole traceback (~50 lines) before
                # raising; rag reports the error itself, in one line (_clear_errors).
                logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
                logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
                token = settings().milvus_token or ""
                self._client_ = MilvusClient(uri=self.address.uri, token=token, timeout=TIMEOUT_S)
        return self._client_

    def call(self, doing: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.method(*args, **kwargs)`` with pymilvus's errors as one StoreError line."""
        with _clear_errors(self.address, doing):
            return getattr(self.client(), method)(*args, **kwargs)

    # Store interface ------------------------------------------------------------------

    def exists(self) -> bool:  # noqa: D102
        return self.generation() is not None

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """A file lock beside the Lite file, or in the index folder for a server: builds on
        this machine wait for each other. Builds from several machines into one server must
        be run one at a time by whoever runs them (Milvus has no lock to take)."""
        from filelock import FileLock

        if self.address.lite:
            Path(self.address.uri).parent.mkdir(parents=True, exist_ok=True)
            return self._repairing(FileLock(f"{self.address.uri}.build-lock"))
        self.index_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(self.index_dir / ".milvus-build-lock")

    @contextlib.contextmanager
    def _repairing(self, lock: Any) -> Iterator[None]:
        """Hold ``lock``; first, when the Lite store is damaged, set it aside so that the build
        under the lock writes a new one (the damaged files are kept, renamed, for inspection)."""
        with lock:
            try:  # Lite opens each collection's files on first use: touch the live ones
                generation = self.generation()
                if generation is not None:
                    for part in ("chunks", "sentences"):
                        self.call("open", "has_collection", self.collection(generation, part))
            except StoreDamagedError as error:
                self._set_aside(str(error))
            yield

    def _set_aside(self, why: str) -> None:
        from milvus_lite.server_manager import server_manager_instance

        if self._client_ is not None:
            with contextlib.suppress(Exception):
                self._client_.close()
            self._client_ = None
        self._meta_loaded = False
        server_manager_instance.release_server(self.address.uri)  # its in-process engine
        damaged = Path(self.address.uri)
        kept = damaged.with_name(f"{damaged.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        if damaged.exists():
            damaged.rename(kept)
        log.warning("%s Set aside as %s; rebuilding.", why.split(". Rebuild")[0], kept)

    def load(self) -> Index:  # noqa: D102
        for attempt in range(LOAD_ATTEMPTS):
            generation = self.generation()
            if generation is None:
                raise IndexNotFoundError(
                    f"No index in {self.label}: build one with `rag index --store {self.label} PATHS…`."
                )
            try:
                return MilvusIndex.open(self, generation)
            except IndexCorruptError:
                if self.generation() != generation and attempt + 1 < LOAD_ATTEMPTS:
                    continue  # a build switched and dropped it while we read: read the new one
                raise
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def manifest(self) -> Manifest | None:  # noqa: D102
        generation = self.generation()
        try:
            return self.manifest_of(generation) if generation else None
        except IndexCorruptError:
            return None

    def damaged(self, manifest: Manifest) -> list[str]:
        """The collections of the live generation that are missing or hold another count of rows."""
        generation = self.generation()
        if generation is None:
            return []
        damaged = []
        for part, expected in (("chunks", manifest.chunks), ("sentences", manifest.sentences)):
            name = self.collection(generation, part)
            if not self.call("check", "has_collection", name) or self._count(name) != expected:
                damaged.append(name)
        return damaged

    def check(self) -> IntegrityReport:
        """Each collection of the live generation against the row counts its manifest records
        (a Lite store whose files cannot be opened at all is reported as damaged whole)."""
        try:
            manifest = self.load().manifest  # raises when nothing was built, or it cannot be read
        except StoreDamagedError:
            return IntegrityReport(
                self.label,
                1,
                [self.address.uri],
                "files can be opened",
                f"`rag index --store {self.label} PATHS…`",
            )
        return IntegrityReport(
            self.label,
            2,
            self.damaged(manifest),
            "collections hold the rows the manifest records",
            f"`rag index --store {self.label} PATHS…`",
        )

    def write(self, manifest: Manifest, contents: IndexContents) -> None:  # noqa: D102
        generation = f"g{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:8]}"
        previous = self.generation()
        manifest.faiss_type = "milvus"
        manifest.sizes = {"chunks": len(contents.chunks), "sentences": len(contents.sentence_vectors)}
        manifest.checksums = {}
        try:
            self._ensure_meta()
            self._write_chunks(generation, contents, manifest.dimension)
            self._write_sentences(generation, contents.sentence_vectors, manifest.dimension)
            self._put_json(generation, "manifest", asdict(manifest))
            self._put_json(generation, "doc_freq", dict(contents.doc_freq))
            self._put_json(generation, "documents", _documents(contents))
            self.call("write", "flush", META)
            # The switch: one row, written after everything it points at.
            self.call(
                "switch", "upsert", META, [{"key": CURRENT_KEY, "value": generation, "unused": [0.0, 0.0]}]
            )
            self.call("switch", "flush", META)
        except BaseException:
            with contextlib.suppress(Exception):  # never half-written: drop what was made
                self._drop(generation)
            raise
        self._drop_stale(keep={generation, previous})

    def summary(self) -> IndexSummary:
        """Per source file: chunks, title, when embedded; read from one JSON value the build
        wrote, not from the chunk rows (the documents list must not scan millions of rows)."""
        from collections import Counter

        generation = self.generation()
        manifest = self.manifest_of(generation) if generation else None
        if generation is None or manifest is None:
            return IndexSummary(Counter(), {}, {})
        documents = self.get_json(generation, "documents")
        chunks = Counter({source: count for source, (count, _) in documents.items()})
        titles = {source: title for source, (_, title) in documents.items()}
        indexed = {source: manifest.indexed.get(source, manifest.created) for source in manifest.files}
        return IndexSummary(chunks, titles, indexed)

    # Helpers ----------------------------------------------------------------------------

    @staticmethod
    def collection(generation: str, part: str) -> str:
        """The Milvus collection holding one part ("chunks", "sentences") of a generation."""
        return f"{PREFIX}_{generation}_{part}"

    def generation(self) -> str | None:  # noqa: D102 - see Store
        if not self.call("open", "has_collection", META):
            return None
        if not self._meta_loaded:  # a server keeps collections released until asked
            self.call("open", "load_collection", META)
            self._meta_loaded = True
        rows = self.call("read", "get", META, ids=[CURRENT_KEY], output_fields=["value"])
        return rows[0]["value"] if rows else None

    def _count(self, name: str) -> int:
        rows = self.call("count", "query", name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def manifest_of(self, generation: str) -> Manifest:
        """The manifest of ``generation``.

        Raises:
            UnsupportedFormatError: written by an incompatible version; IndexCorruptError, StoreError.
        """
        row = self.get_json(generation, "manifest")
        if row.get("format_version") != FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"The index in {self.label} has format version {row.get('format_version')}; this "
                f"rag reads version {FORMAT_VERSION}: rebuild it with "
                f"`rag index --store {self.label} --force PATHS…`."
            )
        return Manifest.from_json(row)

    def _ensure_meta(self) -> None:
        from pymilvus import DataType

        if self.call("create", "has_collection", META):
            return
        schema = self.call("create", "create_schema", auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("value", DataType.VARCHAR, max_length=MAX_VARCHAR)
        # Milvus wants a vector field in every collection; this one is never searched.
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        params = self.call("create", "prepare_index_params")
        params.add_index("unused", index_type="FLAT", metric_type="L2")
        self._create(META, schema, params)

    def _create(self, name: str, schema: Any, params: Any) -> None:
        """Create and load a collection. The index is built without waiting: pymilvus's wait
        asks for a timestamp Milvus Lite does not serve (a logged error and 0.5 s each)."""
        self.call("create", "create_collection", name, schema=schema)
        self.call("create", "create_index", name, params, sync=False)
        self.call("create", "load_collection", name)

    def _put_json(self, generation: str, name: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False)
        pieces = [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)] or [""]
        rows = [{"key": f"{generation}/{name}/count", "value": str(len(pieces)), "unused": [0.0, 0.0]}]
        rows += [
            {"key": f"{generation}/{name}/{i}", "value": p, "unused": [0.0, 0.0]}
            for i, p in enumerate(pieces)
        ]
        for start in range(0, len(rows), INSERT_ROWS):
            self.call("write", "upsert", META, rows[start : start + INSERT_ROWS])

    def get_json(self, generation: str, name: str) -> Any:
        """A JSON value a build stored beside ``generation`` (manifest, doc_freq), read back whole.

        Raises:
            IndexCorruptError: its parts are incomplete; StoreError.
        """
        try:
            counted = self.call(
                "read", "get", META, ids=[f"{generation}/{name}/count"], output_fields=["value"]
            )
            count = int(counted[0]["value"])
            keys = [f"{generation}/{name}/{i}" for i in range(count)]
            found: dict[str, str] = {}
            for start in range(0, len(keys), FETCH_ROWS):
                rows = self.call(
                    "read", "get", META, ids=keys[start : start + FETCH_ROWS], output_fields=["value"]
                )
                found.update((row["key"], row["value"]) for row in rows)
            return json.loads("".join(found[key] for key in keys))
        except (IndexError, KeyError, ValueError) as error:
            raise IndexCorruptError(
                f"The {name} of the index in {self.label} is incomplete ({type(error).__name__}); "
                f"rebuild it with `rag index --store {self.label} PATHS…`."
            ) from error

    def _write_chunks(self, generation: str, contents: IndexContents, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        name = self.collection(generation, "chunks")
        schema = self.call("create", "create_schema", auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("title", DataType.VARCHAR, max_length=4096)
        schema.add_field("record", DataType.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        params = self.call("create", "prepare_index_params")
        # FLAT: exact, as the index folder is up to 20,000 chunks; a server with millions of
        # chunks would want AUTOINDEX (HNSW) here, traded against recall (not measured here).
        params.add_index("vector", index_type="FLAT", metric_type="IP")
        params.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
        self._create(name, schema, params)
        batch: list[dict[str, Any]] = []
        for position, (chunk, rows, terms) in enumerate(
            zip(contents.chunks, contents.rows, contents.terms, strict=True)
        ):
            record = json.dumps({**chunk.to_json(), "rows": rows}, ensure_ascii=False)
            keys = " ".join(map(term_key, terms))
            if len(record.encode("utf-8")) > MAX_VARCHAR or len(keys) > MAX_VARCHAR:
                raise StoreError(
                    f"A chunk of {chunk.source} is too large for a Milvus text field ({MAX_VARCHAR:,} "
                    "bytes); index it into the default store, or split the document."
                )
            batch.append(
                {
                    "id": position,
                    "vector": contents.chunk_vectors[position].tolist(),
                    # A chunk without words still needs one token for the BM25 function.
                    "terms": keys or "0",
                    "source": chunk.source,
                    "title": chunk.title[:1000],
                    "record": record,
                }
            )
            if len(batch) == INSERT_ROWS:
                self.call("write", "insert", name, batch)
                batch = []
        if batch:
            self.call("write", "insert", name, batch)
        self.call("write", "flush", name)

    def _write_sentences(self, generation: str, vectors: np.ndarray, dimension: int) -> None:
        from pymilvus import DataType

        name = self.collection(generation, "sentences")
        schema = self.call("create", "create_schema", auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        params = self.call("create", "prepare_index_params")
        params.add_index("vector", index_type="FLAT", metric_type="IP")
        self._create(name, schema, params)
        for start in range(0, len(vectors), INSERT_ROWS):
            rows = [
                {"id": start + i, "vector": vector.tolist()}
                for i, vector in enumerate(vectors[start : start + INSERT_ROWS])
            ]
            self.call("write", "insert", name, rows)
        self.call("write", "flush", name)

    def _drop(self, generation: str) -> None:
        for part in ("chunks", "sentences"):
            name = self.collection(generation, part)
            if self.call("drop", "has_collection", name):
                self.call("drop", "drop_collection", name)
        if self.call("drop", "has_collection", META):
            self.call("drop", "delete", META, filter=f'key like "{generation}/%"')

    def _drop_stale(self, keep: set[str | None]) -> None:
        """Drop the generations not in ``keep`` (collections and their manifest rows)."""
        stale = set()
        for name in self.call("drop", "list_collections"):
            if name.startswith(f"{PREFIX}_g") and name.rsplit("_", 1)[-1] in ("chunks", "sentences"):
                generation = name[len(PREFIX) + 1 :].rsplit("_", 1)[0]
                if generation not in keep:
                    stale.add(generation)
        for generation in stale:
            self._drop(generation)
