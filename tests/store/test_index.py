"""Index plumbing: incremental builds, atomic generations, corruption and format checks.

These run on the deterministic HashEmbedder (the fast lane); the real model's index is
exercised by the retrieval, answer and UI tests.
"""

import json

import numpy as np
import pytest

from rag.api import check_index
from rag.engine import Engine
from rag.errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError, UnsupportedFormatError
from rag.indexing.build import build_index
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.loading import load_paths
from rag.store import load_index
from rag.store.generations import CURRENT, MANIFEST, live_generation


def test_manifest_records_what_the_index_was_built_from(fake_seed_index, seeds_dir, fake_embedder):
    index = load_index(fake_seed_index)
    manifest = index.manifest
    assert manifest.embedder == fake_embedder.id and manifest.dimension == 384
    assert manifest.chunker["max_tokens"] == ChunkerSettings().max_tokens
    assert set(manifest.files) == {p.name for p in seeds_dir.iterdir()}
    assert manifest.chunks == index.size == index.faiss.ntotal
    norms = np.linalg.norm(index.chunk_vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)  # L2-normalised: inner product is cosine


def test_unchanged_corpus_is_not_rebuilt(fake_index_copy, seeds_dir, fake_embedder):
    before = live_generation(fake_index_copy)
    report = build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder)
    assert report.up_to_date
    assert live_generation(fake_index_copy) == before


def test_only_changed_files_are_reembedded(fake_index_copy, corpus_copy, fake_embedder, monkeypatch):
    old = load_index(fake_index_copy)
    changed = corpus_copy / "001_e7367d59c646826d.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nThe Commission also met Mistral AI on Tuesday.\n",
        encoding="utf-8",
    )
    (corpus_copy / "002_de42bf26e336e8bb.txt").unlink()
    (corpus_copy / "new.md").write_text(
        "# Zebras\nZebras in Kenya number about 2,000 in the reserve.\n", encoding="utf-8"
    )

    encoded: list[str] = []
    original_encode = fake_embedder.encode
    monkeypatch.setattr(
        fake_embedder, "encode", lambda texts, **kw: encoded.extend(texts) or original_encode(texts, **kw)
    )
    report = build_index(load_paths([corpus_copy]), fake_index_copy, embedder=fake_embedder)

    assert report.changed == ["001_e7367d59c646826d.txt"]
    assert report.added == ["new.md"] and report.removed == ["002_de42bf26e336e8bb.txt"]
    assert report.unchanged == 3
    new = load_index(fake_index_copy)
    unchanged_sources = {"000_01f05ed4881d1083.txt", "003_dd93d9c36f4005fd.txt", "004_1b3da3c838341435.txt"}
    # Unchanged files keep their vectors bit for bit; nothing of theirs was embedded again.
    old_vectors = {(c.source, c.start): v for c, v in zip(old.chunks, old.chunk_vectors, strict=True)}
    for chunk, vector in zip(new.chunks, new.chunk_vectors, strict=True):
        if chunk.source in unchanged_sources:
            assert np.array_equal(old_vectors[(chunk.source, chunk.start)], vector)
    assert not any(c.source == "002_de42bf26e336e8bb.txt" for c in new.chunks)
    assert any("Zebras" in t for t in encoded)
    assert not any("Mistral Medium 3.5" in t for t in encoded)  # 003 was not re-embedded
    passage = Engine.open(new, fake_embedder).retrieve("How many zebras are in the reserve?")[0]
    assert passage.source == "new.md" and "2,000" in passage.text


def test_a_new_tokenizer_rebuilds_bm25_without_embedding(
    fake_index_copy, seeds_dir, fake_embedder, monkeypatch
):
    from rag.ingest.lexical import TOKENIZER_VERSION

    before = load_index(fake_index_copy)
    manifest_file = live_generation(fake_index_copy) / MANIFEST
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest_file.write_text(json.dumps({**manifest, "tokenizer": 1}), encoding="utf-8")  # an older build
    monkeypatch.setattr(
        fake_embedder, "encode", lambda texts, **kw: pytest.fail("nothing may be re-embedded")
    )

    report = build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder)

    assert report.up_to_date and report.retokenized and "re-tokenized" in report.summary()
    after = load_index(fake_index_copy)
    assert after.manifest.tokenizer == TOKENIZER_VERSION
    assert np.array_equal(np.asarray(before.chunk_vectors), np.asarray(after.chunk_vectors))
    # "2Anthropic still refuses…" in the seeds' key takeaways: the glued list number is split off.
    assert "2anthrop" not in after.doc_freq and after.bm25.vocab.get("anthrop") is not None
    assert build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder).retokenized is False


