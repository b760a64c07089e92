"""Text of scanned PDF pages by OCR: Tesseract 5 (Debian's ``tesseract-ocr``, its English
model in ``tesseract-ocr-eng``) through pytesseract, on the page rendered by PDFium.

Why Tesseract: it runs on the CPU with models that install from a package, it is the
maintained engine the field uses for printed text, and it reports each word's box and
confidence, which the document view needs to mark an OCR'd sentence on the page image
(docs/formats.md).

An OCR'd page's text starts with :data:`OCR_MARK`'s line, so the structure parser can say
"OCR, p. N" in the citation and the document view shows where the text came from. A page
whose words are too few or too uncertain is reported and left empty, never guessed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.ingest.text import join_printed_lines

log = logging.getLogger(__name__)

DPI = 300  # Tesseract's accuracy is best at ~300 dpi for body text
MAX_PIXELS = 40_000_000  # a page image at most this large (A3 at 300 dpi is ~17.4 million)
# Scanned pages of one document read at most (2.2 s a page here: ~7 minutes); the rest are
# reported, so a 1,000-page scan cannot hold the indexing for most of an hour.
MAX_OCR_PAGES = 200
# A page is read only when it has at least this many words of confidence >= WORD_CONFIDENCE
# and their mean confidence (0–100, Tesseract's) is at least PAGE_CONFIDENCE.
WORD_CONFIDENCE = 60
PAGE_CONFIDENCE = 70
MIN_WORDS = 5
OCR_MARK = "[Page {page}: scanned; text read by OCR]"
# That line as the structure parser finds it in a document's text (a line of its own).
OCR_MARK_LINE = re.compile(r"^\[Page (\d+): scanned; text read by OCR\]$", re.M)
INSTALL_HINT = (
    "install Tesseract (Debian/Ubuntu: `apt install tesseract-ocr tesseract-ocr-eng`) and index it again"
)


@dataclass(frozen=True)
class Word:
    """One recognised word and its box as fractions (0–1) of the page's width and height."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    confidence: float  # Tesseract's, 0–100
    block: tuple[int, int, int]  # (block, paragraph, line) numbers: the layout Tesseract found


@functools.lru_cache(maxsize=1)
def engine() -> str | None:
    """Tesseract's version when it and pytesseract can be used, else None."""
    if shutil.which("tesseract") is None:
        return None
    try:
        import pytesseract

        return str(pytesseract.get_tesseract_version())
    except Exception:  # not installed, or the program does not run
        return None


def page_words(page: Any) -> list[Word]:
    """The words of a pypdfium2 page, rendered at :data:`DPI` and read by Tesseract.

    Raises:
        RuntimeError: no engine (check :func:`engine` first).
    """
    import pytesseract

    if engine() is None:
        raise RuntimeError(f"no OCR engine: {INSTALL_HINT}")
    # At most MAX_PIXELS: a page declared metres wide would otherwise render to gigabytes.
    width_pt, height_pt = page.get_size()
    scale = min(DPI / 72, math.sqrt(MAX_PIXELS / max(width_pt * height_pt, 1.0)))
    image = page.render(scale=scale, grayscale=True).to_pil()
    width, height = image.size
    with _one_thread():
        data = pytesseract.image_to_data(image, lang="eng", output_type=pytesseract.Output.DICT)
    words = []
    for i, text in enumerate(data["text"]):
        text = text.strip()
        confidence = float(data["conf"][i])
        if not text or confidence < 0:
            continue
        left, top = data["left"][i], data["top"][i]
        words.append(
            Word(
                text,
                left / width,
                top / height,
                (left + data["width"][i]) / width,
                (top + data["height"][i]) / height,
                confidence,
                (data["block_num"][i], data["par_num"][i], data["line_num"][i]),
            )
        )
    return words


