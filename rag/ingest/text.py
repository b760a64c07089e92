"""Low-level text utilities that keep offsets: normalisation and sentence splitting."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from rag.records import Sentence

_WHITESPACE = re.compile(r"\s+")
# A sentence ends at . ! ? or … (optionally followed by closing quotes/brackets), then
# whitespace, then something that can start a sentence.
_BOUNDARY = re.compile(
    r"[.!?…][\"'”’)\]]*\s+(?=[\"“‘'(\[•*\-–]?\s*[A-Z0-9À-ÖØ-Þ])"
    # Chinese and Japanese end sentences at 。！？ (full-width), with no space after them.
    r"|[。！？]+[」』）】”’\"']*\s*"
)
# Words after which a period does not end the sentence ("Mr. Smith", "U.S. firms").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st vs etc inc ltd co corp jr sr no fig approx e.g i.e cf al gen gov sen rep".split()
)
# "U.S." or a lone initial "J." — not "OpenAI." (a word that merely ends in a capital).
_INITIALISM = re.compile(r"^[(\"“‘']?(?:[A-Za-z]\.){2,}$|^[A-Z]\.$")
_LIST_MARKER = re.compile(r"[•*\-–·]\s+")


# A word broken across a line with a hyphen, as PDFs print it ("consump-\ntion"). Only
# before a lower-case letter, so "Jean-\nPierre" and list dashes stay as they are.
_LINE_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u00ad]\s*\n\s*(?=[a-zà-öø-ÿ])")


def join_line_hyphens(text: str) -> str:
    """``"consump-\\ntion"`` → ``"consumption"``: words a PDF broke across lines, made whole."""
    return _LINE_HYPHEN.sub("", text) if "\n" in text else text


def join_printed_lines(lines: list[str]) -> str:
    """Printed lines as one paragraph: spaces between them, except after a line-end hyphen
    before a lower-case letter, which keeps its line break so matching joins the word
    (:func:`join_line_hyphens`) while the text keeps it as printed. For PDF and OCR text."""
    text = lines[0] if lines else ""
    for line in lines[1:]:
        broken = text[-1:] in "-\u00ad" and text[-2:-1].isalpha() and line[:1].islower()
        text += ("\n" if broken else " ") + line
    return text


def readable(text: str) -> str:
    """A span as an answer shows it: broken words joined, whitespace collapsed (no NFKC)."""
    return _WHITESPACE.sub(" ", join_line_hyphens(text)).strip()


def normalise(text: str) -> str:
    """The form used for matching: Unicode NFKC, words hyphenated across a line break joined
    ("consump-\\ntion" → "consumption"), whitespace collapsed to single spaces.

    Only matching uses it; citations keep the original span, offsets unchanged.
    """
    text = join_line_hyphens(unicodedata.normalize("NFKC", text))
    return _WHITESPACE.sub(" ", text).strip()


def _ends_with_abbreviation(text: str) -> bool:
    last_word = text.rsplit(None, 1)[-1] if text.strip() else ""
    if _INITIALISM.search(last_word):
        return True
    return last_word.rstrip(".").lower() in _ABBREVIATIONS


def _trim(original: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) to exclude surrounding whitespace and a leading list marker."""
    while start < end and original[start].isspace():
        start += 1
    while end > start and original[end - 1].isspace():
        end -= 1
    marker = _LIST_MARKER.match(original, start, end)
    if marker:
        start = marker.end()
    return start, end


def _undouble(original: str, start: int, end: int) -> int:
    """Return the end of the first half when a span is one phrase written twice.

    Pages that carry a title in two layouts ("Title Title") otherwise produce a sentence
    twice as long that matches nothing well.
    """
    span = original[start:end]
    half = len(span) // 2
    for middle in (half, half + 1, half - 1):
        left, right = span[:middle].strip(), span[middle:].strip()
        if left and left == right:
            return start + len(span[:middle].rstrip())
    return end


def undouble(text: str) -> str:
    """``"Impact Impact"`` → ``"Impact"``: the first half of a phrase written twice."""
    return text[: _undouble(text, 0, len(text))]


def split_sentences(original: str, start: int = 0, end: int | None = None) -> Iterator[Sentence]:
    """Yield the sentences of ``original[start:end]`` with offsets into ``original``."""
    end = len(original) if end is None else end
    block = original[start:end]
    cursor = 0
    for match in _BOUNDARY.finditer(block):
        if _ends_with_abbreviation(block[cursor : match.start() + 1]):
            continue
        piece_end = match.end()
        yield from _make_sentence(original, start + cursor, start + piece_end)
        cursor = piece_end
    yield from _make_sentence(original, start + cursor, end)


def _make_sentence(original: str, start: int, end: int) -> Iterator[Sentence]:
    start, end = _trim(original, start, end)
    end = _undouble(original, start, end)
    text = normalise(original[start:end])
    if any(ch.isalnum() for ch in text):
        yield Sentence(text, start, end)
