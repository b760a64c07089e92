"""What a question asks for, and which sentences offer it: pure functions, no index."""

import pytest

from rag.search.answer_types import AnswerType, expected_type, is_byline, is_dateline, offers


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who wrote the Brief IA article on OpenAI?", AnswerType.AUTHOR),
        ("Who is the author of the News.Az piece?", AnswerType.AUTHOR),
        ("When did OpenAI publish its post about the Code of Practice?", AnswerType.PUBLISHED),
        ("When was the article published?", AnswerType.PUBLISHED),
        ("When did Mistral release Medium 3.5?", AnswerType.DATE),
        ("How much does a ChatGPT Plus subscription cost per month?", AnswerType.MONEY),
        ("What was Anthropic's valuation in its last round?", AnswerType.MONEY),
        ("What did Mistral Medium 3.5 score on SWE-Bench Verified?", AnswerType.NUMBER),
        ("How many parameters does Mistral Medium 3.5 have?", AnswerType.NUMBER),
        ("Who is the CEO of Mistral AI?", AnswerType.NAME),
        ("What did OpenAI announce?", AnswerType.OPEN),
        # A letter, memo or notice is a piece: its signature and its date line answer these.
        ("Who signed the letter from Tekstilfabrikken Hallingdal?", AnswerType.AUTHOR),
        ("What date is the Hallingdal price letter?", AnswerType.PUBLISHED),
        ("When was the memo from facilities sent?", AnswerType.PUBLISHED),
        ("What is the date of the notice to tenants?", AnswerType.PUBLISHED),
        ("Who signed the agreement?", AnswerType.NAME),  # an agreement's signers are its content
        ("When did OpenAI publish its framework?", AnswerType.DATE),  # the framework's date
    ],
)
def test_expected_type(question, kind):
    assert expected_type(question) is kind


@pytest.mark.parametrize(
    ("line", "byline"),
    [
        ("By Aysel Mammadzada", True),
        ("💼 Business & Startups·Tom Levy·", True),
        ("Written by Jane Doe", True),
        ("By the end of the year, OpenAI will open its models.", False),
        ("By 2030 Europe wants its own models.", False),
    ],
)
def test_bylines(line, byline):
    assert is_byline(line) is byline


def test_datelines_carry_a_calendar_date_in_a_short_line():
    assert is_dateline("OpenAI ARTICLE ARTIKEL 11 July 2025 11 juli 2025")
    assert is_dateline("Published March 3, 2024")
    assert not is_dateline("Today, we are announcing our intention to sign the Code.")
    assert not is_dateline("The company was founded in 2015 " + "and grew quickly " * 20)


def test_metadata_questions_prefer_the_byline_and_dateline():
    assert offers(AnswerType.AUTHOR, "By Aysel Mammadzada", "Who wrote the piece?") == 1.0
    quote = "Thomas Regnier said the EU welcomed it."
    assert offers(AnswerType.AUTHOR, quote, "Who wrote the piece?") == 0.5
    assert offers(AnswerType.PUBLISHED, "Published 11 July 2025", "When was it published?") == 1.0


def test_a_relative_date_is_weaker_than_a_calendar_date():
    question = "When did OpenAI join the Code?"
    assert offers(AnswerType.DATE, "OpenAI joined on 11 July 2025.", question) == 1.0
    assert offers(AnswerType.DATE, "Today, OpenAI joins the Code.", question) == 0.5
    assert offers(AnswerType.DATE, "OpenAI joins the Code.", question) == 0.0


def test_a_price_needs_a_currency():
    question = "How much does a ChatGPT Plus subscription cost?"
    assert offers(AnswerType.MONEY, "It costs $20 a month.", question) == 1.0
    assert offers(AnswerType.MONEY, "It raised 40 billion euros.", question) == 1.0
    assert offers(AnswerType.MONEY, "The threshold is 45 million users per month.", question) == 0.5


def test_a_role_question_needs_the_role():
    question = "Who is the CEO of Mistral AI?"
    named = "Arthur Mensch, chief executive officer of Mistral, spoke."
    assert offers(AnswerType.NAME, named, question) == 1.0
    assert offers(AnswerType.NAME, "Mistral AI competes with OpenAI in Europe.", question) == 0.0


def test_a_byline_names_a_person_in_capitals():
    assert not is_byline("By the way")
    assert not is_byline("by far the largest")


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # About the page: its byline or dateline answers.
        ("When was it published?", AnswerType.PUBLISHED),
        ("When was the News.Az piece published?", AnswerType.PUBLISHED),
        ("Who wrote it?", AnswerType.AUTHOR),
        # About an event the page reports: a date or a name in the text answers, not the page's.
        ("When did OpenAI publish its framework?", AnswerType.DATE),
        ("When did the Commission publish the white paper?", AnswerType.DATE),
        ("Who wrote the AI Act?", AnswerType.NAME),
    ],
)
def test_metadata_questions_are_about_the_page_only(question, kind):
    assert expected_type(question) is kind


def test_a_letters_signature_is_its_byline_and_its_date_line_its_dateline():
    from rag.search.answer_types import is_bare_dateline

    assert is_byline("Yours sincerely, Sigrid Haugland")
    assert is_byline("Kind regards, Anna Berg")
    assert is_byline("Sigrid Haugland", previous="Yours sincerely,")  # the name on its own line
    assert not is_byline("Sigrid Haugland")  # a name alone, after no closing, is no signature
    assert not is_byline("Sales Director", previous="Sigrid Haugland")
    assert offers(AnswerType.AUTHOR, "Sigrid Haugland", "Who signed the letter?", "Best regards") == 1.0
    assert is_bare_dateline("Geilo, 18 November 2025") and is_bare_dateline("Published 11 July 2025")
    mention = "Orders confirmed before 15 December 2025 will still be invoiced at the old price."
    assert is_dateline(mention) and not is_bare_dateline(mention)
