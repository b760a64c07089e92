"""The web UI: chat with cited, streamed answers beside a source panel, and a documents tab.

Served by ``rag serve`` / ``make run`` on 127.0.0.1 by default. The model and each index
are loaded once and shared; every browser session has its own conversation.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr  # this module is the UI: `import rag` never imports it

from rag.config import MAX_QUESTION_CHARS
from rag.engine import check_question
from rag.errors import QuestionError, RagError
from rag.indexing.build import counted
from rag.ingest.formats import SUFFIXES, supported_types
from rag.library import Library
from ui.assets import CONFIRM_DELETE_JS, CSS, PANEL_JS
from ui.chat import UNEXPECTED, open_document, respond, show_citation
from ui.history import CLEARED, STORAGE_KEY, history_secret, restored, stored
from ui.panels import EMPTY_PANEL, documents_rows
from ui.render import stopped_html
from ui.state import Conversation, FolderWatch, Libraries, answer_modes, default_libraries

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many parameters does Mistral Medium 3.5 have?",
    "Who is the European Commission spokesperson?",
    "How big is the bridge loan SoftBank is seeking to finance its OpenAI investment?",
    "What share of Mistral's revenues is generated in Europe?",
]
# The example questions are about these seed files; other collections get none.
SEED_FILES = ("001_e7367d59c646826d.txt", "003_dd93d9c36f4005fd.txt")
PLACEHOLDER = "**Ask a question about your documents** — or start with one of these:"
MODE_HELP = (
    "Exact quotes from the documents, or an answer written by a model (offered when one is configured) "
    "whose every sentence is checked against them"
)
# What each answer mode is called on screen; /chat and /answer take the names themselves.
MODE_LABELS = {
    "extractive": "Extractive (exact quotes)",
    "llama-cpp": "Local model (llama.cpp)",
    "openai": "OpenAI-compatible server",
}
PASSAGES_HELP = (
    "How many of the best-matching passages the answer may quote from: more can find an answer "
    "spread over several places, fewer keeps it focused"
)
# The state of the chosen answer mode, as a coloured dot (no emoji: not every font has them).
READY_DOT = "<span class='rag-health rag-ready'>●</span>"
DOWN_DOT = "<span class='rag-health rag-down'>●</span>"
DOCUMENT_HEADERS = ["name", "title", "size", "chunks", "indexed"]
UPLOAD_TYPES = sorted(SUFFIXES)  # the formats registry's, so the picker and the checks agree
# With --watch, how often (seconds) each open page checks whether its documents list changed:
# one small file read per check, and a change on disk shows within about this long.
REFRESH_SECONDS = 2.0


def examples_for(library: Library) -> list[str]:
    """Example questions for the chat's first screen (the seeds' own, else none)."""
    return EXAMPLES if all((library.corpus / name).is_file() for name in SEED_FILES) else []


def example_text(evt: gr.SelectData) -> str:
    """The question of a clicked example card."""
    return str(evt.value["text"])


def build_app(
    libraries: Sequence[Library] | None = None,
    *,
    index: Path | None = None,
    corpus: Path | None = None,
    watch: bool = False,
    isolate_builds: bool = True,
) -> gr.Blocks:
    """The Gradio app over ``libraries`` (default: one over ``corpus``/``index``, or seeds/).

    With ``isolate_builds`` (the default), uploads, deletes and folder syncs index in one
    worker process at a lower priority (rag.indexing.worker), so questions keep their speed
    while a large file is indexed; libraries given with a builder of their own keep it.

    With ``watch``, :func:`serve` keeps every collection's index in step with its folder
    (``app.rag_watch``, a :class:`ui.state.FolderWatch`) and open pages refresh their
    documents list when it changed.
    """
    collections = list(libraries or default_libraries([corpus] if corpus else [], index))
    from rag.indexing.stores import one_process_only

    if isolate_builds and not one_process_only():  # a Milvus Lite file: builds stay in this process
        from rag.indexing.worker import BuildWorker

        worker = BuildWorker()  # started on the first build, shared by the collections
        for collection in collections:
            collection.builder = collection.builder or worker
    shared = Libraries(collections)
    shared.engine(None)  # load the model and the default index now, not on the first question
    folders = FolderWatch(shared) if watch else None
    modes = answer_modes()
    default = shared.get(None)

    def on_ask(message: str, history: list, conversation: Conversation, k: float, mode: str, library: str):  # noqa: ANN202
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
        ):
            yield update.history, update.conversation, gr.skip() if update.panel is None else update.panel, ""

    def on_ask_ui(  # noqa: ANN202
        message: str,
        history: list,
        conversation: Conversation,
        k: float,
        mode: str,
        library: str,
        request: gr.Request,
    ):
        """Ask in the page: the answer, with Stop in Ask's place until it is complete; the
        finished turn is then kept in the browser (ui/history.py)."""
        check = on_ask(message, history, conversation, k, mode, library)
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
        kept = stored(latest, request.username) if isinstance(latest, Conversation) else gr.skip()
        yield (gr.skip(), gr.skip(), gr.skip(), gr.skip(), *done, kept)

    def on_submit(  # noqa: ANN202
        message: str,
        history: list,
        conversation: Conversation,
        k: float,
        mode: str,
        library: str,
        request: gr.Request,
    ):
        """Enter in the box: as Ask, but a question Ask would refuse is held back silently (the
        line under the box already says why), with no error shown over the chat."""
        try:
            check_question(message)
        except QuestionError:
            yield (gr.skip(),) * 7
            return
        yield from on_ask_ui(message, history, conversation, k, mode, library, request)

    def on_restore(kept: Any, request: gr.Request) -> tuple[list, Conversation]:
        """A page (re)opened: the chat this user had in this browser, if any."""
        return restored(kept, request.username)

    def on_stop(history: list) -> tuple[Any, Any, list]:
        """Stop: the answer being written is cancelled (Gradio closes its generator, which
        stops the model's stream) and its unverified text is withdrawn."""
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

    def on_health(chosen: str) -> tuple[Any, str]:
        """Each mode checked (rag.answer.generators.health): an unavailable one is labelled so
        in the list, and the chosen one's state is said under it, with the fix."""
        from rag.answer.generators.health import check_backend

        health = {name: check_backend(name) for name in modes}
        choices = [
            (MODE_LABELS.get(name, name) + ("" if health[name].available else " — unavailable"), name)
            for name in modes
        ]
        state = health.get(chosen) or check_backend(chosen)
        detail = html.escape(state.detail.rstrip("."))  # a server's error text, shown as text
        if state.available:
            line = f"{READY_DOT} {detail[:1].upper()}{detail[1:]}."
        else:
            # A server that cannot be reached is answered for by the exact quotes (with a
            # note); a local model that cannot load stops the answer with its error.
            meanwhile = (
                "until it is back, answers in this mode are the exact quotes"
                if chosen == "openai"
                else "choose another mode until it is fixed"
            )
            line = f"{DOWN_DOT} Unavailable: {detail}; {meanwhile}."
        return gr.update(choices=choices), line

    def on_cite(conversation: Conversation, evt: gr.EventData) -> str:
        data = evt._data or {}
        return show_citation(conversation, data.get("turn", -1), data.get("n", 0))

    def on_open(conversation: Conversation, evt: gr.EventData) -> str:
        data = evt._data or {}
        return open_document(conversation, data.get("turn", -1), data.get("n", 0), shared.get)

    def documents_view(library: str) -> tuple[Any, Any, str]:
        lib = shared.get(library)
        documents = lib.documents()
        rows = documents_rows(documents)
        names = [document.name for document in documents]
        chunks = sum(document.chunks for document in documents)
        heading = f"**{len(rows)} documents, {chunks} chunks** in `{lib.name}` (folder `{lib.corpus}`)."
        return gr.update(value=rows), gr.update(choices=names, value=None), heading

    def on_upload(files: list | None, library: str, progress: gr.Progress = gr.Progress()):  # noqa: B008, ANN202
        uploads = [(Path(f).name, Path(f)) for f in files or []]
        try:
            lib = shared.get(library)
            report = lib.add(uploads, progress=lambda f, message: progress(f, desc=message))
            if report.stored:
                progress(0.97, desc="Loading the new index")
                shared.engine(library)  # warm the reloaded engine before the next question
            status = report.summary()
            if report.rejected and not report.stored and not report.unchanged:
                status = "⚠️ " + status
        except RagError as error:
            status = f"⚠️ {error}"
        except Exception:
            log.exception("Upload to %s failed", library)
            status = "⚠️ " + UNEXPECTED.replace("answering", "adding the files")
        return (status, *documents_view(library), None)

    def on_delete(name: str | None, library: str, progress: gr.Progress = gr.Progress()):  # noqa: B008, ANN202
        if not name:
            return ("Choose a document to delete.", *documents_view(library))
        try:
            report = shared.get(library).delete(name, progress=lambda f, message: progress(f, desc=message))
            shared.engine(library)
            held = f"{counted(report.chunks, 'chunk')} from {counted(report.files, 'file')}"
            status = f"Deleted {name}; the index now holds {held}."
        except RagError as error:
            status = f"⚠️ {error}"
        return (status, *documents_view(library))

    def on_row(evt: gr.SelectData) -> tuple[Any, Any]:
        """A click on a document's row chooses it for deleting (the button then names it)."""
        # The clicked row's own values: after sorting, its index no longer points into ``rows``.
        row = evt.row_value or []
        if not row:
            return gr.skip(), gr.skip()
        name = str(row[0])
        return gr.update(value=name), delete_label(name)

    def delete_label(name: str | None) -> Any:
        return gr.update(value=f"Delete {name}" if name else "Delete document")

    def answer(question: str, k: int = 5, library: str = "", mode: str = "extractive") -> dict:
        """Answer one question (no conversation): text, abstained, and citations with spans."""
        option = {"generator": mode} if mode and mode != "extractive" else {}
        try:
            result = shared.engine(library or None).ask(question, k=int(k), **option)
        except (RagError, ValueError) as error:  # the real one-line message, not Gradio's generic one
            raise gr.Error(str(error), print_exception=False) from None
        return {
            "question": result.question,
            "text": result.text,
            "abstained": result.abstained,
            "generator": result.generator,
            "note": result.note,
            "citations": [
                {
                    "source": c.source,
                    "title": c.title,
                    "sentence": c.sentence,
                    "start": c.sentence_span[0],
                    "end": c.sentence_span[1],
                    "passage": c.text,
                    "page": c.page,
                }
                for c in result.citations
            ],
        }

    def on_tick(library: str, seen: str) -> tuple[Any, Any, Any, str]:
        assert folders is not None
        stamp = folders.stamp(library)
        if stamp == seen:  # nothing changed: leave the table (and a chosen document) alone
            return gr.skip(), gr.skip(), gr.skip(), seen
        return (*documents_view(library), stamp)

    def list_documents(library: str = "") -> list[dict]:
        """The documents of a collection: name, title, size (bytes), chunks, indexed (epoch s)."""
        return [vars(d) for d in shared.get(library or None).documents()]

    with gr.Blocks(title="rag — answers from your documents") as app:
        conversation = gr.State(Conversation())
        kept = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=history_secret())
        # A sidebar rather than a section under the chat: its toggle stays in the corner of
        # every screen and tab, so settings are one click away without scrolling.
        with gr.Sidebar(label="Settings", open=False, elem_id="settings", width=340):
            gr.Markdown("### Settings")
            mode = gr.Radio(
                [(MODE_LABELS.get(name, name), name) for name in modes],  # the API keeps the names
                value=modes[0],
                label="Answer mode",
                elem_id="mode",
                info=MODE_HELP,
            )
            mode_status = gr.Markdown(elem_id="mode-status")
            k = gr.Slider(
                1,
                10,
                value=5,
                step=1,
                label="Passages to answer from",
                info=PASSAGES_HELP,
                elem_id="k",
            )
            library = gr.Dropdown(
                shared.names,
                value=default.name,
                label="Document collection (index)",
                elem_id="library",
                interactive=len(shared.names) > 1,
            )
        gr.HTML(
            "<h2 style='margin:0'>Ask your documents</h2><p style='margin:.2em 0 0 0;color:#6b7280'>"
            "Every answer sentence cites the passage it comes from: click a marker like "
            "<span class='rag-cite'>[1]</span> to check it.</p>"
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="Chat",
                            show_label=False,  # its badge sat over the first message
                            elem_id="chat",
                            # The window's height less the header, the box and its counter: the
                            # box stays on screen on a phone, and a wide screen's height is used.
                            height="calc(100dvh - 330px)",
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
            with gr.Tab("Documents", id="documents-tab"):
                heading = gr.Markdown(elem_id="documents-heading")
                upload = gr.File(
                    label=f"Add documents: {supported_types()} (type checked by content)",
                    file_count="multiple",
                    file_types=UPLOAD_TYPES,
                    elem_id="upload",
                    height=140,
                )
                status = gr.Markdown(elem_id="upload-status", min_height=70)
                table = gr.Dataframe(
                    headers=DOCUMENT_HEADERS, interactive=False, elem_id="documents", wrap=True
                )
                with gr.Row():
                    # Any name is accepted here and checked by Library.delete, so that /delete works
                    # from an API session whose list of choices was never filled.
                    doomed = gr.Dropdown(
                        [],
                        label="Document to delete",
                        info="Choose it here, or click its row in the table",
                        elem_id="doomed",
                        scale=4,
                        allow_custom_value=True,
                    )
                    delete = gr.Button("Delete document", variant="stop", elem_id="delete", scale=1)

        chat_in = [question, chatbot, conversation, k, mode, library]
        chat_out = [chatbot, conversation, panel, question]
        # The UI's Ask and Enter: Stop takes Ask's place while the answer is written, and Enter
        # meanwhile is ignored (trigger_mode "once"), so a new question waits in the box
        # instead of racing the answer. /chat is the same answer without the buttons.
        ui_out = [*chat_out, ask, stop, kept]
        asked = ask.click(
            on_ask_ui, chat_in, ui_out, api_visibility="private", show_progress="hidden", trigger_mode="once"
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
            on_submit, chat_in, ui_out, api_visibility="private", show_progress="hidden", trigger_mode="once"
        )
        example = chatbot.example_select(example_text, None, question, api_visibility="private").then(
            on_ask_ui, chat_in, ui_out, api_visibility="private", show_progress="hidden", trigger_mode="once"
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

        # New chat: an empty conversation, here and in the browser's storage.
        clear.click(
            lambda: ([], Conversation(), EMPTY_PANEL, "", CLEARED),
            None,
            [chatbot, conversation, panel, question, kept],
            api_visibility="private",
        )
        chatbot.clear(
            lambda: (Conversation(), EMPTY_PANEL, CLEARED),
            None,
            [conversation, panel, kept],
            api_visibility="private",
        )
        app.load(on_restore, kept, [chatbot, conversation], api_visibility="private", show_progress="hidden")
        panel.cite(on_cite, [conversation], panel, api_visibility="private", show_progress="hidden")
        panel.open(on_open, [conversation], panel, api_visibility="private", show_progress="hidden")
        library.change(documents_view, library, [table, doomed, heading], api_visibility="private")
        # On a choice only the line changes: re-sending the choices as the radio changes left
        # the old choice drawn as selected too (seen in the screenshots).
        mode.input(
            lambda chosen: on_health(chosen)[1],
            mode,
            mode_status,
            api_visibility="private",
            show_progress="hidden",
        )
        app.load(on_health, mode, [mode, mode_status], api_visibility="private", show_progress="hidden")
        app.load(documents_view, library, [table, doomed, heading], api_visibility="private")
        # A new attempt clears the last one's result at once, then the bar shows where it will be.
        upload.upload(
            None, None, status, js="() => ''", queue=False, api_visibility="private", show_progress="hidden"
        ).then(
            on_upload,
            [upload, library],
            [status, table, doomed, heading, upload],
            api_name="upload",
            show_progress_on=status,  # one bar where the result will appear
            concurrency_limit=1,
            concurrency_id="index",
        )
        table.select(on_row, None, [doomed, delete], api_visibility="private", show_progress="hidden")
        doomed.change(delete_label, doomed, delete, api_visibility="private", show_progress="hidden")
        delete.click(
            on_delete,
            [doomed, library],
            [status, table, doomed, heading],
            js=CONFIRM_DELETE_JS,
            api_name="delete",
            show_progress_on=status,
            concurrency_limit=1,
            concurrency_id="index",
        )
        if folders is not None:
            seen = gr.State("")  # the stamp this page's documents list shows
            gr.Timer(REFRESH_SECONDS).tick(
                on_tick,
                [library, seen],
                [table, doomed, heading, seen],
                api_visibility="private",
                show_progress="hidden",
            )
        gr.api(answer, api_name="answer")
        gr.api(list_documents, api_name="documents")
    app.rag_libraries = shared  # serve() mounts the OpenAI-compatible routes over them
    app.rag_watch = folders  # and starts watching the folders
    return app


def serve(
    app: Any, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True
) -> str:
    """Start serving ``app`` (from :func:`build_app`); returns its local URL when not blocking.

    Binds loopback unless told otherwise; a public share link only with ``share=True``;
    login is required when $RAG_USERNAME and $RAG_PASSWORD are set.
    """
    from rag.config import login_from_env
    from rag.ingest.uploads import max_upload_bytes
    from ui.login import LoginGuard

    login = login_from_env()
    guard = LoginGuard(login) if login else None  # one lockout count for the UI and /v1
    # Gradio refuses far larger uploads itself; a bit over the limit gets rag's own message.
    server, url, _ = app.queue(default_concurrency_limit=4).launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=guard,
        auth_message="After 10 wrong passwords for a name, it is locked for a minute.",
        css=CSS,
        theme=gr.themes.Soft(),
        show_error=False,
        max_file_size=2 * max_upload_bytes(),
        footer_links=["api"],
        prevent_thread_lock=True,
        quiet=not block,
    )
    libraries = getattr(app, "rag_libraries", None)
    if libraries is not None:  # the OpenAI-compatible /v1 routes, same server and login
        from ui.openai_api import openai_router

        server.include_router(openai_router(libraries, guard))
    watch = getattr(app, "rag_watch", None)
    if watch is not None:  # rag serve --watch: the folders' changes reach the indexes
        watch.start()
    if block:
        app.block_thread()
    return str(url)


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    index: Path | None = None,
    corpus: Path | Sequence[Path] | None = None,
    share: bool = False,
    watch: bool = False,
) -> None:
    """``rag serve``: the app over ``corpus`` (one folder or several; default seeds/); with
    ``watch``, files added, changed, renamed or removed in the folders are indexed as they change."""
    corpora = [corpus] if isinstance(corpus, (str, Path)) else list(corpus or [])
    serve(build_app(default_libraries(corpora, index), watch=watch), host=host, port=port, share=share)
