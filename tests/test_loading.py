import logging

import pytest

from rag.errors import CorpusError
from rag.ingest.loading import load_jsonl, load_paths


def test_binary_and_undecodable_files_are_skipped_with_a_warning(tmp_path, caplog):
    (tmp_path / "good.txt").write_text("A real document about things.", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 binary")
    with caplog.at_level(logging.WARNING):
        documents = load_paths([tmp_path])
    assert [d.source for d in documents] == ["good.txt"]
    assert "image.txt" in caplog.text and "binary" in caplog.text
    assert "notes.pdf" in caplog.text


def test_non_utf8_text_is_detected(tmp_path, caplog):
    text = "Le café de la Commission européenne a ouvert à Bruxelles. " * 5
    (tmp_path / "latin.txt").write_bytes(text.encode("cp1252"))
    with caplog.at_level(logging.WARNING):
        documents = load_paths([tmp_path])
    assert documents[0].text == text
    assert "latin.txt is not UTF-8" in caplog.text


def test_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="No readable"):
        load_paths([tmp_path])
    with pytest.raises(CorpusError, match="does not exist"):
        load_paths([tmp_path / "missing"])


def test_names_are_relative_to_the_corpus_root(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("# Title\nSome text here.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")
    assert [d.source for d in load_paths([tmp_path])] == ["sub/a.md"]


def test_jsonl_corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "p1", "title": "T", "text": "Hello there."}\n\n{"id": "p2", "text": "More."}\n')
    documents = load_jsonl(path)
    assert [(d.source, d.title) for d in documents] == [("p1", "T"), ("p2", "")]
    path.write_text('{"id": "p1"}\n')
    with pytest.raises(CorpusError, match="corpus.jsonl:1"):
        load_jsonl(path)
