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
