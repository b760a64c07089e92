"""Answer generators: "extractive" (default, no model), "llama-cpp" (a local GGUF file) and
"openai" (any OpenAI-compatible server). Backends import their libraries only when used."""

from __future__ import annotations

from rag.generators.base import (
    Generator,
    GeneratorSettings,
    clear_generators,
    get_generator,
    names,
    register,
    resolve,
)

__all__ = [
    "Generator",
    "GeneratorSettings",
    "clear_generators",
    "get_generator",
    "names",
    "register",
    "resolve",
]
