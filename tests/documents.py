"""Small documents in every supported format, made on the fly (no binary fixtures in git)."""

from __future__ import annotations

import io


def pdf_bytes(lines: list[str], title: str = "") -> bytes:
    """A valid one-page PDF whose text layer holds ``lines`` (Helvetica, one line each)."""
    return paged_pdf_bytes([lines], title)


def paged_pdf_bytes(pages: list[list[str]], title: str = "") -> bytes:
    """A valid PDF with one page per item of ``pages``, each holding its lines of text."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    count = len(pages)
    page_ids = [4 + 2 * i for i in range(count)]
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in page_ids)}] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for number, lines in enumerate(pages):
        stream = "BT /F1 11 Tf 72 760 Td 14 TL " + " ".join(f"({escape(line)}) '" for line in lines) + " ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Contents {page_ids[number] + 1} 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append(f"<< /Title ({escape(title)}) >>" if title else "<< >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
    out.write(f"{trailer}startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx_bytes(title: str, paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def html_bytes(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> | <a href='/about'>About us</a> | <a href='/jobs'>Jobs</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<footer>Copyright 2025 Example News. All rights reserved.</footer></body></html>"
    ).encode()


def docx_bomb_bytes(expanded_mib: int, *, zip64: bool = True) -> bytes:
    """A valid .docx whose document.xml unpacks to ``expanded_mib`` MiB (~1/270 of it zipped);
    ``zip64=False`` keeps 32-bit size fields (below 2 GiB), which a test may rewrite."""
    import zipfile

    base = docx_bytes("Bomb", ["seed"])
    paragraph = "<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>" * 1000
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item.filename))
                continue
            head, tail = source.read(item.filename).decode().split("<w:body>")
            with target.open("word/document.xml", "w", force_zip64=zip64) as handle:
                handle.write((head + "<w:body>").encode())
                for _ in range(expanded_mib * 1024 * 1024 // len(paragraph)):
                    handle.write(paragraph.encode())
                handle.write(tail.encode())
    return out.getvalue()


def docx_underdeclared_bytes(expanded_mib: int, declared: int = 1024) -> bytes:
    """A .docx whose document.xml unpacks to ``expanded_mib`` MiB while the archive's directory
    says ``declared`` bytes (issue 30, row 1): a limit that trusts declared sizes lets it in."""
    import struct
    import zipfile

    data = bytearray(docx_bomb_bytes(expanded_mib, zip64=False))
    position = data.find(b"PK\x01\x02")
    while position >= 0:  # every central directory entry; patch document.xml's size field
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == b"word/document.xml":
            struct.pack_into("<I", data, position + 24, declared)
        position = data.find(b"PK\x01\x02", position + 4)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        assert archive.getinfo("word/document.xml").file_size == declared
    return bytes(data)


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file of ``objects`` (numbered from 1, the catalog first), with its xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def pdf_bomb_bytes(pages: int, mib_per_page: float) -> bytes:
    """A valid PDF whose pages' Flate-compressed content streams each decode to ``mib_per_page``
    MiB: one long string shown on the page (few operators, many bytes)."""
    import zlib

    size = int(mib_per_page * 1024 * 1024)
    stream = zlib.compress(b"BT /F1 11 Tf 72 760 Td (" + b"a" * size + b") Tj ET", 9)
    page_ids = [4 + 2 * i for i in range(pages)]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in page_ids)}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for number in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_ids[number] + 1} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream"
        )
    return _pdf(objects)


def pdf_xobject_bytes(form_kib: int, calls: int) -> bytes:
    """A small PDF whose one page draws the same form XObject ``calls`` times, the form's
    content stream holding ``form_kib`` KiB of text operators (issue 30, row 3: a 6.9 KB
    file whose page calls a 2 MB form 2,000 times took ~50 minutes of CPU to read)."""
    import zlib

    line = b"BT /F1 11 Tf 72 700 Td (work) Tj ET\n"
    form = zlib.compress(line * (form_kib * 1024 // len(line)), 9)
    page = zlib.compress(b"/X1 Do\n" * calls, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 3 0 R >> /XObject << /X1 6 0 R >> >> >>",
        f"<< /Length {len(page)} /Filter /FlateDecode >>\nstream\n".encode() + page + b"\nendstream",
        f"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        f"/Length {len(form)} /Filter /FlateDecode >>\nstream\n".encode()
        + form
        + b"\nendstream",
    ]
    return _pdf(objects)


def long_html_bytes(mib: float) -> bytes:
    """An HTML page of ``mib`` MiB of paragraphs (an article far beyond any news page)."""
    paragraph = "<p>Paragraph {n}: the <b>archive</b> holds record {n} of the <a href='#'>series</a>.</p>\n"
    parts, size, n = [], 0, 0
    while size < mib * 1024 * 1024:
        parts.append(paragraph.format(n=n))
        size += len(parts[-1])
        n += 1
    return (
        "<html><head><title>Long page</title></head><body><article>"
        + "".join(parts)
        + "</article></body></html>"
    ).encode()
