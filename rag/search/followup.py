"""Resolve a follow-up question against the conversation, without a language model.

"And how much did it cost?" means nothing to a retriever on its own; asked after "What
deal did SoftBank strike with OpenAI?" it means "How much did the deal cost?", about SoftBank
and OpenAI. The rules below cover the usual shapes of a follow-up, in this order:

1. **Ellipsis** — "What about Anthropic?", "And the EU?": the previous question with its
   topic swapped for the new one ("Who is the Anthropic spokesperson?").
2. **A bare question word** — "Why?", "When?": the new word in front of the previous
   question's remainder ("How much is SoftBank borrowing?" → "Why is SoftBank borrowing?").
3. **Pronouns** — it, its, they, them, their, he, she, him, his, her, and "this"/"that"
   standing alone: replaced by what they most likely point at (the thing the previous
   question was about; for he/she, the person a "who" answer named) — unless the question
   names that antecedent itself ("Why does Anthropic refuse to share its model?" stands
   alone), so a standalone question is never bent towards the previous turn.

A follow-up that still lacks the names the conversation is about (it began with "And", or
a pronoun was replaced by a common noun) gets them appended as ``(about: SoftBank, OpenAI)``:
retrieval and the answer scorer then see them, and the person sees what was searched for.
A question with none of these marks is left exactly as typed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the question as typed, as it was answered, and the answer."""

    question: str
    resolved: str = ""  # the question actually answered (after rewriting); defaults to question
    answer: str = ""

    @property
    def asked(self) -> str:
        """What was searched for this turn: the rewrite when there was one, else the question."""
        return self.resolved or self.question


@dataclass(frozen=True)
class Rewrite:
    """A question and what to search for instead (the same text when it stands alone)."""

    question: str
    resolved: str

    @property
    def rewritten(self) -> bool:
        """True when the question was rewritten with the previous turn's subject."""
        return self.resolved != self.question


_WORD = re.compile(r"[A-Za-z0-9][\w’'&.-]*[A-Za-z0-9]|[A-Za-z0-9]")
_CONTINUATION = re.compile(r"^\s*(and|also|so|but|then|plus|ok(ay)?|now)\b[,\s]*", re.I)
_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and\s+)?(?:what|how)\s+about|and|also|as\s+for)\s+(?P<rest>.+?)\s*\??\s*$", re.I
)
_WH = r"(?:why|when|where|who|whom|what|which|how(?:\s+(?:much|many|come|long|often|so))?)"
_BARE_WH = re.compile(
    rf"^\s*(?:(?:and|but|so)\s+)?(?P<wh>(?:since\s+|by\s+|until\s+)?{_WH})"
    # "And when was that?", "Why is that?", "When did it happen?": the same ask as a bare word.
    r"(?:\s+(?:is|was|did|does|will)\s+(?:that|this|it)(?:\s+happen)?)?\s*\??\s*$",
    re.I,
)
# A yes/no question: "Did OpenAI sign the Code?" → "When did OpenAI sign the Code?"
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|does|do|did|has|have|had|will|would|can|could)\b", re.I)
_LEADING_WH = re.compile(
    rf"^\s*{_WH}\s+(?P<rest>(?:is|are|was|were|does|do|did|has|have|had|will|would|can|could)\b.*)$", re.I
)
# "What does …", "How much did …": the question's main verb comes last, after its subject.
_DO_SUPPORT = re.compile(rf"^\s*{_WH}\s+(?:do|does|did)\b", re.I)
_AUX = frozenset(
    "is are was were be been being do does did has have had will would can could should may might must "
    "cost costs mean means happen happened say said".split()
)
_STOP = _AUX | frozenset(
    "a an the this that these those to of in on at for with by from as than and or but if when while "
    "which who whom whose what where why how its it their they his her he she them him".split()
)
_QUESTION_OPENERS = frozenset(
    "how what who whom whose when where why which is are was were do does did has have had will would can "
    "could should tell list name give and so but also then in on at for by from with the a an this that "
    "these those it its".split()
)
# Words that may join the parts of one name; not "and": "OpenAI and Anthropic" are two.
_CONNECTORS = frozenset({"of", "for", "&", "de", "du", "van", "von"})
_AUX_WORDS = "|".join(sorted(_AUX))
# "this"/"that" are pronouns only before a verb or at the end ("How much did that cost?").
_PRONOUN = re.compile(
    rf"\b(it|its|they|them|their|he|she|him|his|her|(?:this|that)(?=\s+(?:{_AUX_WORDS})\b|\s*[?.!]?\s*$))\b",
    re.I,
)
_PERSONAL = frozenset({"he", "she", "him", "his", "her"})
# "it" that stands for nothing: "Is it true that …", "How long will it take …", "it is said".
_EXPLETIVE_IT = re.compile(
    r"\b(?:is|was|will|would|isn't|wasn't)\s+it\s+(?:be\s+)?(?:true|possible|likely|worth|necessary|"
    r"legal|safe|hard|easy|common|known|said|reported|expected)\b"
    r"|\bhow\s+long\s+(?:will|does|did|would)\s+it\s+take\b"
    r"|\bit\s+(?:is|was|will\s+be|would\s+be)\s+(?:true|possible|likely|worth|said|reported|expected)\b",
    re.I,
)
# "that round", "this model", "those chips": a demonstrative before a noun points back, except
# before a time ("this year") and "that" as a conjunction ("said that prices rose"), so
# "that" counts only after a preposition or an auxiliary ("on that deal", "does that round").
_DEMONSTRATIVE = re.compile(r"\b(?P<word>this|that|these|those)\s+(?P<noun>[A-Za-z][\w-]*)", re.I)
_TIME_NOUNS = frozenset(
    "year years week weeks month months quarter quarters day days time times morning evening summer "
    "spring autumn fall winter decade century weekend point stage moment season".split()
)
_BEFORE_THAT = frozenset(
    "is are was were be been being do does did has have had will would can could should may might must "
    "on of in for about from with to by at into over under after before".split()
)  # not "said"/"means": "has the CEO said that prices rose?" stands alone
_PLURAL = frozenset({"they", "them", "their"})
_POSSESSIVE = frozenset({"its", "their", "his"})