def test_other_chunker_settings_rebuild_everything(fake_index_copy, seeds_dir, fake_embedder):
    settings = ChunkerSettings(max_tokens=96, overlap_tokens=16)
    report = build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder, settings=settings)
    assert report.changed == sorted(p.name for p in seeds_dir.iterdir()) and report.unchanged == 0
    assert load_index(fake_index_copy).manifest.chunker["max_tokens"] == 96


def test_a_full_disk_is_one_line_and_the_previous_index_stays(
    fake_index_copy, corpus_copy, monkeypatch, capsys
):
    """Issue 30, row 13: a disk full during a build kept the old index but printed a traceback."""
    import errno

    import rag.store.folder
    from rag.cli import main

    before = load_index(fake_index_copy)
    (corpus_copy / "extra.txt").write_text("Extra document with new facts about llamas.", encoding="utf-8")

    def full(index, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rag.store.folder, "write_faiss", full)
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    assert main(["index", str(corpus_copy), "--index", str(fake_index_copy)]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: Cannot write the new index") and "No space left on device" in error
    assert "previous index is unchanged" in error
    after = load_index(fake_index_copy)
    assert after.path == before.path and after.size == before.size


def test_a_crash_mid_build_leaves_the_previous_index_loadable(
    fake_index_copy, corpus_copy, fake_embedder, monkeypatch
):
    before = load_index(fake_index_copy)
    (corpus_copy / "extra.txt").write_text("Extra document with new facts about llamas.", encoding="utf-8")

    import rag.store.folder

    def crash(index, path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(rag.store.folder, "write_faiss", crash)
    with pytest.raises(OSError, match="disk full"):
        build_index(load_paths([corpus_copy]), fake_index_copy, embedder=fake_embedder)
    after = load_index(fake_index_copy)
    assert after.path == before.path and after.size == before.size
    assert not [p for p in fake_index_copy.iterdir() if p.name.endswith(".tmp")]  # staging cleaned up


def _generation_file(index_dir, name):
    return live_generation(index_dir) / name


@pytest.mark.parametrize("name", ["faiss.index", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy"])
def test_truncated_index_files_give_a_rebuild_hint(fake_index_copy, name):
    path = _generation_file(fake_index_copy, name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexCorruptError, match="rag index"):
        load_index(fake_index_copy)


def test_corrupt_faiss_bytes_of_the_right_size_give_a_rebuild_hint(fake_index_copy):
    path = _generation_file(fake_index_copy, "faiss.index")
    path.write_bytes(b"\0" * path.stat().st_size)  # same size: only FAISS itself can tell
    with pytest.raises(IndexCorruptError, match="rag index"):
        load_index(fake_index_copy)


def test_missing_index_and_old_formats(tmp_path, fake_index_copy):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        load_index(tmp_path / "nowhere")
    manifest_path = _generation_file(fake_index_copy, MANIFEST)
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UnsupportedFormatError, match="rebuild"):
        load_index(fake_index_copy)
    (fake_index_copy / CURRENT).write_text("gen-missing\n")
    with pytest.raises(IndexCorruptError):
        load_index(fake_index_copy)


def test_a_corrupt_index_is_rebuilt_by_the_next_build(fake_index_copy, seeds_dir, fake_embedder):
    path = _generation_file(fake_index_copy, "faiss.index")
    path.write_bytes(b"garbage")
    report = build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder)
    assert not report.up_to_date
    assert load_index(fake_index_copy).size == report.chunks


def test_index_built_with_another_embedder_is_refused(fake_seed_index, fake_embedder):
    index = load_index(fake_seed_index)
    index.manifest.embedder = "some-other-model"
    with pytest.raises(EmbedderMismatchError, match="rag index"):
        Engine.open(index, fake_embedder)


def test_bm25_scores_read_with_numpy_are_bm25s_own(fake_seed_index):
    """Loads read bm25s's saved matrix without bm25s (no scipy at question time); every
    chunk's score must be the one bm25s itself computes, bit for bit."""
    from rag.ingest.lexical import import_bm25s, tokenize

    index = load_index(fake_seed_index)
    reference = import_bm25s().BM25.load(str(index.path / "bm25"), show_progress=False, verbosity=0)
    questions = [
        "How many parameters does Mistral Medium 3.5 have?",
        "Who leads the bridge loan for SoftBank's OpenAI investment?",
        "llama llama zebra",  # a repeated term counts twice; unknown ones add nothing
    ]
    for question in questions:
        words = tokenize(question)
        known = [w for w in words if w in reference.vocab_dict]
        expected = reference.get_scores(known) if known else np.zeros(index.size, dtype=np.float32)
        assert np.array_equal(index.bm25.scores(words), expected)
    word = next(iter(reference.vocab_dict))
    assert set(index.bm25.chunks_with(word)) == set(np.flatnonzero(reference.get_scores([word])))
    assert index.bm25.chunks_with("zzzz-not-a-term").size == 0


def test_the_chunks_stemmed_words_are_stored_and_read_back_as_stemmed(fake_seed_index):
    """A build writes every chunk's words (text, title, sentences); reading them back gives
    what stemming the chunk on first use gives, so a question's features do not change."""
    from rag.store.terms import StemmedOnUse, StoredTerms

    index = load_index(fake_seed_index)
    assert isinstance(index.terms, StoredTerms)
    stemmed = StemmedOnUse(index.chunks)
    for position in range(index.size):
        assert index.terms.text(position) == stemmed.text(position)
        assert index.terms.title(position) == stemmed.title(position)
        assert index.terms.sentences(position) == stemmed.sentences(position)
        assert len(index.terms.sentences(position)) == len(index.chunks[position].sentences)
    assert any(index.terms.title(p) for p in range(index.size))


def test_stored_words_that_disagree_with_the_chunks_give_a_rebuild_hint(fake_index_copy):
    path = _generation_file(fake_index_copy, "terms/chunks.npy")
    firsts = np.load(path)
    firsts[-1] += 1  # same size: only the arrays' agreement (or --check's checksum) tells
    np.save(path, firsts)
    with pytest.raises(IndexCorruptError, match="rag index"):
        load_index(fake_index_copy)
    assert check_index(fake_index_copy)[1] == ["terms/chunks.npy"]


def test_an_index_without_stored_words_stems_them_on_first_use(fake_index_copy, fake_embedder):
    """Indexes written before the words were stored (and stores without files) still answer."""
    import shutil

    from rag.store.terms import StemmedOnUse

    generation = live_generation(fake_index_copy)
    before = Engine.open(load_index(fake_index_copy), fake_embedder).ask("What is Mistral Medium?")
    shutil.rmtree(generation / "terms")
    manifest = json.loads((generation / MANIFEST).read_text())
    for key in ("sizes", "checksums"):
        manifest[key] = {k: v for k, v in manifest[key].items() if not k.startswith("terms/")}
    (generation / MANIFEST).write_text(json.dumps(manifest))
    index = load_index(fake_index_copy)
    assert isinstance(index.terms, StemmedOnUse)
    assert Engine.open(index, fake_embedder).ask("What is Mistral Medium?") == before


TRUNCATE = """
import sys
from pathlib import Path
from rag.embedding.embedders import HashEmbedder
from rag.engine import Engine
from rag.errors import IndexCorruptError
from rag.indexing.build import build_index
from rag.ingest.loading import load_paths
from rag.store import load_index

corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
build_index(load_paths([corpus]), index, embedder=HashEmbedder())
engine = Engine.open(load_index(index), HashEmbedder())
print("before:", engine.ask("How many jars of jam did Orion Foods sell?").citations[0].source)
for name in sys.argv[3:]:
    path = next(index.glob("gen-*/" + name))
    with path.open("r+b") as file:  # a live file cut short under the running engine
        file.truncate(200)
    try:
        engine.ask("How many jars of jam did Orion Foods sell?")
        print("answered")
    except IndexCorruptError as error:
        print("refused:", error)
"""


@pytest.mark.parametrize("name", ["chunk_vectors.npy", "sentence_vectors.npy", "terms/ids.npy"])
def test_a_live_file_cut_short_fails_the_question_not_the_process(tmp_path, name):
    """Issue 30, row 10: a live vector file truncated under a running server killed it (SIGBUS)."""
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number in range(40):  # enough rows that the cut falls inside the mapped pages
        (corpus / f"note{number}.md").write_text(
            f"# Note {number}\\n\\nOrion Foods sold {number} million jars of jam in year {2000 + number}.\\n",
            encoding="utf-8",
        )
    run = subprocess.run(
        [sys.executable, "-c", TRUNCATE, str(corpus), str(tmp_path / "index"), name],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])  # -7 was SIGBUS
    lines = run.stdout.splitlines()
    assert lines[0].startswith("before: note")
    assert lines[1].startswith("refused: ") and name.split("/")[-1] in lines[1] and "rag index" in lines[1]
    assert "cut short" in run.stderr  # and one log line
