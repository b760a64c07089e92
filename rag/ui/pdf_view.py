"""A PDF page as the document view shows it: the cited page, rendered, with the sentence marked.

PDFium (pypdfium2) renders the page and says where each character sits, so the mark is
drawn over the sentence as printed, not over extracted text. The sentence is found on the
page by its words: PDFium's text and pypdf's extracted text differ in spaces, line breaks
and hyphens, never in the words. When the page or the sentence cannot be found, the caller
shows the extracted text alone (the fallback view).
"""

from __future__ import annotations

import base64
import io
import logging
import re
from html import escape
from pathlib import Path

from rag.ingest.text import join_line_hyphens

log = logging.getLogger(__name__)

SCALE = 1.5  # render resolution: 1.5 × 72 dpi, sharp on a laptop screen, ~100–300 KB per page
_WORD = re.compile(r"\w+")


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


def page_html(path: Path, page: int, sentence: str, css: str) -> str | None:
    """The 1-based ``page`` of the PDF at ``path`` as an image with ``sentence`` marked
    (``css``: the mark's class), or None when it cannot be rendered."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as error:
        log.warning("Cannot render %s: %s", path.name, error)
        return None
    try:
        pages = len(document)
        if not 1 <= page <= pages:
            return None
        pdf_page = document[page - 1]
        width, height = pdf_page.get_size()
        text_page = pdf_page.get_textpage()
        span = _find(text_page.get_text_range(), sentence)
        boxes = []
        if span is not None:
            start, end = span
            for i in range(text_page.count_rects(start, end - start)):
                left, bottom, right, top = text_page.get_rect(i)
                boxes.append(
                    f"<span class='rag-pdf-mark {escape(css)}' style='left:{100 * left / width:.2f}%;"
                    f"top:{100 * (height - top) / height:.2f}%;width:{100 * (right - left) / width:.2f}%;"
                    f"height:{100 * (top - bottom) / height:.2f}%'></span>"
                )
        image = pdf_page.render(scale=SCALE).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
    except pdfium.PdfiumError as error:
        log.warning("Cannot render page %d of %s: %s", page, path.name, error)
        return None
    finally:
        document.close()
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    where = "the cited sentence is marked" if boxes else "the sentence could not be located on the page"
    # The first mark gets the id the panel scrolls to.
    marks = "".join(boxes).replace("<span class=", "<span id='rag-target' class=", 1)
    return (
        f"<figure class='rag-pdf-page' data-page='{page}'><figcaption>Page {page} of {pages} "
        f"as printed; {where}.</figcaption><div class='rag-pdf-canvas'>"
        f"<img alt='Page {page} of {escape(path.name)}' src='data:image/png;base64,{data}'>"
        f"{marks}</div></figure>"
    )
