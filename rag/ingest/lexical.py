"""Lexical side of retrieval: one tokenizer (lower-case, stop words, Snowball stems) shared
by the BM25 index and the answer scorer, so both agree on what counts as the same word."""

from __future__ import annotations

import math
import re
from collections.abc import Container, Iterable, Mapping
from functools import lru_cache
from typing import Any

from rag.ingest.text import join_line_hyphens

_TOKEN = re.compile(r"[^\W_]+(?:[.,'’-][^\W_]+)*", re.UNICODE)

# English function words plus question words: they say nothing about which passage answers.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves according also did does many much said say says whose""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer: C Snowball stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


# Job titles written out in one text and abbreviated in another ("chief executive" / "CEO").
_ROLES = re.compile(
    r"\bchief (executive|financial|technology|operating|marketing|product|information) (officer)?",
    re.IGNORECASE,
)
_ROLE_ACRONYM = {
    "executive": "ceo",
    "financial": "cfo",
    "technology": "cto",
    "operating": "coo",
    "marketing": "cmo",
    "product": "cpo",
    "information": "cio",
}


# Words glued together when a page was flattened to text: a list number and its first word
# ("2Anthropic still refuses…"), or a link's text and the word before it ("theMax Planck
# Society", "likeScience Po"). Split for matching only; the text itself is never changed.
_GLUED = re.compile(
    r"(?<![\w.,])(\d{1,2}|the|a|an|of|in|on|at|to|for|and|or|like|our|with|by|from|as|its|their)(?=[A-Z][a-z])"
)
# Bumped whenever tokenize() changes: an index records it, and a build with another version
# re-indexes the words (BM25) while keeping every vector. 3: numbers without thousands
# separators, currency names as codes. 4: Chinese/Japanese/Korean runs as character bigrams.
TOKENIZER_VERSION = 4

# Scripts written without spaces between words. A run of them is indexed as overlapping
# character bigrams ("图书馆" → "图书", "书馆"), as Lucene's CJKAnalyzer does: no dictionary
# to ship, and a question and a passage that share a two-character word always share a term.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")

# "4,523,000" and "4523000" are one number; a question types it either way.
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# A currency written out in one text and as its code in another ("euros" / "EUR").
_CURRENCY_CODES = {"euro": "eur", "euros": "eur", "dollar": "usd", "dollars": "usd", "yen": "jpy"}


def tokenize(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order, repeats kept."""
    text = _GLUED.sub(r"\1 ", join_line_hyphens(text))
    text = _ROLES.sub(lambda m: _ROLE_ACRONYM[m.group(1).lower()] + " ", text)
    words = (w.lower().replace("’", "'") for w in _TOKEN.findall(text))
    tokens: list[str] = []
    for word in words:
        if word in STOPWORDS:
            continue
        if _CJK_RUN.search(word):
            tokens.extend(_cjk_terms(word))
        else:
            tokens.append(_stem(_word(word)))
    return tokens


def _cjk_terms(word: str) -> list[str]:
    """Bigrams of each CJK run of ``word`` (a lone character stands alone); other parts stemmed."""
    terms: list[str] = []
    cursor = 0
    for run in _CJK_RUN.finditer(word):
        if run.start() > cursor:
            terms.append(_stem(_word(word[cursor : run.start()])))
        chars = run.group()
        terms.extend([chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)])
        cursor = run.end()
    if cursor < len(word):
        terms.append(_stem(_word(word[cursor:])))
    return terms


def _word(word: str) -> str:
    if word[0].isdigit() and _THOUSANDS.fullmatch(word):
        return word.replace(",", "")
    return _CURRENCY_CODES.get(word, word)


def import_bm25s() -> Any:
    """Import bm25s, undoing its import-time ``setLevel(DEBUG)`` on its logger."""
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def idf_weights(terms: Iterable[str], doc_freq: Mapping[str, int], chunks: int) -> dict[str, float]:
    """BM25's inverse document frequency of each distinct term, over ``chunks`` chunks of
    which ``doc_freq[term]`` hold the term: ``log(1 + N / (df + 0.5))``.

    A term no chunk holds gets the highest weight: the corpus cannot speak to it, so a
    question that hinges on it is not covered by any passage.
    """
    n = max(chunks, 1)
    return {term: math.log(1.0 + n / (doc_freq.get(term, 0) + 0.5)) for term in dict.fromkeys(terms)}


def coverage(weights: Mapping[str, float], terms: Container[str]) -> float:
    """The IDF-weighted share of the weighted terms found in ``terms`` (0..1; 0 with no weights)."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0
