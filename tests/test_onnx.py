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

from rag.errors import RagError
from rag.indexing.onnx_embedder import OnnxEmbedder, UnsupportedModelError, _identity, _settings
from rag.ingest.structure import parse_sections

ROOT = Path(__file__).resolve().parents[1]


def _seed_sentences(seeds_dir: Path) -> list[str]:
    texts = []
    for path in sorted(seeds_dir.iterdir()):
        for section in parse_sections(path.read_text(encoding="utf-8")):
            texts.extend(s.text for s in section.sentences)
    return texts


def test_onnx_vectors_are_the_torch_models_vectors(embedder, seeds_dir):
    from rag.indexing.embedders import SentenceTransformerEmbedder

    assert isinstance(embedder, OnnxEmbedder)  # the default runtime
    texts = _seed_sentences(seeds_dir)[:300] + ["", "x", "word " * 400]  # empty, tiny, truncated
    torch_model = SentenceTransformerEmbedder(embedder.id)
    ours, theirs = embedder.encode(texts), torch_model.encode(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    assert float((ours * theirs).sum(axis=1).min()) > 0.99999
    assert [embedder.count_tokens(t) for t in texts] == [torch_model.count_tokens(t) for t in texts]
    assert embedder.max_tokens == torch_model.max_tokens == 256


def test_a_question_in_a_new_process_never_imports_torch(embedder, built_seed_index):
    question = "How many parameters does Mistral Medium 3.5 have?"
    heavy = ("torch", "sentence_transformers", "transformers")
    code = (
        "import sys; from rag.api import ask; "
        f"answer = ask({question!r}, index={str(built_seed_index)!r}); "
        f"print(answer.text); print([m for m in {heavy!r} if m in sys.modules])"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    text, imported = run.stdout.strip().splitlines()[-2:]
    assert "128-billion-parameter" in text and imported == "[]"


def test_the_runtime_can_be_torch(monkeypatch):
    from rag.indexing import embedders

    monkeypatch.setenv("RAG_EMBEDDER_RUNTIME", "torch")
    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", lambda name: ("torch", name))
    assert embedders._load("all-MiniLM-L6-v2") == ("torch", "all-MiniLM-L6-v2")


def test_a_model_of_another_shape_falls_back_to_torch_with_one_line(tmp_path, monkeypatch, caplog):
    from rag.indexing import embedders

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
