"""The one reader of JSON Lines files: corpora, question sets and benchmark rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import RagError


def read_jsonl(
    path: Path | str, *, error: type[RagError] = RagError, hint: str = ""
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, parsed value)`` for every non-blank line of ``path``, in order.

    ``error`` is the exception raised for a missing file or a line that is not JSON, and
    ``hint`` ends the message of a missing file (what the file should hold).

    Raises:
        error: the file does not exist, or a line is not valid JSON (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} does not exist{'; ' + hint if hint else ''}.")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as problem:
                raise error(f"{path}:{number} is not JSON ({problem}); fix that line.") from problem
