"""Which encoder embeds a build's texts: bfloat16 matrix units when the CPU has them.

Measured here (2 cores of a Xeon with AMX; 300 SQuAD paragraphs, then 1,200 of their
sentences, each backend alone in its process, two runs each): ONNX Runtime fp32 (the query
path's encoder) 15.9-20.0 s / 14.2-15.9 s; torch fp32 10.0-12.9 s / 9.5-10.9 s; torch
computing in bfloat16 (``torch.autocast``: weights stay fp32, matrix products run on the
AMX tiles through oneDNN) 5.0-5.5 s / 5.7 s, with cosine >= 0.99996 to the fp32 vectors. So
a build embeds with torch in bfloat16 when the CPU has AMX-BF16 and the texts are many
enough to repay importing torch and loading the model (about 5 s in a new process).

The vectors are the same model's to within bfloat16 rounding, so the index keeps the
model's own name (questions are still embedded in fp32 by ONNX Runtime, and an index built
either way answers the same: see docs/scaling.md, "bfloat16 builds"). ``RAG_BUILD_BF16`` =
``auto`` (default) / ``on`` / ``off``.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from rag.config import settings
from rag.embedding.embedders import Embedder, SentenceTransformerEmbedder
from rag.embedding.onnx_embedder import OnnxEmbedder
from rag.errors import RagError

log = logging.getLogger(__name__)

# Characters to embed below which a build keeps the encoder it has: ONNX Runtime fp32 reads
# about 14,000 characters a second here, so this is ~14 s of its work, against ~5 s to
# import torch and load the model, then ~5 s in bfloat16. The seeds (~160,000) stay below.
MIN_CHARACTERS = 200_000
_CPUINFO = Path("/proc/cpuinfo")
_loaded: dict[str, SentenceTransformerEmbedder] = {}
_lock = threading.Lock()


@functools.cache
def has_amx_bf16() -> bool:
    """True when the CPU has AMX tiles for bfloat16 (Linux: the ``amx_bf16`` flag).

    Without them torch's bfloat16 runs on emulated or vector paths that are no faster than
    fp32, so elsewhere (and on other systems than Linux) builds keep fp32.
    """
    try:
        with open(_CPUINFO, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def bulk_encoder(embedder: Embedder, characters: int) -> Embedder:
    """The encoder for a build that embeds ``characters`` characters with ``embedder``.

    ``embedder`` itself unless bfloat16 applies: ``RAG_BUILD_BF16=on``, or ``auto`` on a CPU
    with AMX-BF16 and at least :data:`MIN_CHARACTERS`; and only for the fp32 model on the CPU
    (int8 weights and GPUs have their own paths; a Ray cluster's actors load their own
    model). When torch cannot load the model, one log line says so and the build goes on
    with ``embedder``.
    """

    mode = settings().build_bf16
    if mode == "off" or getattr(embedder, "device", None) != "cpu":
        return embedder

    if isinstance(embedder, OnnxEmbedder):
        if embedder.precision != "fp32":
            return embedder  # int8 weights: a model of their own, on ONNX Runtime
    elif not isinstance(embedder, SentenceTransformerEmbedder) or embedder.bf16:
        return embedder  # the hash embedder of tests, a wrapper, or bfloat16 already
    if mode == "auto" and (characters < MIN_CHARACTERS or not has_amx_bf16()):
        return embedder
    try:
        encoder = _bf16(embedder.id)
    except (ImportError, RagError) as error:
        log.warning("Embedding in fp32: the bfloat16 encoder did not load (%s).", error)
        return embedder
    log.info("Embedding in bfloat16 with torch (the CPU's AMX units).")
    return encoder


def _bf16(name: str) -> SentenceTransformerEmbedder:
    """The bfloat16 encoder of model ``name``, loaded once per process (a server's build
    worker keeps it between uploads)."""
    with _lock:
        if name not in _loaded:
            _loaded[name] = SentenceTransformerEmbedder(name, bf16=True)
        return _loaded[name]
