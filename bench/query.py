"""Query: warm ``ask()`` and ``retrieve()`` latency, cold start to first answer, peak RSS.

The warm figures run in one process over a built index, through the public API. Cold start
is a new Python process that imports rag, loads the model and the index and answers one
question; it is timed from spawning the process to its exit.

Run alone: ``python -m bench.query --index DIR --questions qa.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import ROOT, offline_env, peak_rss_mb, read_jsonl, spread, time_calls

COLD_START = """
import sys
from rag import ask
answer = ask(sys.argv[2], index=sys.argv[1])
print(len(answer.text) > 0)
"""


def load_questions(path: Path, count: int) -> list[dict]:
    """``count`` questions spread over the file, as rows with "question" and gold ids."""
    return spread(read_jsonl(path), count)


def measure_warm(index_dir: Path, questions: list[dict], k: int = 5) -> dict:
    """p50/p95 of ``retrieve()`` and ``ask()`` over ``questions``, plus hit@k and peak RSS."""
    from rag import ask, retrieve

    texts = [row["question"] for row in questions]
    # Each on its own half: ask() asked after retrieve() with the same questions found the
    # chunks' stemmed words cached by retrieve() and looked 5 ms faster than it is (8.6
    # against 13.6 ms p50 in one run, though it does all retrieve() does and more).
    retrieve_ms = time_calls(lambda q: retrieve(q, k=k, index=index_dir), texts[::2])
    ask_ms = time_calls(lambda q: ask(q, k=k, index=index_dir), texts[1::2])
    hits = [_hit(retrieve(row["question"], k=k, index=index_dir), row) for row in questions if _gold(row)]
    return {
        "questions": len(texts),
        "k": k,
        "retrieve": retrieve_ms,
        "ask": ask_ms,
        "hit_at_k": round(sum(hits) / len(hits), 4) if hits else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _gold(row: dict) -> set[str]:
    return set(row.get("evidence_ids") or ([row["source"]] if row.get("source") else []))


def _hit(passages: list, row: dict) -> bool:
    return any(p.source in _gold(row) for p in passages)


def measure_cold_start(index_dir: Path, question: str, repeats: int = 3, python: str | None = None) -> dict:
    """Seconds from spawning a new process to its first answer (median of ``repeats``)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [python or sys.executable, "-c", COLD_START, str(index_dir), question],
            cwd=ROOT,
            env=offline_env(),
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - started)
    return {"cold_start_s": round(statistics.median(samples), 3), "samples_s": [round(s, 3) for s in samples]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a built index folder")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL rows with a 'question'")
    parser.add_argument("-n", type=int, default=500, help="questions to time")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(measure_warm(args.index, load_questions(args.questions, args.n), args.k)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
