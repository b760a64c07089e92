"""Read a corpus from disk: documents under folders, or a JSONL file of {id, title, text}.

Text and Markdown files are read as they are; PDF, HTML and Word files through
:mod:`rag.ingest.formats`, whose extracted text is what citations into them point at.

Files that cannot be read as text are skipped with a warning that names them; the rest of
the corpus is still indexed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError, DocumentError
from rag.ingest.formats import SUFFIXES, TEXT_SUFFIXES, corpus_files, decode, extract_text, supported_types
from rag.jsonl import read_jsonl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceDocument:
    """One document's original text and the name citations will use for it."""

    source: str  # path relative to the corpus root, or the JSONL id
    text: str
    title: str = ""  # given by JSONL corpora; files derive titles from their text
    origin: str = ""  # the folder, file or JSONL file it was read from (absolute), for `rag index`

    @property
    def sha256(self) -> str:
        """Hash of title and text: what decides whether a document changed since the last build."""
        return hashlib.sha256(f"{self.title}\0{self.text}".encode()).hexdigest()


def _read(path: Path, name: str) -> str | None:
    """The text of one corpus file, or None (with a warning naming it) when it cannot be indexed."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # A name that is not valid UTF-8 on disk (bytes kept as surrogates): it could not be
        # written to the index or shown in a citation, so the file is skipped, not the build.
        log.warning("Skipping %r: its file name is not valid UTF-8; rename the file.", name)
        return None
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        log.warning("Skipping %s: only %s files are indexed.", name, supported_types())
        return None
    try:
        data = path.read_bytes()
    except OSError as error:  # removed or made unreadable between listing and reading
        log.warning("Skipping %s: it cannot be read (%s).", name, error.strerror or error)
        return None
    if suffix in TEXT_SUFFIXES:
        return decode(data, name)
    try:  # PDF, HTML, Word: citations then point into the extracted text (see rag.ingest.formats)
        return extract_text(data, name)
    except DocumentError as error:
        log.warning("Skipping %s: %s", name, error)
        return None


def load_paths(paths: Iterable[Path | str]) -> list[SourceDocument]:
    """Load every text file under the given files and folders.

    A file given directly is named by its file name; a file found under a folder is named
    by its path relative to that folder (``seeds/a/b.txt`` under ``seeds`` → ``a/b.txt``).

    Raises:
        CorpusError: a path does not exist, or nothing readable was found.
    """
    documents: dict[str, SourceDocument] = {}
    for given in map(Path, paths):
        if not given.exists():
            raise CorpusError(f"Corpus path {given} does not exist; pass existing files or folders.")
        origin = str(given.resolve())
        candidates = (
            [(given, given.name)]
            if given.is_file()
            else [(p, p.relative_to(given).as_posix()) for p in corpus_files(given)]
        )
        for path, name in candidates:
            text = _read(path, name)
            if text is None:
                continue
            if not text.strip():
                log.warning("Skipping %s: it is empty.", name)
                continue
            documents[name] = SourceDocument(name, text, origin=origin)
    if not documents:
        shown = ", ".join(str(p) for p in paths) or "(no paths)"
        raise CorpusError(
            f"No readable documents ({supported_types()}) in {shown}; add documents there "
            "and run `rag index` again."
        )
    return list(documents.values())


def load_jsonl(path: Path | str) -> list[SourceDocument]:
    """Load a corpus in the benchmark format: one ``{"id", "title", "text"}`` object per line.

    Raises:
        CorpusError: the file is missing, a line is not such an object, or it holds no text.
    """

    documents: dict[str, SourceDocument] = {}
    rows = read_jsonl(path, error=CorpusError, hint="pass a JSONL file of {id, title, text} rows")
    for number, row in rows:
        try:
            source, text = str(row["id"]), str(row["text"])
        except (KeyError, TypeError) as error:
            raise CorpusError(
                f"{path}:{number} is not a JSON object with 'id' and 'text' ({error!r}); fix that line."
            ) from error
        if text.strip():
            documents[source] = SourceDocument(
                source, text, str(row.get("title") or ""), origin=str(Path(path).resolve())
            )
    if not documents:
        raise CorpusError(f"{path} holds no documents with text.")
    return list(documents.values())
