"""The chat UI: ask a question, read the answer, check every sentence against its source."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rag.engine import Engine, get_engine
from rag.errors import RagError
from ui.render import reply_markdown, sources_html

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many parameters does Mistral Medium 3.5 have?",
    "Who is the European Commission spokesperson?",
    "How much is SoftBank borrowing to invest in OpenAI?",
    "What is the population of Estonia?",
]

CSS = """
mark.rag-support { background: #fde68a; padding: 0 2px; }
.rag-source { margin-bottom: 1em; }
.rag-maybe { color: #92400e; }
"""


def respond(engine: Engine, message: str, history: list[dict[str, Any]], k: int = 5) -> tuple[list, str, str]:
    """One chat turn: returns the new history, the sources panel and an empty input box.

    Errors a user can fix (an empty question, a missing index) become the assistant's reply,
    never a traceback.
    """
    history = list(history or [])
    history.append({"role": "user", "content": message or ""})
    try:
        answer = engine.ask(message, k=int(k))
    except (RagError, ValueError) as error:
        history.append({"role": "assistant", "content": f"⚠️ {error}"})
        return history, "", ""
    except Exception:  # keep the UI alive; the log has the traceback
        log.exception("Answering %r failed", message)
        history.append({"role": "assistant", "content": "⚠️ Something went wrong while answering; see the server log."})
        return history, "", ""
    history.append({"role": "assistant", "content": reply_markdown(answer)})
    return history, sources_html(answer), ""


def build_app(index: Path | None = None, corpus: Path | None = None):  # noqa: ANN201 - gr.Blocks
    import gradio as gr

    engine = get_engine(index, corpus)  # loaded once, shared by every session

    def on_submit(message: str, history: list, k: int):  # noqa: ANN202
        return respond(engine, message, history, k)

    with gr.Blocks(title="rag — answers from your documents") as app:
        gr.Markdown("## Ask your documents\nEvery answer sentence cites the passage it comes from.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480, elem_id="chat")
                question = gr.Textbox(label="Question", placeholder="Ask a question about your documents…", elem_id="question")
                with gr.Row():
                    ask_button = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.ClearButton(value="Clear")
                gr.Examples(EXAMPLES, inputs=question)
            with gr.Column(scale=2):
                passages = gr.Slider(1, 10, value=5, step=1, label="Passages")
                sources = gr.HTML(label="Sources", elem_id="sources")
        clear.add([chat, sources, question])
        for trigger in (question.submit, ask_button.click):
            trigger(on_submit, [question, chat, passages], [chat, sources, question], api_name="ask" if trigger == ask_button.click else False)
    return app


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    index: Path | None = None,
    corpus: Path | None = None,
    share: bool = False,
) -> None:
    import gradio as gr

    app = build_app(index, corpus)
    app.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=share, css=CSS, theme=gr.themes.Soft(), show_error=False
    )
