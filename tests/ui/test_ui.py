import re
from dataclasses import replace

import pytest

from rag.serve.collections import answer_modes
from rag.ui.chat import open_document, respond, show_citation
from rag.ui.panels import document_html, sources_html
from rag.ui.render import NOT_FOUND_HEADING, answer_html
from rag.ui.state import Conversation
from tests.ports import on_free_port


def turn(engine, message, history=None, conversation=None, **options):
    """Run one chat turn to its end; returns the final update and how many updates came."""
    updates = list(respond(lambda: engine, message, history, conversation, **options))
    return updates[-1], len(updates)


def test_a_seed_question_streams_then_shows_answer_and_highlighted_source(engine):
    question = "How many parameters does Mistral Medium 3.5 have?"
    final, steps = turn(engine, question)
    assert steps >= 3  # the "searching" placeholder, at least one piece, the final answer
    assert final.history[0] == {"role": "user", "content": question}
    reply = final.history[1]["content"]
    assert "128-billion-parameter" in reply and "<a class='rag-cite' href='#cite-0-1'" in reply
    assert "003_dd93d9c36f4005fd.txt" in final.panel
    assert "<mark class='rag-support'>" in final.panel
    assert "128-billion-parameter" in re.sub("<[^>]+>", "", final.panel)  # the span's <strong> aside
    assert "<strong class='rag-span'>" in final.panel  # the reader's span, inside the sentence
    assert final.seconds_to_first_piece is not None


def test_a_model_answer_streams_only_checked_sentences_with_a_checking_line(engine):
    """Issue 17 item 4: while a model writes, the chat shows verified sentences and "checking…";
    a sentence that fails verification never appears, so nothing shown is taken back."""
    from rag.ui.render import CHECKING
    from tests.fakes import ScriptedGenerator

    written = (
        "A key element of the new strategy is Mistral Medium 3.5, a 128-billion-parameter scale model. "
        "Mistral Medium 3.5 is a 70-billion-parameter scale model. It is open."
    )
    question = "How many parameters does Mistral Medium 3.5 have?"
    # What the chat showed at each step (respond updates one history list in place).
    shown = [
        u.history[-1]["content"]
        for u in respond(lambda: engine, question, [], None, generator=ScriptedGenerator(written))
    ]
    streaming, final = shown[:-1], shown[-1]
    assert all(CHECKING in step for step in streaming)
    assert any("128-billion-parameter" in step for step in streaming)  # shown once checked
    assert not any("70-billion" in step for step in shown)
    assert CHECKING not in final and "128-billion-parameter" in final and "rag-cite" in final


def test_abstention_is_shown_distinctly_with_maybe_related_passages(engine):
    final, _ = turn(engine, "What is the population of Estonia?")
    reply = final.history[-1]["content"]
    assert (
        "rag-abstained" in reply and NOT_FOUND_HEADING in reply and "Maybe related (not an answer)" in reply
    )
    assert "Maybe related" in final.panel and "rag-support" not in final.panel


@pytest.mark.parametrize("question", ["", "   ", "x" * 100_000])
def test_bad_questions_become_a_message_not_a_traceback(fake_engine, question):
    final, _ = turn(fake_engine, question)
    reply = final.history[-1]
    assert reply["role"] == "assistant" and "⚠️" in reply["content"] and "rag-error" in reply["content"]
    assert "Traceback" not in reply["content"] and final.panel == ""


def test_an_unexpected_failure_is_logged_and_shown_as_one_line(caplog):
    def broken():
        raise ZeroDivisionError("boom")

    updates = list(respond(broken, "Who is the spokesperson?", [], None))
    reply = updates[-1].history[-1]["content"]
    assert "server log" in reply and "boom" not in reply and "ZeroDivisionError" in caplog.text


def test_a_follow_up_is_rewritten_and_the_rewrite_shown(engine):
    conversation = Conversation()
    first, _ = turn(engine, "How many parameters does Mistral Medium 3.5 have?", conversation=conversation)
    final, _ = turn(engine, "When was it released?", first.history, conversation)
    assert conversation.turns[1].resolved == "When was Mistral Medium 3.5 released?"
    assert "Searched for: <em>When was Mistral Medium 3.5 released?</em>" in final.history[-1]["content"]
    assert "href='#cite-1-1'" in final.history[-1]["content"]  # markers name their turn


