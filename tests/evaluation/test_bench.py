"""The benchmark code, run on tiny inputs so it cannot rot. No timing is asserted here.

Our side runs in this (the product's) venv. The peers are never installed here: their code
runs through ``.venv-bench/bin/python``, which ``make test`` creates (``make bench-install``);
without it that test is skipped, not failed.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from bench.common import ROOT, SQUAD, percentile, read_jsonl, run_child, spread

BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
needs_squad = pytest.mark.skipif(
    not (SQUAD / "corpus.jsonl").is_file(), reason="../shared/benchmarks is absent"
)


def test_percentile_and_spread():
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5 == float(np.percentile([1, 2, 3, 4], 50))
    assert percentile([5.0], 95) == 5.0
    rows = [{"i": i} for i in range(10)]
    assert [r["i"] for r in spread(rows, 5)] == [0, 2, 4, 6, 8]
    assert spread(rows, 50) == rows


def test_synthetic_vectors_are_normalised_and_clustered():
    from bench.scale import clustered_vectors, exact_neighbours, queries_like

    data = clustered_vectors(2000)
    assert data.dtype == np.float32 and np.allclose(np.linalg.norm(data, axis=1), 1, atol=1e-5)
    queries = queries_like(data, 20)
    nearest = exact_neighbours(data, queries)[:, 0]
    best = np.einsum("ij,ij->i", data[nearest], queries)
    typical = float(np.median(data[:200] @ data[200:400].T))
    assert best.min() > typical + 0.3  # neighbours are much nearer than random pairs: not noise


@pytest.mark.benchmark
@pytest.mark.model
def test_tiny_benchmark_run_writes_every_figure(tmp_path):
    from bench.report import table
    from bench.run import run

    results = run(tmp_path / "results.json", tiny=True, skip=("peers",))
    assert json.loads((tmp_path / "results.json").read_text()) == results
    for key in ("retrieve_p50_ms", "ask_p50_ms", "ask_p95_ms", "cold_start_s"):
        assert results[key] > 0
    if (SQUAD / "corpus.jsonl").is_file():
        assert results["ingest_overhead"] > 0
    for row in results["ingest"].values():
        assert row["build_s"] > 0 and row["raw_encode_s"] > 0 and row["chunks"] > 0
        assert row["overhead_same_run"] >= 1  # the build includes its own encoder time
    point = results["scale"]["3000"]
    assert point["rag_picks"] == "flat"
    for kind in ("flat", "hnsw", "ivfpq"):
        assert {"p50_ms", "recall_at_10", "ram_mb", "build_s"} <= set(point["types"][kind])
    assert point["types"]["flat"]["recall_at_10"] == 1.0
    assert "retrieve()" in table(results) and "ivfpq" in table(results)
    start = results["browser_start"]
    assert start["first_run"]["answered"] and start["next_run"]["answered"]
    assert start["next_run"]["to_first_answer_s"] > 0 and "first answer in chromium" in table(results)


def _tiny_corpus(folder: Path, seeds_dir: Path) -> tuple[Path, Path]:
    """Two seed files as a {id, title, text} corpus, with their eval questions."""
    files = sorted(seeds_dir.iterdir())[:2]
    corpus = folder / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": f.name, "title": "", "text": f.read_text(encoding="utf-8")}) + "\n"
            for f in files
        ),
        encoding="utf-8",
    )
    names = {f.name for f in files}
    rows = [
        r for r in read_jsonl(ROOT / "eval" / "qa.jsonl") if r.get("source") in names and r.get("answers")
    ]
    questions = folder / "qa.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"question": r["question"], "evidence_ids": [r["source"]]}) + "\n" for r in rows[:4]
        ),
        encoding="utf-8",
    )
    return corpus, questions


@pytest.mark.benchmark
@pytest.mark.model
@pytest.mark.skipif(not BENCH_PYTHON.exists(), reason="no .venv-bench: `make bench-install` creates it")
@pytest.mark.parametrize("peer", ["langchain", "llamaindex"])
def test_peer_benchmark_runs_in_the_bench_venv(peer, tmp_path, seeds_dir):
    corpus, questions = _tiny_corpus(tmp_path, seeds_dir)
    result = run_child(
        "bench.peers",
        [peer, "--corpus", str(corpus), "--questions", str(questions), "-n", "4"],
        python=str(BENCH_PYTHON),
        timeout=900,
    )
    assert result["peer"] == peer and result["chunks"] > 0 and result["build_s"] > 0
    assert result["query"]["p50_ms"] > 0 and result["query"]["n"] == 4
    assert result["hit_at_k"] is not None
    assert result["versions"]["torch"].startswith("2.13.0")  # the peers did not swap torch


@needs_squad
@pytest.mark.benchmark
@pytest.mark.model
def test_ingest_texts_match_what_rag_embeds(tmp_path):
    """The raw-encoder baseline encodes exactly the texts a build embeds, no more, no fewer."""
    from bench.ingest import embedded_texts
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_jsonl
    from rag.store import load_index

    build_index(load_jsonl(SQUAD / "corpus.jsonl")[:3], tmp_path / "index")
    chunks, sentences = embedded_texts(tmp_path / "index")
    index = load_index(tmp_path / "index")
    assert len(chunks) == index.size and len(sentences) == len(index.sentence_vectors)


def test_builds_interleave_in_alternating_rounds_and_ratios_are_per_round(monkeypatch):
    """The scheduling of `make bench`'s builds (A B C D, D C B A) and its arithmetic: each
    child's figures are stand-ins here; the children themselves are run by the tests above."""
    import bench.run as runner

    calls: list[str] = []
    seconds = {
        "rag": [10.0, 20.0],
        "rag-fp32": [18.0, 30.0],
        "rag-int8-pooled": [5.0, 8.0],
        "langchain": [15.0, 22.0],
        "llamaindex": [30.0, 40.0],
    }

    def child(module, args, python=None, timeout=3600, env=None):
        if module == "bench.ingest":
            env = env or {}
            system = {"int8": "rag-int8-pooled"}.get(env.get("RAG_EMBEDDER_PRECISION", ""), "rag")
            system = "rag-fp32" if env.get("RAG_BUILD_BF16") == "off" else system
            assert "--build-only" in args
        else:
            system = args[0]
        calls.append(system)
        taken = seconds[system][sum(c == system for c in calls) - 1]
        return {"build_s": taken, "chunks": 4, "query": {"p50_ms": 9.0, "p95_ms": 12.0}}

    monkeypatch.setattr(runner, "run_child", child)
    monkeypatch.setattr(runner, "peers_available", lambda: True)
    out = runner._peers({"retrieve_p50_ms": 3.0}, {**runner.TINY, "rounds": 2})
    systems = ["rag", "rag-fp32", "rag-int8-pooled", "langchain", "llamaindex"]
    assert calls == systems + systems[::-1]
    assert out["rounds"] == [{s: seconds[s][0] for s in systems}, {s: seconds[s][1] for s in systems[::-1]}]
    assert out["langchain"]["build_speedup"] == round((15 / 10 + 22 / 20) / 2, 2)  # median of 2 = mean
    assert out["llamaindex"]["build_speedup_int8_pooled"] == round((30 / 5 + 40 / 8) / 2, 2)
    assert out["rag_fp32_build_s"] == 24.0
    assert out["langchain"]["rag_build_s"] == 15.0 and out["langchain"]["query_speedup"] == 3.0


@pytest.mark.model
def test_tiny_pdf_speed_run_writes_every_figure(tmp_path):
    """`make bench`'s PDF figures (issue 31): layout and OCR pages/s, a filing indexed."""
    import json
    import shutil
    import subprocess
    import sys

    if shutil.which("tesseract") is None:
        pytest.skip("Tesseract is not installed (make install adds it)")
    out = tmp_path / "pdf_speed.json"
    subprocess.run(
        [sys.executable, "-m", "bench.pdf_speed", "--tiny", "--out", str(out)], check=True, timeout=600
    )
    figures = json.loads(out.read_text())
    assert figures["pages"] == 6 and figures["index_filing_chunks"] > 6
    assert figures["layout_pages_per_s"] > 0 and figures["ocr_pages_per_s"] > 0
    assert figures["ocr_chars_per_page"] > 1000  # the scan was read, not skipped
