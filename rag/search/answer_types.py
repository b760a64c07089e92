"""What kind of answer a question asks for, and whether a sentence offers one.

A sentence that only restates the question ("OpenAI closes Sora app.") shares its words but
holds no answer. Checking that the sentence brings a new thing of the asked-for kind — a
number for "how many", a date for "when", a name for "who" — separates the two without any
reader model.
"""

from __future__ import annotations

import re
from enum import Enum

from rag.ingest.lexical import tokenize


class AnswerType(Enum):
    """What kind of thing answers a question (read off its wording by :func:`expected_type`)."""

    NUMBER = "number"
    MONEY = "money"  # an amount of money: a currency next to a number
    DATE = "date"
    NAME = "name"  # a person, organisation or place: a capitalised name
    AUTHOR = "author"  # who wrote a piece: its byline
    PUBLISHED = "published"  # when a piece came out: its dateline
    OPEN = "open"  # anything can answer it


# Asked of the piece itself; its byline or dateline is the answer.
METADATA_TYPES = frozenset({AnswerType.AUTHOR, AnswerType.PUBLISHED})


_NUMBER_Q = re.compile(
    r"^(how (many|much|big|large|long|old|far|tall|high|fast|often)|what (percentage|share|proportion|"
    r"amount|sum|number|price|value|score|valuation"
    r"|(was|is|were|are) the (size|amount|value|price|cost|number))"
    r"|at what (price|valuation))\b"
    # "What did Medium 3.5 score on SWE-Bench?": the verb asks for an amount.
    r"|^what (did|does|do|will|would|has|have) [^?]{1,80}\b(score|cost|earn|raise|weigh|measure|total)\b",
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

_MONEY_Q = re.compile(
    r"^(how much\b[^?]*\b(money|funding|capital|cash|investment|cost|costs|pay|paid|charge|charged"
    r"|spend|spent|raise|raised|invest|invested|worth|sell|sold|earn|earned|price|priced)\b"
    r"|(what|which) (is|was|are|were) (the )?[^?]*\b(price|cost|valuation|fee|salary)s?\b"
    r"|at what (price|valuation))",
    re.IGNORECASE,
)
# "Who is the CEO of Mistral?": a sentence naming someone answers only if it names the role.
_ROLE_Q = re.compile(
    r"^(who|whom) (is|was|are|were|has been|will be) (the |its |their |a )?(current |new |former )?"
    r"(?P<role>ceo|cfo|cto|coo|chief \w+ officer|(co-?)?founders?|vice[- ]president|president"
    r"|chair(man|woman|person)?|director|head|spokes(person|man|woman)|prime minister|minister|chancellor"
    r"|governor|mayor|leader|owner"
    r"|editor|commissioner|secretary|ambassador|manager|coach|captain)\b",
    re.IGNORECASE,
)

# Questions about a piece itself, not its content: answered by its byline or dateline,
# which share no words with the question ("By Aysel Mammadzada").
# Only when the question is about the piece itself (its author, its date) and not about an
# event it reports ("When did OpenAI publish its framework?" asks when the framework came out).
# A letter, memo or notice is a piece too: its signature and its date line answer "Who signed
# the letter?" and "What date is the letter?" as a byline and a dateline do.
_DOCUMENT = (
    r"(article|piece|post|story|page|blog|item|news|newsletter|brief|column|op-ed|letter|memo|notice)s?"
)
_AUTHOR_Q = re.compile(
    r"^(who (wrote|authored|penned|signed) (it|this|that)\b"
    rf"|who (wrote|authored|penned|signed)\b[^?]*\b{_DOCUMENT}\b"
    r"|who (is|was) the (author|writer)|by whom|(what is|what's) the (name of the )?(author|writer))\b",
    re.IGNORECASE,
)
_PUBLISHED_Q = re.compile(
    r"^(when (was|were) (it|this|that) (first )?(published|posted|released)\b"
    rf"|when (was|were)\b[^?]*\b{_DOCUMENT}\b[^?]*\b(published|posted|released|written|dated|sent)\b"
    rf"|when (did|does)\b[^?]*\b(publish|post|release|write)\b[^?]*\b{_DOCUMENT}\b"
    rf"|what date (is|was|does|did)\b[^?]*\b{_DOCUMENT}\b"
    rf"|(what|which) (is|was) the date (of|on)\b[^?]*\b{_DOCUMENT}\b"
    r"|(what|which) (is|was) the (publication|release) date)",
    re.IGNORECASE,
)

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"\b((1[89]|20)\d\d|{_MONTHS}|{_WEEKDAYS}|yesterday|today|tomorrow|ago|last (week|month|year)|"
    r"next (week|month|year)|this (week|month|year)|(early|late|mid)[- ]\d{4})\b",
    re.IGNORECASE,
)
_SHORT_MONTHS = "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
# A calendar date, not just a date word: "11 July 2025", "July 11, 2025", "2025-07-11".
_EXPLICIT_DATE = re.compile(
    rf"\b(\d{{1,2}}\s+({_MONTHS}|{_SHORT_MONTHS})\.?,?\s+\d{{4}}"
    rf"|({_MONTHS}|{_SHORT_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
_CURRENCY = r"(\$|€|£|¥|us\$|usd|eur|gbp|dollars?|euros?|pounds?|yen|yuan)"
_MONEY = re.compile(
    rf"{_CURRENCY}\s?\d|\d[\d.,]*\s?(k|m|bn|b|million|billion|trillion)?\s?{_CURRENCY}(?!\w)", re.IGNORECASE
)
_RELATIVE_DATE = re.compile(
    r"^(yesterday|today|tomorrow|ago|(last|next|this) (week|month|year))$", re.IGNORECASE
)
_NAME_WORDS = r"[A-Z][\w’'-]+(?:\s+[A-Z][\w’'.-]+){1,3}"
# "By Aysel Mammadzada", "Written by …", "Author: …", or a name between separators
# ("Business & Startups·Tom Levy·"), as news pages print them.
_BYLINE = re.compile(
    rf"^\W*(?i:(written |reported )?by|author:?|door|par|von|por)\s+{_NAME_WORDS}\W*$"
    rf"|[·|•]\s*{_NAME_WORDS}\s*[·|•]\W*$"
)
# A letter's complimentary close ("Yours sincerely,", "Kind regards"), with the signer's name
# after it in the same sentence or as the next one.
_CLOSING = (
    r"(yours (sincerely|faithfully|truly)|(very )?(sincerely|truly) yours|sincerely|faithfully"
    r"|((with )?(kind|best|warm|many)(est)? )?regards|best wishes|with thanks)"
)
_SIGNED = re.compile(rf"^\W*(?i:{_CLOSING}),?\s+{_NAME_WORDS}\W*$")
_CLOSING_LINE = re.compile(rf"^\W*(?i:{_CLOSING})\W*$")
_NAME_LINE = re.compile(rf"^\W*{_NAME_WORDS}\W*$")
_BYLINE_MAX_CHARS = 80
_DATELINE_MAX_CHARS = 200
_BARE_DATELINE_WORDS = 4

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|trillion|dozen|half|double|twice|triple"
    # Fractions written out answer "how much" too ("fell by a third"), not "third-party".
    r"|(a|one|two|three|four|nine) (thirds?|quarters?|fifths?|tenths?)(?!-))\b",
    re.IGNORECASE,
)
# "Where …?" is answered by a place that is not always a name: "leads to the archive".
_WHERE_Q = re.compile(r"^((in|at|from|to) )?where\b", re.IGNORECASE)
_PLACE = re.compile(
    r"\b(in|at|on|to|into|from|near|behind|beside|inside|outside|under|above|below|across|along"
    r"|between|next to|opposite)\s+(the|a|an|its|their|our|his|her)\s+([\w’'-]+\s+){0,2}[\w’'-]+",
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


def is_byline(sentence: str, previous: str = "") -> bool:
    """True for a short author line: "By Aysel Mammadzada", "Author: …", "·Tom Levy·", or a
    letter's signature: "Yours sincerely, Sigrid Haugland", or the name alone when
    ``previous`` (the sentence before it) is the complimentary close."""
    text = sentence.strip()
    if len(text) > _BYLINE_MAX_CHARS:
        return False
    if _BYLINE.search(text) is not None or _SIGNED.search(text) is not None:
        return True
    return _CLOSING_LINE.match(previous.strip()) is not None and _NAME_LINE.match(text) is not None


def is_dateline(sentence: str) -> bool:
    """A short line that carries a calendar date: a page's "Published 11 July 2025"."""
    text = sentence.strip()
    return len(text) <= _DATELINE_MAX_CHARS and _EXPLICIT_DATE.search(text) is not None


def is_bare_dateline(sentence: str) -> bool:
    """A dateline that is little but the date: "Geilo, 18 November 2025", "Published 11 July
    2025" (at most 4 other words), not a sentence that mentions one ("Orders confirmed
    before 15 December 2025 will still be invoiced at the old price.")."""
    if not is_dateline(sentence):
        return False
    return len(_WORD.findall(_EXPLICIT_DATE.sub(" ", sentence))) <= _BARE_DATELINE_WORDS


def expected_type(question: str) -> AnswerType:
    """The kind of answer ``question`` asks for, from its first words (OPEN when none is clear)."""
    q = question.strip()
    if _AUTHOR_Q.search(q):
        return AnswerType.AUTHOR
    if _PUBLISHED_Q.search(q):
        return AnswerType.PUBLISHED
    if _DATE_Q.search(q):
        return AnswerType.DATE
    if _MONEY_Q.search(q):
        return AnswerType.MONEY
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


def offers(answer_type: AnswerType, sentence: str, question: str, previous: str = "") -> float:
    """1.0 when ``sentence`` holds something new of the asked-for kind, else 0.0 (0.5: open).
    ``previous``: the sentence before it (a letter's close makes the next line its signer)."""
    if answer_type is AnswerType.OPEN:
        return 0.5
    if answer_type is AnswerType.MONEY:
        # A count of users is no price: without a currency, a number is weak evidence.
        return 1.0 if _MONEY.search(sentence) else 0.5 * offers(AnswerType.NUMBER, sentence, question)
    if answer_type is AnswerType.NAME and (role := _ROLE_Q.search(question.strip())):
        if not set(tokenize(role.group("role"))) <= set(tokenize(sentence)):
            return 0.0
    # A piece's author or date is its byline or dateline; a name or date in the text is
    # weaker evidence ("Who wrote the memo?" may be about the story, not the page).
    if answer_type is AnswerType.AUTHOR:
        return 1.0 if is_byline(sentence, previous) else 0.5 * offers(AnswerType.NAME, sentence, question)
    if answer_type is AnswerType.PUBLISHED:
        return 1.0 if is_dateline(sentence) else 0.5 * offers(AnswerType.DATE, sentence, question)
    question_words = {w.lower() for w in _WORD.findall(question)}
    pattern = {AnswerType.NUMBER: _NUMBER, AnswerType.DATE: _DATE, AnswerType.NAME: _NAME}[answer_type]
    if answer_type is AnswerType.NAME and _is_title_case(sentence):
        return 0.5  # in a headline every word is capitalised: capitals say nothing of names
    if answer_type is AnswerType.DATE and _new_matches(_NUMBER, sentence, question_words):
        # Years and day numbers are digits; a bare number is weaker evidence of a date.
        return 1.0 if _new_matches(_DATE, sentence, question_words) else 0.5
    if answer_type is AnswerType.NAME and _WHERE_Q.search(question.strip()):
        if _new_matches(_NAME, sentence, question_words) or _new_matches(_PLACE, sentence, question_words):
            return 1.0
        return 0.0
    if answer_type is AnswerType.DATE:
        # "today" or "last week" says when only relative to a date the sentence lacks.
        dates = [m.group() for m in _DATE.finditer(sentence) if m.group().lower() not in question_words]
        return 0.5 if dates and all(_RELATIVE_DATE.match(d) for d in dates) else float(bool(dates))
    return 1.0 if _new_matches(pattern, sentence, question_words) else 0.0
