"""Public: the generative backends and their contract (code in :mod:`rag.answer.generators`).

``names()`` lists the backends, ``modes()`` every answer mode ("extractive" first); pass a
name or any :class:`Generator` to ``ask(generator=...)``.
"""

from __future__ import annotations

from rag.answer.generators import *  # noqa: F403 - the same public names, listed once there
from rag.answer.generators import __all__ as __all__
