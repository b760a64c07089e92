"""A cache of extracted PDF text, keyed by the file's bytes.

Layout analysis and OCR take seconds (OCR ~2 s a page here), and the same text is needed
again whenever a citation is opened or a file is re-indexed unchanged; extraction is
deterministic, so the text of the same bytes is kept under ``<cache>/extracted/`` (written
atomically) and read back. The key holds the bytes' SHA-256 and a fingerprint of the
extraction itself (:data:`VERSION`, the source of the layout and OCR modules, Tesseract's
version), so a changed reader never serves an old reading.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

VERSION = 1  # bump when PDF extraction changes what it returns


def _folder() -> Path:
    from rag.config import settings

    configured = settings().cache_dir
    if configured is not None:
        return configured / "extracted"
    from platformdirs import user_cache_path

    return user_cache_path("rag") / "extracted"


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    from rag.ingest import ocr, pdf_layout

    digest = hashlib.sha256(f"v{VERSION}:{ocr.engine()}".encode())
    for module in (pdf_layout, ocr):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _path(data: bytes) -> Path:
    return _folder() / f"{_fingerprint()}-{hashlib.sha256(data).hexdigest()}.txt"


def cached_text(data: bytes, extract: Callable[[], str]) -> str:
    """``extract()``'s text for these bytes, from the cache when it holds them.

    A cache that cannot be read or written is skipped with a debug
    line: extraction never fails for it.
    """
    path = _path(data)
    try:
        with path.open(encoding="utf-8", newline="") as stored:  # as written: no newline translation
            return stored.read()
    except OSError:
        pass
    text = extract()
    if not text.strip():
        return text  # nothing worth keeping
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=".tmp-", delete=False, newline=""
        ) as staging:
            staging.write(text)
        os.replace(staging.name, path)
    except OSError as error:
        log.debug("Extracted text not cached (%s)", error)
    return text
