"""The embedding model run by ONNX Runtime, so that answering never imports torch.

`import sentence_transformers` alone took 4.5 s of a 4.8 s `rag ask`; ONNX Runtime and the
Rust `tokenizers` import in ~0.2 s. The ONNX graph is exported from the same packaged
weights (fp32, so its vectors match the torch model's: cosine 1.0000000 on every text we
compared), once, the first time a model is used, into a cache folder keyed by the model
files' identity and written atomically. An index built with torch and queried with ONNX
(or the reverse) therefore needs nothing rebuilt: the model is the same.

Only sentence-transformers models of the usual shape are exported: a BERT-style
transformer, then mean or CLS pooling, then normalisation. Anything else (or a missing
onnxruntime) falls back to the torch model, with one log line saying why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import settings
from rag.errors import RagError, UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

EXPORT_VERSION = 2  # bump when the exported graph or the files beside it change (2: weights apart)
OPSET = 17
MODEL_FILE = "model.onnx"
# The weights beside the graph, not inside it: ONNX Runtime then reads them without first
# holding the whole protobuf in memory. Measured here, fp32 all-MiniLM-L6-v2: a session's
# peak RSS 142 MB with the weights inside the graph, 57 MB with them apart; same speed.
WEIGHTS_FILE = "model.onnx.data"
TOKENIZER_FILE = "tokenizer.json"
SETTINGS_FILE = "rag-onnx.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Compute threads of each session (None: ONNX Runtime's default, one per core). The build
# worker sets it to leave a core to the questions (rag.indexing.worker).
THREADS: int | None = None


def cache_root() -> Path:
    """Where exported models live: $RAG_CACHE_DIR, else the user's cache folder for rag."""

    configured = settings().cache_dir
    if configured is not None:
        return configured / "onnx"
    from platformdirs import user_cache_path

    return user_cache_path("rag") / "onnx"


