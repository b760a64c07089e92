from pathlib import Path

import pytest

from rag.search.followup import Turn, names, resolve, topic

DEAL = Turn("What deal did SoftBank strike with OpenAI?")


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        # the example: a pronoun for a thing, with the conversation's names carried along
        ("And how much did it cost?", [DEAL], "How much did the deal cost? (about: SoftBank, OpenAI)"),
        ("How much did that cost?", [DEAL], "How much did the deal cost? (about: SoftBank, OpenAI)"),
        (
            "When was it released?",
            [Turn("How many parameters does Mistral Medium 3.5 have?")],
            "When was Mistral Medium 3.5 released?",
        ),
        (
            "What is its share of revenues in Europe?",
            [Turn("What is Mistral AI?")],
            "What is Mistral AI’s share of revenues in Europe?",
        ),
        (
            "What did they discuss?",
            [Turn("Is the Commission talking to OpenAI and Anthropic?")],
            "What did OpenAI and Anthropic discuss?",
        ),
        # he/she: the person a "who" answer named
        (
            "Where did he speak?",
            [
                Turn(
                    "Who is the European Commission spokesperson?",
                    answer="European Commission spokesperson Thomas Regnier said so. [1]",
                )
            ],
            "Where did Thomas Regnier speak?",
        ),
        # ellipsis: the previous question with its subject swapped
        (
            "What about Anthropic?",
            [Turn("Who is the OpenAI spokesperson?")],
            "Who is the Anthropic spokesperson?",
        ),
        ("And the EU?", [Turn("How much is SoftBank borrowing?")], "How much is the EU borrowing?"),
        # a bare question word
        (
            "Why?",
            [Turn("How much is SoftBank borrowing to invest in OpenAI?")],
            "Why is SoftBank borrowing to invest in OpenAI?",
        ),
        # the rewrite of the previous turn is what a further follow-up builds on
        (
            "When?",
            [Turn("And how much did it cost?", resolved="How much did the deal cost?")],
            "When did the deal cost?",
        ),
    ],
)
def test_follow_ups_are_resolved_against_the_previous_turn(question, history, expected):
    rewrite = resolve(question, history)
    assert rewrite.resolved == expected and rewrite.rewritten


@pytest.mark.parametrize(
    ("question", "history"),
    [
        ("Who is the European Commission spokesperson?", [DEAL]),  # stands alone
        ("How much did it cost?", []),  # nothing to resolve against
        ("Is it true that it works?", [Turn("   ")]),
    ],
)
def test_standalone_questions_are_left_as_typed(question, history):
    rewrite = resolve(question, history)
    assert rewrite.resolved == question and not rewrite.rewritten


def test_names_and_topics():
    assert names("Does the EU Code of Practice bind Mistral Medium 3.5 and GPT-5.5-Cyber?") == [
        "EU Code of Practice",
        "Mistral Medium 3.5",
        "GPT-5.5-Cyber",
    ]
    assert names("How big is it?") == []
    assert topic("How big is the bridge loan SoftBank is seeking?") == "the bridge loan"
    assert topic("What deal did SoftBank strike?") == "the deal"
    assert topic("Who met the Commission?") is None


def test_needs_rewriting_on_the_labelled_conversation_set():
    """86 labelled turns (tests/data/followups.jsonl), written blind before the rules were
    tuned; the rules were tuned on the first half only. Rewriting a standalone question
    bends it towards the previous turn, so precision matters most.

    Measured: precision 0.652 -> 0.931 -> 1.000, recall 0.682 -> 0.614 -> 0.795 (all 86; the
    second step: a continuation that names its own subject stands alone, and "that deal" /
    "this model" carry the previous turn's names). Since then all of it is a dev set.
    """
    tp, fp, fn = _confusion(Path(__file__).parents[1] / "data" / "followups.jsonl")
    assert tp / (tp + fp) >= 0.99 and tp / (tp + fn) >= 0.79, (tp, fp, fn)


def test_needs_rewriting_on_the_blind_conversation_set():
    """80 turns (eval/followups_blind.jsonl, 40 needing a rewrite) written by a helper who saw
    only the seed files, never the rules nor a failure; only the totals were looked at, and
    nothing was tuned on them. A floor against regressions, not a target.

    Measured: original rules precision 0.683 / recall 0.700; last session 0.875 / 0.700;
    now 0.931 / 0.675 (tp 27, fp 2, fn 13). The issue's goal, precision >= 0.95, is not
    reached here.
    """
    tp, fp, fn = _confusion(Path(__file__).parents[2] / "eval" / "followups_blind.jsonl")
    assert tp + fn == 40 and tp / (tp + fp) >= 0.93 and tp / (tp + fn) >= 0.67, (tp, fp, fn)


def _confusion(labelled: Path) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of "needs rewriting" on a labelled set."""
    import json

    rows = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 60
    tp = fp = fn = 0
    for row in rows:
        history = [Turn(row["previous_question"], "", row["previous_answer"])]
        rewritten = resolve(row["question"], history).rewritten
        tp += rewritten and row["needs_rewrite"]
        fp += rewritten and not row["needs_rewrite"]
        fn += not rewritten and row["needs_rewrite"]
    return tp, fp, fn


def test_a_reported_that_clause_is_not_a_demonstrative():
    """Review finding: "said that …" took the previous turn's names along."""
    previous = [Turn("What deal did SoftBank strike with OpenAI?", "", "")]
    for question in ("Has the CEO said that prices rose?", "Did analysts say that prices rose?"):
        assert "(about:" not in resolve(question, previous).resolved
    assert "(about: SoftBank, OpenAI)" in resolve("Has Amazon commented on that deal?", previous).resolved


def test_a_swapped_name_keeps_one_article_and_a_topic_stops_before_the_verb():
    """Found by a newcomer: "How much does the the Heron S cost?" and "How fast do the Basic
    plan include respond?" were searched for."""
    assert (
        resolve("And the Heron S?", [Turn("How much does the Heron L cost?", "", "")]).resolved
        == "How much does the Heron S cost?"
    )
    assert topic("What does the Basic plan include?") == "the Basic plan"
    assert (
        "include"
        not in resolve("and how fast do they respond?", [Turn("What does the Basic plan include?")]).resolved
    )


@pytest.mark.parametrize(
    ("before", "question", "expected"),
    [
        # Issue 32 item 8: "and when was that?" had become "When was OpenAI?".
        (
            "Did OpenAI sign the EU Code of Practice?",
            "and when was that?",
            "When did OpenAI sign the EU Code of Practice?",
        ),
        (
            "Did OpenAI sign the EU Code of Practice?",
            "When?",
            "When did OpenAI sign the EU Code of Practice?",
        ),
        ("Why is SoftBank borrowing money?", "And when did it happen?", "When is SoftBank borrowing money?"),
        ("How much is SoftBank borrowing?", "why is that?", "Why is SoftBank borrowing?"),
    ],
)
def test_a_question_word_about_that_event_asks_the_previous_question_again(before, question, expected):
    assert resolve(question, [Turn(before)]).resolved == expected
