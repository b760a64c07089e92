"""The Documents tab: add files, see what the chosen collection holds, remove one, and the
panel that makes, renames and removes collections (rag.ui.collections_bar).

Uploads and removals index through the collection's builder (the build worker in a server),
one at a time; ``/upload``, ``/delete`` and ``/documents`` are the same actions for API
clients. Removing a document takes it out of the index and leaves its file; deleting the file
too is a separate choice, offered only in a folder rag made. An upload to the read-only demo
collection goes to the collection "My documents" (made then), never into the checkout's
seeds/. With ``--watch`` an open page refreshes its list when the folder changed.
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
from rag.library import Library
from rag.serve.collections import FolderWatch, Libraries
from rag.ui.assets import CONFIRM_DELETE_JS
from rag.ui.chat import UNEXPECTED
from rag.ui.collections_bar import MY_DOCUMENTS, CollectionBar, collections_panel, listed
from rag.ui.panels import documents_rows
from rag.ui.settings import Controls

log = logging.getLogger("rag.ui.app")

DOCUMENT_HEADERS = ["name", "title", "size", "chunks", "indexed"]
UPLOAD_TYPES = sorted(SUFFIXES)  # the formats registry's, so the picker and the checks agree
# With --watch, how often (seconds) each open page checks whether its documents list changed:
# one small file read per check, and a change on disk shows within about this long.
REFRESH_SECONDS = 2.0


def documents_tab(
    app: gr.Blocks, shared: Libraries, controls: Controls, folders: FolderWatch | None, bar: CollectionBar
) -> Callable[..., list[dict]]:
    """Lay out the Documents tab inside ``app`` and wire its events (call it inside ``gr.Tabs``);
    returns the ``/documents`` API function, which the app registers outside the tabs."""
    library = controls.library

    def documents_view(library: str) -> tuple[Any, Any, str, Any, Any]:
        lib = shared.get(library)
        try:  # a collection chosen for the first time is indexed now, so its list is true
            shared.engine(lib.name)
        except RagError as error:  # an empty new collection: nothing to index yet
            log.info("%s: %s", lib.name, error)
        documents = lib.documents()
        rows = documents_rows(documents)
        names = [document.name for document in documents if not document.left_out]
        chunks = sum(document.chunks for document in documents)
        heading = (
            f"**{counted(len(rows), 'document')}, {counted(chunks, 'chunk')}** in `{lib.name}` "
            f"(folder `{lib.corpus}`)."
            if rows
            else f"**No documents yet** in `{lib.name}`: add files below (folder `{lib.corpus}`)."
        )
        also = gr.update(
            visible=lib.kind == "owned", value=False, label=f"Also delete the file from {lib.corpus}"
        )
        # Nothing chosen any more: the button says so too (its label named the last choice).
        return gr.update(value=rows), gr.update(choices=names, value=None), heading, also, delete_label(None)

    def target(library: str) -> tuple[Library, str]:
        """Where an upload goes, and what to say about it: the demo collection is read-only,
        so its uploads go to "My documents" (made on the first one)."""
        lib = shared.get(library)
        if lib.kind != "demo":
            return lib, ""
        # The one made before, also when renamed since (its old name still finds it) or made
        # by hand under another spelling; else a new one.
        taken = next((n for n in shared.names if n.casefold() == MY_DOCUMENTS.casefold()), None)
        try:
            mine = shared.get(taken or MY_DOCUMENTS)
        except RagError:
            mine = shared.create(MY_DOCUMENTS)
        if mine.kind == "demo":
            raise RagError(f"{lib.name} is read-only; make a collection of your own for your files.")
        if folders is not None and mine.name not in folders.ready:
            folders.watch(mine.name)
        return mine, (
            f"{lib.name} is the demo collection and stays as shipped, so your files went to "
            f"the collection {mine.name} (folder {mine.corpus}), now chosen. "
        )

    def on_upload(files: list | None, library: str, progress: gr.Progress = gr.Progress()):  # noqa: B008, ANN202
        uploads = [(Path(f).name, Path(f)) for f in files or []]
        chosen = library
        try:
            lib, said = target(library)
            chosen = lib.name
            report = lib.add(uploads, progress=lambda f, message: progress(f, desc=message))
            if report.stored:
                progress(0.97, desc="Loading the new index")
                shared.engine(lib.name)  # warm the reloaded engine before the next question
            status = said + report.summary()
            if report.rejected and not report.added and not report.replaced and not report.unchanged:
                status = "⚠️ " + status
        except RagError as error:
            status = f"⚠️ {error}"
        except Exception:
            log.exception("Upload to %s failed", library)
            status = "⚠️ " + UNEXPECTED.replace("answering", "adding the files")
        try:
            view = documents_view(chosen)
        except RagError:  # removed meanwhile by another page: show the default collection
            chosen = shared.get(None).name
            view = documents_view(chosen)
        switched = listed(shared, chosen) if chosen != library else gr.skip()
        return (status, *view, None, switched)

    def on_delete(name: str | None, library: str, remove_file: bool, progress: gr.Progress = gr.Progress()):  # noqa: B008, ANN202
        if not name:
            return ("Choose a document to remove.", *documents_view(library))
        try:
            lib = shared.get(library)
            report = lib.delete(
                name, progress=lambda f, message: progress(f, desc=message), remove_file=bool(remove_file)
            )
            shared.engine(library)
            held = f"{counted(report.chunks, 'chunk')} from {counted(report.files, 'file')}"
            if remove_file:
                status = f"Deleted {name} from {lib.corpus}; the index now holds {held}."
            else:
                status = (
                    f"Removed {name} from the index of {lib.name}; the file stays in {lib.corpus}. "
                    f"The index now holds {held}."
                )
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

    def delete_label(name: str | None, remove_file: bool = False) -> Any:
        if not name:
            return gr.update(value="Remove from index")
        return gr.update(value=f"Delete the file {name}" if remove_file else f"Remove {name} from index")

    def on_tick(library: str, seen: str) -> tuple[Any, ...]:
        assert folders is not None
        try:
            stamp = folders.stamp(library)
        except RagError:  # removed by another page: this page's next action says so
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
        if stamp == seen:  # nothing changed: leave the table (and a chosen document) alone
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
        return (*documents_view(library), stamp)

    def list_documents(library: str = "") -> list[dict]:
        """The documents of a collection: name, title, size (bytes), chunks, indexed (epoch s)."""
        return [vars(d) for d in shared.get(library or None).documents()]

    with gr.Tab("Documents", id="documents-tab"):
        collections_panel(app, shared, bar, folders)
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
                label="Document to remove from the index",
                info="Choose it here, or click its row in the table; its file stays in the folder",
                elem_id="doomed",
                scale=4,
                allow_custom_value=True,
            )
            with gr.Column(scale=1, min_width=180):
                # Shown only in a folder rag made: a folder of the user's is never deleted from.
                also = gr.Checkbox(False, label="Also delete the file", elem_id="delete-file", visible=False)
                delete = gr.Button("Remove from index", variant="stop", elem_id="delete")

    view = [table, doomed, heading, also, delete]
    library.change(documents_view, library, view, api_visibility="private")
    app.load(documents_view, library, view, api_visibility="private")
    # A new attempt clears the last one's result at once, then the bar shows where it will be.
    upload.upload(
        None, None, status, js="() => ''", queue=False, api_visibility="private", show_progress="hidden"
    ).then(
        on_upload,
        [upload, library],
        [status, *view, upload, library],
        api_name="upload",
        show_progress_on=status,  # one bar where the result will appear
        concurrency_limit=1,
        concurrency_id="index",
    )
    table.select(on_row, None, [doomed, delete], api_visibility="private", show_progress="hidden")
    for changed in (doomed.change, also.change):
        changed(delete_label, [doomed, also], delete, api_visibility="private", show_progress="hidden")
    delete.click(
        on_delete,
        [doomed, library, also],
        [status, *view],
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
            [*view, seen],
            api_visibility="private",
            show_progress="hidden",
        )
    return list_documents
