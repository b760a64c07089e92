import socket

import pytest

from ui.app import respond
from ui.render import NOT_FOUND_HEADING, sources_html


def test_a_seed_question_shows_answer_and_highlighted_source(engine):
    history, sources, box = respond(engine, "How many parameters does Mistral Medium 3.5 have?", [])
    assert box == ""
    assert history[0] == {"role": "user", "content": "How many parameters does Mistral Medium 3.5 have?"}
    assert "128-billion-parameter" in history[1]["content"] and "[1]" in history[1]["content"]
    assert "003_dd93d9c36f4005fd.txt" in sources
    assert "<mark class='rag-support'>" in sources and "128-billion-parameter" in sources


def test_abstention_is_shown_distinctly(engine):
    history, sources, _ = respond(engine, "What is the population of Estonia?", [])
    assert history[-1]["content"].startswith(f"**{NOT_FOUND_HEADING}.**")
    assert "Maybe related" in sources


@pytest.mark.parametrize("question", ["", "   ", "x" * 100_000])
def test_bad_questions_become_a_message_not_a_traceback(engine, question):
    history, sources, _ = respond(engine, question, [])
    assert history[-1]["role"] == "assistant" and history[-1]["content"].startswith("⚠️")
    assert "Traceback" not in history[-1]["content"] and sources == ""


def test_source_html_escapes_document_text(engine):
    answer = engine.ask("Who is the European Commission spokesperson?")
    from dataclasses import replace

    evil = replace(answer.citations[0], text="<script>alert(1)</script>" + answer.citations[0].text)
    html = sources_html(replace(answer, citations=[evil]))
    assert "<script>" not in html and "&lt;script&gt;" in html


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_served_app_answers_over_http(built_seed_index):
    """A real Gradio server on loopback, called through its API like any client would."""
    from gradio_client import Client

    from ui.app import build_app

    app = build_app(index=built_seed_index)
    port = _free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        history, sources, box = client.predict(
            "How many parameters does Mistral Medium 3.5 have?", [], 5, api_name="/ask"
        )
        assert any("128-billion-parameter" in str(m.get("content")) for m in history)
        assert "003_dd93d9c36f4005fd.txt" in sources
    finally:
        app.close()
