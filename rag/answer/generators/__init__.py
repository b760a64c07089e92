"""Generative backends: "llama-cpp" (a local GGUF file) and "openai" (any OpenAI-compatible
server). ``modes()`` adds "extractive", the default answerer, which needs no model. Backends
import their libraries only when used."""

from __future__ import annotations

from rag.answer.generators.base import (
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
    "Generator",
    "EXTRACTIVE",
    "GeneratorSettings",
    "clear_generators",
    "get_generator",
    "modes",
    "names",
    "register",
    "resolve",
]
