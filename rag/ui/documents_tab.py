"""The Documents tab: add files, see what each collection holds, delete one.

Uploads and deletes index through the collection's builder (the build worker in a server),
one at a time; ``/upload``, ``/delete`` and ``/documents`` are the same actions for API
clients. With ``--watch`` an open page refreshes its list when the folder changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.indexing.build import counted
from rag.ingest.formats import SUFFIXES, supported_types
from rag.serve.collections import FolderWatch, Libraries
from rag.ui.assets import CONFIRM_DELETE_JS
from rag.ui.chat import UNEXPECTED
from rag.ui.panels import documents_rows
from rag.ui.settings import Controls

log = logging.getLogger("rag.ui.app")

DOCUMENT_HEADERS = ["name", "title", "size", "chunks", "indexed"]
UPLOAD_TYPES = sorted(SUFFIXES)  # the formats registry's, so the picker and the checks agree
# With --watch, how often (seconds) each open page checks whether its documents list changed:
# one small file read per check, and a change on disk shows within about this long.
REFRESH_SECONDS = 2.0


def documents_tab(
    app: gr.Blocks, shared: Libraries, controls: Controls, folders: FolderWatch | None
) -> Callable[..., list[dict]]:
    """Lay out the Documents tab inside ``app`` and wire its events (call it inside ``gr.Tabs``);
    returns the ``/documents`` API function, which the app registers outside the tabs."""
    library = controls.library

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

    def on_tick(library: str, seen: str) -> tuple[Any, Any, Any, str]:
        assert folders is not None
        stamp = folders.stamp(library)
        if stamp == seen:  # nothing changed: leave the table (and a chosen document) alone
            return gr.skip(), gr.skip(), gr.skip(), seen
        return (*documents_view(library), stamp)

    def list_documents(library: str = "") -> list[dict]:
        """The documents of a collection: name, title, size (bytes), chunks, indexed (epoch s)."""
        return [vars(d) for d in shared.get(library or None).documents()]

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
        table = gr.Dataframe(headers=DOCUMENT_HEADERS, interactive=False, elem_id="documents", wrap=True)
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

    library.change(documents_view, library, [table, doomed, heading], api_visibility="private")
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
    return list_documents
