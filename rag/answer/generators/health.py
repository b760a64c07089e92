"""Is an answer mode usable now? A quick check per backend, for the UI to show before anyone asks.

* extractive: always (it needs no model);
* llama-cpp: llama-cpp-python is installed and the GGUF file exists (the model itself is not
  loaded: that takes seconds and memory, and the first answer does it anyway);
* openai: the server lists its models (``GET /models``) within :data:`TIMEOUT_SECONDS`;
* other registered backends: not checked (reported available).

Results are kept for :data:`MAX_AGE_SECONDS`, so many open pages cost one request per backend.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass, replace

from rag.answer.generators.base import EXTRACTIVE, GeneratorSettings
from rag.errors import RagError

# A server that takes longer than this to list its models is as good as down for a chat.
TIMEOUT_SECONDS = 3.0
# How long a verdict is reused before the backend is asked again.
MAX_AGE_SECONDS = 30.0


@dataclass(frozen=True)
class BackendHealth:
    """Whether the answer mode ``mode`` can answer now; ``detail`` says what was found, or
    what is wrong and how to fix it (one line)."""

    mode: str
    available: bool
    detail: str
    checked_at: float  # time.monotonic() of the check


_cache: dict[str, BackendHealth] = {}
_lock = threading.Lock()


def check_backend(mode: str, *, max_age: float = MAX_AGE_SECONDS) -> BackendHealth:
    """The health of answer mode ``mode``, checked now or at most ``max_age`` seconds ago."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(mode)
    if cached is not None and now - cached.checked_at <= max_age:
        return cached
    available, detail = _probe(mode)
    health = BackendHealth(mode, available, detail, time.monotonic())
    with _lock:
        _cache[mode] = health
    return health


def _probe(mode: str) -> tuple[bool, str]:
    try:
        if mode == EXTRACTIVE:
            return True, "ready: quotes the documents, no model needed"
        if mode == "llama-cpp":
            from rag.answer.generators.llama_cpp import INSTALL_HINT, model_path

            if importlib.util.find_spec("llama_cpp") is None:
                return False, f"llama-cpp-python is not installed: {INSTALL_HINT}"
            path = model_path(GeneratorSettings.from_env("llama-cpp"))
            return True, f"ready: {path.name}"
        if mode == "openai":
            from rag.answer.generators.openai_compat import OpenAIGenerator

            settings = GeneratorSettings.from_env("openai")
            server = OpenAIGenerator(replace(settings, timeout=min(settings.timeout, TIMEOUT_SECONDS)))
            models = server.list_models()
            model = settings.model or (models[0] if models else None)
            if model is None:
                return False, f"the server at {server.base_url} lists no models; set RAG_OPENAI_MODEL"
            return True, f"ready: {model} at {server.base_url}"
    except RagError as error:  # GeneratorError, ConfigError: their messages say the fix
        return False, str(error)
    except Exception as error:  # a server that hangs up or answers garbage is down, not a crash
        return False, f"the check failed ({type(error).__name__}: {error})"
    return True, "not checked (a backend rag does not know how to check)"
