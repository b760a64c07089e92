"""`rag eval`: run an evaluation and print (and optionally write) its figures."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rag.chunking import ChunkerSettings
from rag.cli import generator_from
from rag.config import PROJECT_ROOT, default_corpus, default_index
from rag.engine import Engine
from rag.evaluation import (
    auroc,
    calibrate,
    comparison,
    load_benchmark_examples,
    load_seed_examples,
    run,
    score,
    split_examples,
)
from rag.index import load_index
from rag.indexing import build_index
from rag.loading import load_jsonl, load_paths

SEED_QUESTIONS = PROJECT_ROOT / "eval" / "qa.jsonl"


def run_cli(args: argparse.Namespace) -> int:
    figures: dict[str, object] = {}
    if args.dataset is None:
        corpus = default_corpus()
        examples = load_seed_examples(SEED_QUESTIONS, corpus)
        split = args.split or "all"
        with tempfile.TemporaryDirectory() as scratch:
            # A cold, full build: the figure users wait for on first run.
            report = build_index(load_paths([corpus]), Path(scratch) / "index", settings=_chunker(args))
            figures["index_build_s"] = round(report.seconds, 2)
            engine = Engine.open(load_index(Path(scratch) / "index"))
            figures.update(_evaluate(engine, split_examples(examples, split), args))
        name = "seeds"
    else:
        name = args.dataset.name
        chunker = _chunker(args)
        suffix = "" if chunker == ChunkerSettings() else f"-{chunker.max_tokens}-{chunker.overlap_tokens}"
        index_dir = args.index or default_index() / "datasets" / f"{name}{suffix}"
        started = time.perf_counter()
        report = build_index(load_jsonl(args.dataset / "corpus.jsonl"), index_dir, settings=chunker)
        figures["index_build_s"] = round(time.perf_counter() - started, 2)
        figures["index_chunks"] = report.chunks
        engine = Engine.open(load_index(index_dir))
        split = args.split or "test"
        examples = split_examples(load_benchmark_examples(args.dataset, args.questions), split)
        figures.update(_evaluate(engine, examples, args))
    print(f"dataset={name} split={split}")
    for key, value in figures.items():
        if not isinstance(value, dict):
            print(f"  {key:22s} {value:.3f}" if isinstance(value, float) else f"  {key:22s} {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"dataset": name, "split": split, **figures}, indent=1))
    return 0


def _chunker(args: argparse.Namespace) -> ChunkerSettings:
    default = ChunkerSettings()
    return ChunkerSettings(
        max_tokens=getattr(args, "chunk_tokens", None) or default.max_tokens,
        overlap_tokens=default.overlap_tokens if getattr(args, "chunk_overlap", None) is None else args.chunk_overlap,
    )


def _evaluate(engine: Engine, examples: list, args: argparse.Namespace) -> dict[str, object]:
    if args.limit:
        examples = examples[: args.limit]
    generator = generator_from(args) if getattr(args, "generator", None) else None
    if generator is not None:  # a generative backend: see rag.evaluation_generation
        from rag.evaluation_generation import evaluate_generated

        return evaluate_generated(engine, examples, generator, k=args.k)
    engine.ask("warm-up question")  # load lazily initialised pieces before timing
    outcomes = run(engine, examples, k=args.k, depth=20)
    figures: dict[str, object] = dict(score(outcomes).figures)
    # Extractive sentences are verbatim and cited (none unsupported); the whole answer is
    # its first piece, so time to first token is the answer latency.
    figures.update({"unsupported_sentences": 0.0, "ttft_p50_ms": figures.get("p50_ms", 0.0)})
    table = comparison(outcomes)
    if table:
        columns = list(next(iter(table.values())))
        print("retrieval by stage (same questions, same run):")
        print(f"  {'':16s}" + "".join(f"{c:>12s}" for c in columns))
        for mode, row in table.items():
            label = {"rerank": "hybrid+rerank"}.get(mode, mode)
            print(f"  {label:16s}" + "".join(f"{row[c]:12.3f}" for c in columns))
        figures["by_stage"] = table
    if any(not o.example.answerable for o in outcomes):
        figures["abstention_auroc"] = auroc(outcomes)
    if args.calibrate:
        print("threshold  false_abstention  abstention_on_unanswerable")
        table = calibrate(outcomes)
        step = max(1, len(table) // 25)  # about 25 rows, whatever the number of questions
        for threshold, false_rate, true_rate in table[::step]:
            print(f"  {threshold:.4f}   {false_rate:.3f}   {true_rate:.3f}")
    return figures
