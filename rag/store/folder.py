"""The default store: generations of plain files in one index folder (FAISS, BM25, chunks,
vectors; file names and atomic switches in rag.store.generations)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from rag.errors import ConfigError, RagError
from rag.ingest.lexical import import_bm25s
from rag.store.base import IndexContents, IntegrityReport
from rag.store.generations import (
    BM25,
    CHUNK_VECTORS,
    CHUNKS,
    CURRENT,
    DOC_FREQ,
    FAISS,
    MANIFEST,
    SENTENCE_VECTORS,
    IndexSummary,
    Manifest,
    build_lock,
    damaged_files,
    live_generation,
    live_name,
    read_live,
    read_manifest,
    read_summary,
    write_generation,
)
from rag.store.index import Index, load_folder
from rag.store.terms import write_terms
from rag.store.vectors import build_faiss, write_faiss


class FileStore:
    """The embedded default: generations of plain files in one folder (see rag.store.generations)."""

    def __init__(self, index_dir: Path | str):
        """The index kept in the folder ``index_dir`` (made by the first build when missing).

        Raises:
            ConfigError: ``index_dir`` is a file.
        """
        self.index_dir = Path(index_dir)
        if self.index_dir.exists() and not self.index_dir.is_dir():
            raise ConfigError(
                f"{self.index_dir} is a file, not an index folder: pass --index a folder "
                "(a new one is created when it does not exist)."
            )

    @property
    def key(self) -> str:  # noqa: D102 - see Store
        return str(self.index_dir.resolve())

    @property
    def label(self) -> str:  # noqa: D102
        return str(self.index_dir)

    def exists(self) -> bool:  # noqa: D102
        return (self.index_dir / CURRENT).exists()

    def generation(self) -> str | None:  # noqa: D102
        return live_name(self.index_dir)

    def lock(self) -> contextlib.AbstractContextManager[None]:  # noqa: D102
        return build_lock(self.index_dir)

    def load(self) -> Index:  # noqa: D102
        return load_folder(self.index_dir)

    def manifest(self) -> Manifest | None:  # noqa: D102
        try:
            text = (live_generation(self.index_dir) / MANIFEST).read_text(encoding="utf-8")
            return Manifest.from_json(json.loads(text))
        except (RagError, OSError, ValueError, TypeError):
            return None

    def damaged(self, manifest: Manifest) -> list[str]:  # noqa: D102
        try:
            return damaged_files(live_generation(self.index_dir), manifest)
        except RagError:  # CURRENT names a folder that is gone: nothing to compare
            return []

    def write(self, manifest: Manifest, contents: IndexContents) -> None:  # noqa: D102
        write_generation(self.index_dir, manifest, lambda folder: write_folder(folder, contents, manifest))

    def check(self) -> IntegrityReport:  # noqa: D102
        def check(generation: Path) -> tuple[int, list[str]]:
            manifest = read_manifest(generation, self.index_dir)
            return len(manifest.checksums), damaged_files(generation, manifest)

        checked, damaged = read_live(self.index_dir, check)
        repair = f"`rag index --index {self.index_dir} PATHS…` (the same paths as before)"
        return IntegrityReport(str(self.index_dir), checked, damaged, "files match their checksums", repair)

    def summary(self) -> IndexSummary:  # noqa: D102
        return read_summary(self.index_dir)


def write_folder(folder: Path, contents: IndexContents, manifest: Manifest) -> None:
    """The files of one generation (names in rag.store.generations); sets ``manifest.faiss_type``."""
    import numpy as np

    faiss_index, manifest.faiss_type = build_faiss(contents.chunk_vectors)
    bm25s = import_bm25s()
    with (folder / CHUNKS).open("w", encoding="utf-8") as out:
        for chunk, chunk_rows in zip(contents.chunks, contents.rows, strict=True):
            out.write(json.dumps({**chunk.to_json(), "rows": chunk_rows}, ensure_ascii=False) + "\n")
    np.save(folder / CHUNK_VECTORS, contents.chunk_vectors)
    np.save(folder / SENTENCE_VECTORS, contents.sentence_vectors)
    write_faiss(faiss_index, folder / FAISS)
    bm25 = bm25s.BM25()
    bm25.index(contents.terms, show_progress=False)
    bm25.save(str(folder / BM25), show_progress=False)
    (folder / DOC_FREQ).write_text(json.dumps(contents.doc_freq), encoding="utf-8")
    write_terms(folder, contents.chunks)
