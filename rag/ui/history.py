"""Chat history kept in the browser, so a reload (or a restarted server) shows the same chat.

The turns of a conversation are stored in the browser's localStorage through Gradio's
``gr.BrowserState``; nothing is kept on the server. Gradio encrypts the value in the page
with a key the server hands to it, so the key only has to stay the same for a restarted
server to read old histories (:func:`history_secret`): it is no protection against someone
using the same browser profile, who can read the page's key. What protects the chat is that
it is rebuilt from the stored records, checked field by field, with the same renderer as
live answers (every text escaped again), never from stored HTML: an edited record can show
wrong text to the one who edited it, never run markup. Its citation markers keep working
because the :class:`~rag.ui.state.Conversation` comes back with them.

Each collection has its own chat: the stored record holds the chats by collection, with the
collection and the answer mode last chosen, so a reload comes back to the same collection,
its chat and the same mode (never another collection's chat over the default documents).

With a login, a history records its user, and another user of the same browser starts with
an empty chat (a convenience between people sharing a machine, not a barrier). "New chat"
empties the chosen collection's chat.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from rag.config import settings
from rag.records import Answer
from rag.ui.render import answer_html, error_html
from rag.ui.state import ChatTurn, Conversation

log = logging.getLogger(__name__)

STORAGE_KEY = "rag-chat-history"
# Of the stored record: 2 keeps chats by collection; a record of format 1 (one chat) is read
# as its collection's chat; any other is ignored (an empty chat).
FORMAT = 2
# The newest turns kept per collection, and the collections kept: a bound on the browser's
# storage (about 5 MB per site), where a turn with five cited passages takes roughly 5-10 KB.
MAX_TURNS = 100
MAX_CHATS = 5
SECRET_FILE = "browser-history.key"


def history_secret() -> str:
    """The key Gradio encrypts stored histories with: made once per installation and kept, so
    that histories outlive a server restart. In $RAG_CACHE_DIR, else the user's data folder."""
    from platformdirs import user_data_path

    folder = settings().cache_dir or user_data_path("rag")
    path = Path(folder) / SECRET_FILE
    try:
        secret = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_urlsafe(32))
    try:  # a hard link appears whole or not at all: two servers starting at once agree
        os.link(staging, path)
    except FileExistsError:
        if not path.read_text(encoding="ascii").strip():  # left empty by a crash: replace it
            os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def _turns(conversation: Conversation) -> list[dict[str, Any]]:
    return [
        {
            "question": turn.question,
            "resolved": turn.resolved,
            "library": turn.library,
            "answer": turn.answer.to_dict() if turn.answer is not None else None,
            "error": turn.error,
            "rewritten": turn.rewritten,
        }
        for turn in conversation.turns[-MAX_TURNS:]
    ]


def _record(data: Any, user: str | None) -> dict[str, Any]:
    """``data`` as a record of this format for ``user`` (empty when it is none of theirs)."""
    empty: dict[str, Any] = {"format": FORMAT, "user": user or "", "collection": "", "mode": "", "chats": {}}
    if not isinstance(data, dict) or data.get("user") != (user or ""):
        return empty
    if data.get("format") == 1 and isinstance(data.get("turns"), list):  # one chat, before collections
        turns = data["turns"]
        first = turns[0].get("library", "") if turns and isinstance(turns[0], dict) else ""
        return {**empty, "collection": first, "chats": {first: turns}}
    if data.get("format") != FORMAT or not isinstance(data.get("chats"), dict):
        return empty
    return {
        **empty,
        "collection": str(data.get("collection") or ""),
        "mode": str(data.get("mode") or ""),
        "chats": dict(data["chats"]),
    }


def stored(
    conversation: Conversation | None,
    user: str | None,
    *,
    previous: Any = None,
    collection: str | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """What the browser keeps: ``previous`` with ``conversation`` as the chat of ``collection``
    (its newest :data:`MAX_TURNS` turns; None leaves the chats as they are), and the chosen
    collection and mode (None: as before). At most :data:`MAX_CHATS` collections' chats."""
    record = _record(previous, user)
    if collection is not None:
        record["collection"] = collection
    if mode is not None:
        record["mode"] = mode
    if conversation is not None:
        chats = {name: turns for name, turns in record["chats"].items() if name != record["collection"]}
        chats[record["collection"]] = _turns(conversation)  # the newest last
        record["chats"] = dict(list(chats.items())[-MAX_CHATS:])
    return record


def stored_chats(data: Any, user: str | None) -> list[str]:
    """The collections ``user`` has a chat of in ``data``, oldest first."""
    return list(_record(data, user)["chats"])


def last_chosen(data: Any, user: str | None) -> tuple[str, str]:
    """(collection, answer mode) last chosen in this browser ("" when not known)."""
    record = _record(data, user)
    return record["collection"], record["mode"]


def restored(
    data: Any, user: str | None, collection: str | None = None
) -> tuple[list[dict[str, str]], Conversation]:
    """The chat messages and the conversation of ``collection`` in a stored history (None: the
    collection last chosen); empty when there is none, it is another user's, or it cannot be read."""
    record = _record(data, user)
    turns = record["chats"].get(record["collection"] if collection is None else collection, [])
    conversation = Conversation()
    try:
        if not isinstance(turns, list) or not all(isinstance(turn, dict) for turn in turns):
            raise ValueError("turns is not a list of records")
        for turn in turns:
            answer = Answer.from_dict(turn["answer"]) if turn.get("answer") is not None else None
            question, resolved, library = turn["question"], turn["resolved"], turn["library"]
            error = turn.get("error") or ""
            if not all(isinstance(text, str) for text in (question, resolved, library, error)):
                raise ValueError("a turn's texts are not strings")
            conversation.turns.append(
                ChatTurn(question, resolved, answer, library, error, rewritten=bool(turn.get("rewritten")))
            )
        return messages(conversation), conversation
    except Exception as error:  # noqa: BLE001 - edited or damaged: whatever it is, start afresh
        log.warning("A stored chat history could not be read (%s); starting a new chat.", error)
        return [], Conversation()


def messages(conversation: Conversation) -> list[dict[str, str]]:
    """The chat's messages for ``conversation``, rendered as a live answer is."""
    history: list[dict[str, str]] = []
    for number, turn in enumerate(conversation.turns):
        history.append({"role": "user", "content": turn.question})
        if turn.answer is None:
            reply = error_html(turn.error or "This question was not answered.")
        else:
            reply = answer_html(turn.answer, number, resolved=turn.resolved if turn.rewritten else None)
        history.append({"role": "assistant", "content": reply})
    return history
