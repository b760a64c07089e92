"""A PDF's text in reading order, by pdfminer.six's layout analysis (through pdfplumber).

Why pdfplumber: of the three maintained readers compared on the field cases
(docs/formats.md), pypdf and PDFium's text follow the content stream, so a page drawn
row by row across two columns comes out spliced, and neither finds tables; pdfminer groups
characters into lines and text boxes by position and orders the boxes column by column,
and pdfplumber adds a ruled-table finder over the same parse. It is pure Python (22 pages/s
here, docs/formats.md), so its result is cached (:mod:`rag.ingest.extracted`).

What this module adds on top, using what the page shows:

* printed lines of a paragraph are joined with spaces (a word hyphenated at a line end
  keeps ``-\\n`` so matching joins it, as before); a paragraph that stops mid-sentence goes
  on in the next text box, the next column or the next page, so a sentence is never cut
  at a printed break. A sentence crossing a page holds the page break (``\\f``) inside it
  and is cited with the page where it starts;
* headings (a larger or bold font than the body, a line or two) stay lines of their own;
* running headers and footers (a line in the top or bottom margin that recurs on most
  pages, digits aside) and page numbers are left out;
* a ruled table becomes Markdown rows, read with its header by the structure parser.

Pages with no text layer are handed to OCR (:mod:`rag.ingest.ocr`).
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rag.errors import DocumentError
from rag.ingest.office import markdown_table
from rag.ingest.text import join_printed_lines
from rag.records import PAGE_BREAK

log = logging.getLogger(__name__)

# pdfminer's grouping: lines whose gap is under 1.0 line height form one text box, so a
# paragraph printed at double spacing (gap ≈ one line) stays one box while the wider gap
# between paragraphs splits them (pdfminer's default, 0.5, cut double-spaced text into one
# box per line; a box boundary inside a sentence is joined again below anyway).
# all_texts: text drawn inside form XObjects (pdfminer's figures; some tools draw whole
# pages that way) is laid out too, not left as loose characters.
_LAPARAMS = {"line_margin": 1.0, "char_margin": 2.0, "boxes_flow": 0.5, "all_texts": True}
_MARGIN = 0.09  # top and bottom share of a page where running headers and footers sit
_PAGE_NUMBER = re.compile(
    r"^[-–—(\[]?\s*(page|p\.|side|seite)?\s*\d{1,4}(\s*(/|of|av|von)\s*\d{1,4})?\s*[-–—)\]]?$", re.I
)
_SENTENCE_END = tuple('.!?:;…"”’)]')
_HEADING_MAX_LINES = 2
_HEADING_MAX_WORDS = 14  # as the structure parser's headings
MIN_TEXT_CHARS = 20  # a page with fewer characters of text than this may be a scan…
SCAN_IMAGE_SHARE = 0.3  # …when images cover at least this share of it (not a blank page or a chart)


@dataclass
class _Block:
    """One paragraph (or heading) or table of a page, in reading order."""

    lines: list[str]
    top: float  # distance from the page's top, points
    bottom: float
    x0: float = 0.0
    x1: float = 0.0
    size: float = 0.0  # the font size most of its characters have, points
    bold: bool = False
    table: list[list[str]] | None = None
    heading: bool = False
    fresh: bool = False  # starts a paragraph by the look of its box; never continues the one above

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass(frozen=True)
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool


@dataclass
class PdfPages:
    """The pages of a PDF as text blocks, before they are joined."""

    blocks: list[list[_Block]] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)  # 1-based pages without a text layer
    heights: list[float] = field(default_factory=list)


# "Place: Head office", "Also present: …": a line that starts with a label, in minutes,
# letters and forms, is a line of its own, never the end of the line above it.
_LABEL = re.compile(r"^[A-Z][\w ()/-]{0,24}:\s")


def _line_of(line: Any, height: float) -> _Line | None:
    from pdfminer.layout import LTChar

    # One space between words: justified lines come out with wider gaps as extra spaces.
    text = " ".join(line.get_text().split())
    if not text:
        return None
    styles: Counter[tuple[float, bool]] = Counter(
        (round(c.size, 1), "bold" in c.fontname.lower()) for c in line if isinstance(c, LTChar)
    )
    size, bold = styles.most_common(1)[0][0] if styles else (0.0, False)
    return _Line(text, line.x0, line.x1, height - line.y1, height - line.y0, size, bold)


def _paragraphs(lines: list[_Line]) -> list[list[_Line]]:
    """A text box's lines split into paragraphs: where the font changes (a heading set
    above its paragraph); after a line that stops short of the box's right edge when it
    ends a sentence or the next line starts with a label ("Place: …"); and after a short,
    capitalised line without closing punctuation that starts a paragraph and has a
    capitalised line under it (a heading in the body's font, as the structure parser
    reads one)."""
    right = max(line.x1 for line in lines)
    width = right - min(line.x0 for line in lines)
    groups = [[lines[0]]]
    for previous, line in zip(lines, lines[1:], strict=False):
        short = right - previous.x1 > 0.15 * width
        ends = previous.text.endswith((".", "!", "?", ":")) or bool(_LABEL.match(line.text))
        heading = (
            len(groups[-1]) == 1
            and short
            and previous.text[:1].isupper()
            and line.text[:1].isupper()
            and len(previous.text.split()) <= _HEADING_MAX_WORDS
            and not previous.text.endswith(_SENTENCE_END + (",",))
        )
        if (previous.size, previous.bold) != (line.size, line.bold) or (short and ends) or heading:
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def _table_sides(page: Any) -> list[dict[str, Any]]:
    """Vertical edges at both ends of each set of three or more horizontal rules of the same
    length, as tall as the set: a table ruled between its rows but not at its sides gets
    its sides from them (pdfplumber's explicit lines)."""
    rules: dict[tuple[int, int], list[float]] = {}
    for e in page.edges:
        if e["orientation"] == "h" and e["x1"] - e["x0"] > 20:
            rules.setdefault((round(e["x0"]), round(e["x1"])), []).append(float(e["top"]))
    sides = []
    for (x0, x1), tops in rules.items():
        if len(tops) >= 3:
            top, bottom = min(tops), max(tops)
            for x in (x0, x1):
                sides.append(
                    {
                        "object_type": "v_edge",
                        "orientation": "v",
                        "x0": float(x),
                        "x1": float(x),
                        "top": top,
                        "bottom": bottom,
                        "height": bottom - top,
                        "width": 0.0,
                    }
                )
    return sides


def _in_columns(blocks: list[_Block], width: float) -> list[_Block]:
    """Blocks in reading order for a page printed in two columns: between blocks that span
    the page (titles, wide tables), the left column top to bottom, then the right one.
    pdfminer's own order pairs boxes that face each other across the gutter."""
    middle = width / 2

    def side(b: _Block) -> str:
        return "left" if b.x1 <= middle + 2 else "right" if b.x0 >= middle - 2 else "both"

    if not any(side(b) == "left" for b in blocks) or not any(side(b) == "right" for b in blocks):
        return blocks
    ordered: list[_Block] = []
    band: list[_Block] = []
    for block in sorted(blocks, key=lambda b: b.top):
        if side(block) == "both":
            ordered += [b for b in band if side(b) == "left"] + [b for b in band if side(b) == "right"]
            ordered.append(block)
            band = []
        else:
            band.append(block)
    ordered += [b for b in band if side(b) == "left"] + [b for b in band if side(b) == "right"]
    return ordered


def _image_share(page: Any) -> float:
    """The share of the page's area its images cover (overlaps counted twice; at most 1)."""
    area = float(page.width * page.height) or 1.0
    covered = sum(max(0.0, float((i["x1"] - i["x0"]) * (i["bottom"] - i["top"]))) for i in page.images)
    return min(1.0, covered / area)


def _has_rules(container: Any) -> bool:
    """Whether the page draws any line, rectangle or curve (a ruled table needs them): pages
    of prose skip the table search, which converts every character of the page into
    pdfplumber's objects (half the reading time of a text page)."""
    from pdfminer.layout import LTCurve, LTFigure

    return any(
        isinstance(item, LTCurve) or (isinstance(item, LTFigure) and _has_rules(item)) for item in container
    )


def _text_boxes(container: Any) -> list[Any]:
    """pdfminer's text boxes of a page in its order, those inside figures (forms) included."""
    from pdfminer.layout import LTFigure, LTTextBox

    boxes = []
    for item in container:
        if isinstance(item, LTTextBox):
            boxes.append(item)
        elif isinstance(item, LTFigure):
            boxes.extend(_text_boxes(item))
    return boxes


def read_layout(data: bytes, name: str) -> PdfPages:
    """Each page's paragraphs and ruled tables in reading order (pdfplumber/pdfminer.six).

    Raises:
        DocumentError: pdfminer cannot parse the file.
    """
    import pdfplumber
    from pdfminer.layout import LTTextLine

    out = PdfPages()
    try:
        with pdfplumber.open(io.BytesIO(data), laparams=_LAPARAMS) as pdf:
            for number, page in enumerate(pdf.pages, 1):
                height = float(page.height)
                out.heights.append(height)
                tables = []
                if _has_rules(page.layout):  # pdfplumber's objects cost more than the layout itself
                    settings = {"explicit_vertical_lines": _table_sides(page)}
                    tables = [
                        t for t in page.find_tables(settings) if len(t.rows) >= 2 and len(t.columns) >= 2
                    ]
                table_boxes = [t.bbox for t in tables]  # (x0, top, x1, bottom), top-down
                blocks: list[_Block] = []
                chars = 0
                for box in _text_boxes(page.layout):
                    top, bottom = height - box.y1, height - box.y0
                    middle_x, middle_y = (box.x0 + box.x1) / 2, (top + bottom) / 2
                    if any(x0 <= middle_x <= x1 and t <= middle_y <= b for x0, t, x1, b in table_boxes):
                        continue  # the table's own cells: read as rows below
                    lines = [
                        ln for ln in (_line_of(x, height) for x in box if isinstance(x, LTTextLine)) if ln
                    ]
                    if not lines:
                        continue
                    chars += sum(len(line.text) for line in lines)
                    for i, group in enumerate(_paragraphs(lines)):
                        blocks.append(
                            _Block(
                                [line.text for line in group],
                                group[0].top,
                                group[-1].bottom,
                                x0=box.x0,
                                x1=box.x1,
                                size=group[0].size,
                                bold=group[0].bold,
                                fresh=i > 0,
                            )
                        )
                blocks = _in_columns(blocks, float(page.width))
                for table in tables:
                    rows = [[" ".join((cell or "").split()) for cell in row] for row in table.extract()]
                    rows = [row for row in rows if any(row)]
                    if not rows:
                        continue
                    chars += sum(len(cell) for row in rows for cell in row)
                    x0, top, x1, bottom = table.bbox
                    at = next(
                        (i for i, b in enumerate(blocks) if b.top >= top and b.x1 > x0 and b.x0 < x1),
                        len(blocks),
                    )
                    blocks.insert(at, _Block([], top, bottom, x0=x0, x1=x1, table=rows))
                if chars < MIN_TEXT_CHARS and _image_share(page) >= SCAN_IMAGE_SHARE:
                    out.scanned.append(number)
                out.blocks.append(blocks)
    except DocumentError:
        raise
    except Exception as error:  # pdfminer raises many kinds on damaged files
        raise DocumentError(f"{name} cannot be read as a PDF ({type(error).__name__}: {error}).") from error
    return out


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.casefold().split()))


