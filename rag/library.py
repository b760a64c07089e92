"""A corpus folder and its index kept together: add, list and remove documents.

Adding stores the checked files in the corpus folder and updates the index incrementally
(only new or changed files are embedded; the same bytes again are a no-op). Removing builds
an index without the document — the switch to it is atomic, so a question never sees half of
a document — and by default leaves the file where it is (rag.indexing.exclusions keeps it out
of later builds); deleting the file too is a separate choice, offered only in a folder rag
made itself (:attr:`Library.kind` "owned"). After either, the cached engine of the index is
dropped so the next question reads the new index.

A library's kind says what rag may do to its folder: "owned" (made by rag under the data
folder: files are written and may be deleted), "folder" (the user's own folder: uploads are
written into it, and the UI says so; nothing is ever deleted from it) and "demo" (the
checkout's seeds/: read-only, so that no upload lands in the git checkout).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rag.engine import clear_engines
from rag.errors import DocumentError
from rag.indexing.build import BuildReport, build_index, counted
from rag.indexing.exclusions import excluded, folder_documents, set_excluded
from rag.ingest.formats import corpus_files, is_document
from rag.ingest.uploads import CheckedUpload, check_upload
from rag.store import open_store

if TYPE_CHECKING:
    from rag.indexing.worker import BuildWorker

Progress = Callable[[float, str], None]
Kind = Literal["owned", "folder", "demo"]


@dataclass(frozen=True)
class DocumentInfo:
    """One row of the documents list."""

    name: str  # the source name citations use (path relative to the corpus folder)
    title: str
    size: int  # bytes on disk
    chunks: int  # 0 when it is not (yet) indexed
    indexed: float | None  # when its chunks were embedded (seconds since the epoch)
    left_out: bool = False  # removed from the index, the file kept (upload it again to add it back)


@dataclass
class AddReport:
    """What one upload of several files did."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # the same bytes were already there
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name as given, reason)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (name as given, name stored)
    chunks: int = 0  # chunks of the added and replaced files
    file_chunks: dict[str, int] = field(default_factory=dict)  # the same, per file
    seconds: float = 0.0
    build: BuildReport | None = None

    @property
    def stored(self) -> list[str]:
        """The files written to the corpus folder: added and replaced ones."""
        return self.added + self.replaced

    def summary(self) -> str:
        """One line for the UI naming every file: added, replaced, unchanged and refused.

        >>> AddReport(added=["a.md"], chunks=3, file_chunks={"a.md": 3}, seconds=1.25).summary()
        'Added a.md (3 chunks) in 1.2 s.'
        """
        parts = []

        def named(names: list[str]) -> str:
            return ", ".join(f"{name} ({counted(self.file_chunks.get(name, 0), 'chunk')})" for name in names)

        if self.added:
            parts.append(f"Added {named(self.added)}")
        if self.replaced:
            parts.append(f"Replaced {named(self.replaced)}")
        if self.stored:
            parts[-1] += f" in {self.seconds:.1f} s"
        if self.renamed:
            parts.append("Stored " + ", ".join(f"{given} as {stored}" for given, stored in self.renamed))
        if self.unchanged:
            parts.append(f"Already indexed, nothing to do: {', '.join(self.unchanged)}")
        if self.rejected:
            parts.append("Refused " + "; ".join(_refusal(name, reason) for name, reason in self.rejected))
        return ". ".join(parts) + "." if parts else "No files."


def _refusal(name: str, reason: str) -> str:
    """``name``: ``reason``, without naming the file twice when the reason starts with it."""
    reason = reason.rstrip(".")
    return reason if name in reason else f"{name}: {reason}"


