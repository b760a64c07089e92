"""Several pytest marks as one decorator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def apply(marks: Sequence[Any]) -> Callable[[Any], Any]:
    """Decorate a test with every mark in ``marks`` (e.g. a skip condition and its lane)."""

    def decorate(test: Any) -> Any:
        for mark in marks:
            test = mark(test)
        return test

    return decorate
