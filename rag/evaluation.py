"""Evaluation over Q&A pairs: retrieval, answer, citation and abstention quality, latency.

Two dataset shapes are read:

* the project's own ``eval/qa.jsonl`` over the files of ``seeds/``: rows of
  ``{question, answers, source, evidence}`` (``answers`` empty for unanswerable questions);
* a benchmark folder as in ``../shared/benchmarks/``: ``corpus.jsonl`` of
  ``{id, title, text}`` and ``qa.jsonl`` of ``{question, answers, evidence_ids, type}``.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.engine import Engine
from rag.errors import DatasetError
from rag.records import Answer, Passage


@dataclass(frozen=True)
class Example:
    question: str
    answers: tuple[str, ...]  # empty: the corpus does not answer it
    sources: frozenset[str]  # gold file names or corpus ids
    evidence: tuple[str, int, int] | None = None  # (source, start, end) of the gold quote

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass
class Outcome:
    example: Example
    answer: Answer
    passages: list[Passage]
    seconds: float


def normalise_answer(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(answer_text: str, golds: Iterable[str]) -> bool:
    haystack = f" {normalise_answer(answer_text)} "
    return any(f" {normalise_answer(g)} " in haystack for g in golds if normalise_answer(g))


def _is_gold(example: Example, source: str, start: int, end: int) -> bool:
    if source not in example.sources:
        return False
    if example.evidence is None:
        return True
    _, ev_start, ev_end = example.evidence
    return start <= ev_start and ev_end <= end


def load_seed_examples(path: Path, corpus: Path) -> list[Example]:
    """Read eval/qa.jsonl; every evidence quote must occur in its source file."""
    examples = []
    for number, row in enumerate(_read_jsonl(path), 1):
        source = row.get("source")
        evidence = None
        if source:
            text = (corpus / source).read_text(encoding="utf-8")
            start = text.find(row["evidence"])
            if start < 0:
                raise DatasetError(f"{path}:{number}: the evidence quote is not in {source}; fix the quote.")
            evidence = (source, start, start + len(row["evidence"]))
        examples.append(
            Example(row["question"], tuple(row.get("answers") or ()), frozenset([source] if source else []), evidence)
        )
    return examples


def load_benchmark_examples(folder: Path, questions: str = "qa.jsonl") -> list[Example]:
    return [
        Example(row["question"], tuple(row.get("answers") or ()), frozenset(row.get("evidence_ids") or ()))
        for row in _read_jsonl(folder / questions)
    ]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; pass a folder with corpus.jsonl and qa.jsonl.")
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise DatasetError(f"{path}:{number} is not JSON ({error}).") from error
    return rows


def split_examples(examples: list[Example], split: str) -> list[Example]:
    """dev = first half (tune here), test = second half (report here), all = everything."""
    half = len(examples) // 2
    return {"dev": examples[:half], "test": examples[half:], "all": examples}[split]


def run(engine: Engine, examples: list[Example], k: int = 5, depth: int = 10) -> list[Outcome]:
    """Ask every question; passages are ranked to ``depth`` for Hit@k/MRR."""
    outcomes = []
    for example in examples:
        started = time.perf_counter()
        retrieval = engine.retriever.search(example.question, max(k, depth))
        answer = engine.answerer.answer(retrieval, k)
        seconds = time.perf_counter() - started
        from rag.retrieval import to_passages

        passages = to_passages(engine.index, retrieval.hits[:depth])
        outcomes.append(Outcome(example, answer, passages, seconds))
    return outcomes


@dataclass
class Report:
    figures: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in self.figures.items())


def score(outcomes: list[Outcome]) -> Report:
    answerable = [o for o in outcomes if o.example.answerable]
    unanswerable = [o for o in outcomes if not o.example.answerable]
    figures: dict[str, float] = {"questions": len(outcomes), "answerable": len(answerable)}

    def first_gold_rank(o: Outcome) -> int | None:
        for p in o.passages:
            if _is_gold(o.example, p.source, p.start, p.end):
                return p.rank
        return None

    if answerable:
        ranks = [first_gold_rank(o) for o in answerable]
        for k in (1, 5, 20):
            figures[f"hit@{k}"] = _mean(r is not None and r <= k for r in ranks)
        figures["mrr@10"] = _mean(1.0 / r if r is not None and r <= 10 else 0.0 for r in ranks)
        figures["answer_accuracy"] = _mean(
            not o.answer.abstained and contains_answer(o.answer.text, o.example.answers) for o in answerable
        )
        figures["citation_accuracy"] = _mean(
            not o.answer.abstained
            and any(_is_gold(o.example, c.source, c.start, c.end) for c in o.answer.citations)
            for o in answerable
        )
        figures["false_abstention"] = _mean(o.answer.abstained for o in answerable)
    if unanswerable:
        figures["unanswerable"] = len(unanswerable)
        figures["abstention_accuracy"] = _mean(o.answer.abstained for o in unanswerable)
    latencies = sorted(o.seconds * 1000 for o in outcomes)
    if latencies:
        figures["p50_ms"] = statistics.median(latencies)
        figures["p95_ms"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return Report(figures)


def _mean(values: Iterable[float | bool]) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0


def calibrate(outcomes: list[Outcome], max_false_abstention: float = 0.05) -> list[tuple[float, float, float]]:
    """The abstention trade-off: (threshold, false abstention, abstention on unanswerable).

    Computed from the confidences the answerer gave, so it needs no second run.
    """
    confidences = sorted({round(o.answer.confidence, 4) for o in outcomes})
    table = []
    for threshold in confidences:
        answerable = [o.answer.confidence < threshold for o in outcomes if o.example.answerable]
        unanswerable = [o.answer.confidence < threshold for o in outcomes if not o.example.answerable]
        table.append((threshold, _mean(answerable), _mean(unanswerable)))
    return table


def auroc(outcomes: list[Outcome]) -> float:
    """How well confidence separates answerable (positive) from unanswerable questions."""
    pos = [o.answer.confidence for o in outcomes if o.example.answerable]
    neg = [o.answer.confidence for o in outcomes if not o.example.answerable]
    if not pos or not neg:
        return float("nan")
    # Mann-Whitney U from ranks: O(n log n), ties share their average rank.
    scored = sorted([(c, 1) for c in pos] + [(c, 0) for c in neg])
    rank_sum, i = 0.0, 0
    while i < len(scored):
        j = i
        while j < len(scored) and scored[j][0] == scored[i][0]:
            j += 1
        average_rank = (i + 1 + j) / 2
        rank_sum += average_rank * sum(label for _, label in scored[i:j])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
