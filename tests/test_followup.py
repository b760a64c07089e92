import pytest

from ui.followup import Turn, names, resolve, topic

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

    Measured: precision 0.652 -> 0.931, recall 0.682 -> 0.614 (all 86); on the held-out
    second half precision 0.857, recall 0.545.
    """
    import json
    from pathlib import Path

    labelled = Path(__file__).parent / "data" / "followups.jsonl"
    rows = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 60
    tp = fp = fn = 0
    for row in rows:
        history = [Turn(row["previous_question"], "", row["previous_answer"])]
        rewritten = resolve(row["question"], history).rewritten
        tp += rewritten and row["needs_rewrite"]
        fp += rewritten and not row["needs_rewrite"]
        fn += not rewritten and row["needs_rewrite"]
    assert tp / (tp + fp) >= 0.93 and tp / (tp + fn) >= 0.6, (tp, fp, fn)
