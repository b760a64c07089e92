"""Question sets to evaluate on.

Two shapes are read:

* the project's own ``eval/qa.jsonl`` (and ``eval/qa_blind.jsonl``) over the files of
  ``seeds/``: rows of ``{question, answers, source, evidence}`` (``answers`` empty for
  unanswerable questions);
* a benchmark folder as in ``../shared/benchmarks/``: ``corpus.jsonl`` of
  ``{id, title, text}`` and ``qa.jsonl`` of ``{question, answers, evidence_ids, type}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import DatasetError
from rag.jsonl import read_jsonl


@dataclass(frozen=True)
class Example:
    """One question with its gold answers and where the evidence is."""

    question: str
    answers: tuple[str, ...]  # empty: the corpus does not answer it
    sources: frozenset[str]  # gold file names or corpus ids
    evidence: tuple[str, int, int] | None = None  # (source, start, end) of the gold quote

    @property
    def answerable(self) -> bool:
        """False for questions the corpus does not answer (no gold answers)."""
        return bool(self.answers)


def load_seed_examples(path: Path, corpus: Path) -> list[Example]:
    """Read eval/qa.jsonl; every evidence quote must occur in its source file."""
    examples = []
    for number, row in _rows(path):
        source = row.get("source")
        evidence = None
        if source:
            text = (corpus / source).read_text(encoding="utf-8")
            start = text.find(row["evidence"])
            if start < 0:
                raise DatasetError(f"{path}:{number}: the evidence quote is not in {source}; fix the quote.")
            evidence = (source, start, start + len(row["evidence"]))
        examples.append(
            Example(
                row["question"],
                tuple(row.get("answers") or ()),
                frozenset([source] if source else []),
                evidence,
            )
        )
    return examples


def load_benchmark_examples(folder: Path, questions: str = "qa.jsonl") -> list[Example]:
    """The questions of a benchmark folder (``questions`` inside it), in file order.

    Raises:
        DatasetError: the file is missing or a line is not JSON.
    """
    return [
        Example(row["question"], tuple(row.get("answers") or ()), frozenset(row.get("evidence_ids") or ()))
        for _, row in _rows(folder / questions)
    ]


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    return read_jsonl(path, error=DatasetError, hint="pass a folder with corpus.jsonl and qa.jsonl")


def split_examples(examples: list[Example], split: str) -> list[Example]:
    """dev = first half (tune here), test = second half (report here), all = everything."""
    half = len(examples) // 2
    return {"dev": examples[:half], "test": examples[half:], "all": examples}[split]
