"""Issue 31's kinds, beside the code: PDF reading order (lines, pages, columns, running
headers, tables), scanned pages (OCR), spreadsheets, slides and e-mail, one registry.

The PDFs are drawn here with reportlab (the test extra), each the smallest input of its kind;
../shared/field-cases F20–F28 replay the users' own cases end to end (test_field_cases.py).
"""

from __future__ import annotations

import datetime
import email.message
import io
import logging
import shutil

import pytest

from rag.errors import DocumentError
from rag.formats import SUFFIXES, extract_text, sniff
from rag.ingest.structure import parse_sections
from rag.records import PAGE_BREAK, page_at

pytest.importorskip("reportlab")


def _pdf(draw, pages: int = 1, size=(595, 842)) -> bytes:
    """A PDF whose page ``n`` (1-based) is drawn by ``draw(canvas, n)``."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=size, invariant=1)
    for number in range(1, pages + 1):
        draw(pdf, number)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _lines(pdf, lines, x=72, y=760, leading=14, font="Helvetica", size=11):
    pdf.setFont(font, size)
    for i, line in enumerate(lines):
        pdf.drawString(x, y - i * leading, line)


def test_a_sentence_wrapped_over_lines_and_a_page_is_one_sentence_cited_where_it_starts():
    def draw(pdf, n):
        _lines(pdf, ["Acme Annual Report", f"Page {n}"], y=820, size=8)  # running header, page number
        if n == 1:
            _lines(pdf, ["The plant opened in March. The bakery was founded in 2014 by", "Ingrid"], y=700)
        else:
            _lines(pdf, ["Solberg, a pastry chef from Bergen, and her brother Tomas.", "Sales grew."], y=700)

    text = extract_text(_pdf(draw, pages=2), "history.pdf")
    assert "Acme Annual Report" not in text and "Page 1" not in text  # running lines left out
    sentence = "The bakery was founded in 2014 by Ingrid " + PAGE_BREAK + "Solberg, a pastry chef"
    assert sentence in text
    found = [s for sec in parse_sections(text, web=False) for s in sec.sentences if "founded" in s.text]
    assert found[0].text.startswith("The bakery was founded in 2014 by Ingrid Solberg, a pastry chef")
    assert page_at(text, found[0].start) == 1 and page_at(text, found[0].end) == 2


def test_the_page_view_marks_a_sentence_over_a_page_break_on_both_pages(tmp_path):
    from rag.ui.pdf_view import page_html

    def draw(pdf, n):
        lines = (
            ["The plant opened in March. The bakery was founded in 2014 by"]
            if n == 1
            else ["Ingrid Solberg."]
        )
        _lines(pdf, lines, y=700)

    path = tmp_path / "history.pdf"
    path.write_bytes(_pdf(draw, pages=2))
    text = extract_text(path.read_bytes(), path.name)
    start = text.index("The bakery")
    html = page_html(path, page_at(text, start), text[start : text.index("Solberg.") + 8], "rag-support")
    assert html is not None
    assert "data-page='1'" in html and "data-page='2'" in html
    assert html.count("the cited sentence is marked") == 2 and html.count("id='rag-target'") == 1


def test_two_columns_drawn_row_by_row_are_read_column_by_column():
    left = ["The council met on 4 March. The jetty", "repairs end in May, and lifeguards", "arrive in June."]
    right = ["The library boat returns. Children", "may borrow five books at a time", "without a card."]

    def draw(pdf, n):
        pdf.setFont("Helvetica", 11)
        for i, (a, b) in enumerate(zip(left, right, strict=True)):  # row by row across the gutter
            pdf.drawString(60, 700 - 14 * i, a)
            pdf.drawString(320, 700 - 14 * i, b)

    text = " ".join(extract_text(_pdf(draw), "news.pdf").split())
    assert "The jetty repairs end in May, and lifeguards arrive in June." in text
    assert "Children may borrow five books at a time without a card." in text


def test_a_ruled_table_is_read_row_by_row_with_its_header():
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    buffer = io.BytesIO()
    rows = [
        ["Bike", "Per day", "Deposit"],
        ["City bike", "18.00 EUR", "50 EUR"],
        ["Cargo bike", "45.00 EUR", "200 EUR"],
    ]
    table = Table(rows)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, (0, 0, 0))]))
    SimpleDocTemplate(buffer, invariant=1).build([table])
    text = extract_text(buffer.getvalue(), "prices.pdf")
    assert "| Cargo bike | 45.00 EUR | 200 EUR |" in text
    sentences = [s.text for sec in parse_sections(text, web=False) for s in sec.sentences]
    assert "Bike: Cargo bike; Per day: 45.00 EUR; Deposit: 200 EUR" in sentences
    assert not any(s.startswith("Bike: Bike") for s in sentences)  # the header row is no answer


def test_printed_words_the_web_filter_would_drop_stay_in_pdf_text():
    def draw(pdf, n):
        _lines(pdf, ["The drivers bring the vans back to", "the depot at six."])

    text = extract_text(_pdf(draw), "routes.pdf")
    sentences = [s.text for sec in parse_sections(text, web=False) for s in sec.sentences]
    assert sentences == ["The drivers bring the vans back to the depot at six."]


def _scan(lines: list[str]) -> bytes:
    """A one-page PDF holding only an image of printed text (a scan), drawn with DejaVu."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 42)
    page = Image.new("L", (2480, 3508), 250)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((200, 300 + 80 * i), line, font=font, fill=20)
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=300)
    return buffer.getvalue()


needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")


@needs_tesseract
def test_a_scanned_page_is_read_by_ocr_and_its_sections_say_so():
    text = extract_text(
        _scan(
            [
                "Notice to tenants",
                "From 1 May the monthly rent for flat 4B is 870 euros.",
                "Rent is due monthly.",
            ]
        ),
        "notice.pdf",
    )
    assert text.startswith("notice\n\n[Page 1: scanned; text read by OCR]") or "[Page 1: scanned" in text
    assert "the monthly rent for flat 4B is 870 euros." in text
    sections = parse_sections(text, web=False)
    assert all(section.title.endswith("(OCR, p. 1)") for section in sections)
    assert not any("scanned; text read" in s.text for sec in sections for s in sec.sentences)


def test_without_an_ocr_engine_a_scan_is_one_warning_that_names_the_fix(monkeypatch, caplog, tmp_path):
    from rag.ingest import ocr
    from rag.ingest.loading import load_paths

    monkeypatch.setattr(ocr, "engine", lambda: None)
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "scan.pdf").write_bytes(_scan(["Rent is due on the first working day."]))
    (tmp_path / "docs" / "note.md").write_text("The garden opens in May.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        documents = load_paths([tmp_path / "docs"])
    assert [d.source for d in documents] == ["note.md"]
    lines = [r.getMessage() for r in caplog.records if "scan.pdf" in r.getMessage()]
    assert any("no OCR engine is installed" in line and "apt install tesseract-ocr" in line for line in lines)


def test_a_workbook_is_read_sheet_by_sheet_rows_with_headers(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    revenue = book.active
    revenue.title = "Revenue 2025"
    for row in (("Office", "Q3 (kEUR)", "Total"), ("Oslo", 845, "=B2*4"), ("Bergen", 412.0, None)):
        revenue.append(row)
    offices = book.create_sheet("Offices")
    offices.append(("Office", "Opened"))
    offices.append(("Bergen", datetime.date(2016, 9, 1)))
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    assert sniff(data) == "xlsx"
    text = extract_text(data, "office_figures.xlsx")
    sections = parse_sections(text, web=False)
    titles = {s.title.split(" › ")[-1]: [x.text for x in s.sentences] for s in sections}
    assert (
        "Office: Oslo; Q3 (kEUR): 845; Total: =B2*4" in titles["Revenue 2025"]
    )  # no saved value: the formula
    assert "Office: Bergen; Q3 (kEUR): 412" in titles["Revenue 2025"]
    assert "Office: Bergen; Opened: 1 September 2016" in titles["Offices"]


def test_a_spreadsheet_bomb_is_refused_by_its_declared_size():
    from openpyxl import Workbook

    book = Workbook()
    book.active["A1"] = "x"
    book.active.cell(row=1_000_000, column=50, value="y")  # declares 50 million cells
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(
        DocumentError, match=r"^huge\.xlsx: the sheet 'Sheet' declares 1,000,000 rows × 50 columns"
    ):
        extract_text(buffer.getvalue(), "huge.xlsx")


def test_a_csv_file_is_a_table_with_its_header():
    text = extract_text(b"Supplier;Country;Lead time\nKaldberg Zippers Oy;Finland;21 days\n", "suppliers.csv")
    sentences = [s.text for sec in parse_sections(text, web=False) for s in sec.sentences]
    assert "Supplier: Kaldberg Zippers Oy; Country: Finland; Lead time: 21 days" in sentences


def test_a_slide_deck_is_a_page_per_slide_with_bullets_tables_and_notes():
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Project Heron"
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Budget"
    second.placeholders[1].text_frame.text = "Field testing: 48,000 EUR"
    second.notes_slide.notes_text_frame.text = "The steering group meets every second Monday."
    table = second.shapes.add_table(2, 2, Inches(1), Inches(5), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Item", (0, 1): "Cost", (1, 0): "Sensors", (1, 1): "9,500 EUR"}.items():
        table.cell(r, c).text = value
    buffer = io.BytesIO()
    deck.save(buffer)
    text = extract_text(buffer.getvalue(), "heron.pptx")
    sections = parse_sections(text, web=False)
    by_title = {s.title: [x.text for x in s.sentences] for s in sections}
    budget = next(title for title in by_title if title.endswith("Slide 2: Budget"))
    assert (
        "Field testing: 48,000 EUR" in by_title[budget]
        and "Item: Sensors; Cost: 9,500 EUR" in by_title[budget]
    )
    notes = next(title for title in by_title if "speaker notes" in title)
    assert by_title[notes][-1] == "The steering group meets every second Monday."
    at = text.index("Field testing")
    assert page_at(text, at) == 2  # the slide is the citation's page


def test_an_email_keeps_its_headers_citable_and_marks_the_quoted_reply():
    message = email.message.EmailMessage()
    message["From"] = "Marta Nilsen <marta@example.org>"
    message["To"] = "Jonas Berg <jonas@example.org>"
    message["Date"] = "Tue, 10 Mar 2026 09:14:00 +0100"
    message["Subject"] = "Re: Site visit"
    message.set_content(
        "Hi Jonas,\n\nThe site visit is now on Thursday 19 March at 10:00.\n\n"
        "On Mon, 9 Mar 2026 at 16:02, Jonas Berg wrote:\n> The visit was planned for 12 March.\n> Jonas\n"
    )
    text = extract_text(message.as_bytes(), "visit.eml")
    sections = parse_sections(text, web=False)
    sentences = {s.text: sec.title for sec in sections for s in sec.sentences}
    header = next(s for s in sentences if s.startswith("E-mail from: Marta Nilsen"))
    assert "Sent: Tuesday 10 March 2026, 09:14" in header and "Subject: Re: Site visit" in header
    assert "The site visit is now on Thursday 19 March at 10:00." in sentences
    quoted = sentences["The visit was planned for 12 March."]
    assert "Quoted earlier message" in quoted  # its section says it is quoted
    assert not any(s.startswith(">") for s in sentences)  # the quote marks are gone


def test_one_registry_of_formats_for_uploads_watching_and_indexing(tmp_path):
    from rag.indexing.watch import ChangeFilter
    from rag.ingest.uploads import safe_name
    from rag.ui.documents_tab import UPLOAD_TYPES

    for suffix in (".xlsx", ".csv", ".pptx", ".eml", ".pdf", ".docx"):
        assert suffix in SUFFIXES and suffix in UPLOAD_TYPES
        assert safe_name(f"report{suffix}") == f"report{suffix}"
    assert ChangeFilter([tmp_path])(None, str(tmp_path / "deck.pptx"))
    with pytest.raises(DocumentError, match="is named .xlsx but its content is a PowerPoint file"):
        from pptx import Presentation

        buffer = io.BytesIO()
        Presentation().save(buffer)
        extract_text(buffer.getvalue(), "numbers.xlsx")


def test_a_pdf_past_the_page_limit_or_locked_is_one_line():
    from reportlab.lib.pdfencrypt import StandardEncryption

    def draw(pdf, n):
        pdf.drawString(72, 700, f"Page text {n}")

    with pytest.raises(DocumentError, match=r"^long\.pdf has 1,001 pages, more than 1,000; split it"):
        extract_text(_pdf(draw, pages=1001), "long.pdf")
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    locked = canvas.Canvas(buffer, encrypt=StandardEncryption("secret", canPrint=0))
    locked.drawString(72, 700, "Salaries for 2026.")
    locked.showPage()
    locked.save()
    with pytest.raises(DocumentError, match=r"^locked\.pdf is password-protected; save an unprotected copy"):
        extract_text(buffer.getvalue(), "locked.pdf")


def test_a_damaged_workbook_or_deck_is_one_line_naming_its_kind():
    from openpyxl import Workbook
    from pptx import Presentation

    book, deck = io.BytesIO(), io.BytesIO()
    Workbook().save(book)
    Presentation().save(deck)
    for data, name, kind in (
        (book.getvalue(), "cut.xlsx", "Excel workbook"),
        (deck.getvalue(), "cut.pptx", "PowerPoint file"),
    ):
        with pytest.raises(
            DocumentError, match=rf"^{name.replace('.', '[.]')} is not a readable {kind} \("
        ) as error:
            damaged = data[:200] + bytes(b ^ 0xFF for b in data[200:400]) + data[400:]  # a member's bytes
            extract_text(damaged, name)
        assert "\n" not in str(error.value)


def test_a_page_of_drawings_without_text_is_not_taken_for_a_scan(caplog):
    def draw(pdf, n):
        if n == 1:
            _lines(pdf, ["The chart on the next page shows the quarterly sales."])
        else:
            for i in range(6):  # a bar chart: vector shapes, no text, no image
                pdf.rect(100 + 60 * i, 300, 40, 50 + 30 * i, fill=1)

    with caplog.at_level(logging.WARNING):
        text = extract_text(_pdf(draw, pages=2), "chart.pdf")
    assert "quarterly sales" in text and "OCR" not in text
    assert not [r for r in caplog.records if "scanned" in r.getMessage()]
