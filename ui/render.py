"""Turn answers into what the chat shows: Markdown for the reply, HTML for the sources.

Pure functions, no Gradio: the UI tests and the browser both see exactly this output.
"""

from __future__ import annotations

from html import escape

from rag.records import Answer, Citation

NOT_FOUND_HEADING = "Not found in your documents"


def reply_markdown(answer: Answer) -> str:
    """The assistant's chat message."""
    if answer.abstained:
        return f"**{NOT_FOUND_HEADING}.** {answer.text}"
    return answer.text


def _passage_html(citation: Citation) -> str:
    before = escape(citation.text[: citation.sentence_start])
    sentence = escape(citation.text[citation.sentence_start : citation.sentence_end])
    after = escape(citation.text[citation.sentence_end :])
    return f"{before}<mark class='rag-support'>{sentence}</mark>{after}"


def sources_html(answer: Answer) -> str:
    """The source panel: each citation's file, title, offsets and passage, sentence marked."""
    if not answer.citations:
        return "<p class='rag-empty'>No passages.</p>" if answer.abstained else ""
    heading = (
        "<h4 class='rag-maybe'>Maybe related (not an answer)</h4>"
        if answer.abstained
        else "<h4>Sources</h4>"
    )
    items = []
    for number, citation in enumerate(answer.citations, 1):
        start = citation.start + citation.sentence_start
        end = citation.start + citation.sentence_end
        items.append(
            f"<div class='rag-source' id='source-{number}'>"
            f"<div class='rag-source-head'><b>[{number}] {escape(citation.title)}</b><br>"
            f"<code>{escape(citation.source)}</code> · characters {start}–{end}</div>"
            f"<blockquote>{_passage_html(citation)}</blockquote></div>"
        )
    return heading + "".join(items)
