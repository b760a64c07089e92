"""Where things live by default. Environment variables override; arguments override both."""

from __future__ import annotations

import os
from pathlib import Path

# The checkout this package sits in (an editable install or a source tree).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

MAX_QUESTION_CHARS = 4000  # far above any real question; stops pasted documents early


def default_corpus() -> Path:
    return Path(os.environ.get("RAG_CORPUS") or PROJECT_ROOT / "seeds")


def default_index() -> Path:
    return Path(os.environ.get("RAG_INDEX") or PROJECT_ROOT / "index")


def login_from_env() -> tuple[str, str] | None:
    """The UI's login from $RAG_USERNAME and $RAG_PASSWORD (None: no login asked).

    Raises:
        RagError: only one of the two is set (a typo would otherwise leave the UI open).
    """
    user, password = os.environ.get("RAG_USERNAME", ""), os.environ.get("RAG_PASSWORD", "")
    if not user and not password:
        return None
    if not (user and password):
        from rag.errors import RagError

        raise RagError("Set both RAG_USERNAME and RAG_PASSWORD to require a login, or neither.")
    return user, password
