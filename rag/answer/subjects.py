"""The subjects a question names, and which documents name them.

"How many people does Harborne Foods employ?" shares every word but the name with a ferry
operator's "At the end of 2025 Lindqvist Ferries employed 1,260 people", and a reader trained
on SQuAD (where the paragraph is always about the question's subject) reads that as the
answer. Two rules keep an answer on the question's subject:

* a subject no document names at all (under any spelling the index knows) is not answered:
  :func:`unknown_subject`;
* when some of the retrieved passages come from documents that name the subject, the answer
  comes from those: :func:`naming_hits`.

A subject is a run of capitalised words after the question's first word; what must be found
is its rarest word (by IDF), since the others are often common ("Vesterhavn Shipping": any
shipping report says "shipping"). Measured on the dev halves (answerable refused /
unanswerable caught by the first rule): SQuAD v2.0 0.5 % / 3.3 %, COVID-QA 1.3 % / –, the
seeds 0 % / 31 % (docs/answering.md).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from rag.ingest.lexical import tokenize

if TYPE_CHECKING:
    from rag.search.hits import Hit
    from rag.store.index import Index

# A run of capitalised words after the first word ("Harborne Foods'", "Super Bowl").
_SUBJECT = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'’&-]*(?:\s+[A-Z][\w'’&-]*)*")
_POSSESSIVE = re.compile(r"['’]s?$")


def named_subjects(question: str) -> list[tuple[str, list[str]]]:
    """The question's named subjects as (written, stemmed words): ("Harborne Foods", ["harborn", "food"])."""
    found = []
    for match in _SUBJECT.findall(question):
        words = tokenize(match)
        if words:
            found.append((_POSSESSIVE.sub("", match), words))
    return found


def subject_terms(index: Index, question: str) -> list[tuple[str, list[str]]]:
    """Each named subject of ``question`` as (written, the spellings :meth:`Index.spellings`
    knows of its rarest word); an empty list of spellings: no chunk names it. Computed once
    per question, for :func:`unknown_subject` and :func:`naming_hits`."""
    found = []
    for written, words in named_subjects(question):
        idf = index.idf(words)
        rarest = max(words, key=lambda w: idf.get(w, math.inf))
        found.append((written, index.spellings(rarest)))
    return found


def unknown_subject(subjects: list[tuple[str, list[str]]]) -> str | None:
    """The first subject (from :func:`subject_terms`) no chunk of the index names, as written
    in the question; None when every subject is named somewhere (or there is none)."""
    return next((written for written, spellings in subjects if not spellings), None)


def naming_hits(index: Index, subjects: list[tuple[str, list[str]]], hits: list[Hit]) -> list[Hit]:
    """The hits whose document names every subject (from :func:`subject_terms`) the most hits name.

    Returns ``hits`` unchanged when there is no subject or no hit's document names one. A
    document names a subject when any of its chunks (titles included) or its file name holds
    the subject's rarest word under a spelling the index knows.
    """
    import numpy as np

    named_terms = [spellings for _, spellings in subjects if spellings]
    if not named_terms or not hits:
        return hits
    named_by: dict[str, int] = {}
    for hit in hits:
        source = index.chunks[hit.positions[0]].source
        if source in named_by:
            continue
        own = np.asarray(index.positions_of(source), dtype=np.int64)
        file_words = set(tokenize(re.sub(r"[_\W]+", " ", source)))
        named_by[source] = sum(
            any(t in file_words or index.chunks_with(t, own).any() for t in terms) for terms in named_terms
        )
    most = max(named_by.values())
    if most == 0:
        return hits
    return [h for h in hits if named_by[index.chunks[h.positions[0]].source] == most]