def test_clicking_a_marker_and_opening_the_document(engine, seeds_dir):
    from rag.library import Library

    conversation = Conversation()
    turn(engine, "Who is the European Commission spokesperson?", conversation=conversation, library="seeds")
    panel = show_citation(conversation, 0, 1)
    assert "rag-active" in panel and "Thomas Regnier" in panel
    assert "no longer in this conversation" in show_citation(conversation, 5, 1)
    assert "has no source [9]" in show_citation(conversation, 0, 9)
    library = Library("seeds", seeds_dir, seeds_dir / "unused-index")
    document = open_document(conversation, 0, 1, lambda name: library)
    assert "<mark class='rag-support' id='rag-target'>" in document and "Thomas Regnier" in document
    assert "European Commission is holding ongoing discussions" in document  # the whole file


def test_a_changed_document_is_said_not_mis_highlighted(engine):
    answer = engine.ask("Who is the European Commission spokesperson?")
    html = document_html("completely different text now", answer.citations[0], 0, 1)
    assert "changed since it was indexed" in html and "Thomas Regnier" in html


def test_document_text_is_escaped_everywhere(engine):
    answer = engine.ask("Who is the European Commission spokesperson?")
    evil = replace(
        answer.citations[0],
        text="<script>alert(1)</script>" + answer.citations[0].text,
        title="<img src=x onerror=alert(1)>",
    )
    evil_answer = replace(answer, citations=[evil, *answer.citations[1:]], question="<b>q</b>")
    for html in (
        sources_html(evil_answer),
        answer_html(evil_answer, 0),
        document_html(evil.text, evil, 0, 1),
    ):
        assert "<script>" not in html and "<img" not in html and "<b>q" not in html


def test_answer_modes_offer_extractive_first():
    assert answer_modes()[0] == "extractive"


def test_the_served_app_answers_over_its_api_with_one_conversation_per_client(built_seed_index, corpus_copy):
    """A real server on loopback, called through its documented API like any client would."""
    from gradio_client import Client

    from rag.answer.reader import shared_reader
    from rag.library import Library
    from rag.ui.app import build_app, serve

    shared_reader.cache_clear()
    app = build_app([Library("seeds", corpus_copy, built_seed_index)])
    # The reader is loaded with the app (exported once per installation), not on the first question.
    assert shared_reader.cache_info().currsize == 1
    url = on_free_port(lambda port: serve(app, host="127.0.0.1", port=port, block=False))
    try:
        assert url.startswith("http://127.0.0.1:")
        client = Client(url, verbose=False)
        result = client.predict("How many parameters does Mistral Medium 3.5 have?", api_name="/answer")
        assert "128-billion-parameter" in result["text"] and not result["abstained"]
        cited = result["citations"][0]
        assert cited["source"] == "003_dd93d9c36f4005fd.txt" and cited["sentence"] in result["text"]
        documents = client.predict(api_name="/documents")
        assert {d["name"] for d in documents} >= {"003_dd93d9c36f4005fd.txt"} and documents[0]["chunks"] > 0

        history, sources, box = client.predict(
            "How many parameters does Mistral Medium 3.5 have?",
            [],
            5,
            "extractive",
            "seeds",
            api_name="/chat",
        )
        assert (
            "128-billion-parameter" in str(history[-1]["content"]) and "rag-support" in sources and box == ""
        )
        # the same client keeps its conversation: the follow-up is resolved against it …
        history, _, _ = client.predict(
            "When was it released?", history, 5, "extractive", "seeds", api_name="/chat"
        )
        assert "When was Mistral Medium 3.5 released?" in str(history[-1]["content"])
        # … while another client (another session) starts with none
        other = Client(url, verbose=False)
        history, _, _ = other.predict("When was it released?", [], 5, "extractive", "seeds", api_name="/chat")
        assert "Searched for" not in str(history[-1]["content"])
        # a bad question gets the real one-line message, not Gradio's generic error
        for bad, words in [("", "The question is empty"), ("x" * 4_001, "the limit is 4,000")]:
            with pytest.raises(Exception, match=words):
                client.predict(bad, api_name="/answer")
    finally:
        app.close()


def test_login_comes_from_the_environment_and_both_parts_are_needed(monkeypatch):
    from rag.config import login_from_env
    from rag.errors import RagError

    monkeypatch.delenv("RAG_USERNAME", raising=False)
    monkeypatch.delenv("RAG_PASSWORD", raising=False)
    assert login_from_env() is None
    monkeypatch.setenv("RAG_USERNAME", "ana")
    with pytest.raises(RagError, match="both"):
        login_from_env()
    monkeypatch.setenv("RAG_PASSWORD", "s3cret")
    assert login_from_env() == ("ana", "s3cret")