def resolve(question: str, history: Sequence[Turn]) -> Rewrite:
    """What ``question`` asks, given the earlier ``history`` (oldest first).

    >>> resolve("And how much did it cost?", [Turn("What deal did SoftBank strike with OpenAI?")]).resolved
    'How much did the deal cost? (about: SoftBank, OpenAI)'
    """
    question = question.strip()
    previous = next((t for t in reversed(history) if t.asked.strip()), None)
    if previous is None or not question:
        return Rewrite(question, question)
    before = previous.asked.strip()
    for rule in (_ellipsis, _bare_wh, _pronouns, _demonstrative):
        resolved = rule(question, before, previous)
        if resolved is not None:
            return Rewrite(question, _tidy(resolved))
    if _CONTINUATION.match(question):
        body = _capitalise(_CONTINUATION.sub("", question, count=1))
        resolved = _with_context(body, names(before))
        # "And is Nvidia still investing in OpenAI?" already names what it is about: it stands
        # alone, so it is searched as typed (a leading "and" changes no search).
        if resolved != body:
            return Rewrite(question, _tidy(resolved))
    return Rewrite(question, question)


def names(text: str) -> list[str]:
    """Proper names in ``text`` in order ("Mistral Medium 3.5", "EU Code of Practice")."""
    found: list[str] = []
    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        word = words[i].group()
        sentence_start = i == 0 or text[words[i - 1].end() : words[i].start()].strip() in {".", "!", "?"}
        if not word[0].isupper() or (sentence_start and word.lower() in _QUESTION_OPENERS) or word == "I":
            i += 1
            continue
        j = i + 1
        while j < len(words):
            gap = text[words[j - 1].end() : words[j].start()]
            nxt = words[j].group()
            if gap.strip():  # punctuation ends a name
                break
            if nxt[0].isupper() or (nxt[0].isdigit() and j > i):
                j += 1
            elif nxt.lower() in _CONNECTORS and j + 1 < len(words) and words[j + 1].group()[0].isupper():
                j += 2
            else:
                break
        name = text[words[i].start() : words[j - 1].end()]
        if name not in found:
            found.append(name)
        i = j
    return found


