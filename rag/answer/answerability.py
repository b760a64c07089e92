"""Whether the documents answer a question: a small logistic model over scale-free evidence.

The answerer used to add raw MiniLM cosines and a first-stage margin and compare the sum with
a threshold calibrated on the seeds. Raw cosines differ from corpus to corpus (a corpus of
near-identical news items scores every question higher than a corpus of unrelated
encyclopaedia articles), and the margin fails both ways (an exact duplicate file makes it
0; a one-chunk index makes it large), so the threshold refused 13 % of answerable SQuAD
questions. The features below are read relative to the question's own candidates (the
z-score of the top cosine among the ~50 chunks retrieval looked at), relative to the
corpus's own vocabulary (IDF divided by the largest IDF the corpus can give), or are shares
that mean the same in any corpus (how many of the question's names and numbers the passage
holds). ``eval/train_answerability.py`` fits the weights on public data with fixed seeds
(``make train``) and writes them to ``answerability.json`` beside this module; the training
sets, figures and the held-out results are in that file and in docs/evaluation.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.ingest.lexical import coverage, tokenize
from rag.search.answer_types import AnswerType
from rag.store.index import Index

if TYPE_CHECKING:
    import numpy as np

    from rag.answer.reader import Reading
    from rag.search.hits import Hit, Retrieval

MODEL_FILE = Path(__file__).with_name("answerability.json")
# The same model fitted on indexes whose sentence vectors are pooled from their chunk's pass
# (RAG_SENTENCE_VECTORS=pooled): the cosines it weighs are on another scale there.
POOLED_MODEL_FILE = Path(__file__).with_name("answerability-pooled.json")


def model_file(sentence_vectors: str) -> Path:
    """The fitted model for an index whose sentence vectors were made ``sentence_vectors``."""
    return POOLED_MODEL_FILE if sentence_vectors == "pooled" else MODEL_FILE


FEATURES = (
    "passage_cosine",  # cosine of question and top passage
    "passage_cosine_z",  # the same, as a z-score among every chunk retrieval scored
    "sentence_cosine",  # best cosine of one candidate sentence
    "sentence_cosine_z",  # the same, as a z-score among the candidate sentences
    "support",  # best (coverage with context) x (offers the asked-for kind)
    "chosen_focus",  # the chosen sentence's coverage of the question's non-title words
    "chosen_context",  # its coverage with its previous sentence and title
    "chosen_kind",  # whether it offers the asked-for kind (1, 0.5 open or weak, 0)
    "passage_coverage",  # IDF coverage of the question's words in the top passage and title
    "missing_idf",  # rarest question word the top passage lacks (IDF / the corpus's largest)
    "constraints",  # share of the question's names and numbers found in the top passage
    "chosen_missing_idf",  # rarest question word missing around the chosen sentence (/ largest)
    "chosen_constraints",  # share of the question's names and numbers around the chosen sentence
    "margin",  # first-stage lead of the top passage over the next (duplicates folded)
    "typed",  # the question asks for a kind (number, date, name …), not anything
    "question_terms",  # how many content words the question has (/10, at most 1)
    "reader_margin",  # the reader's best span score minus its no-answer score (rag.answer.reader)
    "reader_head",  # the reader's answerability logit
)

# A name or a number in the question: capitalised words after the first, digits.
_CONSTRAINT = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'’-]*|\b\d[\d,.]*\b")
_Z_FLOOR = 0.02  # a spread under this is noise: z-scores would explode on near-ties


@dataclass(frozen=True)
class AnswerabilityModel:
    """Standardisation and logistic weights over FEATURES, and the decision threshold.

    ``probability(x) = sigmoid(intercept + sum(weight_i * (x_i - mean_i) / scale_i))``;
    the answerer abstains when it is below ``threshold``, and whenever the reader's margin
    (best span minus "no answer") is below ``reader_veto``: a decisive "no answer" that the
    linear sum would let cosines outvote (the 3rd percentile of the answerable dev
    questions' margins, the lowest over the sets; see eval/train_answerability.py).
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float
    info: dict[str, Any]
    reader_veto: float = -math.inf

    def probability(self, row: Sequence[float] | np.ndarray) -> float:
        """P(the documents answer the question) for one feature row (FEATURES order)."""
        # A NaN (a reader that could not read the text) counts as the mean: no evidence.
        z = self.intercept + sum(
            w * (float(x) - m) / s
            for w, x, m, s in zip(self.weights, row, self.mean, self.scale, strict=True)
            if not math.isnan(float(x))
        )
        return 1.0 / (1.0 + math.exp(-z))

    def vetoed(self, row: Sequence[float] | np.ndarray) -> bool:
        """True when the reader's margin in ``row`` is below the veto (see the class)."""
        return float(row[FEATURES.index("reader_margin")]) < self.reader_veto

    def to_json(self) -> dict[str, Any]:
        """The model as written to answerability.json (rounded, so a refit is byte-identical)."""
        return {
            "features": list(FEATURES),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "weights": [round(v, 6) for v in self.weights],
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 6),
            "reader_veto": round(self.reader_veto, 6),
            "info": self.info,
        }


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> AnswerabilityModel:
    """The fitted model shipped with rag (read once).

    Raises:
        ValueError: the file was written for other features (refit with `make train`).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path} was fitted on other features; run `make train` to refit it.")
    return AnswerabilityModel(
        tuple(data["mean"]),
        tuple(data["scale"]),
        tuple(data["weights"]),
        float(data["intercept"]),
        float(data["threshold"]),
        dict(data.get("info", {})),
        float(data.get("reader_veto", -math.inf)),
    )


def fully_supported(row: Sequence[float]) -> bool:
    """The chosen sentence, with its previous sentence and title, holds every content word,
    name and number of the question and offers the asked-for kind of answer.

    Such a sentence answers the question whatever the model's cosines say: the raw cosines
    the model weighs most are on another scale in every corpus (without them it separated
    worse on every dev set: SQuAD v2 AUROC 0.60 against 0.66), and on the seeds it refused
    "Who is the Commission spokesperson?" with the spokesperson's sentence in hand.
    """
    value = dict(zip(FEATURES, row, strict=True))
    return (
        value["chosen_context"] >= 1.0
        and value["chosen_kind"] >= 1.0
        and value["chosen_missing_idf"] == 0.0
        and value["chosen_constraints"] >= 1.0
    )


def question_constraints(question: str) -> list[str]:
    """The names and numbers a question names, lower-cased ("2022", "openai", "kotka")."""
    found = [c.lower().rstrip(".,") for c in _CONSTRAINT.findall(question)]
    return [c for c in found if tokenize(c)]  # "The", "What": no content


def _z(value: float, values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return (value - mean) / max(spread, _Z_FLOOR)


def answerability_features(
    index: Index,
    retrieval: Retrieval,
    evidence: list[Hit],
    candidates: Sequence[Any],
    matrix: np.ndarray,
    chosen: int | None,
    columns: dict[str, int],
    reading: Reading | None = None,
) -> list[float]:
    """The FEATURES row of one question.

    ``evidence`` are the passages the answerer read, ``candidates`` their sentences (with
    ``position`` and ``index_in_chunk``), ``matrix`` those sentences' answer features
    (columns named by ``columns``) and ``chosen`` the row of the sentence it would answer
    with (None: no candidate).
    """
    if not evidence or chosen is None or not len(matrix):
        return [0.0] * (len(FEATURES) - 2) + _reader_features(None)
    top = evidence[0]
    dense = [h.dense for h in retrieval.hits]
    cosines = [float(c) for c in matrix[:, columns["cosine"]]]
    weights = index.idf(set(retrieval.terms))
    words: set[str] = set()
    text = []
    for position in top.positions:
        words.update(index.terms.text(position))
        words.update(index.terms.title(position))
        chunk = index.chunks[position]
        text.append(chunk.title)
        text.append(chunk.text)
    largest_idf = math.log(1.0 + max(index.size, 1) / 0.5)
    missing = [w for t, w in weights.items() if t not in words]
    passage_text = " ".join(text).lower()
    constraints = question_constraints(retrieval.read_as)
    found = sum(c in passage_text for c in constraints)
    # Around the chosen sentence: itself, the one before it and its section title. A
    # near-miss question ("How many employees does OpenAI have?") is about the right entity
    # but asks for what no sentence near the answer mentions.
    candidate = candidates[chosen]
    chunk = index.chunks[candidate.position]
    sentence_terms = index.terms.sentences(candidate.position)
    around = set(sentence_terms[candidate.index_in_chunk]) | set(index.terms.title(candidate.position))
    around_text = [chunk.title, chunk.sentences[candidate.index_in_chunk].text]
    # A table row stands alone: the row above is another item, and the reader, trained on
    # prose, reads rows poorly (a decisive "no answer" on right rows), so its evidence is
    # left out for a row (NaN: the model's mean) and a name or number of the question must
    # be a whole cell word of the row ("Fjell 4" is not in "4,490").
    row = chunk.is_table_row(candidate.index_in_chunk)
    if candidate.index_in_chunk and not row:
        around |= sentence_terms[candidate.index_in_chunk - 1]
        around_text.append(chunk.sentences[candidate.index_in_chunk - 1].text)
    near_text = " ".join(around_text).lower()
    missing_near = [w for t, w in weights.items() if t not in around]
    found_near = sum(names(near_text, c) if row else c in near_text for c in constraints)
    second = max((h.fused for h in evidence[1:]), default=0.0)
    return [
        top.dense,
        _z(top.dense, dense),
        max(cosines),
        _z(max(cosines), cosines),
        float((matrix[:, columns["context"]] * matrix[:, columns["kind"]]).max()),
        float(matrix[chosen, columns["focus"]]),
        float(matrix[chosen, columns["context"]]),
        float(matrix[chosen, columns["kind"]]),
        coverage(weights, words),
        max(missing, default=0.0) / largest_idf,
        found / len(constraints) if constraints else 1.0,
        max(missing_near, default=0.0) / largest_idf,
        found_near / len(constraints) if constraints else 1.0,
        top.fused - second,
        float(retrieval.expected is not AnswerType.OPEN),
        min(len(weights), 10) / 10,
        *_reader_features(None if row else reading, unread=row),
    ]


def names(text: str, constraint: str) -> bool:
    """``constraint`` occurs in ``text`` as whole words, not inside a longer word or number."""
    return re.search(rf"(?<![\w.,]){re.escape(constraint)}(?![\w]|[.,]\d)", text) is not None


def _reader_features(reading: Reading | None, *, unread: bool = False) -> list[float]:
    if unread or (reading is not None and math.isnan(reading.null)):
        return [math.nan, math.nan]  # not read (rag.answer.reader.UNREAD): no evidence either way
    if reading is None or not reading.spans:
        return [-20.0, -10.0]  # as a reader that found nothing: far below any real score
    # Clipped: a few extreme logits would otherwise dominate the standardisation. The best
    # span's own score is left out: beside the margin (best minus null) it took a negative
    # weight on the dev halves, so a span the reader scored very low counted *for* answering.
    return [max(-20.0, min(20.0, reading.margin)), max(-10.0, min(10.0, reading.head))]
