"""Any server speaking the OpenAI chat-completions API: Ollama, llama.cpp's server, vLLM,
LM Studio. Streams server-sent events with the standard library (no client package).

The base URL comes from ``--base-url`` / $RAG_OPENAI_BASE_URL (default: Ollama's
http://127.0.0.1:11434/v1), the model from ``--model`` / $RAG_OPENAI_MODEL (default: the
first model the server lists), the key from $RAG_OPENAI_API_KEY or $OPENAI_API_KEY, read
when a request is made (local servers need none).
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from rag.answer.generators.base import GeneratorSettings
from rag.answer.prompting import Prompt
from rag.config import settings
from rag.errors import GeneratorError
from rag.ingest.tokens import count_tokens

DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"
# The server's tokenizer is unknown: count with cl100k and add a margin, since smaller
# vocabularies (Llama 2, SmolLM) spend more tokens on the same text.
TOKEN_MARGIN = 1.3


class OpenAIGenerator:
    """Usage example::

    settings = GeneratorSettings(base_url="http://127.0.0.1:11434/v1", model="qwen2.5:3b")
    answer = engine.ask("Who is the spokesperson?", generator=OpenAIGenerator(settings))
    """

    name = "openai"

    def __init__(self, settings: GeneratorSettings | None = None) -> None:
        self.settings = settings or GeneratorSettings()
        self.base_url = (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.context_tokens = self.settings.context_tokens
        self.max_tokens = self.settings.max_tokens
        self._model = self.settings.model

    def count_tokens(self, text: str) -> int:
        """An estimate: cl100k tokens (the server's own tokenizer is not reachable offline)."""

        return math.ceil(count_tokens(text) * TOKEN_MARGIN)

    def list_models(self) -> list[str]:
        """The names of the models the server offers (``GET /models``), in its order.

        Raises:
            GeneratorError: the server is unreachable, refuses, times out, or answers
                something that is not a model list.
        """
        try:
            with self._request("GET", "/models") as response:
                listed = json.load(response).get("data") or []
                return [str(item["id"]) for item in listed]
        except GeneratorError:
            raise
        except (OSError, http.client.HTTPException) as error:  # hung up, bad status line, timeout
            raise GeneratorError(
                f"The server at {self.base_url} broke off ({type(error).__name__})."
            ) from error
        except (ValueError, AttributeError, KeyError, TypeError) as error:
            raise GeneratorError(
                f"The server at {self.base_url} did not answer /models with a model list ({error})."
            ) from error

    @property
    def model(self) -> str:
        """The model to ask for: the one configured, else the first the server lists."""
        if self._model is None:
            listed = self.list_models()
            if not listed:
                raise GeneratorError(
                    f"The server at {self.base_url} lists no models; "
                    "pass --model NAME or set RAG_OPENAI_MODEL."
                )
            self._model = listed[0]
        return self._model

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """The server's answer to ``prompt``, streamed as server-sent events, in pieces.

        Raises:
            GeneratorError: the server is unreachable, refuses the request, or times out.
        """
        deadline = time.monotonic() + self.settings.timeout
        body = {
            "model": self.model,
            "messages": prompt.messages(),
            "temperature": self.settings.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.settings.seed,
            "stream": True,
        }
        with self._request("POST", "/chat/completions", body) as response:
            try:
                for raw in response:
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, "event:" lines
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    piece = _delta(data)
                    if piece:
                        yield piece
                    if time.monotonic() > deadline:
                        raise GeneratorError(self._timeout_message())
            except TimeoutError as error:
                raise GeneratorError(self._timeout_message()) from error
            except (OSError, ValueError) as error:
                raise GeneratorError(f"The stream from {self.base_url} broke off ({error}).") from error

    def _timeout_message(self) -> str:
        return (
            f"The server at {self.base_url} did not answer within {self.settings.timeout:.0f} s; "
            "raise RAG_LLM_TIMEOUT or use a smaller model."
        )

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Accept": "text/event-stream" if body and body.get("stream") else "application/json"}
        key = _api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            return urllib.request.urlopen(request, timeout=self.settings.timeout)  # noqa: S310 - user's URL
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:300]
            hint = (
                "; set $RAG_OPENAI_API_KEY (or $OPENAI_API_KEY) to the server's key"
                if error.code in (401, 403)
                else ""
            )
            raise GeneratorError(
                f"The server at {self.base_url} answered {error.code}: {detail}{hint}."
            ) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, (TimeoutError, socket.timeout)):
                raise GeneratorError(self._timeout_message()) from error
            raise GeneratorError(
                f"Cannot reach an OpenAI-compatible server at {self.base_url} ({error.reason}); start it "
                "(e.g. `ollama serve`) or pass --base-url / set RAG_OPENAI_BASE_URL."
            ) from error
        except TimeoutError as error:
            raise GeneratorError(self._timeout_message()) from error


def _delta(data: str) -> str:
    """The text of one streamed chunk ("" for role-only or empty chunks)."""
    try:
        event = json.loads(data)
    except json.JSONDecodeError as error:
        raise GeneratorError(f"The server sent a malformed event: {data[:120]!r}.") from error
    if "error" in event:
        raise GeneratorError(f"The server reported an error: {event['error']}.")
    choices = event.get("choices") or []
    if not choices:
        return ""
    return (choices[0].get("delta") or {}).get("content") or ""


def _api_key() -> str | None:
    """The key for the server, read when a request is made (never kept in settings objects)."""
    import os

    # OPENAI_API_KEY is the OpenAI client's own variable: honoured so a user's existing
    # set-up works, after rag's own.
    return settings().openai_api_key or os.environ.get("OPENAI_API_KEY")
