"""Write a copy of a question file with one seeded typo per question (the typo sets of the
README's "Typos in questions").

In each question one content word of 5+ letters (not a stop word) is chosen at random and
gets one edit at a random inner position: a letter dropped, a random letter added or put in
its place, or two neighbouring letters swapped. Seed 13, so the copy is the same every time.
Write it outside the repository (benchmark data is not copied into it), then evaluate it:

    python eval/typo_questions.py ../shared/benchmarks/squad-dev/qa.jsonl /tmp/squad_typo.jsonl
    rag eval --dataset ../shared/benchmarks/squad-dev --questions /tmp/squad_typo.jsonl --split test
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from rag.ingest.lexical import STOPWORDS

SEED = 13
_WORD = re.compile(r"[A-Za-z]+")


def misspell(word: str, rng: random.Random) -> str:
    """``word`` with one edit at an inner position (the first and last letters are kept)."""
    i = rng.randrange(1, len(word) - 1)
    edit, letter = rng.choice("dtsi"), rng.choice("abcdefghijklmnopqrstuvwxyz")
    if edit == "d":
        return word[:i] + word[i + 1 :]
    if edit == "t":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == "s":
        return word[:i] + letter + word[i + 1 :]
    return word[:i] + letter + word[i:]


def with_typo(question: str, rng: random.Random) -> str:
    """``question`` with one of its content words misspelt (unchanged when it has none)."""
    words = [
        m for m in _WORD.finditer(question) if len(m.group()) >= 5 and m.group().lower() not in STOPWORDS
    ]
    if not words:
        return question
    chosen = rng.choice(words)
    return question[: chosen.start()] + misspell(chosen.group(), rng) + question[chosen.end() :]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="a question file (JSONL with a 'question' field)")
    parser.add_argument("target", type=Path, help="where to write the copy with typos")
    args = parser.parse_args()
    rng = random.Random(SEED)
    rows = [json.loads(line) for line in args.source.read_text(encoding="utf-8").splitlines() if line.strip()]
    changed = 0
    with args.target.open("w", encoding="utf-8") as out:
        for row in rows:
            typed = with_typo(row["question"], rng)
            changed += typed != row["question"]
            out.write(json.dumps({**row, "question": typed}) + "\n")
    print(f"{changed} of {len(rows)} questions got a typo: {args.target}")


if __name__ == "__main__":
    main()
