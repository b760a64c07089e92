"""PDF reading speed on this machine: pages/s of text PDFs (layout analysis) and of scanned
pages (OCR), and the time to index a 300-page filing-like report. Prints a table and writes
``bench/pdf_speed.json``; part of ``make bench`` (issue 31's figures, docs/formats.md).

The report is drawn here with reportlab (the test extra), so the figure is reproducible:
300 pages, each a heading, four paragraphs of prose and, every fifth page, a ruled table
of eight rows, with a running header and page numbers, as annual filings are laid out.
The scanned pages are images of printed text at 300 dpi. ``--tiny`` draws 6 pages and one
scan (seconds; the figures mean nothing).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

WORDS = (
    "revenue grew in the northern region while operating costs fell after the new plant opened and the "
    "board approved a dividend for shareholders with the remaining cash kept for capital expenditure on "
    "automated lines warehouses and software as demand for the main product categories stayed firm"
).split()


def _paragraph(seed: int, words: int = 110) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(words)).capitalize() + "."


def filing(pages: int, company: str = "Example Holdings ASA") -> bytes:
    """A filing-like report of ``pages`` pages (see the module docstring)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    story = []
    for page in range(pages):
        story.append(Paragraph(f"Section {page + 1}: results of segment {page % 7}", styles["Heading2"]))
        for p in range(4 if page % 5 else 2):
            story.append(Paragraph(_paragraph(page * 4 + p), styles["BodyText"]))
        if page % 5 == 0:
            rows = [["Segment", "Revenue", "Costs", "Margin"]] + [
                [
                    f"Segment {r}",
                    f"{1000 + 37 * r + page:,}",
                    f"{800 + 29 * r:,}",
                    f"{(r * 3 + page) % 20}.5%",
                ]
                for r in range(8)
            ]
            table = Table(rows)
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
            story.append(table)
        story.append(PageBreak())

    def header(canvas, document):  # noqa: ANN001 - reportlab's callback
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, 810, f"{company} - Annual Report 2025")
        canvas.drawString(500, 30, f"Page {document.page}")

    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, invariant=1).build(story, onFirstPage=header, onLaterPages=header)
    return buffer.getvalue()


def scans(pages: int) -> bytes:
    """``pages`` scanned pages: images of printed prose at 300 dpi, no text layer."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 40)
    images = []
    for page in range(pages):
        image = Image.new("L", (2480, 3508), 245)
        draw = ImageDraw.Draw(image)
        for line in range(40):
            text = " ".join(WORDS[(page * 11 + line * 5 + i) % len(WORDS)] for i in range(11))
            draw.text((200, 250 + 75 * line), text.capitalize() + ".", font=font, fill=25)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", resolution=300, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "pdf_speed.json")
    args = parser.parse_args()
    pages, scanned = (6, 1) if args.tiny else (300, 5)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["RAG_CACHE_DIR"] = str(Path(scratch) / "cache")  # a cold cache: no reading is reused
        from pypdf import PdfReader

        from rag.formats import extract_text
        from rag.indexing.build import build_index
        from rag.ingest.loading import load_paths

        report = filing(pages)
        started = time.perf_counter()
        for page in PdfReader(io.BytesIO(report)).pages:
            page.extract_text()
        pypdf_s = time.perf_counter() - started
        started = time.perf_counter()
        text = extract_text(report, "filing.pdf")
        layout_s = time.perf_counter() - started
        scan = scans(scanned)
        started = time.perf_counter()
        scan_text = extract_text(scan, "scan.pdf")
        ocr_s = time.perf_counter() - started
        folder = Path(scratch) / "docs"
        folder.mkdir()
        # Another company's report: other bytes than above, so nothing comes from the cache.
        (folder / "filing2.pdf").write_bytes(filing(pages, "Other Holdings ASA"))
        started = time.perf_counter()
        built = build_index(load_paths([folder]), Path(scratch) / "index")
        index_s = time.perf_counter() - started
    figures = {
        "pages": pages,
        "pypdf_text_pages_per_s": round(pages / pypdf_s, 1),
        "layout_pages_per_s": round(pages / layout_s, 1),
        "ocr_pages_per_s": round(scanned / ocr_s, 2),
        "index_filing_s": round(index_s, 1),
        "index_filing_chunks": built.chunks,
        "text_chars": len(text),
        "ocr_chars_per_page": len(scan_text) // scanned,
        "cpu": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"  {key:26s} {value}")
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
