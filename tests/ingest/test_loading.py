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


# --- Encodings and line endings (field cases F01, F17): read as an editor saved them ---

WESTERN = "# Café Lumière\n\nHélène Marchetti says the “brunch menu” costs €18. Loïc Dubœuf trains staff.\n"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("cp1252", b""),
    ],
)
def test_every_encoding_an_editor_saves_is_read_right_by_loader_and_upload(tmp_path, encoding, bom):
    from rag.ingest.formats import extract_text, sniff

    data = bom + WESTERN.encode(encoding)
    (tmp_path / "notes.md").write_bytes(data)
    assert load_paths([tmp_path])[0].text == WESTERN
    assert sniff(data) == "text"  # not "binary" for UTF-16's NUL bytes
    assert extract_text(data, "notes.md") == WESTERN  # the upload path reads it the same way


def test_latin1_and_cp1252_ties_are_read_as_western_not_central_european(tmp_path):
    from rag.ingest.formats import decode

    latin = "Hélène ouvre le café à 7h30; le garçon sert des crêpes et du cidre."
    assert decode(latin.encode("latin-1"), "a.txt") == latin
    czech = "Příliš žluťoučký kůň úpěl ďábelské ódy. Čeština je krásný jazyk s mnoha háčky a čárkami."
    assert decode(czech.encode("cp1250"), "b.txt") == czech  # a real cp1250 file stays cp1250


def test_crlf_offsets_hold_for_the_text_python_opens(tmp_path, fake_embedder):
    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.store import load_index

    path = tmp_path / "docs" / "server_room.txt"
    path.parent.mkdir()
    path.write_bytes(
        b"Server room checklist\r\n\r\nCheck the air conditioning every morning.\r\n"
        b"The backup tapes are collected every Friday at 16:00 by the courier.\r\nLock the door.\r\n"
    )
    build_index(load_paths([path.parent]), tmp_path / "index", embedder=fake_embedder)
    answer = Engine.open(load_index(tmp_path / "index"), fake_embedder).ask(
        "When are the backup tapes collected?"
    )
    cited = answer.citations[0]
    start, end = cited.start + cited.sentence_start, cited.start + cited.sentence_end
    with open(path, encoding="utf-8") as file:  # the README's rule, universal newlines
        assert (
            file.read()[start:end]
            == cited.sentence
            == ("The backup tapes are collected every Friday at 16:00 by the courier.")
        )


# --- Tables and bylines in HTML and Word (F09, F15) ---

PLANS = [["Plan", "Storage", "Support"], ["Basic", "1 TB", "Email"], ["Archive", "10 TB", "Phone"]]


def _sentences(text: str) -> list[str]:
    from rag.ingest.structure import parse_sections

    return [s.text for section in parse_sections(text) for s in section.sentences]


def test_html_table_rows_are_read_with_their_header_and_no_cell_is_lost():
    from rag.ingest.formats import extract_text

    rows = "".join(
        "<tr>"
        + "".join(f"<{'th' if r == 0 else 'td'}>{c}</{'th' if r == 0 else 'td'}>" for c in row)
        + "</tr>"
        for r, row in enumerate(PLANS)
    )
    page = (
        "<html><head><title>Storage plans</title></head><body><nav><a href='/'>Home</a></nav><article>"
        "<h1>Storage plans</h1><p>We offer three storage plans for every team in Europe and beyond.</p>"
        f"<table>{rows}</table><p>Prices include VAT.</p></article></body></html>"
    ).encode()
    sentences = _sentences(extract_text(page, "plans.html"))
    assert "Plan: Basic; Storage: 1 TB; Support: Email" in sentences  # trafilatura alone drops "Email"
    assert "Plan: Archive; Storage: 10 TB; Support: Phone" in sentences
    assert not any(s.startswith("| Plan") or s == "Plan; Storage; Support" for s in sentences)


def test_word_tables_are_read_in_place_with_their_header():
    import io

    import docx

    from rag.ingest.formats import extract_text

    document = docx.Document()
    document.add_heading("Storage plans", level=1)
    document.add_paragraph("We offer three plans.")
    table = document.add_table(rows=len(PLANS), cols=3)
    for r, row in enumerate(PLANS):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Prices include VAT.")
    out = io.BytesIO()
    document.save(out)
    sentences = _sentences(extract_text(out.getvalue(), "plans.docx"))
    assert sentences[-3:] == [
        "Plan: Basic; Storage: 1 TB; Support: Email",
        "Plan: Archive; Storage: 10 TB; Support: Phone",
        "Prices include VAT.",
    ]


def test_html_author_and_date_become_a_byline_and_dateline():
    from rag.ingest.formats import extract_text
    from rag.search.answer_types import is_byline, is_dateline

    page = (
        b"<html><head><title>City to plant trees</title><meta name='author' content='Marta Kowalski'>"
        b"<meta property='article:published_time' content='2025-04-14'></head><body>"
        b"<div class='cookie'>We use cookies. Accept all</div><article><h1>City to plant trees</h1>"
        b"<p>The city council approved a plan on Tuesday to plant 1,200 trees along the river.</p>"
        b"<p>Residents can sponsor a tree for 150 euros and choose a name plate for it.</p></article>"
        b"</body></html>"
    )
    text = extract_text(page, "trees.html")
    assert text.startswith("City to plant trees\n\nBy Marta Kowalski.\nPublished 14 April 2025.\n")
    assert "cookie" not in text.lower()
    sentences = _sentences(text)
    assert is_byline("By Marta Kowalski.") and is_dateline("Published 14 April 2025.")
    assert {"By Marta Kowalski.", "Published 14 April 2025."} <= set(sentences)


