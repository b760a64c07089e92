"""Every ``RAG_*`` environment variable rag reads, in one place, and the default paths.

Precedence: an argument (or CLI flag) beats the environment, which beats the defaults here.
The variables are parsed and validated by pydantic-settings (a maintained settings library,
so a malformed value is reported the same way for every variable), and read again on every
call of :func:`settings`, so a test or a long-running process sees a changed environment.
The table of variables in docs/configuration.md is checked against :data:`VARIABLES` by a test.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.errors import ConfigError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

# The checkout this package sits in, when it is one (an editable install or a source tree):
# there the defaults are its seeds/ and index/ folders. An installed wheel has none.
_CHECKOUT = Path(__file__).resolve().parent.parent
MAX_QUESTION_CHARS = 4000  # far above any real question; stops pasted documents early
MAX_UPLOAD_MB = 20.0

# Every variable, with what it sets. docs/configuration.md documents exactly these.
VARIABLES: dict[str, str] = {
    "RAG_CORPUS": "the default document folder",
    "RAG_INDEX": "the default index folder",
    "RAG_EMBEDDER": "the embedding model: a sentence-transformers name or local folder",
    "RAG_EMBEDDER_RUNTIME": "onnx (default: ONNX Runtime, no torch when answering) or torch",
    "RAG_SENTENCE_VECTORS": "separate or pooled (one pass per chunk); unset: an index keeps its own",
    "RAG_DEVICE": "cpu, cuda or auto (default: a CUDA GPU when one can be used) for embedding",
    "RAG_EMBEDDER_PRECISION": "fp32 or int8 (8-bit weights, ONNX Runtime); unset: an index keeps its own",
    "RAG_BUILD_BF16": "auto (default: bfloat16 on CPUs with AMX for large builds), on or off",
    "RAG_STORE": "where the index is kept: files (default), milvus:./rag.db or milvus://HOST:19530",
    "RAG_MILVUS_TOKEN": "the token sent to a Milvus server (user:password, or an API key)",
    "RAG_CACHE_DIR": "where the ONNX export of the embedding model is kept (default: the user cache)",
    "RAG_DATA_DIR": "where UI collections and other folders' indexes are kept (default: user data folder)",
    "RAG_USERNAME": "the UI's login name (with RAG_PASSWORD)",
    "RAG_PASSWORD": "the UI's login password (with RAG_USERNAME)",
    "RAG_MAX_UPLOAD_MB": "the largest upload, in megabytes (default 20)",
    "RAG_RAISE_ERRORS": "show tracebacks instead of one-line errors in the CLI",
    "RAG_LLAMA_MODEL": "the GGUF file for llama-cpp",
    "RAG_OPENAI_BASE_URL": "the OpenAI-compatible server",
    "RAG_OPENAI_MODEL": "the model name on that server",
    "RAG_OPENAI_API_KEY": "the key sent to that server (read when a request is made)",
    "RAG_LLM_CONTEXT": "the generative model's context window, in tokens",
    "RAG_LLM_MAX_TOKENS": "the longest generated answer, in tokens",
    "RAG_LLM_TIMEOUT": "seconds a generated answer may take",
}


@dataclass(frozen=True)
class Settings:
    """The environment's settings, parsed; None means "not set: use the default"."""

    corpus: Path | None = None
    index: Path | None = None
    embedder: str | None = None
    embedder_runtime: Literal["onnx", "torch"] = "onnx"
    embedder_precision: Literal["fp32", "int8"] | None = None  # None: fp32, or an index's own
    device: Literal["cpu", "cuda", "auto"] = "auto"
    sentence_vectors: Literal["separate", "pooled"] | None = None  # None: separate, or an index's own
    build_bf16: Literal["auto", "on", "off"] = "auto"
    cache_dir: Path | None = None
    data_dir: Path | None = None
    store: str | None = None  # None: the index folder
    milvus_token: str | None = None
    username: str = ""
    password: str = ""
    max_upload_mb: float = MAX_UPLOAD_MB
    raise_errors: bool = False
    llama_model: str | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    llm_context: int | None = None
    llm_max_tokens: int | None = None
    llm_timeout: float | None = None


# Bounds a value must keep, by Settings field (pydantic's Field constraints).
_BOUNDS: dict[str, dict[str, Any]] = {
    "max_upload_mb": {"gt": 0},
    "llm_context": {"ge": 256},
    "llm_max_tokens": {"ge": 1},
    "llm_timeout": {"gt": 0},
}


@lru_cache(maxsize=1)
def _model() -> type[BaseSettings]:
    """A pydantic-settings model with one optional field per Settings field (derived, so
    the two cannot drift): an unset variable is None and takes the Settings default."""
    # Built on first use: pydantic costs ~0.3 s to import, which `import rag` must not pay.
    import typing

    from pydantic import Field, create_model, field_validator
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class EnvBase(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)

        @field_validator("*", mode="before")
        @classmethod
        def _empty_is_unset(cls, value: Any) -> Any:
            # `RAG_INDEX= rag ask …` means "not set", as it does for the shell's own variables.
            return None if isinstance(value, str) and not value.strip() else value

    hints = typing.get_type_hints(Settings)
    fields: dict[str, Any] = {
        name: (hints[name] | None, Field(None, **_BOUNDS.get(name, {})))
        for name in Settings.__dataclass_fields__
    }
    return create_model("EnvSettings", __base__=EnvBase, **fields)


