"""Documents left out of a collection's index while their files stay in its folder.

"Remove from this collection's index" (the UI's default delete) must not undo itself: every
build from the folder (the first question, an upload, ``rag serve --watch``) reads the folder
again. So the names are kept beside the index, in ``<index>/excluded.json``, and
:func:`folder_documents` leaves them out until the file is added again (an upload of it).
Written atomically (a temporary file, then a rename), like the index itself.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from rag.ingest.loading import SourceDocument, load_paths

FILE = "excluded.json"


def excluded(index: Path | str) -> frozenset[str]:
    """The document names (relative to the collection's folder) its index leaves out; a
    damaged file counts as none (the documents come back rather than vanish)."""
    try:
        names = json.loads((Path(index) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return frozenset()
    return frozenset(n for n in names if isinstance(n, str)) if isinstance(names, list) else frozenset()


def set_excluded(index: Path | str, names: Iterable[str]) -> None:
    """Keep ``names`` as the index's left-out documents (an empty set removes the file)."""
    target = Path(index) / FILE
    chosen = sorted(set(names))
    if not chosen:
        target.unlink(missing_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not ".tmp": the index's clean-up removes such files (rag.store.generations._is_stale).
    staging = target.with_name(f".{FILE}.{uuid.uuid4().hex}.writing")
    staging.write_text(json.dumps(chosen, indent=1), encoding="utf-8")
    os.replace(staging, target)


def folder_documents(
    corpus: Path | str, index: Path | str, without: Iterable[str] = ()
) -> list[SourceDocument]:
    """The documents of ``corpus`` to index into ``index``: all but the index's left-out ones
    and ``without``.

    Raises:
        CorpusError: the folder is missing or holds no readable document.
    """
    leave_out = excluded(index) | set(without)
    return [document for document in load_paths([Path(corpus)]) if document.source not in leave_out]
