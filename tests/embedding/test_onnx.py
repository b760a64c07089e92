"""The embedding model under ONNX Runtime: the same vectors as torch, and no torch to answer.

The model tests use the session's export (the `embedder` fixture is the ONNX one by
default, exported into the user cache on first use, as in real use).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.onnx_embedder import OnnxEmbedder, UnsupportedModelError, _identity, _settings
from rag.errors import RagError
from rag.ingest.structure import parse_sections

ROOT = Path(__file__).resolve().parents[2]


def _seed_sentences(seeds_dir: Path) -> list[str]:
    texts = []
    for path in sorted(seeds_dir.iterdir()):
        for section in parse_sections(path.read_text(encoding="utf-8")):
            texts.extend(s.text for s in section.sentences)
    return texts


def test_onnx_vectors_are_the_torch_models_vectors(embedder, seeds_dir):
    from rag.embedding.embedders import SentenceTransformerEmbedder

    assert isinstance(embedder, OnnxEmbedder)  # the default runtime
    texts = _seed_sentences(seeds_dir)[:300] + ["", "x", "word " * 400]  # empty, tiny, truncated
    torch_model = SentenceTransformerEmbedder(embedder.id)
    ours, theirs = embedder.encode(texts), torch_model.encode(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    assert float((ours * theirs).sum(axis=1).min()) > 0.99999
    assert [embedder.count_tokens(t) for t in texts] == [torch_model.count_tokens(t) for t in texts]
    assert embedder.max_tokens == torch_model.max_tokens == 256


def test_a_question_in_a_new_process_never_imports_torch(embedder, built_seed_index):
    """Nor bm25s (and through it scipy: the BM25 matrix is read with numpy), nor pydantic
    when no RAG_* variable is set (nothing to parse): each costs ~0.2 s of a cold start."""
    question = "How many parameters does Mistral Medium 3.5 have?"
    heavy = ("torch", "sentence_transformers", "transformers", "bm25s", "scipy", "pydantic")
    code = (
        "import sys; from rag.api import ask; "
        f"answer = ask({question!r}, index={str(built_seed_index)!r}); "
        f"print(answer.text); print([m for m in {heavy!r} if m in sys.modules])"
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RAG_")}
    # The reader's one-time export (it needs torch) is made first, in the cache this process
    # will use, as a first question on a new installation makes it.
    warm = "from rag.answer.reader import shared_reader; shared_reader()"
    subprocess.run(
        [sys.executable, "-c", warm], cwd=ROOT, env={**env, "HF_HUB_OFFLINE": "1"}, check=True, timeout=600
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    text, imported = run.stdout.strip().splitlines()[-2:]
    assert "128-billion-parameter" in text and imported == "[]"


def test_the_runtime_can_be_torch(monkeypatch):
    from rag.embedding import embedders

    monkeypatch.setenv("RAG_EMBEDDER_RUNTIME", "torch")
    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", lambda name: ("torch", name))
    assert embedders._load("all-MiniLM-L6-v2") == ("torch", "all-MiniLM-L6-v2")


def test_a_model_of_another_shape_falls_back_to_torch_with_one_line(tmp_path, monkeypatch, caplog):
    from rag.embedding import embedders

    folder = tmp_path / "odd-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UnsupportedModelError, match="not a sentence-transformers model folder"):
        _settings(folder)
    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", lambda name: ("torch", name))
    assert embedders._load(str(folder)) == ("torch", str(folder))
    assert "Embedding with torch instead of ONNX Runtime" in caplog.text
    assert issubclass(UnsupportedModelError, RagError)


def test_the_export_cache_key_follows_the_model_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    first = _identity(folder)
    assert _identity(folder) == first  # stable
    time.sleep(0.01)
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert _identity(folder) != first  # new weights: a new export


def test_int8_is_the_same_model_with_quantised_weights_and_its_own_id(embedder, seeds_dir, monkeypatch):
    """Issue 13: RAG_EMBEDDER_PRECISION=int8 gives the ONNX model with 8-bit weights, made once
    beside the fp32 export; its vectors stay close (cosine >= 0.97 on every seed sentence;
    0.988 minimum / 0.993 mean measured on 400 seed paragraphs)."""
    from rag.embedding.embedders import INT8, get_embedder

    monkeypatch.setenv("RAG_EMBEDDER_PRECISION", "int8")
    small = get_embedder()
    assert small.id == embedder.id + INT8 and small.precision == "int8" and embedder.precision == "fp32"
    texts = _seed_sentences(seeds_dir)[:300]
    cosines = (small.encode(texts) * embedder.encode(texts)).sum(axis=1)
    assert float(cosines.min()) >= 0.97 and float(cosines.mean()) >= 0.985
    assert small.dimension == 384 and small.max_tokens == embedder.max_tokens


def test_an_index_knows_its_precision_and_the_other_one_is_a_mismatch(embedder, seeds_dir, tmp_path):
    """An int8 index records "…@int8"; opened with the fp32 model it is the embedder mismatch
    it is, and rebuilding it at fp32 embeds everything again (no int8 vector is reused)."""
    from rag.embedding.embedders import INT8, get_embedder
    from rag.engine import Engine
    from rag.errors import EmbedderMismatchError
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths
    from rag.store import load_index

    documents = load_paths([seeds_dir / "001_e7367d59c646826d.txt"])
    small = get_embedder(embedder.id + INT8)
    build_index(documents, tmp_path / "index", embedder=small)
    index = load_index(tmp_path / "index")
    assert index.manifest.embedder == "all-MiniLM-L6-v2@int8"
    with pytest.raises(EmbedderMismatchError, match="rebuild it"):
        Engine.open(index, embedder)
    answer = Engine.open(index).ask("Who is the European Commission spokesperson?")
    assert "Regnier" in answer.text  # opened with the model it was built with
    again = build_index(documents, tmp_path / "index", embedder=embedder)
    assert again.changed == ["001_e7367d59c646826d.txt"] and again.unchanged == 0  # embedded again
    assert load_index(tmp_path / "index").manifest.embedder == embedder.id


# --- where embeddings are computed: RAG_DEVICE / --device (issue 13) --------------------


def test_auto_and_cpu_resolve_to_the_cpu_and_cuda_without_a_gpu_is_one_clear_line(monkeypatch, capsys):
    from rag.cli import main
    from rag.embedding import devices
    from rag.errors import ConfigError

    monkeypatch.setattr(devices, "cuda_backend", lambda: None)  # as on a machine with no GPU
    assert devices.resolve("cpu") == "cpu" and devices.resolve("auto") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU can be used.*onnxruntime-gpu.*--device cpu"):
        devices.resolve("cuda")
    with pytest.raises(ConfigError, match="cpu, cuda or auto"):
        devices.resolve("tpu")
    from rag import config

    monkeypatch.setattr(config, "_flags", {})  # what --device sets is undone afterwards,
    monkeypatch.setenv("RAG_DEVICE", "auto")  # here and in the environment it exports
    assert main(["index", "--device", "cuda", str(ROOT / "seeds")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: RAG_DEVICE=cuda, but no CUDA GPU") and "\n" not in error


def test_a_gpu_is_reached_through_onnx_runtime_or_torch(monkeypatch):
    """The wiring only (no GPU here): which backend builds the embedder for "cuda"."""
    from rag.embedding import devices, embedders
    from rag.embedding.embedders import INT8

    monkeypatch.setattr(devices, "cuda_backend", lambda: "torch")
    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", lambda name, device="cpu": (name, device))
    assert embedders._load("all-MiniLM-L6-v2", "cuda") == ("all-MiniLM-L6-v2", "cuda")
    with pytest.raises(RagError, match="int8 weights, which run on the CPU"):
        embedders._load("all-MiniLM-L6-v2" + INT8, "cuda")
    monkeypatch.setattr(devices, "cuda_backend", lambda: "onnx")
    monkeypatch.setattr(embedders, "_onnx", lambda name, device="cpu": ("onnx", name, device))
    assert embedders._load("all-MiniLM-L6-v2", "cuda") == ("onnx", "all-MiniLM-L6-v2", "cuda")


@pytest.mark.skipif(Path("/proc/driver/nvidia/version").exists(), reason="this machine has an NVIDIA driver")
def test_finding_no_gpu_imports_no_torch():
    code = (
        "import sys; from rag.embedding import devices; print(devices.cuda_backend(), 'torch' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["None", "False"], run.stderr[-2000:]


# --- one forward pass per chunk: sentence vectors pooled from it (issue 13) --------------


def test_span_vectors_come_from_the_same_pass_as_the_text_vector(embedder):
    text = "Mistral AI is based in Paris. It released Mistral Medium 3.5 with 128 billion parameters."
    first, second = (0, 29), (30, len(text))
    vectors, pooled = embedder.encode_spans([text, "A second text."], [[first, second], [(0, 14)]])
    assert np.allclose(vectors, embedder.encode([text, "A second text."]), atol=1e-6)  # the same vectors
    alone = embedder.encode([text[slice(*first)], text[slice(*second)]])
    cosines = (pooled[0] * alone).sum(axis=1)
    assert pooled[0].shape == (2, 384) and float(cosines.min()) > 0.7  # the sentence, read in context
    assert np.allclose(np.linalg.norm(pooled[1], axis=1), 1.0, atol=1e-5)
    long = "word " * 400  # truncated at 256 word pieces: a span past the cut has no token read
    _, cut = embedder.encode_spans([long], [[(0, 10), (1900, 1999)]])
    assert cut[0][0].any() and not cut[0][1].any()


def test_a_pooled_index_embeds_each_chunk_once_and_records_how(embedder, seeds_dir, tmp_path):
    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.ingest.chunking import ChunkerSettings
    from rag.ingest.loading import load_paths
    from rag.store import load_index

    assert "sentence_vectors" not in ChunkerSettings().to_json()  # older indexes stay valid
    documents = load_paths([seeds_dir / "003_dd93d9c36f4005fd.txt"])
    seen: list[str] = []
    pooled = ChunkerSettings(sentence_vectors="pooled")
    build_index(
        documents,
        tmp_path / "index",
        embedder=embedder,
        settings=pooled,
        progress=lambda f, m: seen.append(m),
    )
    index = load_index(tmp_path / "index")
    assert index.manifest.chunker["sentence_vectors"] == "pooled"
    embedded = [m for m in seen if m.startswith("Embedding")][-1]
    assert embedded == f"Embedding passages and sentences: {len(index.chunks)}/{len(index.chunks)}"
    assert np.all(np.abs(np.linalg.norm(index.sentence_vectors, axis=1) - 1) < 1e-4)  # every row filled
    engine = Engine.open(index, embedder)
    answer = engine.ask("How many parameters does Mistral Medium 3.5 have?")
    assert "128-billion-parameter" in answer.text
    # A model copying a passage sentence is verified against the passage sentences encoded
    # alone (the verifier's threshold was measured so), not their pooled vectors.
    from rag.answer.grounded import GroundedAnswerer
    from tests.fakes import CopyingGenerator

    grounded = GroundedAnswerer(index, embedder, engine.answerer, CopyingGenerator())
    written = list(
        grounded.stream(engine.retriever.search("How many parameters does Mistral Medium 3.5 have?"), 5)
    )
    assert written[-1].sentences and all(s.support > 0.8 for s in written[-1].sentences)
    assert grounded.verifier._alone  # the sentences it checked against, encoded alone
    again = build_index(
        documents,
        tmp_path / "index",
        embedder=embedder,
        settings=ChunkerSettings(sentence_vectors="separate"),
    )
    assert again.changed == ["003_dd93d9c36f4005fd.txt"]  # the other way of making them: re-embedded


def test_an_update_keeps_the_index_own_precision_and_sentence_vectors(
    embedder, seeds_dir, tmp_path, monkeypatch
):
    """Review finding: with the variables unset, updating an int8 / pooled index re-embedded it
    at the defaults. Now an update follows the index; only a variable set says otherwise."""
    from rag.embedding.embedders import INT8, get_embedder
    from rag.indexing.build import build_index
    from rag.ingest.chunking import ChunkerSettings
    from rag.ingest.loading import load_paths
    from rag.store import load_index

    monkeypatch.delenv("RAG_EMBEDDER_PRECISION", raising=False)
    monkeypatch.delenv("RAG_SENTENCE_VECTORS", raising=False)
    documents = load_paths([seeds_dir / "001_e7367d59c646826d.txt"])
    small = get_embedder(embedder.id + INT8)
    build_index(
        documents, tmp_path / "index", embedder=small, settings=ChunkerSettings(sentence_vectors="pooled")
    )
    again = build_index(documents, tmp_path / "index")  # what `rag index` / a server start does
    assert again.up_to_date and again.unchanged == 1
    manifest = load_index(tmp_path / "index").manifest
    assert manifest.embedder.endswith(INT8) and manifest.chunker["sentence_vectors"] == "pooled"
    monkeypatch.setenv("RAG_EMBEDDER_PRECISION", "fp32")  # said explicitly: re-embedded
    assert build_index(documents, tmp_path / "index").changed == ["001_e7367d59c646826d.txt"]


def test_pooled_is_recorded_only_when_done(seeds_dir, tmp_path):
    """Review finding: an embedder without one-pass spans encodes sentences alone, and the
    index must say so (it is answered with the model fitted for its vectors)."""
    from rag.embedding.embedders import HashEmbedder
    from rag.indexing.build import build_index
    from rag.ingest.chunking import ChunkerSettings
    from rag.ingest.loading import load_paths
    from rag.store import load_index

    documents = load_paths([seeds_dir / "001_e7367d59c646826d.txt"])
    build_index(
        documents,
        tmp_path / "i",
        embedder=HashEmbedder(),
        settings=ChunkerSettings(sentence_vectors="pooled"),
    )
    assert "sentence_vectors" not in load_index(tmp_path / "i").manifest.chunker


def test_no_driver_means_no_gpu_and_int8_stays_on_the_cpu_under_auto(monkeypatch):
    """Review findings: onnxruntime-gpu lists its CUDA provider on machines with no GPU; and
    auto must not send an int8 model to a GPU it cannot run on."""
    import onnxruntime

    from rag.embedding import devices, embedders

    monkeypatch.setattr(devices, "_DRIVER", Path("/nonexistent/nvidia/version"))
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    devices.cuda_backend.cache_clear()
    try:
        assert devices.cuda_backend() is None and devices.resolve("auto") == "cpu"
    finally:
        devices.cuda_backend.cache_clear()
    monkeypatch.setattr(devices, "cuda_backend", lambda: "onnx")  # as on a GPU machine
    loaded = []
    monkeypatch.setattr(
        embedders, "_load", lambda name, device="cpu": loaded.append((name, device)) or object()
    )
    monkeypatch.setattr(embedders, "_cache", {})
    embedders.get_embedder("all-MiniLM-L6-v2" + embedders.INT8)
    embedders.get_embedder("all-MiniLM-L6-v2")
    assert loaded == [("all-MiniLM-L6-v2@int8", "cpu"), ("all-MiniLM-L6-v2", "cuda")]
