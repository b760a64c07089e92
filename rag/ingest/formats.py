"""Read the file formats people keep documents in as text: plain text and Markdown, PDF
(scanned pages by OCR), HTML, Word, Excel and CSV, PowerPoint, and e-mail.

:data:`SUFFIX_KINDS` is the one registry of what is read: uploads, the folder watcher,
``rag index`` and the type sniffing all take their list from it. The type is decided by the
file's *content*, and the file name's suffix must agree with it: a ``.pdf`` that holds
text, or a ``.txt`` that holds a ZIP archive, is refused rather than guessed at. Parsing is
left to well-kept libraries (pdfplumber/pdfminer.six and Tesseract, trafilatura,
python-docx, openpyxl, python-pptx, the standard library's csv and email).

Offsets of citations into a PDF, HTML or Word document refer to the text returned here
(``extract_text``), not to the file's bytes: the document viewer of the UI shows that text,
and ``extract_text(path.read_bytes(), path.name)[start:end]`` is the cited span. Extraction
is deterministic, so the same file always gives the same text.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import zipfile
from pathlib import Path

from rag.errors import DocumentError
from rag.ingest.expansion import ContentBudget, PageClock, check_archive, check_html, pdf_limits
from rag.ingest.office import markdown_table

log = logging.getLogger(__name__)

# suffix -> the kind of content the file must hold
SUFFIX_KINDS = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".pptx": "pptx",
    ".eml": "email",
}
SUFFIXES = frozenset(SUFFIX_KINDS)
TEXT_SUFFIXES = frozenset(s for s, kind in SUFFIX_KINDS.items() if kind == "text")
_DESCRIPTIONS = {
    "pdf": "a PDF",
    "docx": "a Word document",
    "xlsx": "an Excel workbook",
    "pptx": "a PowerPoint file",
    "csv": "comma-separated values",
    "email": "an e-mail message",
    "zip": "a ZIP archive",
    "binary": "a binary file",
    "html": "an HTML page",
    "text": "plain text",
    "empty": "empty",
}
_SNIFF_BYTES = 8192  # how much of a file is read to tell its type
_HTML_START = re.compile(
    rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S
)


# Links out of a corpus already reported (a served folder is listed again for every question).
_LINKS_SKIPPED: set[str] = set()


def corpus_files(root: Path, *, supported_only: bool = False) -> list[Path]:
    """The documents of a corpus folder, sorted: every path :func:`is_document` accepts.

    ``supported_only`` keeps only the suffixes in :data:`SUFFIXES`; without it the loader
    sees the rest too, to name what it skips. A link to a file outside the folder and a
    sub-folder that cannot be read are skipped with one warning each; links to folders are
    not followed.
    """
    if not root.is_dir():
        return []
    real_root = root.resolve()

    def unreadable(error: OSError) -> None:
        log.warning("Skipping the folder %s: it cannot be read (%s).", error.filename, error.strerror)

    found = []
    for folder, folders, files in os.walk(root, onerror=unreadable):
        folders[:] = [name for name in folders if not name.startswith(".")]  # hidden: not walked
        for name in files:
            path = Path(folder) / name
            if supported_only and path.suffix.lower() not in SUFFIXES:
                continue
            if is_document(path, root, real_root=real_root):
                found.append(path)
            elif path.is_symlink() and not name.startswith(".") and str(path) not in _LINKS_SKIPPED:
                _LINKS_SKIPPED.add(str(path))  # once per process: the folder is listed per question
                log.warning(
                    "Skipping %s: it is a link to %s, outside the folder %s.",
                    path.relative_to(root).as_posix(),
                    os.path.realpath(path),
                    root,
                )
    return sorted(found)


def is_document(path: Path, root: Path, *, real_root: Path | None = None) -> bool:
    """The one rule for what counts as a document of the corpus folder ``root``, on every path
    (index, watch, uploads, search and answers, ``/v1``, MCP): a regular file (a link is
    followed), not hidden (no part of its name under ``root`` starts with a dot), whose real
    location lies inside ``root``'s. So a link out of the folder, ``.git/…`` and ``.env``
    are never read, listed or served.
    """
    try:
        relative = path.relative_to(root)
        real_root = real_root or root.resolve()
        return (
            not any(part.startswith(".") for part in relative.parts)
            and path.is_file()
            and path.resolve().is_relative_to(real_root)
        )
    except (OSError, ValueError, RuntimeError):  # not under root, a link loop, an unreadable path
        return False


def web_text(source: str) -> bool:
    """Whether a document's text may hold a web page's furniture (navigation, newsletter
    lines): text, Markdown and HTML files, and corpus ids without a known suffix (JSONL).
    PDF, Office and e-mail text is printed or written matter, read whole."""
    return SUFFIX_KINDS.get(Path(source).suffix.lower(), "text") in ("text", "html")


def supported_types() -> str:
    """The supported suffixes for messages and help, e.g. ".docx, .htm, .html, …"."""
    return ", ".join(sorted(SUFFIXES))


def decode(data: bytes, name: str) -> str | None:
    """Decode file bytes as text, or return None (with a warning) when they are not text.

    Read as a text editor saves them: UTF-8 (with or without BOM), UTF-16/32 with a BOM,
    else the encoding charset-normalizer detects, ties broken towards the Western code
    pages (cp1252, latin-1) that most such files use. Line endings become ``\\n``, as
    Python's ``open(file).read()`` gives them, so citation offsets hold for that text too.
    """
    bom = _bom_encoding(data)
    if bom is not None:
        try:
            return _universal_newlines(data.decode(bom))
        except UnicodeDecodeError:
            log.warning("Skipping %s: it starts with a %s byte-order mark but is not %s.", name, bom, bom)
            return None
    if b"\0" in data[:_SNIFF_BYTES]:
        log.warning("Skipping %s: it is a binary file, not text.", name)
        return None
    try:
        return _universal_newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    encoding = _detect_encoding(data)
    if encoding is None:
        log.warning("Skipping %s: it is not UTF-8 and its encoding could not be detected.", name)
        return None
    log.warning("%s is not UTF-8; read it as %s.", name, encoding)
    return _universal_newlines(data.decode(encoding, errors="replace"))


# Byte-order marks, longest first: UTF-32's LE mark begins with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Preferred when the detector finds them as likely as its first pick: a Western file is
# otherwise often read as cp1250 or cp775 ("Hélène" → "Hélčne"), since single bytes alone
# cannot tell these code pages apart.
_WESTERN = ("cp1252", "iso8859_15", "latin_1")
_TIE_CHAOS = 0.01  # charset-normalizer's "chaos" (mess ratio, 0–1) within which two readings tie
_TIE_COHERENCE = 0.02  # and its language "coherence" (0–1) no worse than this below the best


def _bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


def _detect_encoding(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if m.encoding]
    if not matches:
        return None
    best = matches[0]
    for western in _WESTERN:
        for match in matches:
            if (
                match.encoding == western
                and match.chaos <= best.chaos + _TIE_CHAOS
                and match.coherence >= best.coherence - _TIE_COHERENCE
            ):
                return western
    return str(best.encoding)


def _universal_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` as ``\\n``: the text ``open(file).read()`` returns."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def sniff(data: bytes) -> str:
    """What the bytes hold: 'empty', 'pdf', 'docx', 'xlsx', 'pptx', 'zip', 'binary', 'html' or
    'text' (CSV and e-mail are text)."""
    if not data.strip():
        return "empty"
    head = data[:_SNIFF_BYTES]
    bom = _bom_encoding(head)
    if bom is not None and bom != "utf-8-sig":  # UTF-16/32 text holds NUL bytes: decode first
        text = head.decode(bom, errors="ignore").encode("utf-8")
        return "html" if _HTML_START.match(text) else "text"
    if b"%PDF-" in head[:1024]:  # the PDF spec tolerates a little junk before the header
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return "binary"
        # Office Open XML: the part each kind of document cannot be without.
        for part, kind in (
            ("word/document.xml", "docx"),
            ("xl/workbook.xml", "xlsx"),
            ("ppt/presentation.xml", "pptx"),
        ):
            if part in names:
                return kind
        return "zip"
    if b"\0" in head:
        return "binary"
    if _HTML_START.match(head):
        return "html"
    return "text"


def describe(kind: str) -> str:
    """A content kind in words for messages ("pdf" -> "a PDF")."""
    return _DESCRIPTIONS.get(kind, kind)


def extract_text(data: bytes, name: str) -> str:
    """The text of a document, read by the reader its suffix names.

    Raises:
        DocumentError: the suffix is not supported, the content does not match it, the
            file cannot be parsed, or it holds no text; the message says which and why.
    """
    suffix = Path(name).suffix.lower()
    kind = SUFFIX_KINDS.get(suffix)
    if kind is None:
        raise DocumentError(
            f"{name}: {suffix or 'files without a suffix'} is not supported; use one of "
            f"{', '.join(sorted(SUFFIXES))}."
        )
    content = sniff(data)
    if content == "empty":
        raise DocumentError(f"{name} is empty.")
    # Text-based kinds accept any text (an .eml or .csv is text, a .txt may hold markup).
    accepted = {"text", "html"} if kind in ("text", "html", "csv", "email") else {kind}
    if content not in accepted:
        raise DocumentError(
            f"{name} is named {suffix} but its content is {describe(content)}; "
            f"only {describe(kind)} may be named {suffix}."
        )
    text = _READERS[kind](data, name)
    if not text.strip():
        hint = ""
        if kind == "pdf":
            from rag.ingest.ocr import INSTALL_HINT, engine

            hint = " (scanned pages, and no OCR engine: " + INSTALL_HINT + ")" if engine() is None else ""
        raise DocumentError(f"{name} holds no text{hint}.")
    return text


def read_document(path: Path | str) -> str:
    """The text of a file on disk, exactly as it was indexed (offsets of citations refer to it).

    Raises:
        DocumentError: see :func:`extract_text`; a missing file is one too.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DocumentError(f"{path.name} cannot be read ({error.strerror or error}).") from error
    return extract_text(data, path.name)


