"""Citations of PDFs carry their page, and the document view opens that page, rendered, with
the sentence marked where it is printed (field case F07's kind). Fast lane: hash embedder."""

from __future__ import annotations

import pytest

from rag.engine import Engine
from rag.library import Library
from rag.store import load_index
from rag.ui.chat import open_document, respond
from rag.ui.state import Conversation
from tests.documents import paged_pdf_bytes

MANUAL = paged_pdf_bytes(
    [
        ["Pump manual", "This manual covers the rooftop pumps of the east wing."],
        ["Installation", "The pumps were installed by Nordic Flow in 2019."],
        [
            "Maintenance",
            "The filters of the rooftop pumps are replaced every six weeks by the",
            "facilities team.",
        ],
    ],
    title="Pump manual",
)


@pytest.fixture()
def library(tmp_path, monkeypatch) -> Library:
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    library = Library("manuals", tmp_path / "corpus", tmp_path / "index")
    report = library.add([("pumps.pdf", MANUAL), ("notes.md", b"# Notes\n\nThe canteen opens at noon.\n")])
    assert report.added == ["pumps.pdf", "notes.md"]
    return library


def _engine(library: Library) -> Engine:
    from rag.embedding.embedders import HashEmbedder

    return Engine.open(load_index(library.index), HashEmbedder())


def test_a_pdf_citation_names_the_page_of_its_sentence(library):
    engine = _engine(library)
    answer = engine.ask("How often are the filters of the rooftop pumps replaced?")
    cited = answer.citations[0]
    assert not answer.abstained and "every six weeks" in answer.text
    assert cited.source == "pumps.pdf" and cited.page == 3
    assert cited.location.startswith("p. 3, chars ")
    installed = engine.ask("Who installed the pumps?").citations[0]
    assert installed.page == 2
    assert engine.retrieve("canteen opens at noon", k=1)[0].page is None  # not a paged document


def test_the_cli_and_api_show_the_page(library, capsys):
    from rag.cli import main

    assert main(["ask", "How often are the filters replaced?", "--index", str(library.index)]) == 0
    assert "[1] pumps.pdf — Pump manual › Maintenance\n    p. 3, chars " in capsys.readouterr().out
    answer = _engine(library).ask("How often are the filters replaced?")
    assert answer.payload()["citations"][0]["page"] == 3


def test_the_document_view_opens_the_cited_page_with_the_sentence_marked(library):
    engine = _engine(library)
    conversation = Conversation()
    list(respond(lambda: engine, "How often are the filters replaced?", [], conversation, library="manuals"))
    html = open_document(conversation, 0, 1, lambda name: library)
    assert "<figure class='rag-pdf-page' data-page='3'>" in html and "Page 3 of 3" in html
    assert "src='data:image/png;base64," in html
    marks = html.count("class='rag-pdf-mark rag-support'")
    assert marks == 2  # the sentence is printed on two lines: one mark per line
    assert "<span id='rag-target' class='rag-pdf-mark" in html  # where the view scrolls to
    assert "every six weeks" in html  # the extracted text view stays below, as a fallback
    assert html.count("id='rag-target'") == 1


def _boxes(html: str, css: str) -> list[tuple[float, float, float, float]]:
    """(left, top, width, height) in % of the page of every mark of class ``css``."""
    import re

    pattern = rf"class='{css}' style='left:([\d.]+)%;top:([\d.]+)%;width:([\d.]+)%;height:([\d.]+)%'"
    return [tuple(float(v) for v in m) for m in re.findall(pattern, html)]


def test_the_answer_span_is_marked_inside_its_sentence_on_the_page(library):
    from rag.ui.pdf_view import page_html

    sentence = "The filters of the rooftop pumps are replaced every six weeks by the facilities team."
    path = library.corpus / "pumps.pdf"
    html = page_html(path, 3, sentence, "rag-support", "every six weeks")
    assert html is not None and "the answer in it darker" in html
    lines, spans = _boxes(html, "rag-pdf-mark rag-support"), _boxes(html, "rag-pdf-span")
    assert len(lines) == 2 and len(spans) == 1  # the three words sit on the sentence's first line
    (left, top, width, _), first = spans[0], lines[0]
    assert first[0] <= left and left + width <= first[0] + first[2] + 0.01
    assert abs(top - first[1]) < 0.5 and width < first[2] / 2  # on that line, a part of it
    # A span that is not in the sentence, or none, marks the sentence alone.
    for span in ("", "every seven weeks"):
        html = page_html(path, 3, sentence, "rag-support", span)
        assert _boxes(html, "rag-pdf-span") == [] and "darker" not in html
