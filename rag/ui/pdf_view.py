"""A PDF page as the document view shows it: the cited page, rendered, with the sentence marked
and, inside it, the reader's answer span.

PDFium (pypdfium2) renders the page and says where each character sits, so the mark is
drawn over the sentence as printed, not over extracted text. The sentence is found on the
page by its words: PDFium's text and the extracted text differ in spaces, line breaks,
hyphens and table pipes, never in the words. A scanned page has no text layer: its words
and their boxes come from OCR (:mod:`rag.ingest.ocr`, read again for the page shown and
kept for the process, a few pages at a time). A sentence that goes on over a page break is
marked on both pages. When the page or the sentence cannot be found, the caller shows the
extracted text alone (the fallback view).
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import re
from html import escape
from pathlib import Path

from rag.ingest.pdf_layout import MIN_TEXT_CHARS  # fewer characters in the text layer: a scan
from rag.ingest.text import join_line_hyphens
from rag.records import PAGE_BREAK

log = logging.getLogger(__name__)

SCALE = 1.5  # render resolution: 1.5 × 72 dpi, sharp on a laptop screen, ~100–300 KB per page
_WORD = re.compile(r"\w+")

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the page


def _word_spans(text: str) -> list[tuple[str, int, int]]:
    """The words of ``text`` (lower-cased) with their character offsets."""
    return [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _find(page_text: str, sentence: str) -> tuple[int, int] | None:
    """Character offsets of ``sentence`` on the page, matched word by word, or None."""
    wanted = [w for w, _, _ in _word_spans(join_line_hyphens(sentence))]
    if not wanted:
        return None
    # Join words split by a hyphen at a line end, as the sentence's own text was joined.
    words = _word_spans(page_text)
    merged: list[tuple[str, int, int]] = []
    for word, start, end in words:
        gap = page_text[merged[-1][2] : start] if merged else ""
        if gap.strip() in ("-", "\u00ad") and ("\n" in gap or "\r" in gap):
            merged[-1] = (merged[-1][0] + word, merged[-1][1], end)
        else:
            merged.append((word, start, end))
    keys = [w for w, _, _ in merged]
    for i in range(len(keys) - len(wanted) + 1):
        if keys[i : i + len(wanted)] == wanted:
            return merged[i][1], merged[i + len(wanted) - 1][2]
    return None


def page_html(path: Path, page: int, sentence: str, css: str, span: str = "") -> str | None:
    """The 1-based ``page`` of the PDF at ``path`` as an image with ``sentence`` marked
    (``css``: the mark's class) and, when given, the answer ``span`` inside it marked more
    strongly; the next page too when the sentence goes on there. None when it cannot be
    rendered."""
    parts = sentence.split(PAGE_BREAK)
    figures = [
        _page_figure(path, page + i, part, css, span, first=i == 0)
        for i, part in enumerate(parts)
        if part.strip()
    ]
    if not figures or figures[0] is None:
        return None
    return "".join(f for f in figures if f)


@functools.lru_cache(maxsize=8)
def _scan_words(path: str, modified: float, page: int) -> tuple:
    """The OCR words of a scanned page, read once per process for each version of the file
    (``modified``: its modification time, part of the key)."""
    import pypdfium2 as pdfium

    from rag.ingest.ocr import page_words

    document = pdfium.PdfDocument(path)
    try:
        return tuple(page_words(document[page - 1]))
    finally:
        document.close()


def _within(page_text: str, found: tuple[int, int] | None, span: str) -> tuple[int, int] | None:
    """Page offsets of the answer ``span`` inside the sentence ``found`` at, or None."""
    if found is None or not span.strip():
        return None
    inner = _find(page_text[found[0] : found[1]], span)
    return None if inner is None else (found[0] + inner[0], found[0] + inner[1])


def _ocr_boxes(path: Path, page: int, sentence: str, span: str = "") -> tuple[list[Box], list[Box]]:
    """Boxes of the lines of ``sentence`` on a scanned page, found among its OCR words, and of
    the answer ``span`` inside it; ([], []) when not found or no engine."""
    from rag.ingest.ocr import engine

    if engine() is None:
        return [], []
    words = _scan_words(str(path), path.stat().st_mtime, page)
    text = " ".join(w.text for w in words)
    starts, cursor = [], 0
    for w in words:
        starts.append(cursor)
        cursor += len(w.text) + 1

    def lines_of(found: tuple[int, int] | None) -> list[Box]:
        if found is None:
            return []
        lines: dict[tuple[int, int, int], list] = {}
        for w, at in zip(words, starts, strict=True):
            if found[0] <= at < found[1]:
                lines.setdefault(w.block, []).append(w)
        return [
            (
                min(w.left for w in ws),
                min(w.top for w in ws),
                max(w.right for w in ws),
                max(w.bottom for w in ws),
            )
            for ws in lines.values()
        ]

    found = _find(text, sentence)
    return lines_of(found), lines_of(_within(text, found, span))


def _page_figure(path: Path, page: int, sentence: str, css: str, span: str, *, first: bool) -> str | None:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as error:
        log.warning("Cannot render %s: %s", path.name, error)
        return None
    scanned = False
    try:
        pages = len(document)
        if not 1 <= page <= pages:
            return None
        pdf_page = document[page - 1]
        width, height = pdf_page.get_size()
        text_page = pdf_page.get_textpage()
        boxes: list[Box] = []
        span_boxes: list[Box] = []
        if text_page.count_chars() < MIN_TEXT_CHARS:
            scanned = True
            boxes, span_boxes = _ocr_boxes(path, page, sentence, span)
        else:

            def rects(found: tuple[int, int] | None) -> list[Box]:
                if found is None:
                    return []
                start, end = found
                out = []
                for i in range(text_page.count_rects(start, end - start)):
                    left, bottom, right, top = text_page.get_rect(i)
                    out.append(
                        (left / width, (height - top) / height, right / width, (height - bottom) / height)
                    )
                return out

            page_text = text_page.get_text_range()
            found = _find(page_text, sentence)
            boxes, span_boxes = rects(found), rects(_within(page_text, found, span))
        image = pdf_page.render(scale=SCALE).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
    except pdfium.PdfiumError as error:
        log.warning("Cannot render page %d of %s: %s", page, path.name, error)
        return None
    finally:
        document.close()
    marks = "".join(_mark(f"rag-pdf-mark {css}", box) for box in boxes)
    marks += "".join(_mark("rag-pdf-span", box) for box in span_boxes)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    where = "the cited sentence is marked" if boxes else "the sentence could not be located on the page"
    if span_boxes:
        where += ", the answer in it darker"
    if scanned:
        where = f"a scanned page, its text read by OCR; {where}"
    if first:  # the first mark gets the id the panel scrolls to
        marks = marks.replace("<span class=", "<span id='rag-target' class=", 1)
    return (
        f"<figure class='rag-pdf-page' data-page='{page}'><figcaption>Page {page} of {pages} "
        f"as printed; {where}. <button type='button' class='rag-zoom' aria-pressed='false'>"
        "Enlarge page</button></figcaption><div class='rag-pdf-canvas'>"
        f"<img alt='Page {page} of {escape(path.name)}' src='data:image/png;base64,{data}'>"
        f"{marks}</div></figure>"
    )


def _mark(css: str, box: Box) -> str:
    left, top, right, bottom = box
    return (
        f"<span class='{escape(css)}' style='left:{100 * left:.2f}%;top:{100 * top:.2f}%;"
        f"width:{100 * (right - left):.2f}%;height:{100 * (bottom - top):.2f}%'></span>"
    )
