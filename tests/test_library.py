import logging

import pytest

from rag.engine import Engine
from rag.errors import DocumentError
from rag.ingest.loading import load_paths
from rag.library import Library
from rag.store import load_index
from tests.documents import docx_bytes, html_bytes, pdf_bytes

NOTE = b"# Harbour report\n\nThe harbour of Kotka handled 9 million tonnes of cargo in 2023.\n"


@pytest.fixture()
def library(corpus_copy, fake_index_copy, monkeypatch) -> Library:
    """The seeds as a library over the fake-embedder index (builds embed with it too)."""
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    return Library("seeds", corpus_copy, fake_index_copy)


@pytest.fixture()
def model_library(corpus_copy, seed_index_copy) -> Library:
    return Library("seeds", corpus_copy, seed_index_copy)


def sources(library: Library) -> set[str]:
    return {chunk.source for chunk in load_index(library.index).chunks}


def test_adding_stores_indexes_and_reports_progress(library):
    seen: list[float] = []
    report = library.add([("harbour.md", NOTE)], progress=lambda fraction, message: seen.append(fraction))
    assert report.added == ["harbour.md"] and report.chunks >= 1 and report.build is not None
    assert report.build.added == ["harbour.md"] and report.build.unchanged == 5  # incremental
    assert (library.corpus / "harbour.md").read_bytes() == NOTE
    assert "harbour.md" in sources(library)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4
    assert report.chunks == 1 and report.file_chunks == {"harbour.md": 1}
    assert report.summary() == f"Added harbour.md (1 chunk) in {report.seconds:.1f} s."


def test_the_same_bytes_again_are_a_no_op_and_a_changed_file_replaces_its_chunks(library):
    library.kind = "owned"  # rag's own folder: a new version replaces the file (else it goes beside it)
    library.add([("harbour.md", NOTE)])
    generation = (library.index / "CURRENT").read_text()
    again = library.add([("harbour.md", NOTE), ("copy.md", NOTE)])
    assert again.unchanged == ["harbour.md", "copy.md (= harbour.md)"] and again.build is None
    assert (library.index / "CURRENT").read_text() == generation  # nothing was rebuilt
    changed = library.add([("harbour.md", NOTE.replace(b"9 million", b"11 million"))])
    assert changed.replaced == ["harbour.md"] and changed.build.changed == ["harbour.md"]
    texts = [c.text for c in load_index(library.index).chunks if c.source == "harbour.md"]
    assert any("11 million" in t for t in texts) and not any("9 million" in t for t in texts)


def test_refused_files_are_reported_and_the_rest_is_added(library):
    report = library.add(
        [("../escape.md", NOTE), ("empty.txt", b""), ("page.html", html_bytes("Kotka", ["Cargo news."]))]
    )
    assert report.added == ["page.html"]
    assert [name for name, _ in report.rejected] == ["../escape.md", "empty.txt"]
    assert not (library.corpus.parent / "escape.md").exists()
    summary = report.summary()
    assert (
        summary.startswith("Added page.html (2 chunks) in ")  # 3 with an invented dateline
        and "Refused '../escape.md' is not a plain" in summary
    )
    assert summary.endswith("; empty.txt is empty.")


def test_pdf_html_and_word_documents_are_indexed_and_cited(model_library, embedder):
    library = model_library
    library.add(
        [
            (
                "mine.pdf",
                pdf_bytes(
                    ["Zephyr Mining opened a lithium mine in Lapland in 2024.", "It employs 240 workers."]
                ),
            ),
            (
                "port.html",
                html_bytes("Port news", ["The harbour of Kotka handled 9 million tonnes of cargo in 2023."]),
            ),
            ("jam.docx", docx_bytes("Jam sales", ["Orion Foods sold three million jars of jam in 2024."])),
        ]
    )
    engine = Engine.open(load_index(library.index), embedder)
    for question, source, words in [
        ("How many workers does the Zephyr Mining lithium mine employ?", "mine.pdf", "240 workers"),
        ("How much cargo did the harbour of Kotka handle in 2023?", "port.html", "9 million tonnes"),
        ("How many jars of jam did Orion Foods sell?", "jam.docx", "three million jars"),
    ]:
        answer = engine.ask(question)
        cited = answer.citations[0]
        assert not answer.abstained and cited.source == source and words in answer.text
        # offsets point into the extracted text, which is what the document viewer shows
        from rag.ingest.formats import read_document

        full = read_document(library.path_of(source))
        assert full[cited.start + cited.sentence_start : cited.start + cited.sentence_end] == cited.sentence


