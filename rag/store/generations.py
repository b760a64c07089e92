"""The index on disk: a folder of plain files per generation, switched atomically.

Layout of an index folder::

    index/
      CURRENT              name of the live generation, replaced atomically (os.replace)
      gen-<time>-<id>/     one complete build
        manifest.json      format version, embedder, chunker settings, per-file hashes, sizes
        chunks.jsonl       one chunk per line, with the rows of its sentences' vectors
        chunk_vectors.npy  float32 [chunks, dim], L2-normalised
        sentence_vectors.npy float32 [sentences, dim]
        faiss.index        FAISS index over chunk_vectors (inner product = cosine)
        bm25/              bm25s index over the same chunks
        terms/             the chunks' stemmed words (rag.store.terms)

A build writes a new generation beside the live one and only then points CURRENT at it, so a
crash mid-build leaves the previous index loadable. Readers pin the generation CURRENT names
when they open it (:func:`read_live`) and hold the readers' lock (``.readers``) while they read
it; generations that are no longer live are removed, by every build and every load
(:func:`collect_garbage`), only while no reader holds it. So a reader always sees one whole
generation, however often builds switch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import IndexCorruptError, IndexNotFoundError, UnsupportedFormatError

FORMAT_VERSION = 1
# Every name inside an index folder, here and nowhere else.
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
CHUNK_VECTORS = "chunk_vectors.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
FAISS = "faiss.index"
BM25 = "bm25"
DOC_FREQ = f"{BM25}/doc_freq.json"  # stemmed term -> chunks holding it, beside bm25s's own files
# The chunks' stemmed words (rag.store.terms explains the layout).
TERMS = "terms"
TERM_IDS = f"{TERMS}/ids.npy"  # int32 [words]: ids into TERM_VOCAB, segment after segment
TERM_SEGMENTS = f"{TERMS}/segments.npy"  # int64 [segments + 1]: where each segment starts
TERM_CHUNKS = f"{TERMS}/chunks.npy"  # int64 [chunks + 1]: each chunk's first segment
TERM_VOCAB = f"{TERMS}/vocab.json"  # the stemmed words, by id
LOCK = ".lock"
# filelock's ReadWriteLock (an SQLite file): loads share it while they read a generation;
# removing old generations takes it alone. Separate from LOCK, which a build holds for its
# whole run: readers must not wait for builds, only for the removal that follows one.
READERS = ".readers"
GENERATION_PREFIX = "gen-"
# Files a load reads in full: their checksums are checked on every load, at the cost of
# ~1 ms per 6 MB (CRC-32 runs at ~6 GB/s here). The vector files are memory-mapped, read a
# few rows per question, so reading them whole on every load would cost more than the rest
# of the load; they are checked by every build (before any vector is reused) and by
# `rag index --check`.
# The chunks' stemmed words (rag.store.terms) are memory-mapped too.
MEMORY_MAPPED = frozenset({CHUNK_VECTORS, SENTENCE_VECTORS, TERM_IDS, TERM_SEGMENTS, TERM_CHUNKS})
# Without the readers' lock (a folder where it cannot be created), a reader that finds its
# generation switched and removed under it starts again; each retry follows a completed build.
LOAD_ATTEMPTS = 8
# Seconds a load waits for the readers' lock, and a build for the loads in flight before it
# sets old generations aside. Short: past it a load reads unlocked (safe, with retries), and
# the build leaves the removal to the next build or load. A waiting build also holds back
# new loads, and a file system whose locks fail (NFS without its lock service) reports the
# lock as busy, so every load would pay the whole wait.
READERS_WAIT_S = 2.0
TRASH = ".trash.tmp"  # suffix of a generation set aside for removal (deleted outside the lock)

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class Manifest:
    """What an index was built from and with; checked on every load."""

    embedder: str
    dimension: int
    chunker: dict[str, Any]
    files: dict[str, str]  # source -> sha256 of its content
    chunks: int
    sentences: int
    faiss_type: str = "flat"
    tokenizer: int = 1  # rag.ingest.lexical.TOKENIZER_VERSION of its BM25 words (1: before it was recorded)
    format_version: int = FORMAT_VERSION
    created: float = field(default_factory=time.time)
    sizes: dict[str, int] = field(default_factory=dict)  # file name -> bytes, to spot truncation
    # file name -> "crc32:<8 hex digits>", to spot bytes changed in place (not tampering: CRC
    # detects accidental damage such as a bad disk or a partial copy, which is the risk here).
    checksums: dict[str, str] = field(default_factory=dict)
    indexed: dict[str, float] = field(default_factory=dict)  # source -> when its chunks were embedded
    # source -> the folder, file or JSONL file it was read from: `rag index FOLDER` removes
    # what that folder no longer holds and keeps what came from elsewhere.
    origins: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Manifest:
        """A manifest from its JSON object; keys this version does not know are ignored."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in row.items() if k in known})


def rebuild_hint(index_dir: Path) -> str:
    """The command that rebuilds ``index_dir``, for error messages."""
    return f"rebuild it with `rag index --index {index_dir} PATHS…` (or delete {index_dir})"


