"""Spreadsheets and slide decks as text: ``.xlsx`` (openpyxl), ``.csv`` (the csv module) and
``.pptx`` (python-pptx).

Tables come out as Markdown rows under their header row, so the structure parser reads each
row with its header ("Office: Oslo; Q3 (kEUR): 845") while a citation keeps the row's exact
span. A sheet is a section (``## Sheet``); a slide is a page (a page break between slides,
so a citation's page is the slide's number) titled ``# Slide N: Title``, its speaker notes a
section of their own under it.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable
from typing import Any

from rag.errors import DocumentError
from rag.ingest.expansion import check_archive
from rag.records import PAGE_BREAK

# A sheet's declared size (its <dimension>, rows × columns) above which it is refused unread:
# a "spreadsheet bomb" declares a million rows so a reader allocates or walks them all.
# 200,000 cells is ~5× the largest working sheet we have seen in a document folder.
XLSX_MAX_CELLS = 200_000
CSV_MAX_ROWS = 100_000
_MAX_CELL_CHARS = 1_000  # a longer cell is cut: it is prose pasted into a cell, not a datum


def markdown_table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as Markdown lines, the first row as the header (pipes in cells become /)."""
    width = max(len(row) for row in rows)
    padded = [[cell.replace("|", "/") for cell in row] + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + "---|" * width]
    return lines + ["| " + " | ".join(row) + " |" for row in padded[1:]]


def _cell_text(value: Any) -> str:
    """A cell's value as people read it: whole numbers without ".0", dates written out."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, datetime.datetime):
        day = f"{value.day} {value:%B %Y}"
        return day if value.time() == datetime.time() else f"{day} {value:%H:%M}"
    if isinstance(value, datetime.date):
        return f"{value.day} {value:%B %Y}"
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_CELL_CHARS else text[:_MAX_CELL_CHARS] + "…"


def _table_lines(rows: Iterable[list[str]]) -> list[str]:
    """Non-empty rows (trailing empty cells dropped) as a Markdown table, or [] for none."""
    kept = []
    for row in rows:
        while row and not row[-1]:
            row = row[:-1]
        if any(row):
            kept.append(row)
    if not kept:
        return []
    if len(kept) == 1:
        return [" ".join(kept[0])]
    return markdown_table(kept)


def read_xlsx(data: bytes, name: str) -> str:
    """Each sheet a ``## Sheet`` section of Markdown rows; formulas give their saved values.

    A formula cell without a saved value (a file written by a program, never opened in a
    spreadsheet) shows its formula.

    Raises:
        DocumentError: not a readable workbook, a sheet declaring more than XLSX_MAX_CELLS
            cells, or the archive limits of :func:`rag.ingest.expansion.check_archive`.
    """
    from openpyxl import load_workbook

    check_archive(data, name, "Excel workbook")
    try:
        values = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises zip, KeyError and XML errors on bad files
        raise DocumentError(
            f"{name} cannot be read as an Excel workbook ({type(error).__name__})."
        ) from error
    parts = []
    try:
        for sheet in values.worksheets:
            rows, columns = sheet.max_row or 0, sheet.max_column or 0
            if rows * columns > XLSX_MAX_CELLS:
                raise DocumentError(
                    f"{name}: the sheet {sheet.title!r} declares {rows:,} rows × {columns:,} columns, more "
                    f"than {XLSX_MAX_CELLS:,} cells; save the part that matters as its own workbook or .csv."
                )
            shown = formulas[sheet.title].iter_rows(values_only=True)
            table = []
            for row, written in zip(sheet.iter_rows(values_only=True), shown, strict=False):
                table.append(
                    [
                        _cell_text(value if value is not None or not _is_formula(raw) else raw)
                        for value, raw in zip(row, written, strict=False)
                    ]
                )
            lines = _table_lines(table)
            if lines:
                parts.append(f"## {sheet.title}\n\n" + "\n".join(lines))
    finally:
        values.close()
        formulas.close()
    return "\n\n".join(parts)


def _is_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("=")


def read_csv(text: str, name: str) -> str:
    """A CSV (or TSV) file's rows as one Markdown table, its first row the header.

    Raises:
        DocumentError: more than CSV_MAX_ROWS rows, or not parseable as delimited text.
    """
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = []
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            rows.append([_cell_text(cell) for cell in row])
            if len(rows) > CSV_MAX_ROWS:
                raise DocumentError(
                    f"{name} has more than {CSV_MAX_ROWS:,} rows; split it into smaller files."
                )
    except csv.Error as error:
        raise DocumentError(f"{name} cannot be read as CSV ({error}).") from error
    return "\n".join(_table_lines(rows))


def read_pptx(data: bytes, name: str) -> str:
    """Each slide a page: ``# Slide N: Title``, its text and tables in reading order (top to
    bottom, left to right), bullets as ``•`` lines, then its speaker notes.

    Raises:
        DocumentError: not a readable PowerPoint file, or the archive limits.
    """
    from pptx import Presentation

    check_archive(data, name, "PowerPoint file")
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as error:  # python-pptx raises zip, KeyError and XML errors on bad files
        raise DocumentError(
            f"{name} cannot be read as a PowerPoint file ({type(error).__name__})."
        ) from error
    pages = []
    for number, slide in enumerate(deck.slides, 1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        lines = [f"# Slide {number}: {title}" if title else f"# Slide {number}"]
        for shape in _in_reading_order(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            lines.extend(_shape_lines(shape))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            paragraphs = [" ".join(p.split()) for p in (notes.text if notes is not None else "").splitlines()]
            paragraphs = [p for p in paragraphs if p]
            if paragraphs:
                lines.append(f"## Slide {number} speaker notes")
                lines.extend(paragraphs)
        pages.append("\n\n".join(lines))
    return f"\n{PAGE_BREAK}\n".join(pages)


def _in_reading_order(shapes: Iterable[Any]) -> list[Any]:
    """Shapes top to bottom, then left to right (placeholders without a position first)."""
    return sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))


def _shape_lines(shape: Any) -> list[str]:
    """The text of one shape: paragraphs (bullets as ``•`` lines), a table as Markdown rows,
    a group's members in reading order."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if getattr(shape, "shape_type", None) == MSO_SHAPE_TYPE.GROUP:
        return [line for member in _in_reading_order(shape.shapes) for line in _shape_lines(member)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in shape.table.rows]
        table = _table_lines(rows)
        return ["\n".join(table)] if table else []
    if not getattr(shape, "has_text_frame", False) or not shape.has_text_frame:
        return []
    lines = []
    for paragraph in shape.text_frame.paragraphs:
        text = " ".join("".join(run.text for run in paragraph.runs).split())
        if text:
            # A body placeholder's paragraphs are bullets whatever their level; marked as
            # such they stay list items, never headings.
            lines.append(f"• {text}" if not text.endswith((".", "!", "?")) else text)
    return lines
