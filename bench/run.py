"""`make bench`: run every benchmark, print one table, write ``bench/results.json``.

Each benchmark runs in its own child process (its RSS and threads are its own); the peers
need the ``bench`` extra, which ``make bench`` installs into ``.venv-bench``. With
``--tiny`` everything runs on a few documents and a few thousand synthetic vectors, so the
code is exercised in seconds (``tests/test_bench.py``); those figures mean nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import RESULTS, ROOT, SEEDS, SQUAD, run_child, versions
from bench.query import load_questions, measure_cold_start
from bench.report import table

FULL = {
    "questions": 500,
    "scale": [100_000, 1_000_000],
    "seed_repeats": 2,
    "cold_repeats": 3,
    "limit": None,
    "rounds": 2,
}
TINY = {"questions": 8, "scale": [3_000], "seed_repeats": 1, "cold_repeats": 1, "limit": 2, "rounds": 2}
# The builds compared in interleaved rounds: rag as shipped, rag embedding in fp32 whatever
# the CPU (what "as shipped" is on a CPU without AMX: rag.embedding.bulk), rag with the opt-in
# fast build (int8 weights, pooled sentence vectors; README), and the peers.
RAG_MODES = {
    "rag": {},
    "rag-fp32": {"RAG_BUILD_BF16": "off"},
    "rag-int8-pooled": {"RAG_EMBEDDER_PRECISION": "int8", "RAG_SENTENCE_VECTORS": "pooled"},
}
PEERS = ("langchain", "llamaindex")


def peers_available() -> bool:
    return all(importlib.util.find_spec(m) for m in ("langchain_community", "llama_index.core"))


def run(out: Path, *, tiny: bool = False, skip: Sequence[str] = ()) -> dict:
    """Run the benchmarks and write ``out``; ``skip`` names stages to leave out."""
    plan = TINY if tiny else FULL
    results: dict = {"machine": machine(), "tiny": tiny, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as scratch:
        index_dir = Path(scratch) / "index"
        have_squad = (SQUAD / "corpus.jsonl").is_file()
        limit = ["--limit", str(plan["limit"])] if plan["limit"] else []
        if "ingest" not in skip:
            results["ingest"] = {
                "seeds": run_child(
                    "bench.ingest",
                    [
                        "--paths",
                        str(SEEDS),
                        "--repeats",
                        str(plan["seed_repeats"]),
                        "--label",
                        "seeds",
                        *limit,
                        *([] if have_squad else ["--keep", str(index_dir)]),
                    ],
                )
            }
            if have_squad:
                results["ingest"]["squad"] = run_child(
                    "bench.ingest",
                    [
                        "--jsonl",
                        str(SQUAD / "corpus.jsonl"),
                        "--label",
                        "squad-dev",
                        "--keep",
                        str(index_dir),
                        *limit,
                    ],
                )
                results["ingest_overhead"] = results["ingest"]["squad"]["overhead"]
        if "query" not in skip and index_dir.exists():
            questions = SQUAD / "qa.jsonl" if have_squad else _seed_questions(Path(scratch))
            results.update(_query(index_dir, questions, plan))
        if "peers" not in skip and have_squad:
            results.update(_peers(results, plan))
        if "browser" not in skip:  # `make run` to the first answer in chromium (bench/browser_start.py)
            # The product's venv (Playwright comes with its test extra, not with the peers' venv).
            product = ROOT / ".venv" / "bin" / "python"
            results["browser_start"] = run_child(
                "bench.browser_start",
                ["--corpus", str(SEEDS)],
                python=str(product) if product.exists() else None,
            )
        if "scale" not in skip:
            results["scale"] = run_child("bench.scale", ["--sizes", *map(str, plan["scale"])])
    results["total_s"] = round(time.perf_counter() - started, 1)
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


def _query(index_dir: Path, questions: Path, plan: dict) -> dict:
    warm = run_child(
        "bench.query",
        ["--index", str(index_dir), "--questions", str(questions), "-n", str(plan["questions"])],
    )
    first = load_questions(questions, 1)[0]["question"]
    cold = measure_cold_start(index_dir, first, repeats=plan["cold_repeats"])
    return {
        "query": {**warm, **cold},
        "retrieve_p50_ms": warm["retrieve"]["p50_ms"],
        "retrieve_p95_ms": warm["retrieve"]["p95_ms"],
        "ask_p50_ms": warm["ask"]["p50_ms"],
        "ask_p95_ms": warm["ask"]["p95_ms"],
        "cold_start_s": cold["cold_start_s"],
        "peak_rss_mb": warm["peak_rss_mb"],
    }


def _peers(results: dict, plan: dict) -> dict:
    """rag and each peer over the same corpus and questions, in interleaved rounds.

    Round 1 builds A B C D E, round 2 E D C B A, and so on: a load that drifts over the run
    (another process, thermal limits) weighs on every system alike, and each round's ratio
    compares builds made minutes apart. Ratios are peer time / rag time, per round, then
    their median; each system's figures are its medians over the rounds.
    """
    import statistics

    if not peers_available():
        return {
            name: {"skipped": "peers not installed: run `make bench` (it builds .venv-bench)"}
            for name in PEERS
        }
    limit = ["--limit-docs", str(plan["limit"])] if plan["limit"] else []
    corpus = ["--corpus", str(SQUAD / "corpus.jsonl")]
    systems = [*RAG_MODES, *PEERS]
    rounds: list[dict[str, dict]] = []
    for number in range(plan["rounds"]):
        found: dict[str, dict] = {}
        for system in systems if number % 2 == 0 else reversed(systems):
            if system in RAG_MODES:
                documents = ["--limit", str(plan["limit"])] if plan["limit"] else []
                found[system] = run_child(
                    "bench.ingest",
                    ["--jsonl", str(SQUAD / "corpus.jsonl"), "--build-only", *documents],
                    env=RAG_MODES[system],
                )
            else:
                found[system] = run_child(
                    "bench.peers",
                    [
                        system,
                        *corpus,
                        "--questions",
                        str(SQUAD / "qa.jsonl"),
                        "-n",
                        str(plan["questions"]),
                        *limit,
                    ],
                )
        rounds.append(found)
    ours_query = results.get("retrieve_p50_ms")
    out: dict = {"rounds": [{name: row["build_s"] for name, row in found.items()} for found in rounds]}
    # Medians of two rounds are means: rounded, or 87.8 is written as 87.80000000000001.
    rag_build = round(statistics.median(r["rag"]["build_s"] for r in rounds), 3)
    for mode in RAG_MODES:
        out[mode.replace("-", "_") + "_build_s"] = round(
            statistics.median(r[mode]["build_s"] for r in rounds), 3
        )
    for name in PEERS:
        peer = dict(rounds[-1][name])  # its query figures and versions: the last round's
        peer["build_s"] = round(statistics.median(r[name]["build_s"] for r in rounds), 3)
        peer["rag_build_s"], peer["rag_query_p50_ms"] = rag_build, ours_query  # what the ratios divide by
        peer["build_speedup"] = round(
            statistics.median(r[name]["build_s"] / r["rag"]["build_s"] for r in rounds), 2
        )
        peer["build_speedup_int8_pooled"] = round(
            statistics.median(r[name]["build_s"] / r["rag-int8-pooled"]["build_s"] for r in rounds), 2
        )
        if ours_query:
            peer["query_speedup"] = round(peer["query"]["p50_ms"] / ours_query, 2)
        out[name] = peer
    return out


def _seed_questions(folder: Path) -> Path:
    """eval/qa.jsonl rows as {question} for the query benchmark when SQuAD is absent."""
    from bench.common import ROOT, read_jsonl

    path = folder / "seed-questions.jsonl"
    rows = read_jsonl(ROOT / "eval" / "qa.jsonl")
    path.write_text(
        "".join(json.dumps({"question": r["question"], "source": r.get("source")}) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "gpu": False,
        "versions": versions("torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s", "numpy"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--tiny", action="store_true", help="a few documents and vectors: checks the code only"
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["ingest", "query", "peers", "browser", "scale"]
    )
    args = parser.parse_args(argv)
    results = run(args.out, tiny=args.tiny, skip=args.skip)
    print(table(results))
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
