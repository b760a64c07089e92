"""The Chat tab: the question box, the streamed answers and the source panel beside them.

Every handler reads the served collections (:class:`rag.serve.collections.Libraries`) and the
settings of the sidebar (:class:`rag.ui.settings.Controls`); ``/chat`` is the same answer
without the buttons.
"""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from rag.config import MAX_QUESTION_CHARS
from rag.engine import check_question
from rag.errors import QuestionError, RagError
from rag.library import Library
from rag.serve.collections import Libraries
from rag.ui.assets import PANEL_JS
from rag.ui.chat import open_document, respond, show_citation
from rag.ui.history import last_chosen, restored, stored, stored_chats
from rag.ui.panels import EMPTY_PANEL
from rag.ui.render import stopped_html
from rag.ui.settings import Controls
from rag.ui.state import Conversation
from rag.ui.stopping import Streams

EXAMPLES = [
    "How many parameters does Mistral Medium 3.5 have?",
    "Who is the European Commission spokesperson?",
    "How big is the bridge loan SoftBank is seeking to finance its OpenAI investment?",
    "What share of Mistral's revenues is generated in Europe?",
]
# The example questions are about these seed files; other collections get none.
SEED_FILES = ("001_e7367d59c646826d.txt", "003_dd93d9c36f4005fd.txt")
PLACEHOLDER = "**Ask a question about your documents** — or start with one of these:"


def examples_for(library: Library) -> list[str]:
    """Example questions for the chat's first screen: the seeds' own, and none for any other
    collection (questions about the news would only get "Not found" there)."""
    return EXAMPLES if all((library.corpus / name).is_file() for name in SEED_FILES) else []


def chat_update(history: list, library: Library) -> Any:
    """The chat's messages, with ``library``'s example cards (hidden when it has none)."""
    return gr.update(value=history, examples=[{"text": q} for q in examples_for(library)])


def example_text(evt: gr.SelectData) -> str:
    """The question of a clicked example card."""
    return str(evt.value["text"])


