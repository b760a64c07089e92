"""Split a document into titled sections of clean sentences, keeping original offsets.

What the text shows is used, nothing more:

* a ``•`` line whose text is repeated on the next line is an article title (tag pages list
  articles this way); other ``•`` lines are list items;
* a Markdown ``#`` line, or a short line without closing punctuation that is followed by
  more text, is a heading;
* the first heading is the document title; section titles read ``Document › Heading``;
  a heading is also the first sentence of its section (datelines and names live there),
  while an article title's repeated line is dropped (every chunk carries the title).

Boilerplate lines and exact repeats of an earlier sentence are dropped here, so every later
stage sees only content while the offsets still point into the original file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.cleaning import is_boilerplate, repeat_key
from rag.ingest.ocr import OCR_MARK_LINE  # the line that starts a page read by OCR
from rag.ingest.text import normalise, split_sentences, undouble
from rag.records import Section, Sentence, page_at

_BULLET = re.compile(r"^\s*•\s*")
_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_MARKDOWN_HEADING_RAW = re.compile(r"#{1,6}[ \t]+")
# A Markdown table: a row of cells, then a separator row of dashes under the header.
_TABLE_ROW = re.compile(r"^\|.*\|$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_MAX_HEADING_WORDS = 14
_GLUED_NUMBER = re.compile(r"(\d{1,2})(?=[A-Z])")
# A "#" line longer than this is text, not a heading: every chunk of a section repeats its
# heading as its title, so a 1 MB one-line "# …" file was embedded and tokenized once per
# chunk (quadratic: 80 KB took 39 s). Real Markdown headings are far shorter.
_MAX_MARKDOWN_HEADING_WORDS = 40
_CLOSING_PUNCTUATION = tuple('.!?:;,…"”)')


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str  # normalised

    @property
    def words(self) -> int:
        return len(self.text.split())


def _lines(original: str) -> list[_Line]:
    """The non-blank lines of ``original``, split at ``\n`` only: a page break (``\f``)
    inside a line is a sentence going on over a PDF page, whitespace like any other."""
    lines, offset = [], 0
    for raw in original.split("\n"):
        raw += "\n"
        body = raw.rstrip("\r\n")
        text = normalise(body)
        if text:
            lead = len(body) - len(body.lstrip())
            lines.append(_Line(offset + lead, offset + len(body.rstrip()), text))
        offset += len(raw)
    return _without_glued_numbers(lines)


def _without_glued_numbers(lines: list[_Line]) -> list[_Line]:
    """Lines of a numbered list whose numbers lost their dot and space in extraction
    ("1OpenAI has…", "2Anthropic still…") start after the number: it is no part of the
    sentence, and "2Anthropic" is no word. Only consecutive numbers count as a list, so a
    lone "1Password" keeps its digit."""
    numbers = [int(m.group(1)) if (m := _GLUED_NUMBER.match(line.text)) else None for line in lines]
    out = []
    for i, (line, number) in enumerate(zip(lines, numbers, strict=True)):
        listed = number is not None and (
            (i > 0 and numbers[i - 1] == number - 1) or (i + 1 < len(lines) and numbers[i + 1] == number + 1)
        )
        if listed:
            width = len(str(number))
            line = _Line(line.start + width, line.end, line.text[width:])
        out.append(line)
    return out


def _is_heading(line: _Line, following: _Line | None) -> bool:
    if _MARKDOWN_HEADING.match(line.text):
        return line.words <= _MAX_MARKDOWN_HEADING_WORDS
    if following is None or _BULLET.match(line.text) or _continues(line, following):
        return False
    return _heading_shaped(line) and following.words > line.words


def _heading_shaped(line: _Line) -> bool:
    """Short, capitalised, and not ending as a sentence does."""
    return (
        line.words <= _MAX_HEADING_WORDS
        and not line.text.endswith(_CLOSING_PUNCTUATION)
        and line.text[0].isupper()
    )


def _is_title_line(original: str, line: _Line, following: _Line | None) -> bool:
    """A document's first line standing alone (a blank line under it) and shaped like a
    heading: its title, however short the line after it ("Heron warehouse robot" over "By
    Julien Moreau.", as the HTML and Word readers put a page's title and byline)."""
    if following is None or original.count("\n", line.end, following.start) < 2:
        return False
    return _heading_shaped(line)


def _is_article_title(line: _Line, following: _Line | None) -> bool:
    if not _BULLET.match(line.text) or following is None:
        return False
    return repeat_key(_BULLET.sub("", line.text)) == repeat_key(following.text)


def _continues(previous: _Line, line: _Line) -> bool:
    """A hard-wrapped paragraph: the previous line stops mid-sentence, this one goes on."""
    return not previous.text.endswith(_CLOSING_PUNCTUATION) and line.text[0].islower()


def parse_sections(original: str, title: str = "", *, web: bool = True) -> list[Section]:
    """Turn a file's text into sections of de-duplicated, boilerplate-free sentences.

    Args:
        original: the document's text; sentence offsets point into it.
        title: the document title when the corpus gives one (JSONL corpora).
        web: the text may hold a web page's furniture (text, Markdown, HTML, JSONL corpora):
            short navigation and newsletter lines are dropped. False for PDF, Office and
            e-mail text, where such words are body text ("back to the depot").
    """
    title = _shorten(title, 300)  # a corpus may give any title; every chunk repeats it
    # Pages read by OCR (their text starts with the OCR mark line): their sections' titles
    # say so ("… (OCR, p. 3)"), so every citation of them does.
    ocr_pages = {page_at(original, m.start()) for m in OCR_MARK_LINE.finditer(original)}
    every_line = _lines(original)
    # Table headers are found before boilerplate goes: the dash row under them is dropped.
    table_headers = {
        line.start
        for line, below in zip(every_line, every_line[1:], strict=False)  # each line and the next
        if _TABLE_ROW.match(line.text) and _TABLE_SEPARATOR.match(below.text)
    }
    lines = [
        line
        for line in every_line
        if not OCR_MARK_LINE.fullmatch(line.text)
        and (_TABLE_ROW.match(line.text) or not is_boilerplate(line.text, web=web))
    ]
    doc_title = title
    parent = title  # the article a heading belongs to, else the document title
    sections: list[Section] = []
    sentences: list[Sentence] = []  # the section being filled
    seen: set[str] = set()

    heading_only: list[Sentence] = []  # a heading with no text yet: joins the next heading's section
    ocr_page: int | None = None  # the OCR'd page the section being filled is on

    def close() -> None:
        nonlocal heading_only
        if sentences and len(sentences) == len(heading_only):
            return  # only the heading so far; the caller decides where it goes
        if sentences:
            # Text before any heading is titled by its own opening words.
            fallback = title or doc_title or _shorten(sentences[0].text)
            if ocr_page is not None:
                fallback = f"{fallback} (OCR, p. {ocr_page})"
            sections.append(Section(fallback, tuple(sentences)))
        heading_only = []

    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else None
        if ocr_pages:
            page = page_at(original, line.start)
            on_ocr_page = page if page in ocr_pages else None
            if on_ocr_page != ocr_page:  # OCR text and printed text never share a section
                close()
                sentences, heading_only = [], []
                ocr_page = on_ocr_page
        if line.start in table_headers:
            # Each data row is one sentence, read with its header ("Plan: Archive; Support:
            # Phone") so the header's words match; its span is the row as written. The
            # header row itself is no sentence: alone it answers nothing.
            header = _cells(line.text)
            i += 1
            while i < len(lines) and _TABLE_ROW.match(lines[i].text):
                if _TABLE_SEPARATOR.match(lines[i].text):
                    i += 1
                    continue
                row = lines[i]
                # A row may have fewer cells than the header (zip stops at the shorter).
                pairs = zip(header, _cells(row.text), strict=False)
                text = "; ".join(f"{name}: {value}" if name else value for name, value in pairs if value)
                if text and repeat_key(text) not in seen:
                    seen.add(repeat_key(text))
                    sentences.append(Sentence(text, row.start, row.end))
                i += 1
            heading_only = []
            continue
        if _is_article_title(line, following):
            # The title lives on in every chunk's title; its echo line is an exact repeat.
            # A page header left without text ("Tag: OpenAI") belongs to no article.
            close()
            title = parent = _BULLET.sub("", line.text)
            sentences, heading_only = [], []
            i += 2
            continue
        if _is_heading(line, following) or (
            i == 0 and not doc_title and _is_title_line(original, line, following)
        ):
            heading = undouble(_MARKDOWN_HEADING.sub("", line.text))
            if not doc_title:
                doc_title = parent = heading
            close()
            title = heading if heading == parent else f"{parent} › {heading}"
            # A heading is also text of its section: datelines and names live in headings.
            marker = _MARKDOWN_HEADING_RAW.match(original, line.start)
            own = [
                s
                for s in split_sentences(original, marker.end() if marker else line.start, line.end)
                if repeat_key(s.text) not in seen
            ]
            seen.update(repeat_key(s.text) for s in own)
            sentences = heading_only + own  # a heading with no text of its own joins this one
            heading_only = list(sentences)
            i += 1
            continue
        # Join the lines of a hard-wrapped paragraph so sentences may cross line breaks.
        end = line.end
        while i + 1 < len(lines) and _continues(lines[i], lines[i + 1]):
            i += 1
            end = lines[i].end
        for sentence in split_sentences(original, line.start, end):
            key = repeat_key(sentence.text)
            if key in seen:
                continue
            seen.add(key)
            sentences.append(sentence)
        heading_only = []
        i += 1
    heading_only = []  # a trailing heading still counts as text
    close()
    return sections


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