class Library:
    """The documents of one corpus folder and the index built from them.

    >>> library = Library("seeds", Path("seeds"), Path("index"))      # doctest: +SKIP
    >>> library.add([("notes.md", b"# Notes\\nThe deal closed in May.")]).summary()  # doctest: +SKIP
    '2 chunks from 1 file in 0.4 s.'
    """

    def __init__(
        self,
        name: str,
        corpus: Path | str,
        index: Path | str,
        *,
        max_bytes: int | None = None,
        builder: BuildWorker | None = None,
        kind: Kind = "folder",
    ):
        self.name = name
        self.corpus = Path(corpus)
        self.index = Path(index)
        self.kind: Kind = kind
        self.max_bytes = max_bytes
        # Where builds run: in the calling thread (None), or in a worker process, which the
        # server uses so that questions are never slowed down by indexing.
        self.builder = builder
        self._lock = threading.Lock()  # one change at a time (the build lock covers other processes)

    def generation(self) -> str | None:
        """The live build of this library's index, as its store names it (None: nothing built)."""
        return open_store(self.index).generation()

    def documents(self) -> list[DocumentInfo]:
        """Every document file of the corpus, with its title and chunks from the index."""
        summary = open_store(self.index).summary()
        left_out = excluded(self.index)
        rows = []
        for path in corpus_files(self.corpus, supported_only=True):
            name = path.relative_to(self.corpus).as_posix()
            rows.append(
                DocumentInfo(
                    name,
                    summary.titles.get(name, ""),
                    path.stat().st_size,
                    summary.chunks.get(name, 0),
                    summary.indexed.get(name),
                    name in left_out,
                )
            )
        return rows

    def path_of(self, name: str, *, indexed: bool = False) -> Path:
        """The file of the document called ``name`` (a path relative to the corpus folder), a
        document by the same rule as indexing (rag.ingest.formats.is_document); with
        ``indexed``, also one the index holds (what may be read and served).

        Raises:
            DocumentError: no such document: hidden, a link out of the folder, a name that
                points outside it, or (``indexed``) not in the index.
        """
        path = self.corpus / name
        if not is_document(path, self.corpus) or (
            indexed and name not in open_store(self.index).summary().chunks
        ):
            raise DocumentError(f"There is no document {name!r} in {self.name}.")
        return path

    def add(self, uploads: Sequence[tuple[str, bytes | Path]], progress: Progress | None = None) -> AddReport:
        """Check, store and index uploaded files; refused files are reported, not raised.

        A file that was removed from the index (its file kept) comes back by being added again.

        Raises:
            DocumentError: the library is the read-only demo collection.
            RagError: the index could not be updated (the files written are then removed).
        """
        if self.kind == "demo":
            raise DocumentError(
                f"{self.name} is the demo collection and stays as shipped; create a collection "
                "of your own for your files."
            )
        started = time.perf_counter()
        notify = progress or (lambda fraction, message: None)
        report = AddReport()
        with self._lock:
            left_out = set(excluded(self.index))
            back: set[str] = set()  # left-out documents this upload brings back
            existing = {
                _sha256(p.read_bytes()): p.relative_to(self.corpus).as_posix()
                for p in corpus_files(self.corpus, supported_only=True)
            }
            checked: list[CheckedUpload] = []
            batch: set[str] = set()  # names stored by this upload so far
            for number, (name, content) in enumerate(uploads, 1):
                notify(0.05 * number / max(len(uploads), 1), f"Checking {name}")
                try:
                    data = content.read_bytes() if isinstance(content, Path) else content
                    upload = check_upload(name, data, max_bytes=self.max_bytes)
                except (DocumentError, OSError) as error:
                    report.rejected.append((name, str(error)))
                    continue
                if (self.corpus / upload.name).is_symlink():  # writing would replace the user's link
                    report.rejected.append(
                        (name, f"{upload.name} is a link in the folder; rename the file or remove the link.")
                    )
                    continue
                same = existing.get(_sha256(upload.data))
                if same is not None and same in left_out:  # the same file again: back in the index
                    back.add(same)
                    report.added.append(same)
                    continue
                if same is not None:
                    report.unchanged.append(
                        upload.name if same == upload.name else f"{upload.name} (= {same})"
                    )
                    continue
                # A folder of the user's is never written over: a new version of a file there is
                # stored beside it, under a free name (rag made an "owned" folder's files itself).
                overwrites = self.kind != "owned" and os.path.lexists(self.corpus / upload.name)
                if upload.name != name or upload.name in batch or overwrites:
                    # A name made safe ("x∕y.txt" and "x／y.txt" both become "x_y.txt") never
                    # replaces another file: it is kept apart under a free name, and said so.
                    free = self._free_name(upload.name, batch)
                    if free != name:
                        report.renamed.append((name, free))
                    upload = replace(upload, name=free)
                batch.add(upload.name)
                (report.replaced if (self.corpus / upload.name).exists() else report.added).append(
                    upload.name
                )
                existing[_sha256(upload.data)] = upload.name
                checked.append(upload)
            back |= left_out & {upload.name for upload in checked}
            if checked or back:
                backups = self._store(checked)
                try:
                    set_excluded(self.index, left_out - back)
                    report.build = self._rebuild(None, notify, 0.05)
                except BaseException:
                    self._restore(backups)
                    set_excluded(self.index, left_out)
                    raise
                counts = open_store(self.index).summary().chunks
                report.file_chunks = {name: counts.get(name, 0) for name in report.stored}
                report.chunks = sum(report.file_chunks.values())
        report.seconds = time.perf_counter() - started
        notify(1.0, "Done")
        return report

    def delete(
        self, name: str, progress: Progress | None = None, *, remove_file: bool = False
    ) -> BuildReport:
        """Remove a document from the index in one atomic switch. Its file stays in the folder
        and out of later builds (rag.indexing.exclusions), unless ``remove_file``: then the file
        is deleted after the switch, which only a folder rag made itself allows.

        Raises:
            DocumentError: no such document; it is the last one in the index (an index needs
                one); or ``remove_file`` in a folder that is not rag's own.
        """
        notify = progress or (lambda fraction, message: None)
        if remove_file and self.kind != "owned":
            raise DocumentError(
                f"{self.name} is {'the demo collection' if self.kind == 'demo' else 'your own folder'} "
                f"({self.corpus}); rag never deletes files there. Remove the document from the index instead."
            )
        with self._lock:
            path = self.path_of(name)
            source = path.relative_to(self.corpus).as_posix()
            left_out = excluded(self.index)
            if source in left_out and not remove_file:
                raise DocumentError(f"{source} is already out of the index of {self.name}.")
            indexed = [p for p in corpus_files(self.corpus, supported_only=True) if p != path]
            if not any(p.relative_to(self.corpus).as_posix() not in left_out for p in indexed):
                raise DocumentError(
                    f"{source} is the only document in the index of {self.name}; "
                    "add another before removing it."
                )
            set_excluded(self.index, left_out | {source})
            try:
                report = self._rebuild(source, notify, 0.0)
            except BaseException:
                set_excluded(self.index, left_out)
                raise
            if remove_file:
                path.unlink()
                set_excluded(self.index, left_out - {source})
        notify(1.0, "Done")
        return report

    def sync(self, progress: Progress | None = None) -> BuildReport:
        """Bring the index in step with the folder as it is now (files added, changed, renamed or
        removed by hand, e.g. seen by ``rag serve --watch``); a no-op when nothing changed.

        The switch to the new index is atomic, and the next question reads it.

        Raises:
            RagError: the folder holds no readable document (the index is left as it was).
        """
        notify = progress or (lambda fraction, message: None)
        with self._lock:  # never between an upload's files and its build
            report = self._rebuild(None, notify, 0.0)
        notify(1.0, "Done")
        return report

    def _rebuild(self, without: str | None, notify: Progress, offset: float) -> BuildReport:

        notify(offset, "Reading documents")

        def advance(fraction: float, message: str) -> None:
            notify(offset + (0.95 - offset) * fraction, message)

        if self.builder is not None:
            report = self.builder.build(self.corpus, self.index, without=without, progress=advance)
        else:
            documents = folder_documents(self.corpus, self.index, [without] if without else [])
            report = build_index(documents, self.index, progress=advance)
        clear_engines(self.index)
        return report

    def _free_name(self, name: str, batch: set[str]) -> str:
        """``name``, or ``stem (2).suffix``, ``stem (3).suffix``… when a file or this upload has it."""
        path, number = Path(name), 1
        candidate = name
        while candidate in batch or os.path.lexists(self.corpus / candidate):
            number += 1
            candidate = f"{path.stem} ({number}){path.suffix}"
        return candidate

    def _store(self, uploads: list[CheckedUpload]) -> list[tuple[Path, bytes | None]]:
        """Write the files atomically; returns what each path held before, for a rollback."""
        self.corpus.mkdir(parents=True, exist_ok=True)
        backups: list[tuple[Path, bytes | None]] = []
        for upload in uploads:
            target = self.corpus / upload.name
            backups.append((target, target.read_bytes() if target.exists() else None))
            # A hidden temporary name is skipped by the loader until it is complete.
            temporary = self.corpus / f".upload-{uuid.uuid4().hex}.tmp"
            temporary.write_bytes(upload.data)
            os.replace(temporary, target)
        return backups

    @staticmethod
    def _restore(backups: list[tuple[Path, bytes | None]]) -> None:
        for path, data in backups:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
