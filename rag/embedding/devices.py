"""Where embeddings are computed: ``RAG_DEVICE`` / ``--device`` = ``cpu``, ``cuda`` or ``auto``.

``auto`` (the default) uses a CUDA GPU when one can be used and the CPU otherwise; ``cuda``
insists and fails with one line naming what is missing. A GPU is used through ONNX
Runtime's CUDA execution provider when the installed onnxruntime has it (the
``onnxruntime-gpu`` package), else through torch on the GPU (sentence-transformers) when a
CUDA build of torch sees one. The check is cheap on a machine without an NVIDIA driver: no
torch is imported to find out there is no GPU.

What is tested where: on the CPU-only machines rag is developed on, ``cpu``, ``auto``
(resolving to the CPU) and the error of ``cuda`` are tested; the GPU paths are not tested
there. For scale, an H200 encodes the SQuAD corpus's paragraphs at about 2,800 a second
(the issue's measurement: MiniLM-L6 in torch, fp32, batch 256) against about 40 on two CPU
cores.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from rag.errors import ConfigError

Device = Literal["cpu", "cuda"]
Backend = Literal["onnx", "torch"]

# Present whenever the NVIDIA kernel driver is loaded: without it no CUDA device exists, and
# importing torch (seconds) just to learn that is skipped.
_DRIVER = Path("/proc/driver/nvidia/version")


def resolve(requested: str) -> Device:
    """The device to embed on for a requested ``cpu`` / ``cuda`` / ``auto``.

    Raises:
        ConfigError: ``cuda`` was asked for and no CUDA device can be used (the message says
            what was looked for and how to fix it), or the value is none of the three.
    """
    if requested == "cpu":
        return "cpu"
    if requested not in ("cuda", "auto"):
        raise ConfigError(f"RAG_DEVICE must be cpu, cuda or auto, not {requested!r}.")
    if cuda_backend() is not None:
        return "cuda"
    if requested == "auto":
        return "cpu"
    raise ConfigError(
        "RAG_DEVICE=cuda, but no CUDA GPU can be used: onnxruntime has no CUDAExecutionProvider "
        "(install onnxruntime-gpu) and torch sees no CUDA device. Use --device cpu (or auto)."
    )


@functools.cache
def cuda_backend() -> Backend | None:
    """How a CUDA GPU can be reached: "onnx" (ONNX Runtime's CUDA provider), "torch", or None.

    The NVIDIA driver is checked first: onnxruntime-gpu lists its CUDA provider on a machine
    without any GPU, since the list says what the package was built with.
    """
    if not _DRIVER.exists():
        return None
    try:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return "onnx"
    except ImportError:
        pass
    try:
        import torch
    except ImportError:
        return None
    return "torch" if torch.cuda.is_available() else None