def settings() -> Settings:
    """The ``RAG_*`` variables of the environment, parsed now.

    Raises:
        ConfigError: a variable holds a value of the wrong kind (the message names it and
            says what it must be).
    """
    if not any(name.upper().startswith("RAG_") and value.strip() for name, value in os.environ.items()):
        # Nothing to parse: the defaults, without importing pydantic (~0.2 s of a new
        # process's first answer). Names are matched as pydantic-settings does, ignoring case.
        return Settings(**_flags)
    from pydantic import ValidationError

    try:
        parsed = _model()()
    except ValidationError as error:
        problem = error.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = f"RAG_{field.upper()}"
        raise ConfigError(
            f"${variable}={os.environ.get(variable, '')!r} is not valid ({problem['msg']}); "
            f"fix or unset it ({VARIABLES.get(variable, '')})."
        ) from None
    values = {name: getattr(parsed, name) for name in Settings.__dataclass_fields__}
    values.update(_flags)  # the command line's flags win over the environment
    # Unset (or empty) variables take the defaults of Settings.
    return Settings(**{name: value for name, value in values.items() if value is not None})


_flags: dict[str, Any] = {}


def set_flags(**values: Any) -> None:
    """Settings given on the command line (``rag index --device cuda``), for the rest of the
    process: they win over the ``RAG_*`` variables. None leaves a setting to the environment.

    Raises:
        ValueError: a name is not a setting.
    """
    unknown = set(values) - set(Settings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"Not settings: {sorted(unknown)}")
    for name, value in values.items():
        if value is not None:
            _flags[name] = value
            # Also for the processes this one starts (the UI's build worker is spawned).
            os.environ[f"RAG_{name.upper()}"] = str(value)


def passive_openmp() -> None:
    """Make OpenMP threads sleep, not spin, between parallel regions: call it before a library
    with its own OpenMP runtime loads (torch, FAISS, llama.cpp), which reads the setting once.

    By default they busy-wait; on a small machine shared with other processes that starves
    everything. Measured here on 2 cores: one question's embedding under load took p50 106 ms
    spinning, 11 ms passive; two llama.cpp threads took 61 s instead of 16 s for one answer.
    The user's own ``OMP_WAIT_POLICY`` wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def store() -> str | None:
    """``--store`` / ``$RAG_STORE`` without parsing every setting (read per question: ~1 µs
    against ~1 ms for :func:`settings`); None or "files": the index folder."""
    value = _flags.get("store") or os.environ.get("RAG_STORE", "").strip()
    return None if value in ("", "files") else str(value)


def data_dir() -> Path:
    """$RAG_DATA_DIR, else the user data folder (``~/.local/share/rag`` on Linux): where the
    collections made in the UI live, the indexes of folders served with ``--corpus``, and an
    installed rag's default documents and index (a checkout uses its own seeds/ and index/)."""
    chosen = settings().data_dir
    if chosen is not None:
        return chosen
    from platformdirs import user_data_path

    return user_data_path("rag", appauthor=False)


def demo_corpus() -> Path | None:
    """The checkout's seeds/ (the demo news), or None in an installed package: a collection
    over it is served read-only, so that no upload lands in the git checkout."""
    return _CHECKOUT / "seeds" if _in_checkout() else None


def _in_checkout() -> bool:
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "rag" / "__init__.py").is_file()


def default_corpus() -> Path:
    """$RAG_CORPUS, else the checkout's seeds/, else ``documents/`` in the user data folder
    (``~/.local/share/rag/documents`` on Linux)."""
    chosen = settings().corpus
    if chosen is not None:
        return chosen
    return _CHECKOUT / "seeds" if _in_checkout() else data_dir() / "documents"


def default_index() -> Path:
    """$RAG_INDEX, else the checkout's index/, else ``index/`` in the user data folder."""
    chosen = settings().index
    if chosen is not None:
        return chosen
    return _CHECKOUT / "index" if _in_checkout() else data_dir() / "index"


def checkout() -> Path | None:
    """The source checkout rag runs from (its eval/ and seeds/ live there), or None."""
    return _CHECKOUT if _in_checkout() else None


def login_from_env() -> tuple[str, str] | None:
    """The UI's login from $RAG_USERNAME and $RAG_PASSWORD (None: no login asked).

    Raises:
        ConfigError: only one of the two is set (a typo would otherwise leave the UI open).
    """
    current = settings()
    if not current.username and not current.password:
        return None
    if not (current.username and current.password):
        raise ConfigError("Set both RAG_USERNAME and RAG_PASSWORD to require a login, or neither.")
    return current.username, current.password


def check_weights(weights: Mapping[str, float], features: Collection[str], what: str) -> None:
    """Refuse weights keyed by a name that is no feature: a typo would silently weigh 0.

    Raises:
        ValueError: a key is not in ``features`` (the message lists the known ones).
    """
    unknown = sorted(set(weights) - set(features))
    if unknown:
        raise ValueError(f"{what}: unknown feature(s) {unknown}; known: {', '.join(features)}.")
