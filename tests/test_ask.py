import dataclasses
import re

import pytest

from rag.errors import QuestionError
from rag.records import Answer, Citation, Passage

TAG_PAGE = "003_dd93d9c36f4005fd.txt"


def test_answer_contract(engine, seeds_dir):
    answer = engine.ask("How many parameters does Mistral Medium 3.5 have?")
    assert isinstance(answer, Answer) and not answer.abstained
    assert "128-billion-parameter" in answer.text
    assert answer.text.rstrip().endswith("]")
    assert answer.citations and all(isinstance(c, Citation) for c in answer.citations)
    first = answer.citations[0]
    assert first.source == TAG_PAGE
    assert first.title.startswith("Mistral AI vs OpenAI")
    original = (seeds_dir / first.source).read_text(encoding="utf-8")
    # The passage and the supporting sentence are exact spans of the original file.
    assert original[first.start : first.end] == first.text
    assert original[first.start + first.sentence_start : first.start + first.sentence_end] == first.sentence
    start, end = first.sentence_span  # the README's one-step form of the same
    assert original[start:end] == first.sentence
    assert "128-billion-parameter" in first.sentence
    assert isinstance(first.score, float)


def test_every_answer_sentence_carries_its_marker(engine):
    answer = engine.ask("Who is the European Commission spokesperson?")
    assert "Regnier" in answer.text
    for number, citation in enumerate(answer.citations, 1):
        assert f"[{number}]" in answer.text
        assert " ".join(citation.sentence.split()) in answer.text
    assert answer.citations[0].source == "001_e7367d59c646826d.txt"


@pytest.mark.parametrize(
    "question",
    [
        "What is the population of Estonia?",
        "How tall is the Eiffel Tower?",
        "Which country won the 2022 FIFA World Cup?",
        # Mistral is all over the corpus, but no sentence names anyone as its CEO.
        "Who is the CEO of Mistral AI?",
    ],
)
def test_unanswerable_questions_abstain(engine, question):
    answer = engine.ask(question)
    assert answer.abstained
    assert "do not contain" in answer.text
    assert "[" not in answer.text  # closest passages are offered, not cited as support
    assert all(isinstance(c, Citation) for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "answer_text", "source"),
    [
        ("How much is SoftBank borrowing to invest in OpenAI?", r"40[- ]billion", TAG_PAGE),
        (
            "Which OpenAI model is being opened to European institutions?",
            r"GPT-5\.5-Cyber",
            "000_01f05ed4881d1083.txt",
        ),
    ],
)
def test_answerable_questions_answer(engine, question, answer_text, source):
    answer = engine.ask(question)
    assert not answer.abstained
    assert re.search(answer_text, answer.text)
    assert answer.citations[0].source == source


@pytest.mark.parametrize(
    ("question", "answer_text", "source"),
    [
        (
            "Who wrote the News.Az piece on the EU's AI model talks?",
            "By Aysel Mammadzada",
            "001_e7367d59c646826d.txt",
        ),
        (
            "Who is the author of the Brief IA article on OpenAI and Anthropic?",
            "Tom Levy",
            "000_01f05ed4881d1083.txt",
        ),
        (
            "When did OpenAI publish its post on the EU Code of Practice?",
            "11 July 2025",
            "004_1b3da3c838341435.txt",
        ),
    ],
)
def test_who_wrote_and_when_published_are_answered_by_byline_and_dateline(
    engine, question, answer_text, source
):
    """Bylines and datelines share no words with such questions; the answer type finds them."""
    answer = engine.ask(question)
    assert not answer.abstained
    assert len(answer.sentences) == 1 and answer_text in answer.sentences[0].text
    assert answer.citations[0].source == source


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_questions_are_a_value_error(engine, question):
    with pytest.raises(ValueError, match="empty"):
        engine.ask(question)


def test_a_huge_question_errors_cleanly(engine):
    with pytest.raises(QuestionError, match=r"[0-9,]{6} characters long; the limit is 4,000"):
        engine.ask("why " * 25_000)


def test_a_long_question_within_the_limit_answers(engine):
    question = "Tell me about Mistral Medium 3.5 parameters. " * 80  # ~3,600 characters
    answer = engine.ask(question)
    assert answer.question == question.strip() and answer.citations
    # However long, the question is about Mistral Medium 3.5, and that is what is cited.
    assert TAG_PAGE in {c.source for c in answer.citations}
    assert any("Mistral" in c.sentence for c in answer.citations)


def test_retrieve_returns_ranked_passages(engine, seeds_dir):
    passages = engine.retrieve("SoftBank bridge loan JPMorgan", k=3)
    assert len(passages) == 3 and all(isinstance(p, Passage) for p in passages)
    assert [p.rank for p in passages] == [1, 2, 3]
    assert passages[0].score >= passages[1].score >= passages[2].score
    top = passages[0]
    assert (seeds_dir / top.source).read_text(encoding="utf-8")[top.start : top.end] == top.text
    assert "SoftBank" in top.title


def test_k_is_keyword_only_and_validated(engine):
    with pytest.raises(TypeError):
        engine.ask("Who?", 3)  # type: ignore[misc]
    with pytest.raises(ValueError, match="k must be"):
        engine.ask("Who is the spokesperson?", k=0)


def test_records_are_immutable(engine):
    answer = engine.ask("Who is the European Commission spokesperson?")
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.citations[0].source = "x"  # type: ignore[misc]


