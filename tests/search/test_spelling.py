"""Typo-tolerant question words (issue 11, failure kind 1): rag/search/spelling.py."""

import pytest

from rag.ingest.lexical import tokenize
from rag.search.spelling import Correction, Speller, english_words

# Stemmed vocabulary of a small corpus: stem -> chunks holding it.
VOCABULARY = {"model": 5, "train": 3, "kotka": 2, "harbour": 4, "barg": 1, "larg": 7, "ceo": 2, "commiss": 3}


@pytest.fixture(scope="module")
def speller():
    return Speller(VOCABULARY)


@pytest.mark.parametrize(
    ("question", "typo", "meant", "spelt"),
    [
        # transposed letters: read as the English word whose stem the corpus holds
        ("How were the modles trained?", "modl", "model", "How were the models trained?"),
        # a name no dictionary holds, transposed: the corpus's own stem, in the typed case
        ("Where is the port of Kotak?", "kotak", "kotka", "Where is the port of Kotka?"),
        (
            "When does the harbur open?",
            "harbur",
            "harbour",
            "When does the harbour open?",
        ),  # a letter left out
        ("Who is the Comission spokesperson?", "comiss", "commiss", "Who is the Commission spokesperson?"),
    ],
)
def test_a_typo_is_read_as_the_corpus_word(speller, question, typo, meant, spelt):
    terms = tokenize(question)
    assert typo in terms
    text, corrected = speller.correct(question, terms)
    assert meant in corrected and typo not in corrected
    assert len(corrected) == len(terms)
    assert text == spelt
    assert tokenize(text) == corrected  # the text embedded and the terms matched agree


@pytest.mark.parametrize(
    "question",
    [
        "What is the salary of the harbour master?",  # an English word the corpus lacks stays missing
        "Who is the coe?",  # too short to tell from other words
        "Was gpt5x trained here?",  # not all letters
        "How were the models trained?",  # every word is in the corpus
        "How was the zzzzzzz trained?",  # nothing in the corpus is near it
        "图书馆在哪里？",  # indexed as character bigrams, never corrected
    ],
)
def test_real_words_short_words_and_known_words_are_left_alone(speller, question):
    terms = tokenize(question)
    assert speller.correct(question, terms)[1] is terms


def test_the_nearest_then_the_most_frequent_stem_wins(speller):
    # "xarge" is one edit from both "barge" (its stem in 1 chunk) and "large" (in 7).
    assert speller.correction("xarge") == Correction("larg", "large")
    # "edcuation" is one transposition from "education"; its own stem "edcuat" is far
    # from the corpus stem "educ", so the English word is what finds it.
    assert Speller({"educ": 2, "equat": 9}).correction("edcuation") == Correction("educ", "education")


def test_the_dictionary_is_the_packaged_english_word_list():
    words = english_words()
    assert len(words) > 80_000
    assert {"salary", "harbour", "trained"} <= words
    assert "modles" not in words


def test_retrieval_reads_a_misspelt_question_as_the_spelt_one(fake_engine):
    clean = fake_engine.retriever.candidates("How much is SoftBank borrowing to invest in OpenAI?")
    typo = fake_engine.retriever.candidates("How much is SoftBank borowing to invest in OpenAI?")
    assert typo.terms == clean.terms
    assert typo.lexical == clean.lexical


@pytest.mark.parametrize(
    "clean",
    ["Who is the European Commission spokesperson?", "How much is SoftBank borrowing to invest in OpenAI?"],
)
def test_a_misspelt_question_gets_the_answer_of_the_spelt_one(engine, clean):
    """The seeds, the real model: before, "Comission" made the first question abstain, and
    "borowing" made the second answer with another sentence."""
    typo = clean.replace("Commission", "Comission").replace("borrowing", "borowing")
    expected, answer = engine.ask(clean), engine.ask(typo)
    assert not answer.abstained
    assert answer.text == expected.text
    cited = [(c.source, c.start + c.sentence_start, c.start + c.sentence_end) for c in answer.citations]
    assert cited == [
        (c.source, c.start + c.sentence_start, c.start + c.sentence_end) for c in expected.citations
    ]
    assert answer.question == typo  # shown as it was asked