def test_serve_defaults_to_loopback_and_each_corpus_is_a_collection(tmp_path):
    from rag.cli import parser
    from rag.serve.collections import default_libraries

    args = parser().parse_args(["serve", "--corpus", "a", "--corpus", "b"])
    assert args.host == "127.0.0.1" and not args.share and [str(c) for c in args.corpus] == ["a", "b"]
    first, second = default_libraries([tmp_path / "docs", tmp_path / "more" / "docs"], tmp_path / "index")
    assert (first.name, first.index) == ("docs", tmp_path / "index")
    assert (second.name, second.index) == ("docs+", tmp_path / "index" / "corpora" / "docs+")


def test_a_chat_kept_in_the_browser_comes_back_whole_and_only_for_its_user(engine, tmp_path, monkeypatch):
    """Issue 17 item 9: what gr.BrowserState stores is JSON, and it rebuilds the same chat
    (markers still open their sources); another user, or a damaged record, gets a new chat."""
    import json
    import re
    import stat

    from rag.ui.history import history_secret, restored, stored

    first, _ = turn(engine, "How big is the bridge loan SoftBank is seeking?")
    last, _ = turn(engine, "Who leads it?", first.history, first.conversation)
    failed, _ = turn(engine, "x" * 5000, last.history, last.conversation)
    kept = json.loads(json.dumps(stored(failed.conversation, "ana")))  # through the browser
    history, conversation = restored(kept, "ana")
    assert [m["role"] for m in history] == ["user", "assistant"] * 3
    assert history[0]["content"] == "How big is the bridge loan SoftBank is seeking?"
    live = re.sub(r" · \d+\.\d\d s(?=\W)", "", last.history[1]["content"])  # the same but for the timing
    assert history[1]["content"] == live
    assert "Searched for" in history[3]["content"]  # the follow-up's rewrite is shown again
    assert "⚠️" in history[5]["content"] and "4,000" in history[5]["content"]
    assert conversation.turns[1].resolved == last.conversation.turns[1].resolved
    assert "<mark class='rag-support'>" in show_citation(conversation, 0, 1)  # markers still work
    assert restored(kept, "bo") == ([], Conversation())  # another user of the same browser
    assert restored(kept, None) == ([], Conversation())
    damaged = {
        **kept,
        "chats": {"": [{"question": "q", "resolved": "q", "library": "", "answer": {"text": 3}}]},
    }
    assert restored(damaged, "ana") == ([], Conversation())
    assert restored("garbage", "ana") == ([], Conversation())

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    secret = history_secret()
    assert len(secret) >= 32 and history_secret() == secret  # kept: histories outlive a restart
    assert stat.S_IMODE((tmp_path / "browser-history.key").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "damage",
    [
        {"generator": 5},
        {"note": ["x"]},
        {"confidence": True},
        {"sentences": [{"text": "t", "citation": 7, "support": 1.0}]},
    ],
)
def test_an_edited_stored_answer_starts_a_new_chat_instead_of_failing(engine, damage):
    """Review finding: wrongly typed fields or a citation number with no citation crashed the
    page-load event on every reload."""
    import json

    from rag.ui.history import restored, stored

    first, _ = turn(engine, "Who is the European Commission spokesperson?")
    kept = json.loads(json.dumps(stored(first.conversation, None)))
    kept["chats"][""][0]["answer"].update(damage)
    assert restored(kept, None) == ([], Conversation())
    assert restored({**kept, "chats": {"": ["a string"]}}, None) == ([], Conversation())


def test_each_collection_keeps_its_own_chat_and_the_choices_come_back(engine):
    """Issue 32 item 2: the browser keeps a chat per collection, the collection last chosen and
    the answer mode; a record of the old one-chat format is read as its collection's chat."""
    import json

    from rag.ui.history import MAX_CHATS, last_chosen, restored, stored

    news, _ = turn(engine, "Who is the European Commission spokesperson?", library="seeds")
    papers, _ = turn(engine, "How big is the bridge loan SoftBank is seeking?", library="papers")
    kept = stored(news.conversation, "ana", collection="seeds", mode="extractive")
    kept = stored(papers.conversation, "ana", previous=kept, collection="papers")
    kept = json.loads(json.dumps(stored(None, "ana", previous=kept, mode="openai")))
    assert last_chosen(kept, "ana") == ("papers", "openai") and last_chosen(kept, "bo") == ("", "")
    assert restored(kept, "ana")[1].turns[0].question.startswith("How big")  # the last chosen
    assert restored(kept, "ana", "seeds")[1].turns[0].question.startswith("Who is")
    assert restored(kept, "ana", "other") == ([], Conversation())
    emptied = stored(Conversation(), "ana", previous=kept, collection="seeds")
    assert restored(emptied, "ana", "seeds") == ([], Conversation()) and restored(emptied, "ana", "papers")[0]
    for number in range(MAX_CHATS + 2):
        kept = stored(news.conversation, "ana", previous=kept, collection=f"c{number}")
    assert len(kept["chats"]) == MAX_CHATS and f"c{MAX_CHATS + 1}" in kept["chats"]
    old = {
        "format": 1,
        "user": "ana",
        "turns": stored(news.conversation, "ana", collection="seeds")["chats"]["seeds"],
    }
    assert last_chosen(old, "ana") == ("seeds", "") and restored(old, "ana", "seeds")[1].turns


