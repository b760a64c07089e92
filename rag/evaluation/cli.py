"""`rag eval`: run an evaluation and print (and optionally write) its figures."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rag.answer.generators.options import generator_from
from rag.config import checkout, default_corpus, default_index
from rag.engine import Engine
from rag.errors import DatasetError
from rag.evaluation.datasets import load_benchmark_examples, load_seed_examples, split_examples
from rag.evaluation.metrics import auroc, calibrate, comparison, run, score
from rag.indexing.build import build_index
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.loading import load_jsonl, load_paths
from rag.store import load_index


def seed_questions(name: str | None) -> Path:
    """The seeds question file: a path as given, else one of the checkout's eval/ folder
    (``qa.jsonl`` by default, ``qa_blind.jsonl`` for the blind set).

    Raises:
        DatasetError: no such file (an installed rag has no eval/ folder: pass a path).
    """
    given = Path(name or "qa.jsonl")
    if given.is_file():
        return given
    root = checkout()
    candidate = root / "eval" / given if root is not None else None
    if candidate is None or not candidate.is_file():
        raise DatasetError(
            f"No question file {given}; pass --questions PATH to a JSONL file of "
            "{question, answers, source, evidence} rows (the checkout's eval/ holds qa.jsonl)."
        )
    return candidate


def run_cli(args: argparse.Namespace) -> int:
    """`rag eval`: build (or update) the index, ask every question, print the figures.

    Raises:
        DatasetError: a question file or benchmark folder is missing or malformed.
    """
    figures: dict[str, object] = {}
    if args.dataset is None:
        corpus = default_corpus()
        examples = load_seed_examples(seed_questions(args.questions), corpus)
        split = args.split or "all"
        with tempfile.TemporaryDirectory() as scratch:
            # A cold, full build: the figure users wait for on first run.
            report = build_index(load_paths([corpus]), Path(scratch) / "index", settings=_chunker(args))
            figures["index_build_s"] = round(report.seconds, 2)
            engine = Engine.open(load_index(Path(scratch) / "index"))
            figures.update(_evaluate(engine, split_examples(examples, split), args))
        name = "seeds" if args.questions in (None, "qa.jsonl") else f"seeds:{Path(args.questions).name}"
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
        examples = split_examples(load_benchmark_examples(args.dataset, args.questions or "qa.jsonl"), split)
        figures.update(_evaluate(engine, examples, args))
        if getattr(args, "reader_alone", False):
            from rag.evaluation.reading import reader_alone

            figures.update(reader_alone(args.dataset, examples[: args.limit] if args.limit else examples))
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
        overlap_tokens=default.overlap_tokens
        if getattr(args, "chunk_overlap", None) is None
        else args.chunk_overlap,
    )


def _evaluate(engine: Engine, examples: list, args: argparse.Namespace) -> dict[str, object]:
    if args.limit:
        examples = examples[: args.limit]
    generator = generator_from(args) if getattr(args, "generator", None) else None
    if generator is not None:  # a generative backend: see rag.evaluation.generation
        from rag.evaluation.generation import evaluate_generated

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
        tradeoff = calibrate(outcomes)
        step = max(1, len(tradeoff) // 25)  # about 25 rows, whatever the number of questions
        for threshold, false_rate, true_rate in tradeoff[::step]:
            print(f"  {threshold:.4f}   {false_rate:.3f}   {true_rate:.3f}")
    return figures
