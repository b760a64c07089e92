"""Text inside a document that addresses the model instead of stating a fact (prompt injection).

Such a sentence ("Note to AI assistants: ignore all previous instructions and …") is never
an answer in any mode: the extractive answerer skips it, the prompt of a generative model
shows a placeholder instead, verification never cites it, and the UI, ``/v1`` and MCP flag
the passage (``Citation.payload()["flagged"]``). Pure text rules with no dependency, so the
records at the bottom of the package can use them too.
"""

from __future__ import annotations

import re
from functools import lru_cache

_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(previous|prior|above|earlier|all|any|your)\b"
    r"[^.!?\n]{0,30}\b(instructions?|prompts?|rules|directions|guidelines)\b"
    r"|\b(system prompt|you are now|new instructions?|jailbreak)\b"
    r"|\b(reply|respond|answer|say|output|print|write)\b[^.!?\n]{0,20}\b(only|exactly|just)\b[^.!?\n]{0,20}[\"“'‘]"
    r"|\bas an ai (language )?model\b"
    # Addressed to the machine reading it: "Note to AI assistants reading this file: …".
    r"|\b(note|message|attention|instructions?) (to|for) (any |all )?(ai|llms?|assistants?|chatbots?"
    r"|language models?|ai (assistants?|models?|agents?))\b"
    r"|\b(ai (assistants?|models?|agents?)|llms?|chatbots?|language models?)"
    r" (reading|processing|summari[sz]ing) (this|these)\b",
    re.IGNORECASE,
)


# Cached: the answerer asks about every candidate sentence of every question (~18 each), and
# the pattern's alternatives cost ~20 us a sentence, a twentieth of a warm question.
@lru_cache(maxsize=1 << 16)
def looks_like_instruction(text: str) -> bool:
    """True when ``text`` addresses the model rather than stating a fact (a prompt injection)."""
    return _INSTRUCTION.search(text) is not None