def drop_running_lines(pages: PdfPages) -> None:
    """Remove running headers, footers and page numbers: blocks in a page's top or bottom
    margin whose text (digits aside) recurs on at least half the pages (two at least), and
    page numbers there. A one-page document keeps everything."""
    if len(pages.blocks) < 2:
        return
    seen: Counter[str] = Counter()
    for blocks, height in zip(pages.blocks, pages.heights, strict=True):
        keys = {_margin_key(b.text) for b in blocks if b.table is None and _in_margin(b, height)}
        seen.update(keys)
    least = max(2, (len(pages.blocks) + 1) // 2)
    for i, (blocks, height) in enumerate(zip(pages.blocks, pages.heights, strict=True)):
        pages.blocks[i] = [
            b
            for b in blocks
            if b.table is not None
            or not _in_margin(b, height)
            or not (seen[_margin_key(b.text)] >= least or _PAGE_NUMBER.match(b.text.strip()))
        ]


def _in_margin(block: _Block, height: float) -> bool:
    return block.bottom <= height * _MARGIN or block.top >= height * (1 - _MARGIN)


def _mark_headings(pages: PdfPages) -> None:
    """A block of one or two lines set larger than the body, or bold where the body is not,
    and not ending as a sentence does, is a heading."""
    sizes: Counter[float] = Counter()
    bold: Counter[bool] = Counter()
    for blocks in pages.blocks:
        for b in blocks:
            if b.table is None:
                sizes[b.size] += len(b.text)
                bold[b.bold] += len(b.text)
    if not sizes:
        return
    body_size = sizes.most_common(1)[0][0]
    body_bold = bold.most_common(1)[0][0]
    for blocks in pages.blocks:
        for b in blocks:
            if (
                b.table is None
                and len(b.lines) <= _HEADING_MAX_LINES
                and not b.text.endswith((".", "!", "?"))
            ):
                b.heading = b.size > body_size + 0.5 or (b.bold and not body_bold and b.size >= body_size)


def page_texts(pages: PdfPages, ocr_text: dict[int, str]) -> str:
    """The document's text: blocks as paragraphs (blank lines between them), tables as
    Markdown rows, pages separated by a page break, and a paragraph that stops mid-sentence
    continued in the next block, column or page (see the module docstring).

    ``ocr_text``: the text of scanned pages by 1-based page number, used in their place.
    """
    drop_running_lines(pages)
    _mark_headings(pages)
    out: list[str] = []
    open_paragraph = False  # the last paragraph stopped mid-sentence and may go on
    for number, blocks in enumerate(pages.blocks, 1):
        turn = number > 1  # the page break is still to be written
        pieces: list[tuple[str, bool]] = (  # (text, continues the open paragraph)
            [(ocr_text[number], False)] if number in ocr_text else []
        )
        if number not in ocr_text:
            for block in blocks:
                if block.table is not None:
                    pieces.append(("\n".join(markdown_table(block.table)), False))
                    open_paragraph = False
                    continue
                text = join_printed_lines(block.lines)
                goes_on = open_paragraph and not (block.heading or block.fresh or _LABEL.match(text))
                pieces.append((text, bool(goes_on)))
                open_paragraph = not block.heading and not text.endswith(_SENTENCE_END)
        else:
            open_paragraph = False
        for text, goes_on in pieces:
            if turn:
                # A sentence going on over the page keeps the break inside it: it is cited
                # with the page where it starts, and every later offset knows its page.
                out.append(f" {PAGE_BREAK}" if goes_on and out else f"\n{PAGE_BREAK}\n")
                turn = False
            elif out:
                out.append(" " if goes_on else "\n\n")
            out.append(text)
        if turn:
            out.append(f"\n{PAGE_BREAK}\n")  # a page without text still counts
    return "".join(out)