def test_the_answer_span_is_highlighted_inside_the_sentence():
    from rag.records import Answer, Chunk, Citation, Sentence

    text = "Intro. It was written by Mary Shelley in 1818. Outro."
    chunk = Chunk(
        0,
        "book.md",
        "Book",
        text,
        100,
        100 + len(text),
        (Sentence("It was written by Mary Shelley in 1818.", 107, 146),),
    )
    cited = Citation.of(chunk, 0, 1.0, span=(125, 137))
    assert cited.span == "Mary Shelley"
    answered = sources_html(Answer("Who wrote it?", "…", [cited]))
    span = "<strong class='rag-span'>Mary Shelley</strong>"
    assert f"<mark class='rag-support'>It was written by {span} in 1818.</mark>" in answered
    document = document_html(" " * 100 + text, cited, 1, 1, abstained=False)
    assert "<strong class='rag-span'>Mary Shelley</strong>" in document
    closest = sources_html(Answer("Who wrote it?", "not found", [cited], abstained=True))
    assert "rag-span" not in closest  # a closest passage offers no answer
    with pytest.raises(ValueError):
        Citation.of(chunk, 0, 1.0, span=(100, 137))  # a span outside its sentence


def test_a_follow_up_answered_with_the_same_sentences_says_so(engine):
    """Issue 32 item 8: "Why?" after a "why" question repeated the answer without a word."""
    first, _ = turn(engine, "Why does Anthropic refuse to share Mythos with the EU?")
    again, _ = turn(engine, "Why?", first.history, first.conversation)
    answer = again.conversation.turns[-1].answer
    assert (
        answer is not None and answer.note == "The documents say nothing more on this than the answer above."
    )
    assert "say nothing more on this" in again.history[-1]["content"]
    other, _ = turn(engine, "Who is the European Commission spokesperson?", again.history, again.conversation)
    assert not other.conversation.turns[-1].answer.note  # a new question is answered as usual


def test_smaller_items_one_line_per_related_document_the_models_name_and_no_heading_marks():
    """Issue 32 item 9: "Maybe related" listed the same source twice; the footer said "openai"
    instead of the model; a Word document's view showed "#" before its headings."""
    from rag.records import Answer, Chunk, Citation, Sentence

    text = "# Pump manual\n\nThe filters are replaced every six weeks. The pumps were installed in 2019."
    first, second = (
        Sentence("The filters are replaced every six weeks.", 15, 56),
        Sentence("The pumps were installed in 2019.", 57, 90),
    )
    chunk = Chunk(0, "manual.docx", "Pump manual", text, 0, len(text), (first, second))
    near = [Citation.of(chunk, 0, 0.4), Citation.of(chunk, 1, 0.3)]
    shown = answer_html(Answer("How big is the tank?", "not found", near, abstained=True), 0)
    assert shown.count("<li>") == 1 and shown.count("manual.docx</span>") == 1
    assert "#cite-0-1" in shown and "#cite-0-2" in shown  # both markers, on the one line
    written = Answer(
        "q", "The filters are replaced every six weeks. [1]", near[:1], generator="openai", model="qwen2.5:3b"
    )
    assert "openai: qwen2.5:3b · 1 source" in answer_html(written, 0)
    assert Answer.from_dict(written.to_dict()) == written and written.payload()["model"] == "qwen2.5:3b"
    view = document_html(text, near[0], 0, 1)
    assert "<span class='rag-md-mark' aria-hidden='true'># </span>Pump manual" in view
    plain = document_html(text, replace(near[0], source="notes.txt"), 0, 1)
    assert "rag-md-mark" not in plain  # a text file's own "#" is the author's
