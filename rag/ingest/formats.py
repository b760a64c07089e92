"""Read the file formats people keep documents in — text, Markdown, PDF, HTML, Word — as text.

The type is decided by the file's *content*, and the file name's suffix must agree with it:
a ``.pdf`` that holds text, or a ``.txt`` that holds a ZIP archive, is refused rather than
guessed at. Parsing is left to well-kept libraries (pypdf, trafilatura, python-docx).

Offsets of citations into a PDF, HTML or Word document refer to the text returned here
(``extract_text``), not to the file's bytes: the document viewer of the UI shows that text,
and ``extract_text(path.read_bytes(), path.name)[start:end]`` is the cited span. Extraction
is deterministic, so the same file always gives the same text.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path

from rag.errors import DocumentError

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
}
SUFFIXES = frozenset(SUFFIX_KINDS)
TEXT_SUFFIXES = frozenset(s for s, kind in SUFFIX_KINDS.items() if kind == "text")
_DESCRIPTIONS = {
    "pdf": "a PDF",
    "docx": "a Word document",
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


def corpus_files(root: Path, *, supported_only: bool = False) -> list[Path]:
    """The files of a corpus folder, sorted; hidden files and folders (a leading dot) are left out.

    ``supported_only`` keeps only the suffixes in :data:`SUFFIXES`; without it the loader
    sees the rest too, to name what it skips.
    """
    if not root.is_dir():
        return []
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and (not supported_only or path.suffix.lower() in SUFFIXES)
    ]


def supported_types() -> str:
    """The supported suffixes for messages and help, e.g. ".docx, .htm, .html, …"."""
    return ", ".join(sorted(SUFFIXES))


def decode(data: bytes, name: str) -> str | None:
    """Decode file bytes as text, or return None (with a warning) when they are not text."""
    if b"\0" in data[:_SNIFF_BYTES]:
        log.warning("Skipping %s: it is a binary file, not text.", name)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        log.warning("Skipping %s: it is not UTF-8 and its encoding could not be detected.", name)
        return None
    log.warning("%s is not UTF-8; read it as %s.", name, best.encoding)
    return str(best)


def sniff(data: bytes) -> str:
    """What the bytes hold: 'empty', 'pdf', 'docx', 'zip', 'binary', 'html' or 'text'."""
    if not data.strip():
        return "empty"
    head = data[:_SNIFF_BYTES]
    if b"%PDF-" in head[:1024]:  # the PDF spec tolerates a little junk before the header
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else "zip"
        except zipfile.BadZipFile:
            return "binary"
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
    accepted = {"text": {"text", "html"}, "html": {"html", "text"}, "pdf": {"pdf"}, "docx": {"docx"}}[kind]
    if content not in accepted:
        raise DocumentError(
            f"{name} is named {suffix} but its content is {describe(content)}; "
            f"only {describe(kind)} may be named {suffix}."
        )
    reader = {"text": _read_text, "html": _read_html, "pdf": _read_pdf, "docx": _read_docx}[kind]
    text = reader(data, name)
    if not text.strip():
        hint = " (a scanned PDF without a text layer? OCR is not supported)" if kind == "pdf" else ""
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


def _with_title(title: str | None, body: str) -> str:
    """Put the document's own title first, where the structure parser looks for it."""
    title = " ".join((title or "").split())
    if title and not body.lstrip().startswith(title):
        return f"{title}\n\n{body}"
    return body


def _read_html(data: bytes, name: str) -> str:
    import trafilatura

    html = _read_text(data, name)
    # Main content only (navigation, footers and cookie banners are dropped); recall over
    # precision, since a missing paragraph cannot be cited at all.
    document = trafilatura.bare_extraction(
        html,
        favor_recall=True,
        include_tables=True,
        include_comments=False,
        deduplicate=False,
        with_metadata=True,
    )
    body = getattr(document, "text", None) or ""
    if not body.strip():
        # Short fragments are below trafilatura's notion of an article: take all their text.
        body = trafilatura.html2txt(html) or ""
    return _with_title(getattr(document, "title", None), body)


def _read_pdf(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{name} is password-protected; save an unprotected copy and add that.")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = metadata.get("/Title") if metadata is not None else None
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise DocumentError(f"{name} cannot be read as a PDF ({type(error).__name__}: {error}).") from error
    # A blank line between pages keeps a page's last line from running into the next page.
    return _with_title(str(title) if title else None, "\n\n".join(p.strip("\n") for p in pages))


def _read_docx(data: bytes, name: str) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises KeyError, lxml and zip errors on bad files
        raise DocumentError(f"{name} cannot be read as a Word document ({type(error).__name__}).") from error
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        # Word headings become Markdown headings, which the structure parser turns into titles.
        if style == "Title" or style.startswith("Heading"):
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            text = "#" * min(level, 6) + " " + text
        lines.append(text)
    return _with_title(document.core_properties.title, "\n\n".join(lines))
