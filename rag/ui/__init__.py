"""The Gradio web UI (imported only by `rag serve` and `make run`).

app (the page: one function per tab, wired to the handlers) → chat (a question to streamed
updates, no Gradio) → render and panels (HTML of answers, sources and documents), pdf_view
(the cited page with the sentence boxed), history (chats kept in the browser), state (one
conversation per browser session), assets (the page's CSS and script).
"""