def checksum(path: Path) -> str:
    """The CRC-32 of a file's bytes as the manifest records it ("crc32:1a2b3c4d")."""
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return f"crc32:{crc:08x}"


def damaged_files(generation: Path, manifest: Manifest, *, everything: bool = True) -> list[str]:
    """The files of ``generation`` whose bytes no longer match the manifest's checksums.

    ``everything=False`` skips the memory-mapped vector files (the load-time check). An
    index written before checksums were recorded has none to check and gives [].
    """
    damaged = []
    for name, expected in manifest.checksums.items():
        if not everything and name in MEMORY_MAPPED:
            continue
        path = generation / name
        if not path.is_file() or checksum(path) != expected:
            damaged.append(name)
    return damaged


def live_generation(index_dir: Path) -> Path:
    """The folder of the live generation.

    Raises:
        IndexNotFoundError: no index was ever built there.
        IndexCorruptError: CURRENT points at a missing folder.
    """
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"No index in {index_dir}: build one with `rag index --index {index_dir} PATHS…`."
        )
    generation = index_dir / pointer.read_text(encoding="utf-8").strip()
    if not generation.is_dir():
        raise IndexCorruptError(f"The index in {index_dir} is incomplete; {rebuild_hint(index_dir)}.")
    return generation


def read_manifest(generation: Path, index_dir: Path) -> Manifest:
    """Read and check a generation's manifest and the sizes of its files."""
    try:
        manifest = Manifest.from_json(json.loads((generation / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as error:
        raise IndexCorruptError(
            f"The index manifest in {index_dir} is unreadable ({error}); {rebuild_hint(index_dir)}."
        ) from error
    if manifest.format_version != FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"The index in {index_dir} has format version {manifest.format_version}; this rag "
            f"reads version {FORMAT_VERSION}: {rebuild_hint(index_dir)}."
        )
    for name, size in manifest.sizes.items():
        path = generation / name
        if not path.is_file() or path.stat().st_size != size:
            raise IndexCorruptError(f"Index file {path} is missing or truncated; {rebuild_hint(index_dir)}.")
    return manifest


def read_live(index_dir: Path, read: Callable[[Path], T]) -> T:
    """``read(generation)`` on the live generation, pinned: one whole generation or an error.

    The read holds the readers' lock shared (:func:`readers_lock`), so no build or load
    removes the generation under it. Where that lock cannot be had (it cannot be created,
    or a removal holds it past :data:`READERS_WAIT_S`) the read goes on unlocked: if CURRENT
    names another generation after a failed read, the generation was switched and removed
    under it, and the read starts again on the new one. An error on a generation that is
    still live is real and raised.

    Raises:
        IndexNotFoundError, IndexCorruptError, UnsupportedFormatError: as ``read`` raises them.
    """
    from filelock import Timeout

    try:
        with readers_lock(index_dir, exclusive=False, timeout=READERS_WAIT_S):
            return _read_with_retries(index_dir, read)
    except Timeout:  # a removal that outlasts the wait: read unlocked, retrying on switches
        return _read_with_retries(index_dir, read)


def _read_with_retries(index_dir: Path, read: Callable[[Path], T]) -> T:
    for attempt in range(LOAD_ATTEMPTS):
        before = live_name(index_dir)
        try:
            return read(live_generation(index_dir))
        except (IndexCorruptError, OSError) as error:
            if live_name(index_dir) != before and attempt + 1 < LOAD_ATTEMPTS:
                continue  # switched under us: read the new generation
            if isinstance(error, IndexCorruptError):
                raise
            raise IndexCorruptError(
                f"The index in {index_dir} cannot be read ({error}); {rebuild_hint(index_dir)}."
            ) from error
    raise AssertionError("unreachable")  # the last attempt returns or raises


@contextlib.contextmanager
def readers_lock(index_dir: Path, *, exclusive: bool, timeout: float) -> Iterator[bool]:
    """Hold the readers' lock of ``index_dir``: shared to read a generation, exclusive to remove.

    filelock's ReadWriteLock (maintained; SQLite's own locking, so it also orders threads of one
    process, such as the server's build worker and its question handlers) rather than our own
    fcntl shared locks. ``timeout`` is in seconds; 0 does not wait.

    Yields:
        True while the lock is held; False where it cannot be had at all (a read-only folder,
        a lock file SQLite or filelock refuses), in which case the caller goes on unlocked.

    Raises:
        filelock.Timeout: the lock was not free within ``timeout`` (also what a file system
            whose locks fail reports).
    """
    import sqlite3

    from filelock import ReadWriteLock, Timeout

    with contextlib.ExitStack() as stack:
        try:
            lock = ReadWriteLock(index_dir / READERS, is_singleton=False)
            stack.callback(lock.close)
            stack.enter_context((lock.write_lock if exclusive else lock.read_lock)(timeout=timeout))
        except Timeout:  # an OSError too, but "busy", not "cannot be created"
            raise
        # filelock raises ValueError for a lock file it will not use (a WAL database, one
        # opened read-only) and RuntimeError across a fork.
        except (OSError, sqlite3.Error, ValueError, RuntimeError):
            held = False
        else:
            held = True
        yield held


def live_name(index_dir: Path) -> str | None:
    """The live generation's folder name, as CURRENT says (None: nothing built or unreadable)."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def collect_garbage(index_dir: Path, *, keep: str | None = None) -> list[str]:
    """Remove the generations that are not live, and staging folders of builds that died.

    Runs only while no build holds the index and no load is reading one (it takes the build
    lock and the readers' lock without waiting, and gives up if either is held: the build
    cleans up when it ends, and the next load tries again). A loaded index no longer needs its
    files on POSIX (the memory-mapped vectors stay readable); on Windows a file in use cannot
    be removed, and it is retried next time.

    Returns:
        The names removed.
    """
    from filelock import FileLock, Timeout

    if not (index_dir / CURRENT).is_file():
        return []
    try:
        lock = FileLock(index_dir / LOCK, timeout=0)
        lock.acquire()
    except (Timeout, OSError):  # a build is running, or the folder is read-only
        return []
    try:
        return _remove_stale(index_dir, keep or live_name(index_dir), wait=0)
    finally:
        lock.release()


def _remove_stale(index_dir: Path, live: str | None, *, wait: float) -> list[str]:
    """Remove every generation but ``live`` once no load is reading (waiting up to ``wait`` s).

    Under the readers' lock they are only renamed aside (milliseconds, however large), so
    loads never wait out the deletion, which runs after the lock is released.
    """
    from filelock import Timeout

    if live is None:
        return []
    try:
        with readers_lock(index_dir, exclusive=True, timeout=wait):
            doomed = [_set_aside(p) for p in index_dir.iterdir() if p.name != live and _is_stale(p.name)]
    except Timeout:
        return []  # loads are reading: the next build or load removes them
    for _, path in doomed:
        with contextlib.suppress(OSError):  # in use on Windows, say: the next build or load retries
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return [name for name, _ in doomed]


def _is_stale(name: str) -> bool:
    # Generations, staging folders and pointer files of builds that died, earlier trash.
    return name.startswith(GENERATION_PREFIX) or name.endswith(".tmp")


def _set_aside(path: Path) -> tuple[str, Path]:
    """(name, where it now is): renamed out of the way, or left where it is if it cannot be."""
    if path.name.endswith(TRASH):
        return path.name, path
    with contextlib.suppress(OSError):
        return path.name, path.rename(path.with_name(f".{path.name}{TRASH}"))
    return path.name, path


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder: other threads and processes wait.

    filelock (maintained, portable: fcntl on POSIX, msvcrt on Windows) rather than raw
    ``fcntl``, which does not exist on Windows.
    """
    from filelock import FileLock

    index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(index_dir / LOCK):
        yield


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_generation(index_dir: Path, manifest: Manifest, write_files: Callable[[Path], None]) -> Path:
    """Write a new generation with ``write_files(folder)``, then make it live atomically.

    Files are written into a temporary folder; only a complete, fsynced folder is renamed
    into place and named in CURRENT. Older generations are removed afterwards.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"{GENERATION_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = index_dir / f".{name}.tmp"
    staging.mkdir()
    try:
        write_files(staging)
        manifest.sizes = {
            p.relative_to(staging).as_posix(): p.stat().st_size
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest.checksums = {name: checksum(staging / name) for name in manifest.sizes}
        (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1), encoding="utf-8")
        for path in staging.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        generation = index_dir / name
        staging.rename(generation)
        pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}.tmp"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        with open(pointer_tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:  # the caller holds the build lock
        _remove_stale(index_dir, name, wait=READERS_WAIT_S)
    except OSError as error:  # the build itself succeeded (listing the folder failed, say)
        log.warning("Old generations in %s were not removed (%s); the next build retries.", index_dir, error)
    return generation


@dataclass(frozen=True)
class IndexSummary:
    """Per source file of an index: its chunks, document title and when it was embedded."""

    chunks: Counter[str]
    titles: dict[str, str]
    indexed: dict[str, float]  # seconds since the epoch


def read_summary(index_dir: Path) -> IndexSummary:
    """What the documents list shows, read from the live generation without loading vectors.

    An index folder with nothing built yet gives an empty summary.

    Raises:
        IndexCorruptError: the manifest or the chunk file is unreadable.
    """
    try:
        return read_live(index_dir, lambda generation: _summary(generation, index_dir))
    except IndexNotFoundError:
        return IndexSummary(Counter(), {}, {})


def _summary(generation: Path, index_dir: Path) -> IndexSummary:
    manifest = read_manifest(generation, index_dir)
    counts: Counter[str] = Counter()
    titles: dict[str, str] = {}
    with (generation / CHUNKS).open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            counts[row["source"]] += 1
            # Section titles read "Document › Section"; the first part names the document.
            titles.setdefault(row["source"], row["title"].split(" › ")[0])
    indexed = {source: manifest.indexed.get(source, manifest.created) for source in manifest.files}
    return IndexSummary(counts, titles, indexed)
