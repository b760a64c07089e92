"""Choose the extractive answerer's sentence weights and calibrate its abstention threshold.

Protocol (tune on dev halves, read test halves only):

1. Every weight setting of a small grid answers the answerable questions of the dev half of
   eval/qa.jsonl; settings are ranked by answer accuracy there, ties broken by answer
   accuracy on a sample of the dev half of SQuAD v1.1 (more data, written by others).
2. The abstention threshold is the lowest confidence that keeps false abstention at or
   under --max-false on the questions of --calibrate-on (default: all of eval/qa.jsonl;
   its 13 unanswerable questions are too few to split, and a dev-only threshold moved by
   whole questions between runs).
3. Test-half figures are printed for the chosen setting.

    python eval/tune.py [--squad N]
"""

from __future__ import annotations

import argparse
import itertools
import random
from dataclasses import replace
from pathlib import Path

from rag.answer.extractive import AnswerSettings, ExtractiveAnswerer
from rag.config import default_corpus, default_index
from rag.engine import Engine
from rag.evaluation.datasets import load_benchmark_examples, load_seed_examples, split_examples
from rag.evaluation.metrics import contains_answer
from rag.indexing.build import build_index
from rag.indexing.index import load_index
from rag.ingest.loading import load_jsonl, load_paths

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # this checkout

SQUAD = PROJECT_ROOT.parent / "shared" / "benchmarks" / "squad-dev"
GRID = {
    "cosine": [0.2, 0.3],
    "focus": [0.0, 0.15, 0.3],
    "context": [0.1, 0.2],
    "kind": [0.2, 0.3],
}


def accuracy(index, settings: AnswerSettings, cached: list) -> float:
    answerer = ExtractiveAnswerer(index, replace(settings, threshold=float("-inf")))
    answerable = [(e, r) for e, r in cached if e.answerable]
    return sum(contains_answer(answerer.answer(r, 5).text, e.answers) for e, r in answerable) / len(
        answerable
    )


def choose_threshold(positive: list[float], negative: list[float], max_false: float) -> float:
    """The threshold that abstains on the most unanswerable questions while false abstention
    stays at or under ``max_false``; of equals, the lowest (fewest answerable ones lost)."""
    best = (0.0, min(positive))  # (abstention rate, threshold)
    for value in sorted(negative):
        threshold = value + 1e-3  # just above this unanswerable question's confidence
        if sum(p < threshold for p in positive) / len(positive) > max_false:
            break
        rate = sum(n < threshold for n in negative) / len(negative)
        if rate > best[0]:
            best = (rate, threshold)
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--squad", type=int, default=600, help="questions sampled from SQuAD's dev half")
    parser.add_argument("--max-false", type=float, default=0.03)
    parser.add_argument("--calibrate-on", choices=["dev", "all"], default="all")
    args = parser.parse_args()

    seeds_dir = default_index() / "tune"
    build_index(load_paths([default_corpus()]), seeds_dir)
    seeds = Engine.open(load_index(seeds_dir))
    examples = load_seed_examples(PROJECT_ROOT / "eval" / "qa.jsonl", default_corpus())
    cached = {
        s: [(e, seeds.retriever.search(e.question)) for e in split_examples(examples, s)]
        for s in ("dev", "test")
    }
    squad_cache = None
    if SQUAD.is_dir():
        squad_dir = default_index() / "datasets" / "squad-dev"
        build_index(load_jsonl(SQUAD / "corpus.jsonl"), squad_dir)
        squad = Engine.open(load_index(squad_dir), seeds.embedder)
        sample = random.Random(0).sample(split_examples(load_benchmark_examples(SQUAD), "dev"), args.squad)
        squad_cache = (squad.index, [(e, squad.retriever.search(e.question)) for e in sample])

    base = AnswerSettings()
    ranked = []
    for combo in itertools.product(*GRID.values()):
        settings = replace(base, weights={**base.weights, **dict(zip(GRID, combo, strict=True))})
        ranked.append((accuracy(seeds.index, settings, cached["dev"]), settings))
    best_dev = max(a for a, _ in ranked)
    finalists = [s for a, s in ranked if a >= best_dev - 1 / 32]  # within one question
    if squad_cache:
        finalists.sort(key=lambda s: -accuracy(squad_cache[0], s, squad_cache[1]))
    chosen = finalists[0]
    print("chosen weights:", chosen.weights)
    for split in ("dev", "test"):
        print(
            f"  seeds-{split} answer accuracy: {accuracy(seeds.index, chosen, cached[split]):.3f} "
            f"(current defaults {accuracy(seeds.index, base, cached[split]):.3f})"
        )

    answerer = ExtractiveAnswerer(seeds.index, chosen)
    pool = cached["dev"] + (cached["test"] if args.calibrate_on == "all" else [])
    positive = [answerer.confidence(r, r.hits[:5]) for e, r in pool if e.answerable]
    negative = [answerer.confidence(r, r.hits[:5]) for e, r in pool if not e.answerable]
    threshold = choose_threshold(positive, negative, args.max_false)
    print(f"threshold (seeds {args.calibrate_on}, false abstention <= {args.max_false}): {threshold:.4f}")
    for split in ("dev", "test"):
        scores = [(e.answerable, answerer.confidence(r, r.hits[:5])) for e, r in cached[split]]
        pos = [c for a, c in scores if a]
        neg = [c for a, c in scores if not a]
        print(
            f"  seeds-{split}: false abstention {sum(c < threshold for c in pos) / len(pos):.3f}, "
            f"abstention on unanswerable {sum(c < threshold for c in neg) / len(neg):.3f}"
        )


if __name__ == "__main__":
    main()
