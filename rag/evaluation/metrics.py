"""Evaluation over Q&A pairs: retrieval, answer, citation and abstention quality, latency.

The question sets are read by :mod:`rag.evaluation.datasets`.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from rag.engine import Engine
from rag.evaluation.datasets import Example
from rag.records import Answer, Passage
from rag.search.retrieval import MODES, to_passages


@dataclass
class Outcome:
    """What one question came to: the answer, the ranked passages and the seconds it took."""

    example: Example
    answer: Answer
    passages: list[Passage]  # as ranked by the engine's own retriever
    seconds: float
    by_mode: dict[str, list[Passage]] = field(default_factory=dict)  # for the comparison table
    extracted: Answer | None = None  # the answer had the answerer not abstained


def normalise_answer(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(answer_text: str, golds: Iterable[str]) -> bool:
    """True when a gold answer occurs in ``answer_text`` as whole words (SQuAD normalisation)."""
    haystack = f" {normalise_answer(answer_text)} "
    return any(f" {normalise_answer(g)} " in haystack for g in golds if normalise_answer(g))


def _is_gold(example: Example, source: str, start: int, end: int) -> bool:
    if source not in example.sources:
        return False
    if example.evidence is None:
        return True
    _, ev_start, ev_end = example.evidence
    return start <= ev_start and ev_end <= end


def run(
    engine: Engine, examples: list[Example], k: int = 5, depth: int = 20, compare: bool = True
) -> list[Outcome]:
    """Ask every question, timing the whole ``ask()`` path; passages are kept to ``depth``.

    With ``compare``, the same candidates are also ranked by BM25 alone, the dense retriever
    alone and the fusion without reranking, for the side-by-side table (not timed).
    """

    outcomes = []
    for example in examples:
        started = time.perf_counter()
        candidates = engine.retriever.candidates(example.question)
        hits = engine.retriever.rank(candidates)
        retrieval = candidates.ranked(hits)
        answer = engine.answerer.answer(retrieval, k)
        seconds = time.perf_counter() - started
        by_mode: dict[str, list[Passage]] = {
            engine.retriever.settings.mode: to_passages(engine.index, hits[:depth])
        }
        if compare:
            for mode in MODES:
                if mode not in by_mode:
                    by_mode[mode] = to_passages(engine.index, engine.retriever.rank(candidates, mode)[:depth])
        extracted = answer
        if answer.abstained and example.answerable:
            extracted = engine.answerer.answer(retrieval, k, abstain=False)
        outcomes.append(
            Outcome(example, answer, by_mode[engine.retriever.settings.mode], seconds, by_mode, extracted)
        )
    return outcomes


@dataclass
class Report:
    """The figures of one evaluation run, by name (rates in 0..1, latencies in ms)."""

    figures: dict[str, float] = field(default_factory=dict)


def retrieval_figures(examples: list[Example], rankings: list[list[Passage]]) -> dict[str, float]:
    """Hit@1/5/20 and MRR@10 of the first gold passage; with several gold documents per
    question also Recall@5 and AllGold@5 (every gold document among the top 5)."""
    ranks = []
    for example, passages in zip(examples, rankings, strict=True):
        ranks.append(next((p.rank for p in passages if _is_gold(example, p.source, p.start, p.end)), None))
    figures = {f"hit@{k}": _mean(r is not None and r <= k for r in ranks) for k in (1, 5, 20)}
    figures["mrr@10"] = _mean(1.0 / r if r is not None and r <= 10 else 0.0 for r in ranks)
    if any(len(e.sources) > 1 for e in examples):
        top5 = [{p.source for p in passages[:5]} for passages in rankings]
        figures["recall@5"] = _mean(
            len(e.sources & s) / len(e.sources) for e, s in zip(examples, top5, strict=True)
        )
        figures["all_gold@5"] = _mean(e.sources <= s for e, s in zip(examples, top5, strict=True))
    return figures


def comparison(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Retrieval figures per mode (bm25, dense, hybrid, rerank) on the answerable questions."""

    answerable = [o for o in outcomes if o.example.answerable]
    modes = [m for m in MODES if answerable and m in answerable[0].by_mode]
    return {
        mode: retrieval_figures([o.example for o in answerable], [o.by_mode[mode] for o in answerable])
        for mode in modes
    }


def score(outcomes: list[Outcome]) -> Report:
    """Retrieval, answer, citation and abstention figures and latency percentiles of a run."""
    answerable = [o for o in outcomes if o.example.answerable]
    unanswerable = [o for o in outcomes if not o.example.answerable]
    figures: dict[str, float] = {"questions": len(outcomes), "answerable": len(answerable)}
    if answerable:
        figures.update(retrieval_figures([o.example for o in answerable], [o.passages for o in answerable]))
        figures["answer_accuracy"] = _mean(
            not o.answer.abstained and contains_answer(o.answer.text, o.example.answers) for o in answerable
        )
        figures["citation_accuracy"] = _mean(
            not o.answer.abstained
            and any(_is_gold(o.example, c.source, c.start, c.end) for c in o.answer.citations)
            for o in answerable
        )
        figures["false_abstention"] = _mean(o.answer.abstained for o in answerable)
        # Extraction alone: a gold string in the answer the answerer gives when it does not
        # abstain (SQuAD's "answer containment"; abstention is measured separately).
        figures["answer_containment"] = _mean(
            contains_answer((o.extracted or o.answer).text, o.example.answers) for o in answerable
        )
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


def calibrate(outcomes: list[Outcome]) -> list[tuple[float, float, float]]:
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
    """How well confidence separates answerable (positive) from unanswerable questions
    (area under the ROC curve, 0.5 = chance; NaN when either kind is missing)."""
    from sklearn.metrics import roc_auc_score

    labels = [o.example.answerable for o in outcomes]
    if all(labels) or not any(labels):
        return float("nan")
    return float(roc_auc_score(labels, [o.answer.confidence for o in outcomes]))
