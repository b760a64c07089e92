"""The web UI: chat with cited, streamed answers beside a source panel, and a documents tab.

build_app lays out the page: the settings sidebar (rag.ui.settings), the Chat tab
(rag.ui.chat_tab) and the Documents tab (rag.ui.documents_tab), over the served collections.

Served by ``rag serve`` / ``make run`` on 127.0.0.1 by default. The model and each index
are loaded once and shared; every browser session has its own conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr  # this module is the UI: `import rag` never imports it

from rag.answer.reader import shared_reader
from rag.config import login_from_env
from rag.errors import RagError
from rag.ingest.uploads import max_upload_bytes
from rag.library import Library
from rag.serve.collections import FolderWatch, Libraries, answer_modes, default_libraries
from rag.serve.registry import Registry
from rag.store import one_process_only
from rag.ui.assets import CSS
from rag.ui.chat_tab import chat_tab
from rag.ui.collections_bar import collection_bar, describe
from rag.ui.documents_tab import documents_tab
from rag.ui.history import STORAGE_KEY, history_secret
from rag.ui.settings import settings_sidebar
from rag.ui.state import Conversation

log = logging.getLogger(__name__)


def build_app(
    libraries: Sequence[Library] | None = None,
    *,
    index: Path | None = None,
    corpus: Path | None = None,
    watch: bool = False,
    isolate_builds: bool = True,
    registry: Registry | None = None,
    local_folders: bool = True,
) -> gr.Blocks:
    """The Gradio app over ``libraries`` (default: one over ``corpus``/``index``, or seeds/).

    With a ``registry`` (rag.serve.registry; ``rag serve`` passes the data folder's), the
    collections made in the UI are served after ``libraries``, and the Documents tab can make,
    rename and remove them; ``local_folders`` lets a new collection be an existing folder of
    this machine (``rag serve`` allows it only on loopback without a login).

    With ``isolate_builds`` (the default), uploads, deletes and folder syncs index in one
    worker process at a lower priority (rag.indexing.worker), so questions keep their speed
    while a large file is indexed; libraries given with a builder of their own keep it.

    With ``watch``, :func:`serve` keeps every collection's index in step with its folder
    (``app.rag_watch``, a :class:`rag.serve.collections.FolderWatch`) and open pages refresh their
    documents list when it changed.
    """
    collections = list(libraries or default_libraries([corpus] if corpus else [], index))

    if isolate_builds and not one_process_only():  # a Milvus Lite file: builds stay in this process
        from rag.indexing.worker import BuildWorker

        worker = BuildWorker()  # started on the first build, shared by the collections
        for collection in collections:
            collection.builder = collection.builder or worker
    shared = Libraries(collections, registry, local_folders=local_folders)
    shared.engine(None, here=True)  # the model and the default index now, not on the first question
    # The reader too: on a new installation it is exported and quantised once (~15 s), which
    # would otherwise be the first question's wait.
    shared_reader()
    folders = FolderWatch(shared) if watch else None
    modes = answer_modes()

    def answer(question: str, k: int = 5, library: str = "", mode: str = "extractive") -> dict:
        """Answer one question (no conversation): text, abstained, and citations with spans."""
        option = {"generator": mode} if mode and mode != "extractive" else {}
        try:
            result = shared.engine(library or None).ask(question, k=int(k), **option)
        except (RagError, ValueError) as error:  # the real one-line message, not Gradio's generic one
            raise gr.Error(str(error), print_exception=False) from None
        return result.payload()

    with gr.Blocks(title="rag — answers from your documents") as app:
        conversation = gr.State(Conversation())
        kept = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=history_secret())
        gr.HTML(
            "<h2 style='margin:0'>Ask your documents</h2><p class='rag-intro'>"
            "Every answer sentence cites the passage it comes from: click a marker like "
            "<span class='rag-cite'>[1]</span> to check it.</p>"
        )
        # The collection stays above both tabs: what the chat answers from is always in view.
        bar = collection_bar(shared)
        # A sidebar rather than a section under the chat: its toggle stays in the corner of
        # every screen and tab, so settings are one click away without scrolling.
        controls = settings_sidebar(app, modes, bar.library)
        with gr.Tabs():
            chat_tab(app, shared, controls, conversation, kept)
            list_documents = documents_tab(app, shared, controls, folders, bar)
        bar.library.change(
            lambda name: describe(shared.get(name)),
            bar.library,
            bar.info,
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
    from rag.serve.login import LoginGuard
    from rag.serve.timeouts import install

    install()  # read timeouts on half-sent requests (rag.serve.timeouts)
    login = login_from_env()
    guard = LoginGuard(login) if login else None  # one lockout count for the UI and /v1
    # Gradio refuses far larger uploads itself; a bit over the limit gets rag's own message.
    server, url, share_url = app.queue(default_concurrency_limit=4).launch(
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
        quiet=True,  # Gradio's own lines ("set share=True…") contradict rag's --share: ours below
    )
    libraries = getattr(app, "rag_libraries", None)
    if libraries is not None:  # the OpenAI-compatible /v1 routes, same server and login
        from rag.serve.openai_api import openai_router

        server.include_router(openai_router(libraries, guard))
    watch = getattr(app, "rag_watch", None)
    if watch is not None:  # rag serve --watch: the folders' changes reach the indexes
        watch.start()
    if block:
        print(f"rag is ready: open {url} in your browser (Ctrl+C stops it).", flush=True)
        if share_url:
            print(f"Public link (anyone with it can ask): {share_url}", flush=True)
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
    libraries = default_libraries(corpora, index)
    first = libraries[0]
    # Say what happens before the minutes a first run can take (the model, the first index).
    print(
        f"Starting rag over {first.corpus} ({'the demo news' if first.kind == 'demo' else 'your folder'}): "
        "loading the model and the index (the first time, every document is embedded)…",
        flush=True,
    )
    # Existing folders of this machine become collections only where the only user is its own.
    local = host in ("127.0.0.1", "localhost", "::1") and not share and login_from_env() is None
    app = build_app(libraries, watch=watch, registry=Registry(), local_folders=local)
    serve(app, host=host, port=port, share=share)
