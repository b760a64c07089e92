"""The generator contract, its settings, and the registry of backends by name.

A generator turns a grounded :class:`~rag.answer.prompting.Prompt` into streamed text. It never
sees the index and never decides citations: :mod:`rag.answer.verification` does that afterwards.

Backends are registered by name (``names()`` lists them; ``modes()`` puts "extractive", the
answerer that needs no model, first) and built lazily: ``import rag.answer.generators``
imports no model library; llama_cpp or the HTTP client is imported only when a backend is
first used.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rag.config import settings
from rag.errors import GeneratorError

if TYPE_CHECKING:
    from rag.answer.prompting import Prompt


@runtime_checkable
class Generator(Protocol):
    """What a generative backend provides.

    ``context_tokens`` is the model's context window (prompt plus answer), ``max_tokens``
    the answer budget; :func:`rag.answer.prompting.build_prompt` fits the passages into the rest,
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


class Stoppable:
    """``backend`` whose stream ends as soon as ``stop`` is set (the UI's Stop): the backend's
    own stream is then closed, which closes its HTTP connection (or ends llama.cpp's loop), so
    the model stops writing. Checked at every piece the model sends."""

    def __init__(self, backend: Generator, stop: threading.Event):
        self.backend, self.stop = backend, stop
        self.name, self.context_tokens, self.max_tokens = (
            backend.name,
            backend.context_tokens,
            backend.max_tokens,
        )

    def __getattr__(self, name: str) -> object:  # the backend's own (its model's name, path)
        return getattr(self.backend, name)

    def count_tokens(self, text: str) -> int:
        """As the backend counts."""
        return self.backend.count_tokens(text)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """The backend's pieces until ``stop`` is set; then its stream is closed."""
        pieces = self.backend.stream(prompt)
        try:
            for piece in pieces:
                if self.stop.is_set():
                    return
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()


@dataclass(frozen=True)
class GeneratorSettings:
    """Options shared by the generative backends; ``from_env`` reads the environment once.

    ``model`` is a GGUF path for llama-cpp and a model name for openai (default: the first
    one the server lists). The key is read from the environment when a request is made
    (:func:`rag.config.settings`), never stored here.
    """

    model: str | None = None
    base_url: str | None = None
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
            ConfigError: a variable is malformed.
            GeneratorError: an option is unknown or out of range.
        """

        env = settings()
        # Each backend reads its model from its own variable, so switching backends in the UI
        # never hands a GGUF path to a server or a server's model name to llama.cpp.
        model = {"llama-cpp": env.llama_model, "openai": env.openai_model}.get(backend or "")
        values: dict[str, object] = {
            "model": model,
            "base_url": env.openai_base_url,
            "context_tokens": env.llm_context,
            "max_tokens": env.llm_max_tokens,
            "timeout": env.llm_timeout,
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise GeneratorError(f"Unknown generator option(s) {sorted(unknown)}; known: {sorted(known)}.")
        values.update(overrides)
        return cls(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]


Factory = Callable[[GeneratorSettings], "Generator"]

# The extractive answerer is no generator (it needs no prompt), but it is the first answer
# mode everywhere a mode is chosen: the CLI, the UI and ``ask(generator=...)``.
EXTRACTIVE = "extractive"

# Built-in backends as "module:Class", imported on first use: listing the backends loads no
# model library, and this module imports no backend (which would import it back).
BUILTINS = {
    "llama-cpp": "rag.answer.generators.llama_cpp:LlamaCppGenerator",
    "openai": "rag.answer.generators.openai_compat:OpenAIGenerator",
}
_factories: dict[str, Factory | str] = dict(BUILTINS)
_instances: dict[tuple[str, GeneratorSettings], Generator] = {}
_lock = threading.RLock()


def model_name(backend: object) -> str:
    """The name of the model a backend runs, for people: a server's model ("qwen2.5:3b"), a
    GGUF file's name; "" when it has none (a scripted test backend)."""
    for attribute in ("model", "path"):
        value: Any = getattr(backend, attribute, None)
        if isinstance(value, str) and value:
            return value
        if value is not None and hasattr(value, "name"):
            return str(value.name)
    return ""


def register(name: str, factory: Factory | str) -> None:
    """Add a backend: a factory taking :class:`GeneratorSettings`, or "module:Class".

    Raises:
        ValueError: ``name`` is already registered, or is "extractive".
    """
    if name in _factories or name == EXTRACTIVE:
        raise ValueError(f"A generator named {name!r} is already registered.")
    _factories[name] = factory


def names() -> list[str]:
    """The registered generative backends in display order, built-ins first."""
    return list(_factories)


def modes() -> list[str]:
    """Every answer mode: "extractive" first, then the generative backends."""
    return [EXTRACTIVE, *names()]


def _factory(name: str) -> Factory:
    factory = _factories[name]
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        _factories[name] = factory
    return factory


def get_generator(name: str, settings: GeneratorSettings | None = None) -> Generator:
    """The backend called ``name``, built once per settings and reused.

    Raises:
        GeneratorError: the name is unknown (the message lists the known ones), or the
            backend cannot start (a missing package or model file; the message says how to fix).
    """
    if name not in _factories:
        raise GeneratorError(f"Unknown generator {name!r}; choose one of: {', '.join(modes())}.")
    settings = settings or GeneratorSettings.from_env(name)
    key = (name, settings)
    with _lock:
        generator = _instances.get(key)
        if generator is None:
            generator = _factory(name)(settings)
            _instances[key] = generator
        return generator


def resolve(choice: str | Generator | None) -> Generator | None:
    """The generator a choice names: None for the extractive answerer ("extractive" or None),
    else a registered backend's name or a :class:`Generator` instance.

    Raises:
        GeneratorError: an unknown name, or an object that is no Generator.
    """
    if choice is None or choice == EXTRACTIVE:
        return None
    if isinstance(choice, str):
        return get_generator(choice)
    if not isinstance(choice, Generator):
        raise GeneratorError(
            f"generator must be a name ({', '.join(modes())}) or a Generator, not {type(choice).__name__}."
        )
    return choice


def clear_generators() -> None:
    """Forget built backends (frees loaded models; used by tests)."""
    with _lock:
        _instances.clear()
