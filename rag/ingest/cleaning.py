"""Rules that decide which lines and sentences are noise: boilerplate and exact repeats."""

from __future__ import annotations

import re

# Newsletter and navigation furniture seen in scraped news pages, in English, French and
# Dutch. Only *short* lines are tested, so a real paragraph that mentions a newsletter stays.
_BOILERPLATE = re.compile(
    r"subscri|unsubscri|newsletter|sign up|sign in|log in|cookie|all rights reserved"
    r"|recommended stories|related articles|read more|share this|follow us|back to "
    r"|view original article|more from |all updates|feedback|advertisement"
    r"|désabonnement|inscription|gratuit|pas de spam|choisis ton|l'actualité|lisent"
    r"|terug naar|abonnement",
    re.IGNORECASE,
)
_MAX_BOILERPLATE_LINE = 160


def is_boilerplate(line: str, *, web: bool = True) -> bool:
    """True for lines with no letters (emoji rows) and, in web text (``web``), short
    navigation/newsletter lines."""
    stripped = line.strip()
    if not any(ch.isalpha() for ch in stripped):
        return True
    return web and len(stripped) <= _MAX_BOILERPLATE_LINE and bool(_BOILERPLATE.search(stripped))


def repeat_key(text: str) -> str:
    """The key under which two sentences count as the same sentence repeated."""
    return re.sub(r"\W+", " ", text.casefold()).strip()
