import pytest

from rag.errors import ConfigError, DocumentError
from rag.ingest.uploads import check_upload, max_upload_bytes, safe_name
from tests.documents import docx_bytes, html_bytes, pdf_bytes

TEXT = b"Orion Foods sold three million jars of jam in 2024."


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "../../etc/passwd.txt",
        "a/b.txt",
        "/etc/passwd.txt",
        "..\\evil.txt",
        "C:\\x\\y.txt",
        "..",
        ".",
        "x\0.txt",
    ],
)
def test_names_that_reach_outside_the_folder_are_refused(name):
    with pytest.raises(DocumentError, match="not a plain file name"):
        safe_name(name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (".hidden.txt", "hidden"),
        ("", "no name"),
        ("   ", "no name"),
        ("line\nbreak.txt", "control characters"),
        ("x" * 200 + ".txt", "longer than"),
        ("CON.txt", "reserved"),
        ("program.exe", "only"),
        ("archive.zip", "only"),
        ("noextension", "only"),
    ],
)
def test_other_unsafe_or_unsupported_names_are_refused(name, problem):
    with pytest.raises(DocumentError, match=problem):
        safe_name(name)


def test_odd_characters_are_replaced_and_good_names_kept():
    assert safe_name("Quarterly report (Q3) – 2024.pdf") == "Quarterly report (Q3) _ 2024.pdf"
    assert safe_name("notes<script>.md") == "notes_script_.md"
    assert safe_name("Café Zürich.txt") == "Café Zürich.txt"


@pytest.mark.parametrize("data", [b"", b"   \n\t  "])
def test_empty_files_are_refused(data):
    with pytest.raises(DocumentError, match="empty"):
        check_upload("notes.txt", data)


def test_oversize_files_are_refused_with_the_limit():
    with pytest.raises(DocumentError, match="limit is 0.0 MB"):
        check_upload("notes.txt", TEXT, max_bytes=10)


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "2")
    assert max_upload_bytes() == 2 * 1024 * 1024
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ConfigError, match="RAG_MAX_UPLOAD_MB"):
        max_upload_bytes()


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)), "binary"),
        ("report.pdf", TEXT, "content is plain text"),
        ("report.txt", pdf_bytes(["Hello there."]), "content is a PDF"),
        ("notes.docx", TEXT, "content is plain text"),
        ("notes.txt", docx_bytes("Title", ["Body text here."]), "content is a Word document"),
        ("page.html", pdf_bytes(["Hello there."]), "content is a PDF"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "cannot be read as a PDF"),
        ("scan.pdf", pdf_bytes([]), "no text"),
    ],
)
def test_the_type_is_read_from_the_content(name, data, problem):
    with pytest.raises(DocumentError, match=problem):
        check_upload(name, data)


def test_good_files_of_every_type_pass_with_their_text():
    assert "three million jars" in check_upload("notes.md", TEXT).text
    pdf = check_upload(
        "report.pdf", pdf_bytes(["Zephyr Mining opened a lithium mine in 2024."], title="Mining report")
    )
    assert pdf.text.startswith("Mining report\n") and "lithium mine" in pdf.text
    page = check_upload("page.html", html_bytes("Harbour news", ["Kotka handled 9 million tonnes of cargo."]))
    assert "9 million tonnes" in page.text and "All rights reserved" not in page.text  # boilerplate gone
    word = check_upload("memo.docx", docx_bytes("Memo", ["Orion Foods sold jam."]))
    assert word.text.startswith("# Memo") and "Orion Foods" in word.text