def chat_tab(
    app: gr.Blocks, shared: Libraries, controls: Controls, conversation: gr.State, kept: gr.BrowserState
) -> None:
    """Lay out the Chat tab inside ``app`` and wire its events (call it inside ``gr.Tabs``)."""
    k, mode, library = controls.k, controls.mode, controls.library
    default = shared.get(None)
    modes = [value for _, value in mode.choices]
    streams = Streams()  # what Stop closes, per browser session

    def on_ask(  # noqa: ANN202
        message: str,
        history: list,
        conversation: Conversation,
        k: float,
        mode: str,
        library: str,
        stop: threading.Event | None = None,
    ):
        if not (message or "").strip():  # Enter on an empty box: nothing to answer, nothing to say
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            check_question(message)
        except QuestionError as error:  # refused: no bubble, the question stays in the box to fix
            raise gr.Error(str(error), print_exception=False) from None
        for update in respond(
            lambda: shared.engine(library),
            message,
            history,
            conversation,
            k=int(k),
            generator=mode,
            library=library,
            stop=stop,
        ):
            yield update.history, update.conversation, gr.skip() if update.panel is None else update.panel, ""

    def on_ask_ui(  # noqa: ANN202
        message: str,
        history: list,
        conversation: Conversation,
        k: float,
        mode: str,
        library: str,
        previous: Any,
        request: gr.Request,
    ):
        """Ask in the page: the answer, with Stop in Ask's place until it is complete; the
        finished turn is then kept in the browser (rag/ui/history.py), in the collection's chat."""
        check = streams.track(
            request.session_hash or "",
            lambda stop: on_ask(message, history, conversation, k, mode, library, stop),
        )
        first = next(check)  # a refused question raises here, before the buttons change
        writing, done = (
            (gr.update(visible=False), gr.update(visible=True)),
            (gr.update(visible=True), gr.update(visible=False)),
        )
        yield (*first, *writing, gr.skip())
        latest = first[1]
        for update in check:
            latest = update[1] if isinstance(update[1], Conversation) else latest
            yield (*update, *writing, gr.skip())
        kept = (
            stored(latest, request.username, previous=previous, collection=library, mode=mode)
            if isinstance(latest, Conversation)
            else gr.skip()
        )
        yield (gr.skip(), gr.skip(), gr.skip(), gr.skip(), *done, kept)

    def on_submit(  # noqa: ANN202
        message: str,
        history: list,
        conversation: Conversation,
        k: float,
        mode: str,
        library: str,
        previous: Any,
        request: gr.Request,
    ):
        """Enter in the box: as Ask, but a question Ask would refuse is held back silently (the
        line under the box already says why), with no error shown over the chat."""
        try:
            check_question(message)
        except QuestionError:
            yield (gr.skip(),) * 7
            return
        yield from on_ask_ui(message, history, conversation, k, mode, library, previous, request)

    def on_restore(kept: Any, request: gr.Request) -> tuple[Any, ...]:
        """A page (re)opened: the collection and answer mode last chosen in this browser (when
        they are still offered) and that collection's chat, if any."""
        stored_as, chosen_mode = last_chosen(kept, request.username)
        collection = _current_name(stored_as) or default.name
        history, conversation = restored(
            kept, request.username, _chat_key(kept, request.username, collection)
        )
        mode_now = gr.update(value=chosen_mode) if chosen_mode in modes else gr.skip()
        library_now = gr.update(choices=shared.names, value=collection)
        return chat_update(history, shared.get(collection)), conversation, library_now, mode_now

    def on_switch(library: str, kept: Any, request: gr.Request) -> tuple[Any, ...]:
        """Another collection chosen: its own chat comes back (the chat belongs to it)."""
        history, conversation = restored(kept, request.username, _chat_key(kept, request.username, library))
        remembered = stored(None, request.username, previous=kept, collection=library)
        return chat_update(history, shared.get(library)), conversation, EMPTY_PANEL, remembered

    def _current_name(name: str) -> str | None:
        """The collection's name now (a renamed one's old name finds it), None when it is gone."""
        try:
            return shared.get(name).name if name else None
        except RagError:
            return None

    def _chat_key(kept: Any, user: str | None, library: str) -> str:
        """The name ``library``'s chat is stored under: its own, or a name it had before."""
        names = stored_chats(kept, user)
        if library in names:
            return library
        return next((old for old in reversed(names) if _current_name(old) == library), library)

    def on_mode(mode: str, kept: Any, request: gr.Request) -> Any:
        """The answer mode chosen is kept like the chat, so a reload keeps it."""
        return stored(None, request.username, previous=kept, mode=mode)

    def on_new_chat(library: str, kept: Any, request: gr.Request) -> tuple[Any, ...]:
        """New chat: the chosen collection's chat is emptied, here and in the browser."""
        emptied = stored(Conversation(), request.username, previous=kept, collection=library)
        return [], Conversation(), EMPTY_PANEL, "", emptied

    def on_cleared(library: str, kept: Any, request: gr.Request) -> tuple[Any, ...]:
        """The chat's own clear button: as New chat, the box left alone."""
        _, conversation, panel, _, emptied = on_new_chat(library, kept, request)
        return conversation, panel, emptied

    def on_stop(history: list, request: gr.Request) -> tuple[Any, Any, list]:
        """Stop: the answer being written is closed, which ends the model's stream (Gradio's
        cancel alone leaves it running: rag.ui.stopping), and its unverified text is withdrawn."""
        streams.stop(request.session_hash or "")
        history = list(history or [])
        if (
            history
            and history[-1].get("role") == "assistant"
            and "rag-streaming" in str(history[-1]["content"])
        ):
            history[-1] = {"role": "assistant", "content": stopped_html()}
        return gr.update(visible=True), gr.update(visible=False), history

    def on_type(message: str) -> tuple[Any, str]:
        """Ask is enabled for a question that can be sent; the length shows against the limit."""
        length = len((message or "").strip())
        counter = f"{length:,} / {MAX_QUESTION_CHARS:,} characters" if length else ""
        if length > MAX_QUESTION_CHARS:
            counter = f"⚠️ {counter}: shorten the question to send it"
        return gr.update(interactive=0 < length <= MAX_QUESTION_CHARS), counter

    def on_cite(conversation: Conversation, evt: gr.EventData) -> str:
        data = evt._data or {}
        return show_citation(conversation, data.get("turn", -1), data.get("n", 0))

    def on_open(conversation: Conversation, evt: gr.EventData) -> str:
        data = evt._data or {}
        return open_document(conversation, data.get("turn", -1), data.get("n", 0), shared.get)

    with gr.Tab("Chat", id="chat-tab"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    show_label=False,  # its badge sat over the first message
                    elem_id="chat",
                    # The window's height less the header, the box and its counter: the
                    # box stays on screen on a phone, and a wide screen's height is used.
                    height="calc(100dvh - 390px)",
                    min_height=280,
                    buttons=[],
                    latex_delimiters=[],
                    examples=[{"text": q} for q in examples_for(default)] or None,
                    placeholder=PLACEHOLDER,
                )
                with gr.Row(elem_id="input-row"):
                    question = gr.Textbox(
                        placeholder="Ask a question about your documents…",
                        show_label=False,
                        elem_id="question",
                        scale=6,
                        min_width=100,  # leaves Ask and New chat room on a phone
                        autofocus=True,
                        max_lines=4,
                    )
                    ask = gr.Button(
                        "Ask",
                        variant="primary",
                        elem_id="ask",
                        scale=1,
                        min_width=80,
                        interactive=False,
                    )
                    stop = gr.Button(
                        "Stop", variant="stop", elem_id="stop", scale=1, min_width=80, visible=False
                    )
                    clear = gr.Button("New chat", elem_id="clear", scale=1, min_width=80)
                    api_chat = gr.Button(visible=False)  # /chat's event: the answer alone
                counter = gr.Markdown("", elem_id="question-count")
            with gr.Column(scale=2):
                panel = gr.HTML(
                    EMPTY_PANEL,
                    elem_id="sources",
                    js_on_load=PANEL_JS,
                    max_height="80vh",  # type: ignore[arg-type]  # gradio takes CSS lengths too (its docstring)
                )

    chat_in = [question, chatbot, conversation, k, mode, library]
    chat_out = [chatbot, conversation, panel, question]
    # The UI's Ask and Enter: Stop takes Ask's place while the answer is written, and Enter
    # meanwhile is ignored (trigger_mode "once"), so a new question waits in the box
    # instead of racing the answer. /chat is the same answer without the buttons.
    ui_in = [*chat_in, kept]
    ui_out = [*chat_out, ask, stop, kept]
    asked = ask.click(
        on_ask_ui, ui_in, ui_out, api_visibility="private", show_progress="hidden", trigger_mode="once"
    )
    api_chat.click(on_ask, chat_in, chat_out, api_name="chat", show_progress="hidden")
    question.change(
        on_type,
        question,
        [ask, counter],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
        trigger_mode="always_last",
    )
    submitted = question.submit(
        on_submit, ui_in, ui_out, api_visibility="private", show_progress="hidden", trigger_mode="once"
    )
    example = chatbot.example_select(example_text, None, question, api_visibility="private").then(
        on_ask_ui, ui_in, ui_out, api_visibility="private", show_progress="hidden", trigger_mode="once"
    )
    stop.click(
        on_stop,
        chatbot,
        [ask, stop, chatbot],
        cancels=[asked, submitted, example],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )

    # New chat: an empty conversation for this collection, here and in the browser's storage.
    clear.click(
        on_new_chat, [library, kept], [chatbot, conversation, panel, question, kept], api_visibility="private"
    )
    chatbot.clear(on_cleared, [library, kept], [conversation, panel, kept], api_visibility="private")
    app.load(
        on_restore,
        kept,
        [chatbot, conversation, library, mode],
        api_visibility="private",
        show_progress="hidden",
    )
    # .change, not .input: a collection made, renamed or chosen by an upload switches too.
    library.change(
        on_switch,
        [library, kept],
        [chatbot, conversation, panel, kept],
        api_visibility="private",
        show_progress="hidden",
    )
    mode.input(on_mode, [mode, kept], kept, api_visibility="private", show_progress="hidden")
    panel.cite(on_cite, [conversation], panel, api_visibility="private", show_progress="hidden")
    panel.open(on_open, [conversation], panel, api_visibility="private", show_progress="hidden")
