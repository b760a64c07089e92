import json

import pytest

from rag.evaluation.datasets import load_seed_examples, split_examples
from rag.evaluation.metrics import auroc, contains_answer, normalise_answer
from tests.conftest import ROOT


def test_the_seed_eval_set_is_well_formed(seeds_dir):
    rows = [
        json.loads(line) for line in (ROOT / "eval" / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) >= 70
    answerable = [r for r in rows if r["answers"]]
    assert len(rows) - len(answerable) >= 10
    assert {r["source"] for r in answerable} == {p.name for p in seeds_dir.iterdir()}
    for row in answerable:
        evidence = row["evidence"]
        assert evidence in (seeds_dir / row["source"]).read_text(encoding="utf-8")
        assert any(normalise_answer(a) in normalise_answer(evidence) for a in row["answers"])
    examples = load_seed_examples(ROOT / "eval" / "qa.jsonl", seeds_dir)
    # Both halves hold unanswerable questions, so each can tune/measure abstention.
    assert all(any(not e.answerable for e in split_examples(examples, s)) for s in ("dev", "test"))


@pytest.mark.parametrize(
    ("answer", "golds", "expected"),
    [
        ("It has 128 billion parameters [1]", ["128 billion"], True),
        ("The Eiffel tower.", ["eiffel tower"], True),
        ("It costs $40 billion.", ["$40 billion", "40 billion"], True),
        ("It costs $400 billion.", ["40 billion"], False),
        ("Nothing here.", [], False),
    ],
)
def test_contains_answer(answer, golds, expected):
    assert contains_answer(answer, golds) is expected


def test_auroc_counts_ties_as_half():
    from rag.evaluation.datasets import Example
    from rag.evaluation.metrics import Outcome
    from rag.records import Answer

    def outcome(answerable, confidence):
        example = Example("q", ("a",) if answerable else (), frozenset())
        return Outcome(example, Answer("q", "", confidence=confidence), [], 0.0)

    assert auroc([outcome(True, 0.9), outcome(False, 0.1)]) == 1.0
    assert auroc([outcome(True, 0.1), outcome(False, 0.9)]) == 0.0
    assert auroc([outcome(True, 0.5), outcome(False, 0.5)]) == 0.5


@pytest.mark.model
def test_rag_eval_runs_on_the_seed_set(capsys):
    from rag.cli import main

    assert main(["eval", "--limit", "6"]) == 0
    out = capsys.readouterr().out
    for figure in ("hit@1", "answer_accuracy", "citation_accuracy", "p50_ms", "index_build_s"):
        assert figure in out
