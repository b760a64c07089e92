"""Typo-tolerant questions: a misspelt word is read as the corpus word it was meant to be.

A question word that the corpus never uses contributes nothing to BM25 or to the answerer's
word coverage, and counts as a word the passage "lacks" (the answerability model's
``missing_idf``), so one typo ("modles", "Kotak") could make an answerable question look
unanswerable. A word is corrected only when it is a likely typo, never when it is a real
word the documents happen not to use ("salary" in a corpus without salaries must stay
missing: that absence is what abstention reads):

* it is absent from the corpus (its stem is not in the index's vocabulary),
* it is not an English word (SymSpell's 82,765-word frequency dictionary, ``symspellpy``),
* it is all letters and at least ``MIN_LENGTH`` long (short words have too many neighbours).

Its correction is a corpus stem within ``max_distance`` edits (optimal string alignment:
insertions, deletions, substitutions and adjacent transpositions, as SymSpell counts them),
found two ways: the stem of an English word within those edits of the typo ("edcuation" →
"education" → "educ"; the typo's own stem "edcuat" is 3 edits from "educ"), or a corpus
stem within them of the typo's stem (names and terms no dictionary holds: "kotak" →
"kotka"). The nearest wins, then the most frequent in the corpus (SymSpell's rule), then the
first alphabetically. On SQuAD's dev-half questions with one seeded typo each, 4,658 of
5,113 typos of corpus words were corrected to the right stem, 310 to another and 145 left
(the corpus's stems alone: 4,134 / 492 / 487).

The corpus stem replaces the typo's in the question's terms (BM25, the reranker's and the
answerer's word coverage); the English word (else the stem), in the typo's case, replaces
it in the text that is embedded (a typo's word pieces embed far from the word: "modles" is
"mod ##les") and that the answerer reads the asked-for kind and the names from. The
question is shown as it was asked. The scans are rapidfuzz's (C++), run only for words that
pass the three checks and remembered per word, so a question without typos costs a few set
lookups (0.01-0.04 ms) and one with a typo about 3.6 ms (p50, COVID-QA; the first typo of a
process reads the dictionary, about 0.1 s). The libraries: rapidfuzz for the distance scans
and symspellpy for its word list; SymSpell's own index was not used because it precomputes
every deletion of every word (about 30 per word: hundreds of MB and seconds of load for a
large vocabulary).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rag.ingest.lexical import _CJK_RUN, STOPWORDS, _stem

MIN_LENGTH = 4
_LETTERS = re.compile(r"[^\W\d_]+")
_DICTIONARY = "frequency_dictionary_en_82_765.txt"
_REMEMBERED = 10_000


def max_distance(word: str) -> int:
    """Edits allowed for a word of this length: 1 up to 7 letters, 2 from 8 (SymSpell's
    default maximum; one edit in a short word already reaches many other words)."""
    return 1 if len(word) < 8 else 2


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The lower-case words of symspellpy's English frequency dictionary (read once, ~60 ms)."""
    from importlib.resources import files

    text = (files("symspellpy") / _DICTIONARY).read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


@dataclass(frozen=True)
class Correction:
    """What a typo was read as: the corpus stem (for matching) and a word to embed and show."""

    stem: str  # a stem of the index's vocabulary ("commiss")
    word: str  # the English word it came from ("commission"), else the stem itself ("kotka")


