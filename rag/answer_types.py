"""What kind of answer a question asks for, and whether a sentence offers one.

A sentence that only restates the question ("OpenAI closes Sora app.") shares its words but
holds no answer. Checking that the sentence brings a new thing of the asked-for kind — a
number for "how many", a date for "when", a name for "who" — separates the two without any
reader model.
"""

from __future__ import annotations

import re
from enum import Enum


class AnswerType(Enum):
    NUMBER = "number"
    DATE = "date"
    NAME = "name"  # a person, organisation or place: a capitalised name
    OPEN = "open"  # anything can answer it


_NUMBER_Q = re.compile(
    r"^(how (many|much|big|large|long|old|far|tall|high|fast|often)|what (percentage|share|proportion|"
    r"amount|sum|number|price|value|score|valuation|(was|is|were|are) the (size|amount|value|price|cost|number))"
    r"|at what (price|valuation))\b",
    re.IGNORECASE,
)
_DATE_Q = re.compile(
    r"^(when|what (year|month|day|date)|which (year|month|day|date)|(in|since|by) (what|which) (year|month)"
    r"|since when)\b",
    re.IGNORECASE,
)
_NAME_Q = re.compile(
    r"^((in|at|from|for|to|by|with|on) )?(who|whom|whose|where|which|what (is|was|are|were) the names?\b"
    r"|what (company|country|city|firm|bank|organi[sz]ation|agency|model|programme|program|product"
    r"|benchmark|platform|newspaper|outlet))\b",
    re.IGNORECASE,
)

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"\b((1[89]|20)\d\d|{_MONTHS}|{_WEEKDAYS}|yesterday|today|tomorrow|ago|last (week|month|year)|"
    r"next (week|month|year)|this (week|month|year)|(early|late|mid)[- ]\d{4})\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|trillion|dozen|half|double|twice)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'&.-]*[A-Za-z0-9](?:\s+[A-Z][\w’'&.-]*)*")
_WORD = re.compile(r"[\w’'-]+")
# Capitalised words that name no one: short acronyms of the domain and sentence furniture.
_GENERIC_CAPITALS = frozenset(
    "ai eu us uk un it i ceo cfo cto api gpu gpus llm llms ml the a an in on at this that these those "
    "however but and or if when while according".split()
)


def _is_title_case(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if w[0].isalpha() and len(w) > 3]
    return len(words) >= 2 and sum(w[0].isupper() for w in words) / len(words) > 0.7


def expected_type(question: str) -> AnswerType:
    q = question.strip()
    if _DATE_Q.search(q):
        return AnswerType.DATE
    if _NUMBER_Q.search(q):
        return AnswerType.NUMBER
    if _NAME_Q.search(q):
        return AnswerType.NAME
    return AnswerType.OPEN


def _new_matches(pattern: re.Pattern[str], sentence: str, question_words: set[str]) -> bool:
    for match in pattern.finditer(sentence):
        words = {w.lower() for w in _WORD.findall(match.group())}
        if words - question_words - _GENERIC_CAPITALS:
            return True
    return False


def offers(answer_type: AnswerType, sentence: str, question: str) -> float:
    """1.0 when ``sentence`` holds something new of the asked-for kind, else 0.0 (0.5: open)."""
    if answer_type is AnswerType.OPEN:
        return 0.5
    question_words = {w.lower() for w in _WORD.findall(question)}
    pattern = {AnswerType.NUMBER: _NUMBER, AnswerType.DATE: _DATE, AnswerType.NAME: _NAME}[answer_type]
    if answer_type is AnswerType.NAME and _is_title_case(sentence):
        return 0.5  # in a headline every word is capitalised: capitals say nothing of names
    if answer_type is AnswerType.DATE and _new_matches(_NUMBER, sentence, question_words):
        # Years and day numbers are digits; a bare number is weaker evidence of a date.
        return 1.0 if _new_matches(_DATE, sentence, question_words) else 0.5
    return 1.0 if _new_matches(pattern, sentence, question_words) else 0.0