def test_a_page_without_a_date_gets_no_dateline_and_keeps_its_title():
    """A footer's "© 2025" is no publication date (htmldate's guess made it "Published 1
    January 2025."), and a title over a short byline is still the document's title."""
    from rag.ingest.formats import extract_text
    from rag.ingest.structure import parse_sections

    page = (
        b"<html><head><title>Heron warehouse robot</title><meta name='author' content='Julien Moreau'>"
        b"</head><body><article><h1>Heron warehouse robot</h1>"
        b"<p>Heron is an autonomous mobile robot for small warehouses. It runs for ten hours on a charge.</p>"
        b"<h2>Pricing</h2><table><tr><th>Model</th><th>Price</th></tr><tr><td>Heron S</td><td>45,000 EUR</td>"
        b"</tr><tr><td>Heron L</td><td>62,000 EUR</td></tr></table>"
        b"<p>Deliveries start in the first quarter of 2026.</p></article>"
        b"<footer>&copy; 2025 Acme Robotics. All rights reserved.</footer></body></html>"
    )
    text = extract_text(page, "heron.html")
    assert text.startswith("Heron warehouse robot\n\nBy Julien Moreau.\n\nHeron is")
    assert "Published" not in text
    titles = [section.title for section in parse_sections(text)]
    assert titles == ["Heron warehouse robot", "Heron warehouse robot › Pricing"]


def test_a_file_name_that_is_not_utf8_is_skipped_not_the_build(tmp_path, caplog):
    import os

    (tmp_path / "good.md").write_text("# Good\n\nThe harbour opens at six.\n", encoding="utf-8")
    with open(os.fsencode(tmp_path) + b"/bad-\xff.md", "wb") as file:
        file.write(b"# Bad\n\nSome text.\n")
    with caplog.at_level(logging.WARNING):
        documents = load_paths([tmp_path])
    assert [d.source for d in documents] == ["good.md"]
    assert "not valid UTF-8" in caplog.text and len(caplog.records) == 1


def test_a_file_removed_between_listing_and_reading_is_skipped(tmp_path, caplog, monkeypatch):
    from rag.ingest import loading

    (tmp_path / "good.md").write_text("# Good\n\nThe harbour opens at six.\n", encoding="utf-8")
    (tmp_path / "gone.md").write_text("# Gone\n\nSoon deleted.\n", encoding="utf-8")
    listed = loading.corpus_files(tmp_path)
    (tmp_path / "gone.md").unlink()  # after the listing, before the reading
    monkeypatch.setattr(loading, "corpus_files", lambda root: listed)
    with caplog.at_level(logging.WARNING):
        documents = loading.load_paths([tmp_path])
    assert [d.source for d in documents] == ["good.md"]
    assert "Skipping gone.md: it cannot be read" in caplog.text


def test_links_out_of_the_corpus_are_skipped_with_one_warning_each(tmp_path, caplog):
    """Issue 30, row 2: a document is a regular file whose real path lies inside the corpus;
    a link out (even without a suffix, or to a folder) is never read."""
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (corpus / "notes").mkdir(parents=True)
    outside.mkdir()
    (outside / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret\n", encoding="utf-8")
    (outside / "private.md").write_text("# Private\n\nThe safe code is 4711.\n", encoding="utf-8")
    (corpus / "notes" / "harbour.md").write_text("# Harbour\n\nThe harbour opens at six.\n", encoding="utf-8")
    (corpus / "key.txt").symlink_to(outside / "id_rsa")
    (corpus / "private.md").symlink_to(outside / "private.md")
    (corpus / "elsewhere").symlink_to(outside, target_is_directory=True)
    (corpus / "alias.md").symlink_to(corpus / "notes" / "harbour.md")  # a link inside: a document
    with caplog.at_level(logging.WARNING):
        documents = load_paths([corpus])
    assert sorted(d.source for d in documents) == ["alias.md", "notes/harbour.md"]
    assert not any("4711" in d.text or "PRIVATE KEY" in d.text for d in documents)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("outside the folder" in w for w in warnings)
    assert any(w.startswith("Skipping key.txt") for w in warnings)


def test_an_unreadable_sub_folder_is_skipped_with_one_warning(tmp_path, caplog, monkeypatch):
    """Issue 30, row 15 (simulated: as root, permissions do not stop a read)."""
    import os

    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.md").write_text("# A\n\nHidden away.\n", encoding="utf-8")
    (tmp_path / "open.md").write_text("# Open\n\nThe harbour opens at six.\n", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.WARNING):
        documents = load_paths([tmp_path])
    assert [d.source for d in documents] == ["open.md"]
    assert len(caplog.records) == 1 and "locked" in caplog.text and "cannot be read" in caplog.text