def topic(question: str) -> str | None:
    """The thing a question is about, as a noun phrase: "the bridge loan", "the deal"."""
    asked = re.match(
        rf"^\s*(?:what|which)\s+(?P<noun>[a-z][\w-]*(?:\s+[a-z][\w-]*)?)\s+(?:{_AUX_WORDS})\b",
        question,
        re.I,
    )
    if asked and not set(asked.group("noun").lower().split()) & _STOP:
        return "the " + asked.group("noun").lower()
    do_support = _DO_SUPPORT.match(question) is not None
    for match in re.finditer(r"\b(?:the|this|that)\s+", question, re.I):
        rest = question[match.end() :]
        words: list[str] = []
        last_end = 0
        for word in _WORD.finditer(rest):
            text = word.group()
            if words and rest[last_end : word.start()].strip():
                break  # punctuation ends the phrase
            if text.lower() in _STOP or len(words) == 4 or text.lower().endswith("ing"):
                break  # a verb ("the Commission talking to") is not part of the phrase
            if words and text[0].isupper() and any(w[0].islower() for w in words):
                break  # "the bridge loan SoftBank is seeking": the name starts a new phrase
            words.append(text)
            last_end = word.end()
        if do_support and len(words) > 1 and not rest[last_end:].strip(" ?.!"):
            words.pop()  # "What does the Basic plan include?": the last word is the verb
        if any(w[0].islower() for w in words):
            return "the " + " ".join(words)
    return None


def _ellipsis(question: str, before: str, previous: Turn) -> str | None:
    match = _ELLIPSIS.match(question)
    if not match:
        return None
    rest = match.group("rest").strip()
    words = rest.lower().split()
    if len(words) > 5 or set(words) & (_AUX | {"how", "what", "why", "when", "where", "who", "which"}):
        return None  # "And how much did it cost?" is a whole question, not an ellipsis
    old_names, old_topic = names(before), topic(before)
    bare = re.sub(r"^(the|a|an)\s+", "", rest, flags=re.I)
    if bare[:1].isupper() and old_names:  # a name for a name: "And the EU?" after "…SoftBank…"
        # One article, not two: "And the Heron S?" after "How much does the Heron L cost?".
        article = re.search(r"\b(?:the|a|an)\s+$", before[: before.find(old_names[0])], re.I)
        return before.replace(old_names[0], bare if article else rest, 1)
    if old_topic and old_topic in before:
        new = rest if rest.lower().startswith(("the ", "a ", "an ")) else "the " + rest
        return before.replace(old_topic, new, 1)
    return f"{_strip_q(before)}: what about {rest}?"


def _bare_wh(question: str, before: str, previous: Turn) -> str | None:
    bare = _BARE_WH.match(question)
    if not bare:
        return None
    word = " ".join(bare.group("wh").split())
    leading = _LEADING_WH.match(before)
    if leading:
        return f"{_capitalise(word)} {leading.group('rest')}"
    if _YES_NO.match(before):
        return f"{_capitalise(word)} {before.strip()[:1].lower()}{before.strip()[1:]}"
    return f"{_capitalise(word)}? (about: {_strip_q(before)})"


def _pronouns(question: str, before: str, previous: Turn) -> str | None:
    if not _PRONOUN.search(question):
        return None
    old_names, old_topic = names(before), topic(before)
    person = _person(before, previous)
    group = _group(before, old_names)
    thing = old_topic or (_as_written(old_names[0], before) if old_names else None)
    used: list[str] = []

    def replace(match: re.Match[str]) -> str:
        pronoun = match.group(1).lower()
        if _bound(question, match, before):
            return match.group(0)  # its antecedent is in the question itself
        if pronoun in _PERSONAL:
            target = person
        elif pronoun in _PLURAL:
            target = group or thing
        else:
            target = thing
        if target is None:
            return match.group(0)
        used.append(target)
        possessive = pronoun in _POSSESSIVE or (pronoun == "her" and _followed_by_noun(question, match.end()))
        return target + ("’s" if possessive and not target.endswith("s") else "’" if possessive else "")

    body = _CONTINUATION.sub("", question, count=1)
    resolved = _capitalise(_PRONOUN.sub(replace, body))
    if not used:
        return None
    # A common noun ("the deal") loses the names the conversation is about: carry them along.
    return _with_context(resolved, old_names) if any(u[:1].islower() for u in used) else resolved


