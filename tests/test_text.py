import pytest

from rag.ingest.cleaning import is_boilerplate, repeat_key
from rag.ingest.text import normalise, split_sentences, undouble


def texts(original: str) -> list[str]:
    return [s.text for s in split_sentences(original)]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("A deal with OpenAI. The partnership grew.", ["A deal with OpenAI.", "The partnership grew."]),
        ("U.S. firms agreed. Mr. Smith said so.", ["U.S. firms agreed.", "Mr. Smith said so."]),
        ("It costs $5.5 billion. GPT-5.5-Cyber is new.", ["It costs $5.5 billion.", "GPT-5.5-Cyber is new."]),
        ("  • A list item.\n  • Another one.", ["A list item.", "Another one."]),
        ("No end punctuation", ["No end punctuation"]),
    ],
)
def test_split_sentences(original, expected):
    assert texts(original) == expected


def test_sentence_offsets_point_into_the_original():
    original = "  First   sentence here.\n\tSecond one  follows. "
    for sentence in split_sentences(original):
        assert normalise(original[sentence.start : sentence.end]) == sentence.text


def test_doubled_phrases_are_undoubled():
    assert undouble("Impact Impact") == "Impact"
    assert undouble("The EU Code of Practice The EU Code of Practice") == "The EU Code of Practice"
    assert undouble("Not doubled at all") == "Not doubled at all"


@pytest.mark.parametrize(
    "line",
    [
        "RECOMMENDED STORIES",
        "Gratuit · Pas de spam · Désabonnement en 1 clic",
        "📄",
        "← Back to OpenAI updates",
    ],
)
def test_boilerplate_lines(line):
    assert is_boilerplate(line)


def test_content_is_not_boilerplate():
    assert not is_boilerplate("The European Commission is holding ongoing discussions with OpenAI.")


def test_repeat_key_ignores_case_and_punctuation():
    assert repeat_key("Hello, World!") == repeat_key("hello world")


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("2Anthropic still refuses", ["2", "anthrop", "still", "refus"]),  # a list number glued on
        ("theMax Planck Society", ["max", "planck", "societi"]),  # link text glued to "the"
        ("COVID-19, 5G and 128GB", ["covid-19", "5g", "128gb"]),  # real tokens stay whole
        ("OpenAI and iPhone", ["openai", "iphon"]),
    ],
)
def test_glued_words_are_split_for_matching(text, terms):
    from rag.indexing.lexical import tokenize

    assert tokenize(text) == terms
