"""The collection above the chat, and the Documents tab's panel that makes, renames and removes
collections (rag.serve.collections.Libraries does the work; this is their layout and events).

The chosen collection is always on screen, with where its documents are and what rag may do
there; the chat and its history belong to it (rag/ui/history.py keeps one chat per collection).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.library import Library
from rag.serve.collections import FolderWatch, Libraries

log = logging.getLogger("rag.ui.app")

# Where an upload to the read-only demo collection goes instead (made on the first such upload).
MY_DOCUMENTS = "My documents"


def describe(library: Library) -> str:
    """One line beside the collection's name: its folder and what rag may do to it."""
    if library.kind == "demo":
        return (
            f"**Collection:** demo news (`{library.corpus.name}/`, read-only): files you add go to a "
            "collection of your own (**Documents → Collections** makes one)."
        )
    if library.kind == "owned":
        return f"**Collection** in `{library.corpus}`, made by rag: files you add are stored there."
    return (
        f"**Collection:** your folder `{library.corpus}`: files you add are copied into it; "
        "rag never deletes files there."
    )


def removal_text(shared: Libraries, name: str) -> str:
    """What removing a collection does, for the confirmation and the button's neighbour."""
    try:
        library = shared.get(name)
    except RagError:
        return ""
    if not shared.made_in_ui(library.name):
        return (
            f"{library.name} comes from the command line (`--corpus` / `DOCS=`); it cannot be removed here."
        )
    if library.kind == "owned":
        return f"Remove {library.name}? Its folder {library.corpus.parent} and every file in it are deleted."
    return f"Remove {library.name}? Its index is deleted; your folder {library.corpus} stays as it is."


@dataclass(frozen=True)
class CollectionBar:
    """The chosen collection (an input of every tab's events) and its line."""

    library: gr.Dropdown
    info: gr.Markdown


def collection_bar(shared: Libraries) -> CollectionBar:
    """Lay out the bar above the tabs: the collection's name and its folder's line."""
    default = shared.get(None)
    with gr.Row(elem_id="collection-bar", equal_height=True):
        library = gr.Dropdown(
            shared.names,
            value=default.name,
            label="Collection",
            show_label=False,  # the line beside it says what it is; a label box took a row
            elem_id="library",
            container=False,
            scale=1,
            min_width=140,
        )
        info = gr.Markdown(describe(default), elem_id="collection-info")
    return CollectionBar(library, info)


def listed(shared: Libraries, chosen: str) -> Any:
    """The dropdown with every collection served now, ``chosen`` selected."""
    return gr.update(choices=shared.names, value=chosen)


def collections_panel(
    app: gr.Blocks, shared: Libraries, bar: CollectionBar, folders: FolderWatch | None
) -> None:
    """The Documents tab's "Collections" panel: new (empty or over a folder), rename, remove."""

    def manage_view(name: str) -> tuple[Any, Any, Any]:
        made = name in shared.names and shared.made_in_ui(name)
        return (
            gr.update(interactive=made, value=""),
            gr.update(interactive=made),
            gr.update(interactive=made, value=f"Remove {name}" if made else "Remove collection"),
        )

    def on_create(name: str, folder: str) -> tuple[Any, str, str, str]:
        try:
            library = shared.create(name, folder or "")
        except RagError as error:
            return gr.skip(), f"⚠️ {error}", gr.skip(), gr.skip()
        if folders is not None:
            folders.watch(library.name)
        where = "your folder" if library.kind == "folder" else "a new folder"
        return (
            listed(shared, library.name),
            f"Created {library.name} over {where} `{library.corpus}`.",
            "",
            "",
        )

    def on_rename(name: str, new: str) -> tuple[Any, str]:
        try:
            library = shared.rename(name, new)
        except RagError as error:
            return gr.skip(), f"⚠️ {error}"
        return listed(shared, library.name), f"Renamed {name} to {library.name}."

    def on_remove(name: str | None, what: str) -> tuple[Any, str]:
        """``name`` is None when the confirmation (showing ``what``) was cancelled."""
        if not name:
            return gr.skip(), ""
        try:
            said = shared.remove(name)
        except RagError as error:
            return gr.skip(), f"⚠️ {error}"
        return listed(shared, shared.get(None).name), said

    with gr.Accordion("Collections: make, rename or remove one", open=False, elem_id="collections"):
        gr.Markdown(
            "A collection is a folder of documents with its own index and its own chat. A new one is "
            "an empty folder that rag keeps; or give the full path of a folder of yours to answer from "
            "it where it is."
        )
        with gr.Row():
            new_name = gr.Textbox(label="New collection's name", elem_id="new-collection", scale=2)
            new_folder = gr.Textbox(
                label="Existing folder (optional)",
                placeholder="/home/you/papers",
                elem_id="new-folder",
                scale=3,
                visible=shared.local_folders,
            )
            create = gr.Button("Create", variant="primary", elem_id="create-collection", scale=1)
        with gr.Row():
            renamed = gr.Textbox(label="Rename the chosen collection to", elem_id="rename-to", scale=4)
            rename = gr.Button("Rename", elem_id="rename-collection", scale=1)
        remove = gr.Button("Remove collection", variant="stop", elem_id="remove-collection")
        said = gr.Markdown(elem_id="collections-status")
        what = gr.Textbox(visible=False)  # the confirmation's text, for the button's script

    library = bar.library
    create.click(
        on_create, [new_name, new_folder], [library, said, new_name, new_folder], api_visibility="private"
    )
    new_name.submit(
        on_create, [new_name, new_folder], [library, said, new_name, new_folder], api_visibility="private"
    )
    rename.click(on_rename, [library, renamed], [library, said], api_visibility="private")
    remove.click(
        on_remove,
        [library, what],
        [library, said],
        js="(name, what) => [confirm(what) ? name : null, what]",
        api_visibility="private",
    )
    for event in (library.change, app.load):
        event(
            manage_view, library, [renamed, rename, remove], api_visibility="private", show_progress="hidden"
        )
        event(
            lambda name: removal_text(shared, name),
            library,
            what,
            api_visibility="private",
            show_progress="hidden",
        )
