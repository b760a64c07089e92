import pytest

from rag.cli import main

TAG_PAGE = "003_dd93d9c36f4005fd.txt"


def test_rag_ask_prints_answer_and_sources(built_seed_index, capsys):
    code = main(
        ["ask", "How many parameters does Mistral Medium 3.5 have?", "--index", str(built_seed_index)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "128-billion-parameter" in out
    assert "Sources:" in out and f"[1] {TAG_PAGE}" in out


def test_errors_are_one_clear_line(tmp_path, capsys):
    code = main(["ask", "Who?", "--index", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: No index in") and "rag index" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_index_path_that_is_a_file_is_one_line_for_ask_and_index(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("The harbour opens at six.\n", encoding="utf-8")
    for argv in (["ask", "When?", "--index", str(notes)], ["index", str(tmp_path), "--index", str(notes)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {notes} is a file, not an index folder: pass --index a folder")
        assert len(err.splitlines()) == 1
    assert notes.read_text(encoding="utf-8") == "The harbour opens at six.\n"  # left as it was


@pytest.mark.parametrize("k", ["0", "-3", "two"])
def test_a_passage_count_below_one_is_refused_by_the_parser(k, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["ask", "When?", "-k", k])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("rag ask: error: argument -k: ")


def test_empty_question_on_the_cli(built_seed_index, capsys):
    assert main(["ask", "  ", "--index", str(built_seed_index)]) == 1
    assert "empty" in capsys.readouterr().err


@pytest.mark.model
def test_rag_index_reports_and_is_incremental(tmp_path, corpus_copy, capsys):
    index = tmp_path / "idx"
    assert main(["index", str(corpus_copy), "--index", str(index)]) == 0
    assert "Indexed" in capsys.readouterr().out
    assert main(["index", str(corpus_copy), "--index", str(index)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_rag_index_on_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["index", str(tmp_path / "empty"), "--index", str(tmp_path / "idx")]) == 1
    assert "No readable" in capsys.readouterr().err


# --- `rag index` never drops documents silently (field case F19) ---


@pytest.fixture()
def notes(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")  # the fast lane's embedder: no model
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "archive.md").write_text(
        "# Archive\n\nThe red door on the ground floor leads to the archive.\n"
    )
    (folder / "garden.md").write_text("# Garden\n\nThe blue door next to the canteen leads to the garden.\n")
    return folder


def _indexed(index) -> set[str]:
    from rag.store import load_index

    return set(load_index(index).manifest.files)


def test_adding_a_file_keeps_what_the_index_held(notes, tmp_path, capsys):
    index = str(tmp_path / "X")
    assert main(["index", str(notes / "archive.md"), "--index", index]) == 0
    assert main(["index", str(notes / "garden.md"), "--index", index]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert "(1 added, 0 updated, 0 removed, 0 unchanged; 1 kept from earlier runs)" in out
    assert _indexed(index) == {"archive.md", "garden.md"}
    assert main(["ask", "Where does the red door lead?", "--index", index]) == 0
    assert "leads to the archive. [1]" in capsys.readouterr().out


def test_a_folder_is_the_source_of_truth_for_its_own_files_only(notes, tmp_path, capsys):
    index = str(tmp_path / "X")
    other = tmp_path / "other.md"
    other.write_text("# Other\n\nThe green door leads to the roof.\n")
    assert main(["index", str(notes), "--index", index]) == 0
    assert main(["index", str(other), "--index", index]) == 0
    (notes / "garden.md").unlink()
    assert main(["index", str(notes), "--index", index]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert "0 added, 0 updated, 1 removed, 1 unchanged; 1 kept from earlier runs" in out
    assert _indexed(index) == {"archive.md", "other.md"}


def test_prune_and_remove_are_the_explicit_ways_to_drop_documents(notes, tmp_path, capsys):
    index = str(tmp_path / "X")
    assert main(["index", str(notes), "--index", index]) == 0
    (tmp_path / "roof.md").write_text("# Roof\n\nThe green door leads to the roof.\n")
    assert main(["index", str(tmp_path / "roof.md"), "--index", index]) == 0
    assert _indexed(index) == {"archive.md", "garden.md", "roof.md"}

    assert main(["remove", "garden.md", "--index", index]) == 0
    assert "1 removed" in capsys.readouterr().out and _indexed(index) == {"archive.md", "roof.md"}
    assert (notes / "garden.md").exists()  # the file stays; only the index forgets it

    assert main(["remove", "nope.md", "--index", index]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Not in") and "nope.md" in err and len(err.strip().splitlines()) == 1
    assert main(["remove", "archive.md", "roof.md", "--index", index]) == 1
    assert "would leave" in capsys.readouterr().err and _indexed(index) == {"archive.md", "roof.md"}

    assert main(["index", str(tmp_path / "roof.md"), "--prune", "--index", index]) == 0
    assert _indexed(index) == {"roof.md"}


def test_a_kept_document_is_read_again_when_the_index_is_rebuilt_from_scratch(notes, tmp_path, capsys):
    index = str(tmp_path / "X")
    assert main(["index", str(notes / "archive.md"), "--index", index]) == 0
    assert main(["index", str(notes / "garden.md"), "--force", "--index", index]) == 0
    assert _indexed(index) == {"archive.md", "garden.md"}
    (notes / "archive.md").unlink()  # gone from disk: a rebuild from scratch cannot keep it
    assert main(["index", str(notes / "garden.md"), "--force", "--index", index]) == 1
    err = capsys.readouterr().err
    assert "archive.md" in err and "rag remove" in err and _indexed(index) == {"archive.md", "garden.md"}


def test_rag_serve_says_what_it_does_and_where_to_open_it(tmp_path):
    """Issue 32 item 7: `make run` was silent for minutes, then printed Gradio's own lines
    ("set share=True…", contradicting `--share`). A real `rag serve` over a new folder."""
    import os
    import subprocess
    import sys
    import time

    from tests.ports import _pick

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "memo.md").write_text("# Memo\n\nThe depot opened in May.\n", encoding="utf-8")
    port = _pick()
    env = {**os.environ, "RAG_EMBEDDER": "hash-384", "RAG_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "rag", "serve", "--corpus", str(tmp_path / "docs"), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and server.stdout is not None:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "rag is ready" in line:
                break
    finally:
        server.terminate()
        server.wait(30)
    output = "".join(lines)
    assert output.startswith(f"Starting rag over {tmp_path / 'docs'} (your folder)"), output
    assert "Indexing" in output and f"rag is ready: open http://127.0.0.1:{port}/ in your browser" in output
    assert "share=True" not in output and "Running on local URL" not in output
    assert (tmp_path / "data" / "indexes").is_dir()  # the index is kept in the data folder,
    assert [p.name for p in (tmp_path / "docs").iterdir()] == ["memo.md"]  # nothing in the user's


def test_rag_index_readies_the_reader_so_the_first_question_does_not_wait(
    notes, tmp_path, monkeypatch, capsys
):
    from rag.answer import reader

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))  # a new installation's empty cache
    assert main(["index", str(notes), "--index", str(tmp_path / "index")]) == 0
    exports = list((tmp_path / "cache" / "onnx").glob("reader-*"))
    assert exports and reader.exported_int8().is_dir()  # made by `rag index`, found again here
    assert list((tmp_path / "cache" / "onnx").glob("reader-*")) == exports  # nothing new was made
    # An export that cannot run is one warning line; the index is built all the same.
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache2"))
    monkeypatch.setattr(reader, "_export", lambda staging: (_ for _ in ()).throw(reader.RagError("no torch")))
    assert main(["index", str(notes), "--index", str(tmp_path / "index2")]) == 0
    captured = capsys.readouterr()
    assert "warning: no torch" in captured.err and "Traceback" not in captured.err
