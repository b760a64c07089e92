"""Read a corpus from disk: documents under folders, or a JSONL file of {id, title, text}.

Text and Markdown files are read as they are; PDF, HTML and Word files through
:mod:`rag.formats`, whose extracted text is what citations into them point at.

Files that cannot be read as text are skipped with a warning that names them; the rest of
the corpus is still indexed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError, DocumentError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text"})
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class SourceDocument:
    """One document's original text and the name citations will use for it."""

    source: str  # path relative to the corpus root, or the JSONL id
    text: str
    title: str = ""  # given by JSONL corpora; files derive titles from their text

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.title}\0{self.text}".encode()).hexdigest()


def decode(data: bytes, name: str) -> str | None:
    """Decode file bytes as text, or return None (with a warning) when they are not text."""
    if b"\0" in data[:_SNIFF_BYTES]:
        log.warning("Skipping %s: it is a binary file, not text.", name)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # installed with requests/transformers

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        log.warning("Skipping %s: it is not UTF-8 and its encoding could not be detected.", name)
        return None
    log.warning("%s is not UTF-8; read it as %s.", name, best.encoding)
    return str(best)


def _files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield path


def _read(path: Path, name: str) -> str | None:
    """The text of one corpus file, or None (with a warning naming it) when it cannot be indexed."""
    from rag.formats import SUFFIXES, extract_text

    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return decode(path.read_bytes(), name)
    if suffix not in SUFFIXES:
        log.warning("Skipping %s: only %s files are indexed.", name, ", ".join(sorted(SUFFIXES)))
        return None
    try:  # PDF, HTML, Word: citations then point into the extracted text (see rag.formats)
        return extract_text(path.read_bytes(), name)
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
        candidates = [(given, given.name)] if given.is_file() else [
            (p, p.relative_to(given).as_posix()) for p in _files_under(given)
        ]
        for path, name in candidates:
            text = _read(path, name)
            if text is None:
                continue
            if not text.strip():
                log.warning("Skipping %s: it is empty.", name)
                continue
            documents[name] = SourceDocument(name, text)
    if not documents:
        shown = ", ".join(str(p) for p in paths) or "(no paths)"
        raise CorpusError(
            f"No readable documents (.txt, .md, .pdf, .html, .docx) in {shown}; add documents there "
            "and run `rag index` again."
        )
    return list(documents.values())


def load_jsonl(path: Path | str) -> list[SourceDocument]:
    """Load a corpus in the benchmark format: one ``{"id", "title", "text"}`` object per line.

    Raises:
        CorpusError: the file is missing, a line is not such an object, or it holds no text.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"Corpus file {path} does not exist; pass a JSONL file of {{id, title, text}} rows.")
    documents: dict[str, SourceDocument] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                source, text = str(row["id"]), str(row["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise CorpusError(
                    f"{path}:{number} is not a JSON object with 'id' and 'text' ({error}); fix that line."
                ) from error
            if text.strip():
                documents[source] = SourceDocument(source, text, str(row.get("title") or ""))
    if not documents:
        raise CorpusError(f"{path} holds no documents with text.")
    return list(documents.values())