def _identity(model_dir: Path) -> str:
    """A key for the model files as they are: name, size and modification time of each.

    Hashing the 90 MB of weights on every start would cost ~0.2 s of the 1 s budget; any
    change to a file changes its size or time, and the export records the weights' SHA-256.
    """
    digest = hashlib.sha256(f"v{EXPORT_VERSION}:{model_dir.resolve()}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _settings(model_dir: Path) -> dict[str, Any]:
    """Pooling, normalisation and length limit from the sentence-transformers config files."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
        pooling_dir = next(model_dir / m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((pooling_dir / "config.json").read_text(encoding="utf-8"))
        sbert = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise UnsupportedModelError(
            f"{model_dir} is not a sentence-transformers model folder ({error})"
        ) from error
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise UnsupportedModelError(f"{model_dir}: modules {kinds} (only Transformer, Pooling[, Normalize])")
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
        raise UnsupportedModelError(f"{model_dir}: pooling {modes} (only mean or CLS)")
    return {
        "pooling": "mean" if modes == ["pooling_mode_mean_tokens"] else "cls",
        "max_tokens": int(sbert.get("max_seq_length") or 512),
        "dimension": int(pooling["word_embedding_dimension"]),
    }


_export_lock = threading.Lock()


def exported(model_dir: Path) -> Path:
    """The folder of ``model_dir``'s ONNX export, exporting it first if there is none yet.

    Raises:
        UnsupportedModelError: the model is not of a supported shape.
        RagError: the export failed (torch or onnx missing, or the model would not trace).
    """
    settings = _settings(model_dir)
    target = cache_root() / f"{model_dir.name}-{_identity(model_dir)}"
    return made_once(target, lambda staging: _export(model_dir, staging, settings))


def quantized(folder: Path) -> Path:
    """The int8 version of the fp32 export in ``folder``, made once beside it.

    Dynamic quantisation of the MatMul weights, signed 8-bit, one scale per output channel
    (onnxruntime.quantization). Measured here on 400 seed paragraphs against the fp32
    export: cosine min 0.988 / mean 0.993, 1.8x faster; per-tensor scales gave min 0.927,
    unsigned weights were only 1.4x faster, and quantising the embedding tables as well cost
    accuracy for nothing.

    Raises:
        RagError: onnxruntime's quantiser is missing or failed.
    """
    return made_once(folder.parent / f"{folder.name}-int8", lambda staging: _quantize(folder, staging))


def made_once(target: Path, make: Callable[[Path], None]) -> Path:
    """``target`` as ``make(staging)`` writes it, made once across threads and processes (a
    file lock) in a staging folder renamed into place, so no reader sees half of one."""
    if (target / SETTINGS_FILE).is_file():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with _export_lock, FileLock(str(target) + ".lock"):  # one maker per target, across processes
        if not (target / SETTINGS_FILE).is_file():
            staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
            staging.mkdir()
            try:
                make(staging)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target


def _export(model_dir: Path, staging: Path, settings: dict[str, Any]) -> None:
    """Trace the transformer to ONNX into ``staging``, with the tokenizer and settings beside it."""
    log.warning("Exporting the embedding model in %s to ONNX once (about 10 s)…", model_dir)
    try:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as error:
            raise RagError(f"Exporting the model to ONNX needs torch and transformers ({error}).") from error

        class LastHiddenState(torch.nn.Module):
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state

        transformers_logging.disable_progress_bar()  # the one warning line above says enough
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        sample = tokenizer(["a short one", "and a somewhat longer sample"], padding=True, return_tensors="pt")
        if "token_type_ids" not in sample:
            raise UnsupportedModelError(f"{model_dir}: no token_type_ids input (not BERT-style)")
        axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes: not for users
            torch.onnx.export(
                LastHiddenState(model),
                tuple(sample[name] for name in _INPUTS),
                str(staging / MODEL_FILE),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, dynamic shapes
            )
        weights_apart(staging / MODEL_FILE)
        shutil.copyfile(model_dir / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        weights = next(
            model_dir / n for n in ("model.safetensors", "pytorch_model.bin") if (model_dir / n).is_file()
        )
        settings = {**settings, "source": str(model_dir), "weights_sha256": _sha256(weights), "opset": OPSET}
        (staging / SETTINGS_FILE).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    except RagError:  # UnsupportedModelError too: its message is the one to show
        raise
    except Exception as error:  # torch's exporter raises many types
        raise RagError(
            f"Exporting {model_dir.name} to ONNX failed ({type(error).__name__}: {error})."
        ) from error


def weights_apart(model_file: Path) -> None:
    """Rewrite ``model_file`` with its weights in WEIGHTS_FILE beside it (see WEIGHTS_FILE)."""
    import onnx

    model = onnx.load(str(model_file))
    onnx.save_model(
        model,
        str(model_file),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=WEIGHTS_FILE,
        size_threshold=1024,
    )


def _quantize(folder: Path, staging: Path) -> None:
    """Quantise the export in ``folder`` into ``staging`` (see :func:`quantized`)."""
    try:
        try:
            from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]
        except ImportError as error:
            raise RagError(f"Quantising the model to int8 needs onnxruntime ({error}).") from error
        quiet = logging.getLogger()  # the quantiser's advice goes to the root logger
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                str(folder / MODEL_FILE),
                str(staging / MODEL_FILE),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        finally:
            quiet.setLevel(level)
        shutil.copyfile(folder / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        settings["precision"] = "int8"
        (staging / SETTINGS_FILE).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    except RagError:
        raise
    except Exception as error:  # the quantiser raises many types
        problem = f"{type(error).__name__}: {error}"
        raise RagError(f"Quantising {folder.name} to int8 failed ({problem}).") from error


def _pool_spans(
    hidden: Any, offsets: list[tuple[int, int]], mask: Any, spans: list[tuple[int, int]], out: Any
) -> None:
    """Fill ``out[k]`` with the normalised mean of the tokens lying inside ``spans[k]``.

    Special tokens have the offsets (0, 0) and are skipped; a word piece belongs to the span
    that holds its first character (spans of one chunk never overlap).
    """
    import numpy as np

    starts = np.array([start for start, end in offsets])
    real = (np.array([end > start for start, end in offsets])) & (np.asarray(mask) > 0)
    for k, (start, end) in enumerate(spans):
        inside = real & (starts >= start) & (starts < end)
        if inside.any():
            vector = hidden[inside].mean(axis=0)
            out[k] = vector / max(float(np.linalg.norm(vector)), 1e-12)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


class OnnxEmbedder:
    """A sentence-transformers model exported to ONNX; same ``id`` and vectors as the torch one.

    Usage example::

        embedder = OnnxEmbedder("all-MiniLM-L6-v2", exported(Path(model_folder)))
        vectors = embedder.encode(["Who is the spokesperson?"])   # float32 [1, 384]
    """

    runtime = "onnx"

    def __init__(self, name: str, folder: Path, device: str = "cpu") -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        self.id = name
        self.precision = settings.get("precision", "fp32")
        self.dimension = int(settings["dimension"])
        self.max_tokens = int(settings["max_tokens"])
        self._pooling = settings["pooling"]
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initialisers are noise here
        if THREADS is not None:
            options.intra_op_num_threads = THREADS
        self.device = device
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else []
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=providers or ["CPUExecutionProvider"]
        )
        if device == "cuda" and self._session.get_providers()[0] != "CUDAExecutionProvider":
            from rag.errors import ConfigError

            # ONNX Runtime falls back to the CPU silently when the CUDA libraries do not load.
            raise ConfigError(
                "RAG_DEVICE=cuda, but ONNX Runtime could not start its CUDA provider (are the CUDA "
                "and cuDNN libraries of onnxruntime-gpu installed?). Use --device cpu or auto."
            )
        self._counter = Tokenizer.from_file(str(folder / TOKENIZER_FILE))  # counts: no truncation
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._tokenizer.enable_padding()  # to the longest text of each batch

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, shape [len(texts), dimension], one row per text."""
        return self._run(texts, None, batch_size)[0]

    def encode_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 64
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass per text: its vector (the same as :meth:`encode` gives) and, for each
        character span ``(start, end)`` of it, the L2-normalised mean of the embeddings of the
        tokens inside the span, read in the context of the whole text. Shapes: [len(texts),
        dimension] and one [len(spans[i]), dimension] array per text; a span with no token
        read (cut off by truncation, or blank) gets a zero row, for the caller to encode alone.
        """
        vectors, pooled = self._run(texts, spans, batch_size)
        assert pooled is not None
        return vectors, pooled

    def _run(
        self, texts: list[str], spans: list[list[tuple[int, int]]] | None, batch_size: int
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled = [np.zeros((len(s), self.dimension), dtype=np.float32) for s in spans] if spans else None
        # Batches of similar length pad little: most of the cost (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            types = np.array([e.type_ids for e in encodings], dtype=np.int64)
            (hidden,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
            if self._pooling == "cls":
                pooled_rows = hidden[:, 0]
            else:
                weights = mask[..., None].astype(np.float32)
                pooled_rows = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled_rows, axis=1, keepdims=True)
            out[rows] = pooled_rows / np.maximum(norms, 1e-12)
            if spans is not None and pooled is not None:
                for j, row in enumerate(rows):
                    _pool_spans(hidden[j], encodings[j].offsets, mask[j], spans[row], pooled[row])
        return out, pooled

    def count_tokens(self, text: str) -> int:
        """Word pieces including the [CLS]/[SEP] the model adds."""
        return len(self._counter.encode(text).ids)

    def fits(self, text: str) -> bool:
        """True when the model reads ``text`` whole (at most ``max_tokens`` word pieces)."""
        return self.count_tokens(text) <= self.max_tokens
