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
    from rag.ingest.lexical import tokenize

    assert tokenize(text) == terms


def test_chinese_and_japanese_sentences_end_at_full_width_stops_with_exact_offsets():
    original = (
        "市图书馆调整开放时间。图书馆每周六下午五点关门，周日全天闭馆。借书证免费！東京の店は九時に開きます。"
    )
    sentences = list(split_sentences(original))
    assert [original[s.start : s.end] for s in sentences] == [
        "市图书馆调整开放时间。",
        "图书馆每周六下午五点关门，周日全天闭馆。",
        "借书证免费！",
        "東京の店は九時に開きます。",
    ]


def test_words_hyphenated_across_a_line_are_joined_for_matching_only():
    from rag.ingest.lexical import tokenize
    from rag.ingest.text import readable

    original = "the drop in energy consump-\ntion was large. Jean-\nPierre agreed."
    assert normalise(original) == "the drop in energy consumption was large. Jean- Pierre agreed."
    assert "consumpt" in tokenize(original) and "consump" not in tokenize(original)
    assert readable("energy consump-\ntion fell") == "energy consumption fell"
    [first, _] = split_sentences(original)
    assert original[first.start : first.end] == "the drop in energy consump-\ntion was large."  # span exact


def test_cjk_runs_are_indexed_as_character_bigrams():
    from rag.ingest.lexical import tokenize

    assert tokenize("图书馆周六几点关门？") == [
        "图书",
        "书馆",
        "馆周",
        "周六",
        "六几",
        "几点",
        "点关",
        "关门",
    ]
    assert set(tokenize("图书馆每周六下午五点关门。")) >= {"图书", "周六", "关门"}
    assert tokenize("Windows版本") == ["window", "版本"]
