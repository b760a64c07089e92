"""Builds embed in bfloat16 on CPUs with AMX tiles (rag.embedding.bulk): when, and that it is
the same model.

Which encoder a build takes is decided from the CPU's flags, the setting and the size of the
work; the bfloat16 vectors themselves are checked against the fp32 ones on any CPU (torch
emulates bfloat16 where the hardware has none, slowly: these tests embed little).
"""

from pathlib import Path

import numpy as np
import pytest

from rag.embedding import bulk
from rag.embedding.bulk import MIN_CHARACTERS, bulk_encoder, has_amx_bf16
from rag.embedding.embedders import HashEmbedder, SentenceTransformerEmbedder


@pytest.fixture()
def amx(monkeypatch, tmp_path):
    """Point the CPU check at a cpuinfo file that has (True) or lacks (False) AMX-BF16."""

    def set_flags(present: bool) -> None:
        flags = "fpu sse2 avx512f avx512_bf16" + (" amx_bf16 amx_tile amx_int8" if present else "")
        cpuinfo = tmp_path / "cpuinfo"
        cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Xeon\nflags\t\t: {flags}\n\n", encoding="ascii")
        monkeypatch.setattr(bulk, "_CPUINFO", cpuinfo)
        has_amx_bf16.cache_clear()

    yield set_flags
    has_amx_bf16.cache_clear()


def test_the_cpu_check_reads_the_amx_bf16_flag(amx, monkeypatch, tmp_path):
    amx(True)
    assert has_amx_bf16()
    amx(False)
    assert not has_amx_bf16()
    monkeypatch.setattr(bulk, "_CPUINFO", tmp_path / "missing")  # not Linux: no flags to read
    has_amx_bf16.cache_clear()
    assert not has_amx_bf16()


def test_small_builds_other_cpus_and_off_keep_the_onnx_encoder(embedder, amx, monkeypatch):
    amx(True)
    assert bulk_encoder(embedder, MIN_CHARACTERS - 1) is embedder  # torch's import would not pay
    monkeypatch.setenv("RAG_BUILD_BF16", "off")
    assert bulk_encoder(embedder, 10 * MIN_CHARACTERS) is embedder
    monkeypatch.setenv("RAG_BUILD_BF16", "auto")
    amx(False)
    assert bulk_encoder(embedder, 10 * MIN_CHARACTERS) is embedder
    monkeypatch.setenv("RAG_BUILD_BF16", "on")  # on: whatever the CPU, but only for what it suits
    assert bulk_encoder(HashEmbedder(), 10 * MIN_CHARACTERS).id == HashEmbedder.id


def test_a_large_build_on_an_amx_cpu_gets_the_same_model_in_bfloat16(embedder, amx, seeds_dir):
    amx(True)
    encoder = bulk_encoder(embedder, MIN_CHARACTERS)
    assert isinstance(encoder, SentenceTransformerEmbedder) and encoder.bf16
    assert (encoder.id, encoder.dimension, encoder.max_tokens) == (embedder.id, 384, 256)
    assert bulk_encoder(embedder, MIN_CHARACTERS) is encoder  # loaded once per process
    texts = [p.read_text(encoding="utf-8")[:1500] for p in sorted(seeds_dir.iterdir())]
    texts += ["", "x", "word " * 400]  # empty, tiny, truncated
    ours, fp32 = encoder.encode(texts), embedder.encode(texts)
    assert ours.shape == fp32.shape and ours.dtype == np.float32
    assert float((ours * fp32).sum(axis=1).min()) > 0.9995  # bfloat16 rounding only


def test_an_index_built_in_bfloat16_answers_as_the_fp32_one(engine, tmp_path, monkeypatch, embedder):
    import json

    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths
    from rag.store import load_index
    from tests.conftest import SEEDS

    monkeypatch.setenv("RAG_BUILD_BF16", "on")
    build_index(load_paths([SEEDS]), tmp_path / "index", embedder=embedder)
    index = load_index(tmp_path / "index")
    assert index.manifest.embedder == embedder.id  # the same model: no rebuild to query it
    bf16 = Engine.open(index, embedder)
    root = Path(__file__).resolve().parents[2]
    questions = [json.loads(line)["question"] for line in (root / "eval" / "qa.jsonl").open()][:12]
    same = 0
    for question in questions:
        ours, theirs = bf16.ask(question), engine.ask(question)
        same += _spans(ours) == _spans(theirs) and ours.text == theirs.text
    assert same >= len(questions) - 1  # a near tie may fall the other way, once at most


def _spans(answer) -> list[tuple[str, int, int]]:
    return [(c.source, c.start + c.sentence_start, c.start + c.sentence_end) for c in answer.citations]
