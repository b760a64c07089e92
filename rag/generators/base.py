"""The generator contract, its settings, and the registry of backends by name.

A generator turns a grounded :class:`~rag.prompting.Prompt` into streamed text. It never
sees the index and never decides citations: :mod:`rag.verification` does that afterwards.

Backends are registered by name (``names()`` lists them, "extractive" first) and built
lazily: ``import rag.generators`` imports no model library; llama_cpp or the HTTP client is
imported only when a backend is first used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rag.errors import GeneratorError

if TYPE_CHECKING:
    from rag.prompting import Prompt


@runtime_checkable
class Generator(Protocol):
    """What a generative backend provides.

    ``context_tokens`` is the model's context window (prompt plus answer), ``max_tokens``
    the answer budget; :func:`rag.prompting.build_prompt` fits the passages into the rest,
    counting with ``count_tokens``.

    Usage example::

        generator = get_generator("llama-cpp")          # the bundled SmolLM2 when installed
        for piece in generator.stream(prompt):
            print(piece, end="")
    """

    name: str
    context_tokens: int
    max_tokens: int

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's own vocabulary (an estimate when unknown)."""
        ...

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Yield the answer text in pieces as the model writes it.

        Raises:
            GeneratorError: the backend failed or timed out; the message says what to check.
        """
        ...


@dataclass(frozen=True)
class GeneratorSettings:
    """Options shared by the generative backends; ``from_env`` reads the environment once.

    ``model`` is a GGUF path for llama-cpp and a model name for openai (default: the first
    one the server lists). ``api_key_env`` names the variable holding the key: the key itself
    is read when the first request is made, never stored here.
    """

    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "RAG_OPENAI_API_KEY"
    context_tokens: int = 2048
    max_tokens: int = 128
    temperature: float = 0.0
    seed: int = 0
    timeout: float = 120.0  # seconds for a whole answer; also the HTTP read timeout
    threads: int | None = None  # llama-cpp CPU threads (default: all cores)

    def __post_init__(self) -> None:
        if self.context_tokens < 256:
            raise GeneratorError(f"context_tokens must be at least 256, got {self.context_tokens}.")
        if not 1 <= self.max_tokens < self.context_tokens // 2:
            raise GeneratorError(
                f"max_tokens must be between 1 and half the context window ({self.context_tokens // 2}), "
                f"got {self.max_tokens}."
            )
        if self.timeout <= 0:
            raise GeneratorError(f"timeout must be positive, got {self.timeout}.")

    @classmethod
    def from_env(cls, backend: str | None = None, **overrides: object) -> GeneratorSettings:
        """Settings from the environment; non-None ``overrides`` (CLI flags, arguments) win.

        RAG_LLAMA_MODEL (llama-cpp: a GGUF path), RAG_OPENAI_MODEL (openai: a served model
        name), RAG_OPENAI_BASE_URL, RAG_LLM_CONTEXT, RAG_LLM_MAX_TOKENS, RAG_LLM_TIMEOUT.

        Raises:
            GeneratorError: a variable or option is malformed or unknown.
        """
        env = os.environ
        variables = [
            ("base_url", "RAG_OPENAI_BASE_URL", str),
            ("context_tokens", "RAG_LLM_CONTEXT", int),
            ("max_tokens", "RAG_LLM_MAX_TOKENS", int),
            ("timeout", "RAG_LLM_TIMEOUT", float),
        ]
        if backend in MODEL_VARIABLES:
            variables.append(("model", MODEL_VARIABLES[backend], str))
        values: dict[str, object] = {}
        for key, variable, kind in variables:
            if env.get(variable):
                try:
                    values[key] = kind(env[variable])
                except ValueError as error:
                    raise GeneratorError(
                        f"${variable}={env[variable]!r} is not a valid {kind.__name__}."
                    ) from error
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise GeneratorError(f"Unknown generator option(s) {sorted(unknown)}; known: {sorted(known)}.")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


# Each backend reads its model from its own variable, so switching backends in the UI
# never hands a GGUF path to a server or a server's model name to llama.cpp.
MODEL_VARIABLES = {"llama-cpp": "RAG_LLAMA_MODEL", "openai": "RAG_OPENAI_MODEL"}

Factory = Callable[[GeneratorSettings], "Generator"]
_factories: dict[str, Factory] = {}
_instances: dict[tuple[str, GeneratorSettings], Generator] = {}
_lock = threading.RLock()
_builtins_registered = False


def register(name: str, factory: Factory) -> None:
    """Add a backend; names are unique.

    Raises:
        ValueError: ``name`` is already registered.
    """
    if name in _factories:
        raise ValueError(f"A generator named {name!r} is already registered.")
    _factories[name] = factory


def names() -> list[str]:
    """The registered backend names in display order, "extractive" first."""
    _register_builtins()
    return list(_factories)


def get_generator(name: str | None = None, settings: GeneratorSettings | None = None) -> Generator:
    """The backend called ``name`` (default "extractive"), built once per settings and reused.

    Raises:
        GeneratorError: the name is unknown (the message lists the known ones), or the
            backend cannot start (a missing package or model file; the message says how to fix).
    """
    _register_builtins()
    name = name or "extractive"
    if name not in _factories:
        raise GeneratorError(f"Unknown generator {name!r}; choose one of: {', '.join(names())}.")
    settings = settings or GeneratorSettings.from_env(name)
    key = (name, settings)
    with _lock:
        generator = _instances.get(key)
        if generator is None:
            generator = _factories[name](settings)
            _instances[key] = generator
        return generator


def resolve(choice: str | Generator | None) -> Generator:
    """A generator from a name, an instance, or None (the extractive default)."""
    if choice is None or isinstance(choice, str):
        return get_generator(choice)
    if not isinstance(choice, Generator):
        raise GeneratorError(
            f"generator must be a name ({', '.join(names())}) or a Generator, not {type(choice).__name__}."
        )
    return choice


def clear_generators() -> None:
    """Forget built backends (frees loaded models; used by tests)."""
    with _lock:
        _instances.clear()


def _register_builtins() -> None:
    # Built-ins go first, whatever was registered before, so "extractive" leads names().
    global _builtins_registered
    if _builtins_registered:
        return
    from rag.generators import extractive, llama_cpp, openai_compat

    with _lock:
        if not _builtins_registered:
            earlier = dict(_factories)
            _factories.clear()
            register("extractive", extractive.ExtractiveGenerator)
            register("llama-cpp", llama_cpp.LlamaCppGenerator)
            register("openai", openai_compat.OpenAIGenerator)
            for name, factory in earlier.items():
                register(name, factory)
            _builtins_registered = True


def is_extractive(generator: Generator) -> bool:
    from rag.generators.extractive import ExtractiveGenerator

    return isinstance(generator, ExtractiveGenerator)
