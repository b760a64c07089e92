"""Check an uploaded file before it goes near the corpus: its name, its size, its content.

Everything here is pure (bytes in, a verdict out), so the rules are easy to test and the
same for the web UI and any other caller. Nothing from the client is trusted: the type is
read from the content (see :mod:`rag.ingest.formats`), and a file name may not name a folder.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.config import settings
from rag.errors import DocumentError
from rag.ingest.formats import SUFFIXES, extract_text

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # 20 MiB: a long PDF report; far below what breaks a build
MAX_NAME_CHARS = 150
# Letters, digits, space and a few marks people put in file names; anything else becomes "_".
_UNSAFE = re.compile(r"[^\w .,()+@&'’-]", re.UNICODE)
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed every check: the name to store it under and its text."""

    name: str
    data: bytes
    text: str


def max_upload_bytes() -> int:
    """The size limit in bytes: $RAG_MAX_UPLOAD_MB megabytes (default 20).

    Raises:
        ConfigError: the variable is not a positive number.
    """

    return int(settings().max_upload_mb * 1024 * 1024)


def safe_name(name: str) -> str:
    """A file name that is safe to create inside the corpus folder.

    Path separators, parent references and hidden or control-character names are refused
    (they are how uploads escape their folder); other odd characters become ``_``.

    Raises:
        DocumentError: the name tries to leave the folder, is hidden, empty or too long.
    """
    if not isinstance(name, str) or not name.strip():
        raise DocumentError("The file has no name; give it one ending in " + _suffix_list() + ".")
    shown = name if len(name) < 80 else name[:77] + "…"
    if "/" in name or "\\" in name or "\0" in name or name.strip() in {".", ".."}:
        raise DocumentError(f"{shown!r} is not a plain file name: names may not contain folders or '..'.")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise DocumentError(f"{shown!r} contains control characters; rename the file.")
    cleaned = " ".join(_UNSAFE.sub("_", unicodedata.normalize("NFC", name)).split())
    if cleaned.startswith("."):
        raise DocumentError(f"{shown!r} is a hidden file name (it starts with '.'); rename the file.")
    if len(cleaned) > MAX_NAME_CHARS:
        raise DocumentError(f"{shown!r} is longer than {MAX_NAME_CHARS} characters; shorten it.")
    if _WINDOWS_RESERVED.match(cleaned):
        raise DocumentError(f"{shown!r} is a reserved device name; rename the file.")
    if Path(cleaned).suffix.lower() not in SUFFIXES:
        raise DocumentError(f"{shown!r}: only {_suffix_list()} files can be added.")
    return cleaned


def check_upload(name: str, data: bytes, *, max_bytes: int | None = None) -> CheckedUpload:
    """Check one upload completely; the returned text is what will be indexed.

    Raises:
        DocumentError: bad name, empty, too large, a type that does not match its content,
            unreadable, or without text. The message names the file and the problem.
    """
    stored = safe_name(name)
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    if not data:
        raise DocumentError(f"{stored} is empty.")
    if len(data) > limit:
        raise DocumentError(
            f"{stored} is {_megabytes(len(data))}; the limit is {_megabytes(limit)} "
            "(set RAG_MAX_UPLOAD_MB to change it)."
        )
    return CheckedUpload(stored, data, extract_text(data, stored))


def _suffix_list() -> str:
    return ", ".join(sorted(SUFFIXES))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