_ENVIRONMENT = threading.Lock()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tesseract run with one OpenMP thread (unless OMP_THREAD_LIMIT says otherwise): on these
    2 cores its default threads spin against each other, 10.8 s a page against 1.9 s."""
    with _ENVIRONMENT:
        before = os.environ.get("OMP_THREAD_LIMIT")
        if before is None:
            os.environ["OMP_THREAD_LIMIT"] = "1"  # read by the tesseract program started below
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("OMP_THREAD_LIMIT", None)


def confident(words: list[Word]) -> bool:
    """Enough words, read with enough confidence, to index the page (see the thresholds)."""
    sure = [w for w in words if w.confidence >= WORD_CONFIDENCE]
    return len(sure) >= MIN_WORDS and sum(w.confidence for w in words) / len(words) >= PAGE_CONFIDENCE


def words_as_text(words: list[Word]) -> str:
    """Tesseract's paragraphs as paragraphs: the words of a line joined by spaces, its lines
    joined like printed lines (a line-end hyphen before a lower-case letter kept for
    matching to join), paragraphs separated by blank lines."""
    by_line: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        by_line.setdefault(word.block, []).append(word)
    paragraphs: list[list[list[str]]] = []
    last: tuple[int, int, int] | None = None
    for key, line_words in by_line.items():
        texts = [w.text for w in line_words]
        if last is None or key[:2] != last[:2] or _heading_above(paragraphs[-1], texts, by_line, key):
            paragraphs.append([texts])
        else:
            paragraphs[-1].append(texts)
        last = key
    return "\n\n".join(join_printed_lines([" ".join(words) for words in lines]) for lines in paragraphs)


def _heading_above(
    paragraph: list[list[str]], line: list[str], by_line: dict[tuple[int, int, int], list[Word]], key: tuple
) -> bool:
    """Whether the paragraph so far is one heading-shaped line (short, capitalised, without
    closing punctuation, a quarter narrower than the line under it) over a capitalised line:
    Tesseract sets a heading and its paragraph as one block, as pdfminer does."""
    if len(paragraph) != 1 or not line or not line[0][:1].isupper():
        return False
    heading = paragraph[0]
    above = by_line.get((key[0], key[1], key[2] - 1))
    if (
        not above
        or not heading[0][:1].isupper()
        or len(heading) > 14
        or heading[-1].endswith(tuple(".!?:;,"))
    ):
        return False
    return _width(above) < 0.75 * _width(by_line[key])


def _width(words: list[Word]) -> float:
    return max(w.right for w in words) - min(w.left for w in words)


def ocr_pages(data: bytes, name: str, pages: list[int]) -> dict[int, str]:
    """The text of the 1-based ``pages`` of a PDF, each led by its :data:`OCR_MARK` line.

    A page read with too little confidence is left out with a warning; without an engine,
    one warning names the fix and nothing is read.
    """
    if not pages:
        return {}
    if engine() is None:
        log.warning(
            "%s: %s scanned (no text layer) and no OCR engine is installed; %s.",
            name,
            _pages_phrase(pages),
            INSTALL_HINT,
        )
        return {}
    import pypdfium2 as pdfium

    if len(pages) > MAX_OCR_PAGES:
        log.warning(
            "%s: %d pages are scanned; only the first %d are read by OCR (about %d minutes); "
            "split the file to have the rest read.",
            name,
            len(pages),
            MAX_OCR_PAGES,
            MAX_OCR_PAGES * 2 // 60,
        )
        pages = pages[:MAX_OCR_PAGES]
    out: dict[int, str] = {}
    document = pdfium.PdfDocument(data)
    try:
        for number in pages:
            words = page_words(document[number - 1])
            if not words or not confident(words):
                log.warning(
                    "%s: page %d is scanned and its text could not be read with confidence "
                    "(too few or too uncertain words); it was left out. A sharper scan (300 dpi) helps.",
                    name,
                    number,
                )
                continue
            out[number] = OCR_MARK.format(page=number) + "\n\n" + words_as_text(words)
    finally:
        document.close()
    return out


def _pages_phrase(pages: list[int]) -> str:
    if len(pages) == 1:
        return f"page {pages[0]} is"
    return f"{len(pages)} pages ({', '.join(map(str, pages[:5]))}{'…' if len(pages) > 5 else ''}) are"