def test_documents_list_names_titles_sizes_chunks_and_times(library):
    library.add([("harbour.md", NOTE)])
    rows = {d.name: d for d in library.documents()}
    assert len(rows) == 6
    assert rows["harbour.md"].title == "Harbour report" and rows["harbour.md"].size == len(NOTE)
    assert rows["harbour.md"].chunks >= 1 and rows["harbour.md"].indexed is not None
    assert rows["001_e7367d59c646826d.txt"].title == "EU holds AI model talks with OpenAI and Anthropic"


def test_removing_keeps_the_file_out_of_every_later_build_until_it_is_added_again(library, tmp_path):
    """Issue 32 item 3: the default removal takes a document out of the index only; its file
    stays, and later builds from the folder (a sync, a new engine) leave it out."""
    from rag.engine import clear_engines, get_engine

    library.add([("harbour.md", NOTE)])
    report = library.delete("harbour.md")
    assert report.removed == ["harbour.md"] and "harbour.md" not in sources(library)
    assert (library.corpus / "harbour.md").read_bytes() == NOTE  # the user's file is kept
    assert library.sync().up_to_date and "harbour.md" not in sources(library)
    clear_engines(library.index)
    get_engine(library.index, library.corpus)  # the server's first-use sync
    assert "harbour.md" not in sources(library)
    rows = {d.name: d for d in library.documents()}
    assert rows["harbour.md"].left_out and rows["harbour.md"].chunks == 0
    with pytest.raises(DocumentError, match="already out of the index"):
        library.delete("harbour.md")
    back = library.add([("harbour.md", NOTE)])  # the same bytes again bring it back
    assert back.added == ["harbour.md"] and "harbour.md" in sources(library)
    assert not {d.name: d for d in library.documents()}["harbour.md"].left_out
    with pytest.raises(DocumentError, match="no document"):
        library.delete("../seeds/001_e7367d59c646826d.txt")


def test_only_a_folder_rag_made_lets_a_file_be_deleted(library, tmp_path, monkeypatch):
    library.add([("harbour.md", NOTE)])
    with pytest.raises(DocumentError, match="your own folder .* never deletes files"):
        library.delete("harbour.md", remove_file=True)
    assert (library.corpus / "harbour.md").exists() and "harbour.md" in sources(library)
    owned = Library("mine", library.corpus, library.index, kind="owned")
    owned.delete("harbour.md", remove_file=True)
    assert not (library.corpus / "harbour.md").exists() and "harbour.md" not in sources(library)
    demo = Library("seeds", library.corpus, library.index, kind="demo")
    with pytest.raises(DocumentError, match="demo collection and stays as shipped"):
        demo.add([("harbour.md", NOTE)])
    assert not (library.corpus / "harbour.md").exists()


def test_the_last_indexed_document_cannot_be_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    lonely = Library("one", tmp_path / "one", tmp_path / "one-index")
    (tmp_path / "one").mkdir()
    lonely.add([("only.md", NOTE), ("other.md", NOTE.replace(b"Kotka", b"Hamina"))])
    lonely.delete("other.md")
    with pytest.raises(DocumentError, match="only document in the index"):
        lonely.delete("only.md")


def test_a_failed_build_leaves_the_folder_as_it_was(library, monkeypatch):
    import rag.library

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rag.library, "build_index", broken)
    with pytest.raises(RuntimeError):
        library.add([("harbour.md", NOTE)])
    assert not (library.corpus / "harbour.md").exists()
    assert "harbour.md" not in sources(library)


def test_the_corpus_loader_reads_new_formats_and_warns_about_broken_ones(tmp_path, caplog):
    (tmp_path / "a.pdf").write_bytes(pdf_bytes(["A lithium mine opened in 2024."]))
    (tmp_path / "b.html").write_bytes(html_bytes("Port", ["Cargo rose in 2023."]))
    (tmp_path / "c.docx").write_bytes(b"PK\x03\x04 not a zip")
    with caplog.at_level(logging.WARNING):
        documents = load_paths([tmp_path])
    assert [d.source for d in documents] == ["a.pdf", "b.html"]
    assert "c.docx" in caplog.text


def test_a_worker_process_builds_with_progress_and_errors_come_back(library, tmp_path):
    """The server's way: builds in a child process at a lower priority (rag.indexing.worker)."""
    import os

    from rag.errors import CorpusError
    from rag.indexing.worker import BuildWorker

    worker = BuildWorker()
    try:
        library.builder = worker
        seen: list[float] = []
        report = library.add([("harbour.md", NOTE)], progress=lambda fraction, message: seen.append(fraction))
        assert report.added == ["harbour.md"] and report.build is not None and report.build.unchanged == 5
        assert "harbour.md" in sources(library) and seen == sorted(seen) and seen[-1] == 1.0
        child = next(iter(worker._executor._processes.values()))  # type: ignore[union-attr]
        assert child.pid != os.getpid() and os.getpriority(os.PRIO_PROCESS, child.pid) >= 10
        empty = Library("empty", tmp_path / "empty-corpus", tmp_path / "empty-index", builder=worker)
        (tmp_path / "empty-corpus").mkdir()
        with pytest.raises(CorpusError, match="No readable documents"):
            empty.sync()
    finally:
        worker.close()


