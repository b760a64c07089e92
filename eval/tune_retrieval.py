"""Tune fusion and reranking on the dev half of a benchmark; print ablations.

Both retrievers run once per question; every fusion/rerank setting only re-ranks the stored
candidates, so a grid costs seconds. Reported on the dev half (tune here) and, for the
chosen setting only, the test half.

    python eval/tune_retrieval.py [--dataset ../shared/benchmarks/squad-dev] [--sample 1500]

The defaults in rag/reranking.py were read off two runs, SQuAD v1.1 and COVID-QA
(``--dataset ../shared/benchmarks/covidqa-200423``), preferring settings good on both.
"""

from __future__ import annotations

import argparse
import itertools
import random
from dataclasses import replace
from pathlib import Path

from rag.config import PROJECT_ROOT, default_index
from rag.engine import Engine
from rag.evaluation import load_benchmark_examples, split_examples
from rag.index import load_index
from rag.indexing import build_index
from rag.loading import load_jsonl
from rag.reranking import RERANK_FEATURES, RerankSettings
from rag.retrieval import Retriever


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


def show(name: str, f: dict[str, float]) -> None:
    print(f"  {name:38s} " + "  ".join(f"{k}={v:.3f}" for k, v in f.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=PROJECT_ROOT.parent / "shared" / "benchmarks" / "squad-dev")
    parser.add_argument("--sample", type=int, default=1500)
    args = parser.parse_args()
    index_dir = default_index() / "datasets" / args.dataset.name
    build_index(load_jsonl(args.dataset / "corpus.jsonl"), index_dir)
    engine = Engine.open(load_index(index_dir))
    examples = load_benchmark_examples(args.dataset)
    cached = {}
    for split in ("dev", "test"):
        pool = split_examples(examples, split)
        sample = random.Random(0).sample(pool, min(args.sample, len(pool)))
        cached[split] = [(e, engine.retriever.candidates(e.question)) for e in sample]

    base = engine.retriever.settings
    print(f"{args.dataset.name}: dev half, {len(cached['dev'])} questions")
    for mode in ("bm25", "dense", "hybrid"):
        show(mode, figures(engine.retriever, cached["dev"], mode))
    show("hybrid rrf", figures(Retriever(engine.index, engine.embedder, replace(base, fusion="rrf")), cached["dev"], "hybrid"))
    best_fusion = max(
        (0.3, 0.4, 0.5, 0.6, 0.7),
        key=lambda w: figures(Retriever(engine.index, engine.embedder, replace(base, dense_weight=w)), cached["dev"], "hybrid")["mrr@10"],
    )
    print(f"  best dense_weight for weighted fusion: {best_fusion}")
    settings = replace(base, dense_weight=best_fusion)

    def search(grid: dict[str, list[float]], fixed: dict[str, float]) -> dict[str, float]:
        results = []
        for combo in itertools.product(*grid.values()):
            weights = {**fixed, **dict(zip(grid, combo))}
            retriever = Retriever(engine.index, engine.embedder, settings)
            retriever.reranker.settings = RerankSettings(weights)
            results.append((figures(retriever, cached["dev"], "rerank"), weights))
        results.sort(key=lambda r: -(r[0]["hit@1"] + r[0]["mrr@10"]))
        for f, weights in results[:5]:
            show(f"rerank {weights}", f)
        return results[0][1]

    # Two stages keep the grid small: the single-word features first, then phrases on top.
    chosen = search(
        {"sentence": [0.0, 0.25, 0.5, 1.0], "coverage": [0.0, 0.15, 0.3, 0.6], "title": [0.0, 0.1, 0.2]},
        {"fused": 1.0, "phrase": 0.0, "phrase3": 0.0},
    )
    chosen = search({"phrase": [0.0, 0.3, 0.6, 0.9], "phrase3": [0.0, 0.15, 0.3]}, chosen)
    print("ablation of the chosen reranker (each feature weight set to 0):")
    for feature in RERANK_FEATURES[1:]:
        retriever = Retriever(engine.index, engine.embedder, settings)
        retriever.reranker.settings = RerankSettings({**chosen, feature: 0.0})
        show(f"without {feature}", figures(retriever, cached["dev"], "rerank"))
    retriever = Retriever(engine.index, engine.embedder, settings)
    retriever.reranker.settings = RerankSettings(chosen)
    print(f"test half, {len(cached['test'])} questions:")
    for mode in ("bm25", "dense", "hybrid"):
        show(mode, figures(retriever, cached["test"], mode))
    show("hybrid+rerank (chosen)", figures(retriever, cached["test"], "rerank"))


if __name__ == "__main__":
    main()
