"""Tune fusion and reranking on the dev halves of benchmarks; print ablations.

Both retrievers run once per question and the reranker's features are computed once per
candidate, so every weight setting only re-sorts stored rows: a search costs seconds.
The weights are chosen on the dev halves alone, by coordinate ascent on the sum over the
datasets of Hit@1 + MRR@10 / 2 (the metric itself, not a surrogate loss: a listwise softmax
fit lost to it on both dev halves). Test-half figures are printed for the chosen weights only.

    python eval/tune_retrieval.py [--datasets DIR ...] [--sample 1500]

Defaults: SQuAD v1.1 (short paragraphs) and COVID-QA (long papers), so that neither kind of
corpus is tuned for at the other's expense.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.config import default_index
from rag.embedding.embedders import get_embedder
from rag.engine import Engine
from rag.evaluation.datasets import Example, load_benchmark_examples, split_examples
from rag.indexing.build import build_index
from rag.ingest.loading import load_jsonl
from rag.search.reranking import RERANK_FEATURES, RerankSettings
from rag.search.retrieval import Retriever
from rag.store import load_index

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # this checkout

BENCHMARKS = PROJECT_ROOT.parent / "shared" / "benchmarks"
STEPS = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)

# One question: the reranker's feature rows of its fused candidates, and which are gold.
Rows = tuple[np.ndarray, np.ndarray]


def figures(retriever: Retriever, cached: list, mode: str) -> dict[str, float]:
    hits1 = hits5 = hits20 = mrr = 0.0
    for example, candidates in cached:
        ranked = retriever.rank(candidates, mode)[:20]
        sources = [retriever.index.chunks[h.position].source for h in ranked]
        rank = next((i + 1 for i, s in enumerate(sources) if s in example.sources), None)
        hits1 += rank == 1
        hits5 += rank is not None and rank <= 5
        hits20 += rank is not None
        mrr += 1 / rank if rank and rank <= 10 else 0
    n = len(cached)
    return {"hit@1": hits1 / n, "hit@5": hits5 / n, "hit@20": hits20 / n, "mrr@10": mrr / n}


def feature_rows(retriever: Retriever, cached: list[tuple[Example, object]]) -> list[Rows]:
    """The fused top ``rerank_depth`` of every question, as the reranker sees them."""
    settings = replace(retriever.settings, mode="hybrid", collapse=False)
    fused = Retriever(retriever.index, retriever.embedder, settings)
    out = []
    for example, candidates in cached:
        hits = fused.rank(candidates)[: retriever.settings.rerank_depth]
        matrix = np.asarray(retriever.reranker.features(candidates, hits), dtype=np.float64)
        gold = np.array([retriever.index.chunks[h.position].source in example.sources for h in hits])
        out.append((matrix.reshape(-1, len(RERANK_FEATURES)), gold))
    return out


def score(rows: list[Rows], weights: np.ndarray) -> tuple[float, float]:
    """Hit@1 and MRR@10 of the candidates ordered by ``weights``."""
    hit1 = mrr = 0.0
    for matrix, gold in rows:
        ordered = gold[np.argsort(-(matrix @ weights), kind="stable")]
        first = np.flatnonzero(ordered[:10])
        hit1 += bool(len(ordered)) and bool(ordered[0])
        mrr += 1 / (first[0] + 1) if len(first) else 0.0
    return hit1 / len(rows), mrr / len(rows)


def objective(per_dataset: list[list[Rows]], weights: np.ndarray) -> float:
    return sum(h + m / 2 for h, m in (score(rows, weights) for rows in per_dataset))


def coordinate_ascent(per_dataset: list[list[Rows]], start: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Move one weight at a time while the objective improves (``fused`` stays at 1: scale)."""
    weights, best = start.copy(), objective(per_dataset, start)
    for _ in range(rounds):
        improved = False
        for j in range(1, len(weights)):
            for step in STEPS:
                trial = weights.copy()
                trial[j] += step
                value = objective(per_dataset, trial)
                if value > best + 1e-9:
                    weights, best, improved = trial, value, True
        if not improved:
            break
    return weights


def show(name: str, values: list[float]) -> None:
    print(f"  {name:28s} " + "  ".join(f"{v:.3f}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--datasets", type=Path, nargs="+", default=[BENCHMARKS / "squad-dev", BENCHMARKS / "covidqa-200423"]
    )
    parser.add_argument("--sample", type=int, default=1500, help="questions per half and dataset")
    args = parser.parse_args()

    embedder = get_embedder()
    retrievers, cached = [], []
    for dataset in args.datasets:
        index_dir = default_index() / "datasets" / dataset.name
        build_index(load_jsonl(dataset / "corpus.jsonl"), index_dir)
        engine = Engine.open(load_index(index_dir), embedder)
        examples = load_benchmark_examples(dataset)
        halves = {}
        for split in ("dev", "test"):
            pool = split_examples(examples, split)
            sample = random.Random(0).sample(pool, min(args.sample, len(pool)))
            halves[split] = [(e, engine.retriever.candidates(e.question)) for e in sample]
        retrievers.append(engine.retriever)
        cached.append(halves)
    names = [d.name for d in args.datasets]
    rows = {
        s: [feature_rows(r, c[s]) for r, c in zip(retrievers, cached, strict=True)] for s in ("dev", "test")
    }

    sizes = ", ".join(f"{n} ({len(c['dev'])} q)" for n, c in zip(names, cached, strict=True))
    print("dev halves, Hit@1 per dataset:", sizes)
    for mode in ("bm25", "dense", "hybrid"):
        show(mode, [figures(r, c["dev"], mode)["hit@1"] for r, c in zip(retrievers, cached, strict=True)])
    current = np.array([RerankSettings().weights.get(f, 0.0) for f in RERANK_FEATURES])
    show("rerank, current defaults", [score(r, current)[0] for r in rows["dev"]])
    # Coordinate ascent finds a local optimum that depends on where it starts: it starts from
    # the single-word features' earlier grid choice, with and without the phrase weights
    # chosen next, and from the current defaults; the best on the dev halves wins.
    starts = [np.zeros(len(RERANK_FEATURES)) for _ in range(2)] + [current]
    starts[0][:4] = starts[1][:4] = (1.0, 0.5, 0.3, 0.2)
    starts[1][4:6] = (0.6, 0.3)
    chosen = max((coordinate_ascent(rows["dev"], s) for s in starts), key=lambda w: objective(rows["dev"], w))
    print(
        "chosen weights:", {f: round(float(w), 2) for f, w in zip(RERANK_FEATURES, chosen, strict=True) if w}
    )
    show("rerank, chosen", [score(r, chosen)[0] for r in rows["dev"]])
    print("ablation on the dev halves (one weight set to 0):")
    for j, feature in enumerate(RERANK_FEATURES[1:], 1):
        if chosen[j]:
            without = chosen.copy()
            without[j] = 0.0
            show(f"without {feature}", [score(r, without)[0] for r in rows["dev"]])
    print("test halves, Hit@1:")
    for mode in ("bm25", "hybrid"):
        show(mode, [figures(r, c["test"], mode)["hit@1"] for r, c in zip(retrievers, cached, strict=True)])
    show("rerank, chosen", [score(r, chosen)[0] for r in rows["test"]])


if __name__ == "__main__":
    main()
