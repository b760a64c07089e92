"""Choose the extractive answerer's sentence weights (which sentence answers).

Protocol (tune on dev halves, read test halves only):

1. Every weight setting of a small grid answers the answerable questions of the dev half of
   eval/qa.jsonl; settings are ranked by answer accuracy there, ties broken by answer
   accuracy on a sample of the dev half of SQuAD v1.1 (more data, written by others).
2. Test-half figures are printed for the chosen setting.

Whether to answer at all is decided by the answerability model, fitted by
eval/train_answerability.py (`make train`).

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
from rag.ingest.loading import load_jsonl, load_paths
from rag.store import load_index

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--squad", type=int, default=600, help="questions sampled from SQuAD's dev half")
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
    # Whether to answer at all is the answerability model's: eval/train_answerability.py.


if __name__ == "__main__":
    main()