def _read_text(data: bytes, name: str) -> str:
    text = decode(data, name)
    if text is None:
        raise DocumentError(f"{name} is not readable text (binary, or an unknown encoding).")
    return text


def _with_title(title: str | None, body: str, byline: str = "") -> str:
    """Put the document's own title first, where the structure parser looks for it, and
    its byline (author and date lines, if any) right under the title."""
    title = " ".join((title or "").split())
    if not title:
        return byline + body
    if body.lstrip().startswith(title):
        body = body.lstrip()[len(title) :].lstrip("\n")
    return f"{title}\n\n{byline}{body}"


def _read_html(data: bytes, name: str) -> str:
    import trafilatura

    check_html(data, name)
    html = _read_text(data, name)
    page = _tables_as_rows(html)
    if len(data) > HTML_MAIN_TEXT_MAX:
        # trafilatura's main-text search grows with the square of the page (1 MB: 2.3 s,
        # 2 MB: 8.3 s, 4 MB: 28 s here), so a page this large is read whole, in linear time:
        # such pages are manuals and specifications, where boilerplate is a small share.
        return _with_title(_html_title(html), trafilatura.html2txt(page if page is not None else html) or "")
    # Main content only (navigation, footers and cookie banners are dropped); recall over
    # precision, since a missing paragraph cannot be cited at all.
    document = trafilatura.bare_extraction(
        page if page is not None else html,
        favor_recall=True,
        include_tables=True,
        include_comments=False,
        deduplicate=False,
        with_metadata=True,
        # Dates the page's markup states (meta tags, <time>, the URL) only: htmldate's
        # extensive search reads a footer's "© 2025" as 1 January 2025, and the byline
        # below would cite a publication date the page never gave.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    body = getattr(document, "text", None) or ""
    if not body.strip():
        # Short fragments are below trafilatura's notion of an article: take all their text.
        body = trafilatura.html2txt(html) or ""
    byline = _byline(getattr(document, "author", None), getattr(document, "date", None), body)
    return _with_title(getattr(document, "title", None), body, byline)


HTML_MAIN_TEXT_MAX = 1024 * 1024  # bytes of markup up to which the main text is searched for


def _html_title(html: str) -> str | None:
    """The <title> of a page, read from its head alone (not another parse of a large page)."""
    import html as entities

    found = re.search(r"<title[^>]*>(.*?)</title\s*>", html[:65_536], re.IGNORECASE | re.DOTALL)
    return " ".join(entities.unescape(found.group(1)).split()) if found else None


_MAX_CELL_CHARS = 300  # longer cells mean a layout table (a page built from tables), not data


def _tables_as_rows(html: str):  # noqa: ANN202 - an lxml element, imported lazily
    """The page with each data table replaced by one paragraph per Markdown row, or None
    when it has no such table (or cannot be parsed; trafilatura then reads it as it is).

    trafilatura flattens small tables and drops cells it takes for boilerplate ("Email"),
    so a row could not be read with its header; as paragraphs the rows survive intact.
    """
    if "<table" not in html.lower():
        return None
    import lxml.html
    from lxml.etree import ParserError

    try:
        tree = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return None
    changed = False
    for table in list(tree.iter("table")):
        if table.find(".//table") is not None:
            continue  # a layout table holding others
        rows = [
            [
                " ".join(cell.text_content().split()).replace("|", "/")
                for cell in row
                if cell.tag in ("td", "th")
            ]
            for row in table.iter("tr")
        ]
        rows = [row for row in rows if any(row)]
        if len(rows) < 2 or any(len(cell) > _MAX_CELL_CHARS for row in rows for cell in row):
            continue
        block = lxml.html.Element("div")
        for line in markdown_table(rows):
            paragraph = lxml.html.Element("p")
            paragraph.text = line
            block.append(paragraph)
        parent = table.getparent()
        if parent is not None:
            parent.replace(table, block)
            changed = True
    return tree if changed else None


def _byline(author: str | None, date: str | None, body: str) -> str:
    """The page's author and date as text lines ("By …", "Published 14 April 2025"), so
    "who wrote / when was it published" can be answered and cited as for a text file.

    trafilatura finds them in the page's markup (meta tags, bylines) and leaves them out of
    the main text; a line is added only for what the text does not already say.
    """
    lines = []
    author = " ".join((author or "").split())
    if author and author not in body:
        lines.append(f"By {author}.")  # a full stop: a sentence of its own, never a heading
    day = _long_date(date)
    if day and day not in body:
        lines.append(f"Published {day}.")
    return "\n".join(lines) + "\n\n" if lines else ""


def _long_date(date: str | None) -> str:
    """``"2025-04-14"`` → ``"14 April 2025"``; anything else (or nothing) → ``""``."""
    import datetime

    try:
        day = datetime.date.fromisoformat((date or "")[:10])
    except ValueError:
        return ""
    return f"{day.day} {day:%B %Y}"


def _read_pdf(data: bytes, name: str) -> str:
    """A PDF's text in reading order (:mod:`rag.ingest.pdf_layout`), scanned pages read by
    OCR (:mod:`rag.ingest.ocr`); cached by the file's bytes (:mod:`rag.ingest.extracted`)."""
    from rag.ingest.extracted import cached_text

    title = _check_pdf(data, name)

    def extract() -> str:
        from rag.ingest.ocr import ocr_pages
        from rag.ingest.pdf_layout import page_texts, read_layout

        pages = read_layout(data, name)
        return page_texts(pages, ocr_pages(data, name, pages.scanned))

    # Scans read without an OCR engine are read again once one is installed: the cache's key
    # holds the engine's version.
    text = cached_text(data, extract)
    return _with_title(title, text)


def _check_pdf(data: bytes, name: str) -> str | None:
    """Parse the PDF once with pypdf's bounded decoders and a per-page CPU clock, so a
    decompression bomb or a page built to exhaust a reader is refused before the layout
    analysis (pdfminer has no such bounds) reads it. Returns the document's title.

    Raises:
        DocumentError: password-protected, too large to read safely, or not a PDF.
    """
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    budget, clock = ContentBudget(name), PageClock(name)
    try:
        with pdf_limits():
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentError(f"{name} is password-protected; save an unprotected copy and add that.")
            if len(reader.pages) > PDF_MAX_PAGES:
                raise DocumentError(
                    f"{name} has {len(reader.pages):,} pages, more than {PDF_MAX_PAGES:,}; split it into "
                    "smaller documents."
                )
            for number, page in enumerate(reader.pages, 1):
                budget.spend(page)  # bounded before the page is parsed for its text
                clock.start(number)  # and its parsing bounded in time, form XObjects included
                page.extract_text(visitor_operand_before=clock.check)
            metadata = reader.metadata
            title = metadata.get("/Title") if metadata is not None else None
    except DocumentError:
        raise
    except LimitReachedError as error:
        raise DocumentError(
            f"{name} holds a stream too large to read safely ({error}); it may be a decompression "
            "bomb; split it into smaller documents."
        ) from error
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise DocumentError(f"{name} cannot be read as a PDF ({type(error).__name__}: {error}).") from error
    title = " ".join(str(title or "").split())
    # Titles that name no document: a generator's default, or the program and file it came from.
    if title.casefold() in ("untitled", "untitled document", "none") or title.startswith("Microsoft Word - "):
        return None
    return title or None


# Pages of one PDF read at most: a 2,000-page PDF would take minutes of layout analysis
# (~25 pages/s here) and is better split; 1,000 covers the longest annual filings.
PDF_MAX_PAGES = 1000


def _row_cells(row) -> list[str]:  # noqa: ANN001 - a python-docx table row
    """The texts of a Word table row; a merged cell (repeated by python-docx) counted once."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        cells.append(" ".join(cell.text.split()).replace("|", "/"))
    return cells


def _read_docx(data: bytes, name: str) -> str:
    import docx
    from docx.table import Table

    check_archive(data, name)  # from the sizes the archive declares, before anything unpacks
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises KeyError, lxml and zip errors on bad files
        raise DocumentError(f"{name} cannot be read as a Word document ({type(error).__name__}).") from error
    # Style names by id, read once: `paragraph.style` searches the styles part on every call
    # (a 2 MB document took 41 s, nearly all of it there).
    style_names = {style.style_id: style.name or "" for style in document.styles}
    lines = []
    # Paragraphs and tables in document order; a table becomes Markdown rows, read with
    # its header by the structure parser ("Plan: Archive; Support: Phone").
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = [_row_cells(row) for row in block.rows]
            rows = [row for row in rows if any(row)]
            if rows:
                lines.append("\n".join(markdown_table(rows)) if len(rows) > 1 else " ".join(rows[0]))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = style_names.get(block._p.style or "", "")
        # Word headings become Markdown headings, which the structure parser turns into titles.
        if style == "Title" or style.startswith("Heading"):
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            text = "#" * min(level, 6) + " " + text
        lines.append(text)
    return _with_title(document.core_properties.title, "\n\n".join(lines))


def _read_xlsx(data: bytes, name: str) -> str:
    from rag.ingest.office import read_xlsx

    # The file's name is the workbook's title: its first sheet's name would otherwise be.
    return f"# {_stem_title(name)}\n\n{read_xlsx(data, name)}"


def _read_csv(data: bytes, name: str) -> str:
    from rag.ingest.office import read_csv

    return f"# {_stem_title(name)}\n\n{read_csv(_read_text(data, name), name)}"


def _read_pptx(data: bytes, name: str) -> str:
    from rag.ingest.office import read_pptx

    return read_pptx(data, name)


def _read_eml(data: bytes, name: str) -> str:
    from rag.ingest.mail import read_eml

    return read_eml(data, name)


def _stem_title(name: str) -> str:
    """A title from a file name, for formats without one: "office_figures.xlsx" → "office figures"."""
    return " ".join(re.sub(r"[_\-.]+", " ", Path(name).stem).split())


# kind -> its reader: (file bytes, name) -> text
_READERS = {
    "text": _read_text,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
    "xlsx": _read_xlsx,
    "csv": _read_csv,
    "pptx": _read_pptx,
    "email": _read_eml,
}