def _demonstrative(question: str, before: str, previous: Turn) -> str | None:
    """ "Has Amazon commented on that deal?": the names of the previous turn come along,
    unless the question names them already (then it stands alone)."""
    for match in _DEMONSTRATIVE.finditer(question):
        noun = match.group("noun")
        if noun.lower() in _STOP or noun.lower() in _TIME_NOUNS or noun[:1].isupper():
            continue
        if match.group("word").lower() == "that":
            words = _WORD.findall(question[: match.start()])
            if not words or words[-1].lower() not in _BEFORE_THAT:
                continue
        body = _capitalise(_CONTINUATION.sub("", question, count=1))
        resolved = _with_context(body, names(before))
        return resolved if resolved != body else None
    return None


def _bound(question: str, match: re.Match[str], before: str) -> bool:
    """Whether the pronoun at ``match`` needs nothing from the previous turn.

    A question that names the antecedent itself stands alone: "Why does Anthropic refuse to
    share its model?" ("its": Anthropic's). A possessive (its, their, his, her + noun) binds
    to any earlier name of the question; he, she and him to an earlier person's name (two
    words or more, no digits); it, they, them, this and that to an earlier name of a thing
    (one word, or with digits: "DeepSeek", "Mistral Medium 3.5"), so "What did Sam Altman
    say about it?" still points outside. A name of the previous turn typed in lower case
    ("what are oracle's bondholders accusing it of") counts too. The "it" of "is it true
    that …" or "how long will it take …" points at nothing.
    """
    if (
        _EXPLETIVE_IT.search(question[max(0, match.start() - 20) : match.end() + 25])
        and match.group(1).lower() == "it"
    ):
        return True
    pronoun = match.group(1).lower()
    head = question[: match.start()]
    earlier = names(head) + [n for n in names(before) if n.lower() in head.lower() and n not in head]
    if not earlier:
        return False
    people = [n for n in earlier if len(n.split()) >= 2 and not any(c.isdigit() for c in n)]
    if pronoun in {"he", "she", "him"}:
        return bool(people)
    if pronoun in _POSSESSIVE or (pronoun == "her" and _followed_by_noun(question, match.end())):
        return True
    return any(n not in people for n in earlier)


def _person(before: str, previous: Turn) -> str | None:
    """The person he/she points at: one a "who" answer named, else one named in the question."""
    asked = set(names(before))
    candidates = [n for n in names(previous.answer) if n not in asked and " " in n] if previous.answer else []
    if re.match(r"^\s*(who|whom|whose)\b", before, re.I) and candidates:
        return candidates[0]
    people = [n for n in asked if len(n.split()) >= 2 and not any(c.isdigit() for c in n)]
    return people[0] if people else (candidates[0] if candidates else None)


def _group(before: str, old_names: list[str]) -> str | None:
    for a, b in itertools.pairwise(old_names):
        if re.search(re.escape(a) + r"\s+and\s+" + re.escape(b), before):
            return f"{a} and {b}"
    return None


def _as_written(name: str, text: str) -> str:
    """The name with the article it had ("the Commission"), so it reads right in its new place."""
    return f"the {name}" if re.search(r"\bthe\s+" + re.escape(name), text, re.I) else name


def _followed_by_noun(text: str, end: int) -> bool:
    following = _WORD.match(text[end:].lstrip())
    return following is not None and following.group().lower() not in _STOP


def _with_context(question: str, context: Sequence[str]) -> str:
    missing = [n for n in context if n.lower() not in question.lower()]
    return f"{_strip_q(question)}? (about: {', '.join(missing)})" if missing else question


def _strip_q(text: str) -> str:
    return text.strip().rstrip("?").rstrip()


def _capitalise(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def _tidy(text: str) -> str:
    return " ".join(text.split())
