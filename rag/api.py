"""The public functions: ask a question, retrieve passages, build an index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import default_corpus, default_index
from rag.engine import clear_engines, get_engine
from rag.errors import CorpusError
from rag.indexing.build import BuildReport
from rag.indexing.exclusions import excluded
from rag.ingest.loading import load_jsonl, load_paths
from rag.records import Answer, Passage
from rag.search.followup import Turn, resolve
from rag.store import load_index as _load
from rag.store import open_store

if TYPE_CHECKING:
    from rag.answer.generators.base import Generator


def ask(
    question: str,
    *,
    k: int = 5,
    index: Path | str | None = None,
    corpus: Path | str | None = None,
    generator: str | Generator | None = None,
    history: Sequence[Answer | Turn | tuple[str, str]] = (),
) -> Answer:
    """Answer ``question`` from the documents, citing a source span for every sentence.

    With no ``index`` the default index is used and kept in step with the default corpus
    (see :mod:`rag.config`): the **first call builds it**, embedding every document (seconds
    for a few files, minutes for thousands; a log line says so), and later calls re-embed
    only files added or changed since. The model and index stay loaded for the process.

    Args:
        question: the question, in plain words.
        k: how many passages to retrieve and answer from.
        index: an index folder (default: $RAG_INDEX, else the checkout's ``index/`` or the
            user data folder's).
        corpus: documents to keep the index in step with (default for the default index:
            $RAG_CORPUS, else the checkout's ``seeds/`` or the user data folder's
            ``documents/``).
        generator: who writes the answer: "extractive" (default, verbatim sentences),
            "llama-cpp" (a local GGUF model), "openai" (an OpenAI-compatible server), or a
            :class:`rag.answer.generators.Generator`. Generated sentences are verified against the
            passages; unsupported ones are left out (see ``Answer.sentences`` and ``note``).
        history: the conversation so far, oldest first: earlier :class:`Answer` objects, or
            ``(question, answer text)`` pairs. A follow-up ("And when was that?") is then
            rewritten to stand alone (rag.search.followup) before it is searched;
            ``Answer.question`` is the question that was answered.

    Raises:
        ValueError: the question is empty or too long (a :class:`rag.QuestionError`).
        RagError: the index is missing, stale or corrupt; the message says how to fix it.
        GeneratorError: the generator is unknown or cannot start; the message says how to
            fix it. A failure while generating falls back to the extractive answer instead.

    >>> a = ask("Who is the Commission spokesperson?")    # doctest: +SKIP
    >>> a.citations[0].source                             # doctest: +SKIP
    '001_e7367d59c646826d.txt'
    """
    if history:
        question = resolve(question, [_turn(item) for item in history]).resolved
    return get_engine(index, corpus).ask(question, k=k, generator=generator)


def _turn(item: Answer | Turn | tuple[str, str]) -> Turn:
    if isinstance(item, Turn):
        return item
    if isinstance(item, Answer):
        return Turn(item.question, item.question, item.text)
    question, answer = item
    return Turn(question, question, answer)


def retrieve(
    question: str,
    *,
    k: int = 5,
    index: Path | str | None = None,
    corpus: Path | str | None = None,
) -> list[Passage]:
    """The ``k`` passages that best match ``question``, best first (same options as ask)."""
    return get_engine(index, corpus).retrieve(question, k=k)


def build_index(
    paths: Iterable[Path | str] = (),
    *,
    index: Path | str | None = None,
    jsonl: Path | str | None = None,
    force: bool = False,
    prune: bool = False,
    ray: str | None = None,
) -> BuildReport:
    """Index text files/folders, or a JSONL corpus of {id, title, text}, into ``index``.

    Adding never removes: documents already in the index that came from other paths stay.
    A folder (or JSONL file) given is the source of truth for what was read from it before,
    so files deleted from it leave the index. ``prune=True`` makes the index hold exactly
    the documents under ``paths``. Only new or changed documents are embedded again; the
    write is atomic. ``ray``: embed on a Ray cluster at that address, or "local" for one
    started on this machine (rag.indexing.distributed).

    Raises:
        CorpusError: a path does not exist, or it holds no readable document.
    """
    from rag.indexing import build as indexing

    given = [Path(jsonl)] if jsonl is not None else [Path(p) for p in paths] or [default_corpus()]
    target = index if index is not None else default_index()
    left_out = excluded(target)  # removed in the UI, their files kept: they stay out
    documents = load_jsonl(given[0]) if jsonl is not None else load_paths(given)
    documents = [document for document in documents if document.source not in left_out]
    roots = {str(path.resolve()) for path in given}

    def keep(source: str, origin: str) -> bool:
        # Kept unless read before from one of the paths given now (which no longer hold it).
        return not prune and origin not in roots

    try:
        report = indexing.build_index(documents, target, force=force, keep=keep, ray=ray)
    finally:
        if ray is not None:
            from rag.indexing.distributed import stop_ray

            stop_ray()
    clear_engines()
    return report


def remove_documents(names: Iterable[str], *, index: Path | str | None = None) -> BuildReport:
    """Remove documents from ``index`` by the names citations use (their files stay on disk).

    Raises:
        CorpusError: a name is not in the index, or removing would leave it empty.
        IndexNotFoundError: there is no index there.
    """
    from rag.indexing import build as indexing

    index_dir = Path(index if index is not None else default_index())
    drop = set(names)
    held = _load(index_dir).manifest.files
    missing = sorted(drop - set(held))
    if missing:
        raise CorpusError(
            f"Not in {index_dir}: {', '.join(missing)}; use the names `rag ask` cites "
            f"(this index holds {len(held)} documents)."
        )
    if not set(held) - drop:
        raise CorpusError(
            f"Removing {', '.join(sorted(drop))} would leave {index_dir} empty; keep one document."
        )
    report = indexing.build_index([], index_dir, keep=lambda source, origin: source not in drop)
    clear_engines()
    return report


def check_index(index: Path | str | None = None) -> tuple[int, list[str]]:
    """Check every part of an index against what its manifest recorded: each file's checksum
    in an index folder, each collection's row count in a Milvus store.

    Returns:
        (parts checked, names of damaged parts); ([] = intact). An index folder built before
        checksums were recorded has none: (0, []).

    Raises:
        IndexNotFoundError: there is no index there.
        IndexCorruptError: its manifest is unreadable.
    """

    report = open_store(Path(index if index is not None else default_index())).check()
    return report.checked, report.damaged


def load_index(index: Path | str | None = None):  # noqa: ANN201 - Index, imported lazily
    """Load an index folder (default: the default index) without touching any corpus."""

    return _load(index if index is not None else default_index())
