"""The reader alone on gold paragraphs: SQuAD's own EM/F1, to compare with published readers.

No retrieval and no answerability model: each question is read against its gold paragraph
(``evidence_ids`` of the benchmark's question file, texts from its ``corpus.jsonl``) and the
reader answers with its best span when that span outscores "no answer" (margin > 0, the
SQuAD 2.0 rule without a tuned threshold), else abstains. Figures follow the official SQuAD
2.0 script: EM and F1 over all questions, and apart for those with an answer (HasAns) and
without (NoAns, where abstaining scores 1).
"""

from __future__ import annotations

import collections
import json
import re
import string
from pathlib import Path

from rag.answer.reader import shared_reader
from rag.errors import DatasetError
from rag.evaluation.datasets import Example

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def squad_normalise(text: str) -> str:
    """The official SQuAD script's normalisation: punctuation removed (not spaced), as published
    figures are computed (rag.evaluation.metrics spaces it, for whole-word containment)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_f1(prediction: str, gold: str) -> float:
    """Token F1 of two answers after :func:`squad_normalise` (the official SQuAD script's)."""
    pred, ref = squad_normalise(prediction).split(), squad_normalise(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def reader_alone(dataset: Path, examples: list[Example]) -> dict[str, float]:
    """EM/F1 (0..1) overall, HasAns and NoAns of the reader on each example's gold paragraph.

    Raises:
        DatasetError: no reader ships here, or a question's gold paragraph is not in corpus.jsonl.
    """
    reader = shared_reader()
    if reader is None:
        raise DatasetError("No reader ships with this installation: reinstall rag.")
    wanted = {source for example in examples for source in example.sources}
    paragraphs: dict[str, str] = {}
    with open(dataset / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["id"] in wanted:
                paragraphs[row["id"]] = row["text"]
    scores: dict[str, list[tuple[float, float]]] = {"HasAns": [], "NoAns": []}
    for example in examples:
        missing = [s for s in example.sources if s not in paragraphs]
        if missing or not example.sources:
            raise DatasetError(
                f"The gold paragraph of {example.question!r} is not in {dataset}/corpus.jsonl."
            )
        texts = [paragraphs[s] for s in sorted(example.sources)]
        reading = reader.read(example.question, texts)
        predicted = ""
        if reading.spans and reading.margin > 0:
            best = reading.spans[0]
            predicted = texts[best.text_index][best.start : best.end]
        if example.answerable:
            em = max(float(squad_normalise(predicted) == squad_normalise(g)) for g in example.answers)
            f1 = max(squad_f1(predicted, g) for g in example.answers)
            scores["HasAns"].append((em, f1))
        else:
            scores["NoAns"].append((float(not predicted), float(not predicted)))
    figures: dict[str, float] = {}
    everything = scores["HasAns"] + scores["NoAns"]
    for name, rows in (("", everything), ("hasans_", scores["HasAns"]), ("noans_", scores["NoAns"])):
        if rows:
            figures[f"reader_{name}em"] = sum(r[0] for r in rows) / len(rows)
            figures[f"reader_{name}f1"] = sum(r[1] for r in rows) / len(rows)
    figures["reader_questions"] = float(len(everything))
    return figures
