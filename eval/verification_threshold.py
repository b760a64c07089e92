"""Measure the support threshold of rag.answer.verification on eval/qa.jsonl.

For every answerable question the top-5 passages are put in a prompt, and the verifier
scores sentences whose truth we know without a model:

* supported: the gold evidence sentence as written, and its clause that holds the answer
  (a shortened copy, as models write them);
* unsupported: the corpus sentences closest to the question that are *not* in the shown
  passages (on topic, but not in the evidence), the evidence with its first number changed,
  and the question turned into a statement (says nothing new).

Prints the score distributions and the trade-off per threshold:
    python eval/verification_threshold.py
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.grounded import GroundedAnswerer  # noqa: E402
from rag.answer.verification import Verifier  # noqa: E402
from rag.config import default_corpus  # noqa: E402
from rag.engine import get_engine  # noqa: E402
from rag.evaluation.datasets import load_seed_examples  # noqa: E402
from rag.ingest.tokens import count_tokens  # noqa: E402


class PromptOnly:
    """Fits the prompt like a model with an 8,192-token window; it never writes (only the
    prompt's passages are needed here)."""

    name = "prompt-only"
    context_tokens = 8192
    max_tokens = 128

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def stream(self, prompt):  # noqa: ANN001, ANN201 - never called
        raise NotImplementedError


def main() -> None:
    engine = get_engine()
    examples = [e for e in load_seed_examples(ROOT / "eval" / "qa.jsonl", default_corpus()) if e.evidence]
    grounded = GroundedAnswerer(engine.index, engine.embedder, engine.answerer, PromptOnly())
    verifier = Verifier(engine.index, engine.embedder, threshold=0.0)
    positives: list[float] = []
    negatives: dict[str, list[float]] = {"off-passage": [], "number changed": [], "restated question": []}
    for example in examples:
        retrieval = engine.retriever.search(example.question)
        prompt = grounded.prompt(retrieval, 5)
        pairs = [pair for p in prompt.passages for pair in p.sentences]
        shown = {position for position, _ in pairs}
        shown_texts = {engine.index.chunks[position].sentences[i].text for position, i in pairs}
        source, start, end = example.evidence
        evidence = " ".join((default_corpus() / source).read_text(encoding="utf-8")[start:end].split())
        in_prompt = any(
            engine.index.chunks[p].source == source
            and engine.index.chunks[p].start <= start
            and end <= engine.index.chunks[p].end
            for p in shown
        )
        if in_prompt:
            clause = next(
                (
                    c.strip()
                    for c in re.split(r"[,;:–]", evidence)
                    if any(a.lower() in c.lower() for a in example.answers) and len(c.split()) >= 4
                ),
                None,
            )
            for text in filter(None, {evidence, clause}):
                positives.append(_score(verifier, text, prompt, example.question))
            changed = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), evidence, count=1)
            if changed != evidence:
                negatives["number changed"].append(_score(verifier, changed, prompt, example.question))
        cosines = engine.index.sentence_vectors @ retrieval.vector
        row_text = {
            r: s.text
            for c, rows in zip(engine.index.chunks, engine.index.sentence_rows, strict=True)
            for s, r in zip(c.sentences, rows, strict=True)
        }
        taken = 0
        for row in cosines.argsort()[::-1]:
            text = row_text[int(row)]
            if text in shown_texts:
                continue
            negatives["off-passage"].append(_score(verifier, text, prompt, example.question))
            taken += 1
            if taken == 2:
                break
        negatives["restated question"].append(
            _score(verifier, example.question.rstrip("?") + ".", prompt, example.question)
        )
    print(f"supported (n={len(positives)}): " + _summary(positives))
    for name, scores in negatives.items():
        print(f"unsupported, {name} (n={len(scores)}): " + _summary(scores))
    every_negative = [s for scores in negatives.values() for s in scores]
    print("threshold  kept_supported  rejected_unsupported  rejected_off_passage")
    for threshold in (0.5, 0.55, 0.58, 0.6, 0.62, 0.65, 0.7, 0.75, 0.8):
        kept = sum(s >= threshold for s in positives) / len(positives)
        rejected = sum(s < threshold for s in every_negative) / len(every_negative)
        off = negatives["off-passage"]
        print(
            f"  {threshold:.2f}     {kept:.3f}           {rejected:.3f}                 "
            f"{sum(s < threshold for s in off) / len(off):.3f}"
        )


def _score(verifier: Verifier, text: str, prompt, question: str) -> float:  # noqa: ANN001
    return verifier.verify([text], prompt.passages, question)[0].score


def _summary(scores: list[float]) -> str:
    ordered = sorted(scores)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (
        f"min {ordered[0]:.3f}  p5 {pick(0.05):.3f}  median {statistics.median(ordered):.3f}  "
        f"p95 {pick(0.95):.3f}  max {ordered[-1]:.3f}"
    )


if __name__ == "__main__":
    main()
