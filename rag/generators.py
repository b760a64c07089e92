"""Public: the generative backends and their contract (code in :mod:`rag.answer.generators`).

``names()`` lists the backends, ``modes()`` every answer mode ("extractive" first); pass a
name or any :class:`Generator` to ``ask(generator=...)``.
"""

from __future__ import annotations

from rag.answer.generators import (
    EXTRACTIVE,
    Generator,
    GeneratorSettings,
    clear_generators,
    get_generator,
    modes,
    names,
    register,
    resolve,
)

__all__ = [
    "EXTRACTIVE",
    "Generator",
    "GeneratorSettings",
    "clear_generators",
    "get_generator",
    "modes",
    "names",
    "register",
    "resolve",
]
