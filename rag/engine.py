"""An index with its embedder, retriever and answerer, loaded once per process and reused."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.base import Answerer, final
from rag.answer.extractive import AnswerSettings, ExtractiveAnswerer
from rag.answer.generators.base import Stoppable, resolve
from rag.answer.grounded import GroundedAnswerer
from rag.config import MAX_QUESTION_CHARS, default_corpus, default_index
from rag.embedding.embedders import Embedder, get_embedder
from rag.errors import EmbedderMismatchError, QuestionError
from rag.indexing.build import build_index
from rag.indexing.exclusions import folder_documents
from rag.ingest.formats import corpus_files
from rag.records import Answer, Passage
from rag.search.retrieval import Retriever, RetrieverSettings
from rag.store import load_index, open_store, store_spec
from rag.store.index import Index

if TYPE_CHECKING:
    from rag.answer.generators.base import Generator

log = logging.getLogger(__name__)


def check_question(question: object) -> str:
    """The question, stripped.

    Raises:
        QuestionError: (a ValueError) the question is not text, blank, too long, or holds
            characters that are not valid Unicode (lone surrogates, undecodable bytes).
    """
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {type(question).__name__}.")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, or a byte the terminal could not decode
        raise QuestionError(
            f"The question holds a character that is not valid text (at position {error.start}); "
            "retype it, or check your terminal's encoding."
        ) from None
    question = question.strip()
    if not question:
        raise QuestionError("The question is empty: type a question about your documents.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"The question is {len(question):,} characters long; the limit is "
            f"{MAX_QUESTION_CHARS:,}. Ask the question itself rather than pasting a document."
        )
    return question


@dataclass
class Engine:
    """Everything needed to answer questions over one index."""

    index: Index
    embedder: Embedder
    retriever: Retriever
    answerer: ExtractiveAnswerer

    @classmethod
    def open(
        cls,
        index: Index,
        embedder: Embedder | None = None,
        retriever_settings: RetrieverSettings | None = None,
        answer_settings: AnswerSettings | None = None,
    ) -> Engine:
        """An engine over a loaded ``index``, with its embedder (default: the one it was built with).

        Raises:
            EmbedderMismatchError: ``embedder`` is not the model the index was built with.
        """
        embedder = embedder or get_embedder(index.manifest.embedder)
        if embedder.id != index.manifest.embedder:
            raise EmbedderMismatchError(
                f"The index in {index.location} was built with {index.manifest.embedder!r} but "
                f"the embedder in use is {embedder.id!r}; rebuild it with `rag index`."
            )
        return cls(
            index,
            embedder,
            Retriever(index, embedder, retriever_settings),
            ExtractiveAnswerer(index, answer_settings),
        )

    def retrieve(self, question: str, *, k: int = 5) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first.

        Raises:
            QuestionError: the question is empty or too long.
            ValueError: ``k`` is not a positive integer.
        """
        question = check_question(question)
        return self.retriever.passages(question, _check_k(k))

    def answerer_for(
        self, generator: str | Generator | None = None, stop: threading.Event | None = None
    ) -> Answerer:
        """The answerer of a mode: the extractive one for None or "extractive", else the
        grounded answerer around that generator (whose stream ends when ``stop`` is set).

        Raises:
            GeneratorError: the generator is unknown or cannot start.
        """

        chosen = resolve(generator)
        if chosen is None:
            return self.answerer

        backend = chosen if stop is None else Stoppable(chosen, stop)
        return GroundedAnswerer(self.index, self.embedder, self.answerer, backend)

    def ask(self, question: str, *, k: int = 5, generator: str | Generator | None = None) -> Answer:
        """Answer ``question``; ``generator`` picks the backend (default: extractive).

        Raises:
            QuestionError: the question is empty or too long.
            GeneratorError: the generator is unknown or cannot start (a missing package or
                model file). Failures *while* generating fall back to the extractive answer,
                with a note.
        """
        return final(self.ask_stream(question, k=k, generator=generator))

    def ask_stream(
        self,
        question: str,
        *,
        k: int = 5,
        generator: str | Generator | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final :class:`Answer`.

        The extractive answer exists at once, so it comes as one piece per sentence; a
        generative backend yields its tokens. Consumers show the pieces and then replace
        them with the final answer (whose citations are the verified ones). Setting ``stop``
        ends a generative backend's stream at its next piece (the UI's Stop).

        Raises:
            QuestionError, GeneratorError: as for :meth:`ask`, before anything is yielded.
        """
        question, k = check_question(question), _check_k(k)
        answerer = self.answerer_for(generator, stop)
        yield from answerer.stream(self.retriever.search(question), k)


def _check_k(k: int) -> int:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return k


_engines: dict[str, Engine] = {}
_corpus_states: dict[str, tuple[tuple[str, int, int], ...]] = {}  # index -> its corpus when synced
_lock = threading.Lock()


def _corpus_state(corpus: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every corpus file: cheap to read (no file is
    opened), and any edit, addition or removal changes it."""

    paths = [corpus] if corpus.is_file() else corpus_files(corpus)
    state = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # removed while listing: the rebuild will notice
            continue
        state.append((path.as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(state)


def get_engine(index: Path | str | None = None, corpus: Path | str | None = None) -> Engine:
    """The engine for an index folder, loaded on first use and cached for the process.

    With a ``corpus`` (and with neither argument: the default index and the default corpus,
    see :mod:`rag.config`), the index is kept in step with the corpus: it is built the first
    time (which embeds every document; a log line says so), and whenever a corpus file was
    added, changed or removed since, only those files are re-embedded and the engine is
    reloaded. With an explicit ``index`` and no ``corpus`` the index is only loaded.

    Raises:
        IndexNotFoundError: no corpus was given and nothing was built at ``index``.
        CorpusError: the corpus is missing or holds no readable documents.
    """
    index_dir = Path(index) if index is not None else default_index()
    if index is None and corpus is None:
        corpus = default_corpus()
    key = _key(index_dir)
    with _lock:
        engine = _engines.get(key)
        if corpus is not None:
            corpus_dir = Path(corpus)
            state = _corpus_state(corpus_dir)
            if engine is None or _corpus_states.get(key) != state:
                engine = _sync(index_dir, corpus_dir, engine)
                _corpus_states[key] = state
        if engine is not None and engine.index.outdated():  # a newer build is live (any process)
            engine = Engine.open(load_index(index_dir), engine.embedder)
        if engine is None:
            engine = Engine.open(load_index(index_dir))
        _engines[key] = engine
        return engine


def _sync(index_dir: Path, corpus: Path, engine: Engine | None) -> Engine:
    """Bring the index in step with the corpus; reload the engine if anything changed."""

    if not open_store(index_dir).exists():
        log.info("Indexing %s into %s on first use: every document is embedded once.", corpus, index_dir)
    report = build_index(
        folder_documents(corpus, index_dir), index_dir, embedder=engine.embedder if engine else None
    )
    if not report.up_to_date or report.retokenized:
        log.info("%s", report.summary())
    if engine is not None and report.up_to_date and not report.retokenized:
        return engine
    return Engine.open(load_index(index_dir), engine.embedder if engine else None)


def _key(index_dir: Path) -> str:
    """The engine cache's key: the index folder, and the store when one is configured."""

    return f"{store_spec() or 'files'}|{index_dir.resolve()}"


def clear_engines(index: Path | str | None = None) -> None:
    """Forget loaded engines: all of them, or only the one of ``index`` (after it was rebuilt
    by another process or by an upload, and in tests). The next request loads the new index."""
    with _lock:
        if index is None:
            _engines.clear()
            _corpus_states.clear()
        else:
            _engines.pop(_key(Path(index)), None)
            _corpus_states.pop(_key(Path(index)), None)
