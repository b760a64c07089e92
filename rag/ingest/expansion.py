"""Bounds on how far a document may expand while it is read (decompression bombs).

A Word file is a zip archive and a PDF holds compressed streams: a 3.4 MB .docx whose XML
unpacks to ~1 GB passed the 20 MB upload limit and took the server to 2 GB+ of memory.
Each format is checked before it is parsed: a zip archive's declared sizes first, then its
members inflated once in bounded pieces (an archive may lie about its sizes); where only
decoding tells (PDF streams), decoding is bounded.

The limits leave real documents far inside them: a 1,000-page Word report's XML is
~10 MB; a text-heavy PDF page's content stream is 5-50 KB. Memory while reading stays
within ~+200 MB of the process's size (measured; see tests/test_expansion.py).
"""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from rag.errors import DocumentError

MIB = 1024 * 1024
# .docx: what its parts unpack to, all together, and one XML part (parsed into an lxml tree
# of ~8x its size: a 16 MB document.xml peaks at ~+150 MB).
ZIP_MAX_EXPANDED = 64 * MIB
ZIP_MAX_XML_PART = 16 * MIB
ZIP_READ_CHUNK = 1 * MIB  # inflated per step while an archive is verified: the memory it may take
# PDF: one decoded stream, the decoded page contents of the whole file, and the operators
# parsed in one content stream (each one a Python object while the page is read).
PDF_MAX_STREAM = 16 * MIB
PDF_MAX_CONTENT = 64 * MIB
PDF_MAX_OPERATORS = 500_000
# PDF: the CPU one page's text may take, form XObjects included (a normal page takes well under
# a second here; a page that draws a 2 MB form 2,000 times took ~50 minutes).
PDF_MAX_PAGE_SECONDS = 10.0
# HTML: the markup parsed into a tree (trafilatura, lxml): ~12x its size in memory.
HTML_MAX_BYTES = 6 * MIB


def _megabytes(size: int) -> str:
    return f"{size / MIB:,.0f} MB"


