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