def test_public_ask_loads_the_default_index_once(built_seed_index, seeds_dir, monkeypatch):
    import rag
    from rag import engine as engine_module

    monkeypatch.setenv("RAG_INDEX", str(built_seed_index))
    monkeypatch.setenv("RAG_CORPUS", str(seeds_dir))
    engine_module.clear_engines()
    loads = []
    original = engine_module.load_index
    monkeypatch.setattr(engine_module, "load_index", lambda path: loads.append(path) or original(path))
    first = rag.ask("How many parameters does Mistral Medium 3.5 have?")
    second = rag.ask("Who is the Commission spokesperson?", k=3)
    passages = rag.retrieve("Mistral Medium 3.5", k=2)
    assert len(loads) == 1
    assert first.citations[0].source == TAG_PAGE
    assert "Regnier" in second.text
    assert len(passages) == 2
    engine_module.clear_engines()


def test_a_cached_engine_follows_its_corpus(tmp_path, monkeypatch):
    """get_engine with a corpus re-indexes added and changed files on the next call."""
    from rag.engine import clear_engines, get_engine

    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")  # the fast lane's embedder: no model
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "ports.md").write_text(
        "# Ports\n\nThe harbour of Kotka handled 9 million tonnes.\n", encoding="utf-8"
    )
    try:
        first = get_engine(index, corpus)
        assert get_engine(index, corpus) is first  # nothing changed: the same engine
        (corpus / "rail.md").write_text(
            "# Rail\n\nThe Kouvola rail yard moved 2 million wagons.\n", encoding="utf-8"
        )
        second = get_engine(index, corpus)
        assert second is not first and {c.source for c in second.index.chunks} == {"ports.md", "rail.md"}
        (corpus / "rail.md").write_text(
            "# Rail\n\nThe Kouvola rail yard moved 3 million wagons.\n", encoding="utf-8"
        )
        third = get_engine(index, corpus)
        assert any("3 million" in c.text for c in third.index.chunks)
        assert not any("2 million" in c.text for c in third.index.chunks)
    finally:
        clear_engines(index)


@pytest.mark.parametrize("question", ["\ud800", "a \udcff b"])
def test_a_question_that_is_not_valid_text_is_a_question_error(fake_engine, question):
    from rag.errors import QuestionError

    with pytest.raises(QuestionError, match="not valid text"):
        fake_engine.ask(question)


def test_the_cli_says_so_in_one_line(fake_seed_index, capsys):
    from rag.cli import main

    assert main(["ask", "a \udcff b", "--index", str(fake_seed_index)]) == 1
    err = capsys.readouterr().err
    assert "not valid text" in err and len(err.strip().splitlines()) == 1


def test_ask_takes_the_conversation_and_answers_a_follow_up_as_it_stands_alone(built_seed_index, monkeypatch):
    """rag.ask(question, history=...) rewrites a follow-up as the UI and /v1 do: from earlier
    Answer objects or (question, answer) pairs; Answer.question is what was answered."""
    import rag
    from rag import engine as engine_module

    monkeypatch.setenv("RAG_INDEX", str(built_seed_index))
    engine_module.clear_engines()
    try:
        first = rag.ask("How many parameters does Mistral Medium 3.5 have?")
        alone = rag.ask("And what share of its revenues is generated in Europe?")
        followed = rag.ask("And what share of its revenues is generated in Europe?", history=[first])
        pairs = rag.ask(
            "And what share of its revenues is generated in Europe?",
            history=[("How many parameters does Mistral Medium 3.5 have?", first.text)],
        )
    finally:
        engine_module.clear_engines()
    assert alone.question == "And what share of its revenues is generated in Europe?"
    assert followed.question != alone.question and "Mistral" in followed.question
    assert pairs.question == followed.question and pairs.text == followed.text


def test_one_payload_for_every_client_with_exact_sentence_offsets(engine, seeds_dir):
    answer = engine.ask("How many parameters does Mistral Medium 3.5 have?")
    payload = answer.payload()
    assert payload["text"] == answer.text and payload["abstained"] is answer.abstained
    assert [c["number"] for c in payload["citations"]] == list(range(1, len(answer.citations) + 1))
    for data, citation in zip(payload["citations"], answer.citations, strict=True):
        original = (seeds_dir / data["source"]).read_text(encoding="utf-8")
        assert original[data["start"] : data["end"]] == data["sentence"] == citation.sentence
        assert original[data["passage_start"] : data["passage_end"]] == data["passage"]


def test_a_cached_engine_follows_a_build_made_elsewhere(tmp_path, monkeypatch):
    """A build that did not go through this process's engine cache (`rag index` beside a
    running server) is answered from on the next question: the live generation is compared."""
    from rag.engine import clear_engines, get_engine
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths

    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "ports.md").write_text("# Ports\n\nThe harbour of Kotka handled 9 million tonnes.\n")
    try:
        build_index(load_paths([corpus]), index)
        first = get_engine(index)
        assert get_engine(index) is first  # nothing changed: the same engine
        (corpus / "rail.md").write_text("# Rail\n\nThe Kouvola rail yard moved 2 million wagons.\n")
        build_index(load_paths([corpus]), index)  # as another process would: no cache cleared
        second = get_engine(index)
        assert second is not first and {c.source for c in second.index.chunks} == {"ports.md", "rail.md"}
    finally:
        clear_engines(index)