class Speller:
    """Corrects likely typos among a question's words to the nearest stem of one corpus.

    ``doc_freq`` is the index's stemmed vocabulary (stem -> chunks holding it). Usage::

        speller = Speller(index.doc_freq)
        question = "How were the modles trained?"
        speller.correct(question, tokenize(question))
        # ("How were the models trained?", ["model", "train"]) where the corpus says "models"
    """

    def __init__(self, doc_freq: Mapping[str, int]):
        self._doc_freq = doc_freq
        self._stems: _Lengths | None = None  # the corpus's stems grouped for scans, on the first typo
        self._corrections: dict[str, Correction | None] = {}  # typo -> its correction (or None)

    def correction(self, word: str) -> Correction | None:
        """What ``word`` (lower-case, one word) was probably meant to be, or None: it is no typo
        (or nothing in the corpus is near it)."""
        if len(word) < MIN_LENGTH or not _LETTERS.fullmatch(word) or _stem(word) in self._doc_freq:
            return None
        if _CJK_RUN.search(word):
            return None  # indexed as character bigrams, never as one word
        if word in english_words():
            return None
        if word not in self._corrections:
            if len(self._corrections) >= _REMEMBERED:
                self._corrections.clear()  # a long-running server sees endless new typos
            self._corrections[word] = self._nearest(word)
        return self._corrections[word]

    def correct(self, question: str, terms: list[str]) -> tuple[str, list[str]]:
        """``question`` with each likely typo replaced by the word it was meant to be (its case
        kept: "Comission" → "Commission"), and ``terms`` (``tokenize(question)``) with the
        typo's stem replaced by the corpus stem; both unchanged (the same objects) when
        nothing needs correcting."""
        stems: dict[str, str] = {}
        text = question
        for match in reversed(list(_LETTERS.finditer(question))):
            typed = match.group()
            if typed.lower() in STOPWORDS or (found := self.correction(typed.lower())) is None:
                continue
            stems[_stem(typed.lower())] = found.stem
            text = text[: match.start()] + _same_case(found.word, typed) + text[match.end() :]
        if not stems:
            return question, terms
        return text, [stems.get(term, term) for term in terms]

    def _nearest(self, word: str) -> Correction | None:
        """The corpus stem nearest to the typo ``word``: the stems of the English words near it
        ("edcuation" → "education" → "educ"; its own stem "edcuat" is 3 edits from "educ"),
        and the corpus stems near its stem (names and terms no dictionary has: "kotak" →
        "kotka"). Nearest first, then the most frequent in the corpus, then alphabetical."""
        if self._stems is None:
            self._stems = _Lengths(self._doc_freq)
        distance = max_distance(word)
        found: dict[str, tuple[int, str]] = {}  # stem -> (edits, the word to show for it)
        # English words nearest first (then alphabetical): each stem keeps its nearest word.
        for english, edits in sorted(_english_lengths().near(word, distance), key=lambda m: (m[1], m[0])):
            if (known := _stem(english)) in self._doc_freq:
                found.setdefault(known, (edits, english))
        for known, edits in self._stems.near(_stem(word), distance):
            shown = found.get(known, (edits, known))
            found[known] = (min(edits, shown[0]), shown[1])
        if not found:
            return None
        best = min(found, key=lambda known: (found[known][0], -self._doc_freq[known], known))
        return Correction(best, found[best][1])


@lru_cache(maxsize=1)
def _english_lengths() -> _Lengths:
    """The English dictionary grouped for scans, shared by every index's speller."""
    return _Lengths(english_words())


class _Lengths:
    """Words grouped by length, sorted: a scan for words within ``distance`` edits reads only
    the lengths that can be that near (the lists for each are joined once, then kept)."""

    def __init__(self, words: Iterable[str]):
        self._by_length: dict[int, list[str]] = {}
        for word in sorted(words):
            self._by_length.setdefault(len(word), []).append(word)
        self._joined: dict[tuple[int, int], list[str]] = {}

    def near(self, word: str, distance: int) -> list[tuple[str, int]]:
        """The words within ``distance`` edits of ``word`` (OSA), with their edits."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        key = (len(word), distance)
        if key not in self._joined:
            sizes = range(len(word) - distance, len(word) + distance + 1)
            self._joined[key] = [other for size in sizes for other in self._by_length.get(size, ())]
        matches = process.extract(
            word, self._joined[key], scorer=OSA.distance, score_cutoff=distance, limit=None
        )
        return [(match, int(edits)) for match, edits, _ in matches]


def _same_case(word: str, typed: str) -> str:
    """``word`` written in the case of ``typed`` (all capitals, a capital first, or as it is)."""
    if typed.isupper() and len(typed) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if typed[:1].isupper() else word
