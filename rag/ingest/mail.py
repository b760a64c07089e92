"""E-mail (``.eml``, RFC 5322) as text, read with the standard library's ``email`` package.

The message's headers become one table row ("E-mail from: Marta Nilsen <…>; To: …; Sent:
…; Subject: …") that a question about who wrote, to whom or when can cite; the subject is the
document's title. The body is the plain-text part (else the HTML part's text). An earlier
message quoted in a reply ("> " lines under "On …, … wrote:") is kept, without its "> "
marks, under a heading that says it is quoted, so it is never mistaken for the reply itself.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from rag.errors import DocumentError
from rag.ingest.office import markdown_table

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_LABELS = {"From": "E-mail from", "To": "To", "Cc": "Copy to", "Date": "Sent", "Subject": "Subject"}
_QUOTE = re.compile(r"^\s*>\s?")
# "On Tue, 10 Mar 2026 at 09:14, Jonas Berg <…> wrote:" and its common variants.
_ATTRIBUTION = re.compile(r"^\s*(On\b.*\bwrote:|-{2,}\s*Original Message\s*-{2,}|From:\s.*)\s*$", re.I)
MAX_EMAIL_BYTES = 8 * 1024 * 1024  # beyond this a message is mostly attachments, which are not read


def read_eml(data: bytes, name: str) -> str:
    """The message as text: a header row, then the body, quoted replies marked as quoted.

    Raises:
        DocumentError: the file is not a message (no From/Date/Subject header and no body).
    """
    message = BytesParser(policy=policy.default).parsebytes(data[:MAX_EMAIL_BYTES])
    assert isinstance(message, EmailMessage)
    header = {key: " ".join(str(message.get(key, "")).split()) for key in _HEADERS}
    header["Date"] = _long_date(header["Date"])
    # Named as people ask ("who sent the e-mail", "when was it sent"), so the row matches.
    shown = {_LABELS[key]: value for key, value in header.items() if value}
    if not shown:
        raise DocumentError(f"{name} is not an e-mail message: it has no From, To, Date or Subject header.")
    body = _body(message)
    lines = ["\n".join(markdown_table([list(shown), list(shown.values())]))]
    attachments = [part.get_filename() for part in message.iter_attachments() if part.get_filename()]
    if attachments:
        lines.append("Attachments: " + ", ".join(str(a) for a in attachments) + ".")
    lines.append(_mark_quoted(_unwrap(body)))
    subject = header["Subject"]
    text = "\n\n".join(line for line in lines if line.strip())
    return f"{subject}\n\n{text}" if subject else text


def _long_date(value: str) -> str:
    """``"Tue, 10 Mar 2026 09:14:00 +0100"`` → ``"Tuesday 10 March 2026, 09:14"`` (as written
    when it cannot be parsed)."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return value
    return f"{when:%A} {when.day} {when:%B %Y}, {when:%H:%M}"


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read as UTF-8, replacing what is not
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if part.get_content_subtype() == "html":
        import trafilatura

        content = trafilatura.html2txt(content) or ""
    return content.replace("\r\n", "\n").replace("\r", "\n")


# A plain-text message is wrapped at ~72 characters; a line this long that runs on into
# the next line of its paragraph was wrapped, not ended. Shorter lines (greetings,
# signatures, list items) keep their breaks.
_WRAPPED_LINE = 40


def _unwrap(body: str) -> str:
    """Join the hard-wrapped lines of each paragraph (quoted ones too), so a sentence is
    never cut where the sender's program wrapped it ("arrived this morning at" / "08:40")."""
    out: list[str] = []
    for line in body.split("\n"):
        previous = out[-1] if out else ""
        quote = _QUOTE.match(line)
        prefix_previous = _QUOTE.match(previous)
        same_kind = bool(quote) == bool(prefix_previous)
        content = _QUOTE.sub("", line) if quote else line
        previous_content = _QUOTE.sub("", previous) if prefix_previous else previous
        if (
            same_kind
            and len(previous_content.rstrip()) >= _WRAPPED_LINE
            and content.strip()
            and not content.lstrip().startswith(("-", "*", "•", ">"))
            and not _ATTRIBUTION.match(line)
        ):
            out[-1] = previous.rstrip() + " " + content.strip()
        else:
            out.append(line)
    return "\n".join(out)


def _mark_quoted(body: str) -> str:
    """The reply as written; a quoted earlier message under a "Quoted earlier message" heading,
    its "> " marks removed (and its own attribution line kept in the heading)."""
    out: list[str] = []
    quoted: list[str] = []
    attribution = ""

    def flush() -> None:
        nonlocal attribution
        if any(line.strip() for line in quoted):
            label = f" ({attribution.strip()})" if attribution else ""
            out.append(f"\n## Quoted earlier message{label}\n")
            out.extend(quoted)
            out.append("")
        quoted.clear()
        attribution = ""

    lines = body.split("\n")
    for i, line in enumerate(lines):
        if _QUOTE.match(line):
            quoted.append(_QUOTE.sub("", line))
            continue
        following = next((later for later in lines[i + 1 :] if later.strip()), "")
        if _ATTRIBUTION.match(line) and _QUOTE.match(following):
            flush()
            attribution = line
            continue
        if quoted and not line.strip():
            quoted.append("")
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out).strip()