def check_archive(data: bytes, name: str, what: str = "Word file") -> None:
    """Refuse a zip-based document (.docx) that unpacks to more than the limits, counting the
    bytes as they are inflated rather than trusting the sizes the archive declares.

    First the declared sizes (free to read); then every member is inflated once, streamed in
    :data:`ZIP_READ_CHUNK` pieces and discarded, so memory stays bounded whatever a member
    holds. A member whose content differs from what the directory declares (a 1 KB
    ``document.xml`` that inflates to 1 GB) fails zipfile's size and CRC-32 check there,
    after about one chunk: zipfile's own ``read()`` of such a member would first inflate up
    to 2 GiB into memory and only then cut it to the declared size.

    ``what`` names the kind in the message ("Word file", "Excel workbook", …).

    Raises:
        DocumentError: it unpacks to more than ZIP_MAX_EXPANDED, or one XML part to more
            than ZIP_MAX_XML_PART; a member is not what the archive declares; or it is not
            a readable archive.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            _check_declared(members, name)
            for member in members:
                _inflate_counted(archive, member, name)
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, NotImplementedError) as error:
        raise DocumentError(
            f"{name} is not a readable {what} ({error}): a damaged archive, or one that misstates "
            "what it unpacks to (a decompression bomb)."
        ) from error


def _check_declared(members: list[zipfile.ZipInfo], name: str) -> None:
    total = sum(member.file_size for member in members)
    largest = max(
        (m for m in members if m.filename.endswith(".xml")), key=lambda m: m.file_size, default=None
    )
    if total > ZIP_MAX_EXPANDED or (largest is not None and largest.file_size > ZIP_MAX_XML_PART):
        part = f"; {largest.filename} alone is {_megabytes(largest.file_size)}" if largest is not None else ""
        raise DocumentError(
            f"{name} unpacks to {_megabytes(total)}{part} (the limits are {_megabytes(ZIP_MAX_EXPANDED)} "
            f"in all and {_megabytes(ZIP_MAX_XML_PART)} of text per part): it is too large to read "
            "safely, or a decompression bomb; split it into smaller documents."
        )


def _inflate_counted(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> None:
    """Inflate ``member`` in bounded pieces, discarding them; zipfile checks its size and CRC."""
    inflated = 0
    with archive.open(member) as stream:
        while piece := stream.read(ZIP_READ_CHUNK):
            inflated += len(piece)
            if inflated > member.file_size:  # zipfile stops at the declared size; never trust it
                raise zipfile.BadZipFile(f"{member.filename} holds more than it declares")


@contextlib.contextmanager
def pdf_limits() -> Iterator[None]:
    """pypdf's own decoding limits, tightened to ours while a PDF is read (this thread only).

    pypdf keeps its configuration in a context variable, so this changes nothing for other
    threads or code.
    """
    from pypdf import apply_configuration

    with apply_configuration(
        zlib_maximum_output_length=PDF_MAX_STREAM,
        lzw_maximum_output_length=PDF_MAX_STREAM,
        run_length_maximum_output_length=PDF_MAX_STREAM,
        brotli_maximum_output_length=PDF_MAX_STREAM,
        array_based_stream_maximum_output_length=PDF_MAX_STREAM,
        stream_parsing_work_maximum_count=PDF_MAX_OPERATORS,
    ):
        yield


class ContentBudget:
    """The decoded page content of one PDF, counted page by page against PDF_MAX_CONTENT.

    Usage example::

        budget = ContentBudget("report.pdf")
        for page in reader.pages:
            budget.spend(page)  # raises DocumentError once the file has expanded too far
            text = page.extract_text()
    """

    def __init__(self, name: str, limit: int = PDF_MAX_CONTENT) -> None:
        self.name = name
        self.limit = limit
        self.spent = 0

    def spend(self, page: Any) -> None:
        """Decode ``page``'s content streams (pypdf keeps them for extract_text) and count them.

        Raises:
            DocumentError: the pages so far decode to more than the limit.
        """
        contents = page.get("/Contents")
        contents = contents.get_object() if contents is not None else None
        streams = contents if isinstance(contents, list) else [contents] if contents is not None else []
        for stream in streams:
            self.spent += len(stream.get_object().get_data())
            if self.spent > self.limit:
                raise DocumentError(
                    f"{self.name}'s pages decode to more than {_megabytes(self.limit)} of content: it is "
                    "too large to read safely, or a decompression bomb; split it into smaller documents."
                )


class PageClock:
    """The CPU time one PDF page's text extraction may take, checked at every content
    operator pypdf reads (form XObjects too, which a page may draw any number of times).

    Usage example::

        clock = PageClock("report.pdf")
        for number, page in enumerate(reader.pages, 1):
            clock.start(number)
            text = page.extract_text(visitor_operand_before=clock.check)
    """

    def __init__(self, name: str, limit: float | None = None) -> None:
        self.name = name
        self.limit = PDF_MAX_PAGE_SECONDS if limit is None else limit
        self.page = 0
        self.began = 0.0

    def start(self, page: int) -> None:
        """Start the clock for page ``page`` (1-based, for the message)."""
        self.page, self.began = page, time.thread_time()

    def check(self, *_: Any) -> None:
        """pypdf's ``visitor_operand_before``: raises once the page has taken too long.

        Raises:
            DocumentError: the page took more than the limit (CPU seconds of this thread).
        """
        if time.thread_time() - self.began > self.limit:
            raise DocumentError(
                f"{self.name}'s page {self.page} takes more than {self.limit:.0f} s to read (it draws "
                "the same content over and over, or is built to exhaust a reader); the file was not "
                "indexed: save its pages as a new PDF (print to PDF) and add that."
            )


def check_html(data: bytes, name: str) -> None:
    """Refuse HTML markup larger than HTML_MAX_BYTES (its parse tree would not fit the bound).

    Raises:
        DocumentError: it is larger; the message says to save the page's text instead.
    """
    if len(data) > HTML_MAX_BYTES:
        raise DocumentError(
            f"{name} is {_megabytes(len(data))} of HTML (the limit is {_megabytes(HTML_MAX_BYTES)}): "
            "save the page's text as .txt or .md and add that."
        )
