"""The Settings sidebar: the answer mode (with each backend's state) and how many passages to
answer from. With the collection above the chat (rag.ui.collections_bar), its controls are
inputs of every tab."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.answer.generators.health import check_backend

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


@dataclass(frozen=True)
class Controls:
    """The inputs the tabs' events read: the sidebar's, and the collection above the chat."""

    mode: gr.Radio
    k: gr.Slider
    library: gr.Dropdown


def settings_sidebar(app: gr.Blocks, modes: list[str], library: gr.Dropdown) -> Controls:
    """Lay out the sidebar inside ``app`` and keep the mode's state line current."""

    def on_health(chosen: str) -> tuple[Any, str]:
        """Each mode checked (rag.answer.generators.health): an unavailable one is labelled so
        in the list, and the chosen one's state is said under it, with the fix."""

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
    return Controls(mode, k, library)