ORPHAN = """
import os, sys
from pathlib import Path
from rag.indexing.worker import BuildWorker

worker = BuildWorker()
worker.build(Path(sys.argv[1]), Path(sys.argv[2]))
print(next(iter(worker._executor._processes)), flush=True)
os._exit(0)  # as a server killed with SIGKILL: nothing closes the pool
"""


def test_the_worker_process_does_not_outlive_its_server(corpus_copy, tmp_path, monkeypatch):
    import subprocess
    import sys
    import time
    from pathlib import Path

    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-c", ORPHAN, str(corpus_copy), str(tmp_path / "index")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    child = int(run.stdout.split()[-1])
    deadline = time.monotonic() + 60
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_only_indexed_documents_are_served_by_name(library, tmp_path):
    """Issue 30, row 7: hidden files, .git/, links out and files the index never read are not
    documents, whatever reads them by name (MCP read_span, the document view)."""
    outside = tmp_path / "outside.txt"
    outside.write_text("The safe code is 4711.", encoding="utf-8")
    (library.corpus / ".hidden.txt").write_text("A hidden note.", encoding="utf-8")
    (library.corpus / ".git").mkdir()
    (library.corpus / ".git" / "notes.md").write_text("# Notes\n\nA git note.\n", encoding="utf-8")
    (library.corpus / "link.txt").symlink_to(outside)
    for name in [".hidden.txt", ".git/notes.md", "link.txt", "../outside.txt", str(outside)]:
        with pytest.raises(DocumentError, match="no document"):
            library.path_of(name, indexed=True)
    (library.corpus / "late.md").write_text("# Late\n\nNot indexed yet.\n", encoding="utf-8")
    assert library.path_of("late.md") == library.corpus / "late.md"  # a document: deletable
    with pytest.raises(DocumentError, match="no document"):
        library.path_of("late.md", indexed=True)  # but never read out before it is indexed
    assert library.path_of("001_e7367d59c646826d.txt", indexed=True).is_file()


def test_an_upload_never_writes_through_a_link(library, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("# Outside\n\nUntouched.\n", encoding="utf-8")
    (library.corpus / "harbour.md").symlink_to(outside)
    report = library.add([("harbour.md", NOTE)])
    assert [name for name, _ in report.rejected] == ["harbour.md"] and "link" in report.rejected[0][1]
    assert outside.read_text(encoding="utf-8") == "# Outside\n\nUntouched.\n"
    assert (library.corpus / "harbour.md").is_symlink()


def test_names_made_safe_never_replace_each_other(library):
    """Issue 30, row 14: 'x∕y.md' then 'x／y.md' were both stored as x_y.md, the second silently
    replacing the first. Now the second is kept apart, and the summary says under which name."""
    first = library.add([("x\u2215y.md", NOTE)])
    second = library.add(
        [("x\uff0fy.md", b"# Ferry report\n\nThe ferry carried 2 million people in 2023.\n")]
    )
    assert first.added == ["x_y.md"] and second.added == ["x_y (2).md"] and not second.replaced
    assert "Stored x\uff0fy.md as x_y (2).md" in second.summary()
    assert (library.corpus / "x_y.md").read_bytes() == NOTE
    assert {"x_y.md", "x_y (2).md"} <= sources(library)


def test_an_upload_never_writes_over_a_file_in_the_users_own_folder(library):
    """A review finding: uploading notes.md into a folder of the user's replaced their notes.md."""
    (library.corpus / "harbour.md").write_bytes(NOTE)
    changed = NOTE.replace(b"9 million", b"11 million")
    report = library.add([("harbour.md", changed)])
    assert report.renamed == [("harbour.md", "harbour (2).md")] and report.added == ["harbour (2).md"]
    assert (library.corpus / "harbour.md").read_bytes() == NOTE  # the user's file as it was
    owned = Library("mine", library.corpus, library.index, kind="owned")
    assert owned.add([("harbour.md", changed.replace(b"11", b"12"))]).replaced == ["harbour.md"]


def test_rag_index_leaves_out_documents_removed_in_the_ui(library):
    from rag.api import build_index

    library.delete("001_e7367d59c646826d.txt")
    build_index([library.corpus], index=library.index)
    assert "001_e7367d59c646826d.txt" not in sources(library)
    assert not list(library.index.glob("*.tmp"))
