"""The collections a user makes in the UI, kept across restarts in ``<data dir>/collections.json``.

A collection made in the UI is either a new folder rag owns (``<data dir>/collections/<slug>/
documents``, its index beside it) or an existing folder the user points to (only its index
lives under the data folder; rag never deletes anything in it). The folders served with
``rag serve --corpus`` / ``make run DOCS=`` are not listed here: they come from the command
line each time, and their indexes live in ``<data dir>/indexes/`` (:func:`index_for`), never in
the checkout's index/ of the demo seeds. The file is rewritten atomically on every change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.config import data_dir
from rag.errors import RagError

FILE = "collections.json"
MAX_NAME_CHARS = 60


@dataclass(frozen=True)
class KeptCollection:
    """One collection made in the UI: its name, its documents' folder and its index folder;
    ``owned``: the folder was made by rag (files may be deleted from it)."""

    name: str
    folder: str
    index: str
    owned: bool


def check_name(name: str, taken: set[str]) -> str:
    """``name`` trimmed, if it can name a new collection.

    Raises:
        RagError: empty, too long, with a slash or control character, or already taken.
    """
    name = " ".join((name or "").split())
    if not name:
        raise RagError("Give the collection a name.")
    if len(name) > MAX_NAME_CHARS:
        raise RagError(f"A collection's name has at most {MAX_NAME_CHARS} characters; shorten it.")
    if re.search(r"[/\\\x00-\x1f]", name):
        raise RagError("A collection's name cannot hold a slash or a control character; choose another.")
    if name.casefold() in {taken_name.casefold() for taken_name in taken}:
        raise RagError(f"There is already a collection called {name!r}; choose another name.")
    return name


def slug(name: str) -> str:
    """A folder name for ``name``: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:40] or "collection"


def index_for(folder: Path) -> Path:
    """The index folder, under the data folder, of a document folder given on the command line
    (one per folder, so switching ``DOCS=`` never rebuilds another folder's index)."""
    real = folder.expanduser().resolve()
    digest = hashlib.sha256(str(real).encode()).hexdigest()[:10]
    return data_dir() / "indexes" / f"{slug(real.name)}-{digest}"


def new_collection_paths(name: str) -> tuple[Path, Path]:
    """(documents folder, index folder) for a new collection rag owns, in a fresh folder."""
    root = data_dir() / "collections"
    base, number = slug(name), 1
    home = root / base
    while home.exists():
        number += 1
        home = root / f"{base}-{number}"
    return home / "documents", home / "index"


class Registry:
    """The file that lists the UI's collections (``None`` path: the data folder's)."""

    def __init__(self, path: Path | None = None):
        self.path = path or data_dir() / FILE

    def load(self) -> list[KeptCollection]:
        """The kept collections; a missing file is none, a damaged one is reported.

        Raises:
            RagError: the file cannot be read as a list of collections (the message names it).
        """
        try:
            records = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise RagError(f"{self.path} cannot be read ({error}); fix or remove it.") from None
        try:
            return [KeptCollection(**record) for record in records]
        except TypeError:
            raise RagError(f"{self.path} is not a list of collections; fix or remove it.") from None

    def save(self, collections: list[KeptCollection]) -> None:
        """Write the list atomically (a temporary file, then a rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{FILE}.{uuid.uuid4().hex}.tmp")
        staging.write_text(json.dumps([asdict(c) for c in collections], indent=1), encoding="utf-8")
        os.replace(staging, self.path)
