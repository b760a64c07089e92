"""An index with its embedder, retriever and answerer, loaded once per process and reused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answering import AnswerSettings, ExtractiveAnswerer
from rag.config import MAX_QUESTION_CHARS, default_corpus, default_index
from rag.embedders import Embedder, get_embedder
from rag.errors import EmbedderMismatchError, QuestionError
from rag.index import Index, load_index
from rag.records import Answer, Passage
from rag.retrieval import Retrieval, Retriever, RetrieverSettings

if TYPE_CHECKING:
    from rag.generators.base import Generator


def check_question(question: object) -> str:
    """The question, stripped.

    Raises:
        QuestionError: (a ValueError) the question is not text, blank, or too long.
    """
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {type(question).__name__}.")
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
        embedder = embedder or get_embedder(index.manifest.embedder)
        if embedder.id != index.manifest.embedder:
            raise EmbedderMismatchError(
                f"The index in {index.path.parent} was built with {index.manifest.embedder!r} but "
                f"the embedder in use is {embedder.id!r}; rebuild it with `rag index`."
            )
        return cls(
            index,
            embedder,
            Retriever(index, embedder, retriever_settings),
            ExtractiveAnswerer(index, answer_settings),
        )

    def retrieve(self, question: str, *, k: int = 5) -> list[Passage]:
        question = check_question(question)
        return self.retriever.passages(question, _check_k(k))

    def ask(self, question: str, *, k: int = 5, generator: str | Generator | None = None) -> Answer:
        """Answer ``question``; ``generator`` picks the backend (default: extractive).

        Raises:
            QuestionError: the question is empty or too long.
            GeneratorError: the generator is unknown or cannot start (a missing package or
                model file). Failures *while* generating fall back to the extractive answer,
                with a note.
        """
        question = check_question(question)
        if generator is None or generator == "extractive":
            retrieval = self.retriever.search(question, _check_k(k))
            return self.answerer.answer(retrieval, k)
        answer = None
        for item in self.ask_stream(question, k=k, generator=generator):
            answer = item
        assert isinstance(answer, Answer)  # ask_stream always ends with the Answer
        return answer

    def ask_stream(
        self, question: str, *, k: int = 5, generator: str | Generator | None = None
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces as it is produced, then the final :class:`Answer`.

        The extractive answer exists at once, so it comes as one piece per sentence; a
        generative backend yields its tokens. Consumers show the pieces and then replace
        them with the final answer (whose citations are the verified ones).

        Raises:
            GeneratorError: as for :meth:`ask`, before anything is yielded.
        """
        from rag.generators.base import resolve

        question = check_question(question)
        chosen = resolve(generator)
        retrieval = self.retriever.search(question, _check_k(k))
        yield from self.answer_stream(retrieval, k, chosen)

    def answer_stream(self, retrieval: Retrieval, k: int, generator: Generator) -> Iterator[str | Answer]:
        """:meth:`ask_stream` for a question already retrieved (evaluation reuses its ranking)."""
        from rag.generators.base import is_extractive

        if not is_extractive(generator):
            from rag.grounded import GroundedAnswerer

            yield from GroundedAnswerer(self.index, self.embedder, self.answerer).stream(retrieval, k, generator)
            return
        answer = self.answerer.answer(retrieval, k)
        for sentence in answer.sentences or [answer]:
            marker = f" [{sentence.citation}]" if getattr(sentence, "citation", None) else ""
            yield sentence.text + marker + " "
        yield answer


def _check_k(k: int) -> int:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return k


_engines: dict[Path, Engine] = {}
_lock = threading.Lock()


def get_engine(index: Path | str | None = None, corpus: Path | str | None = None) -> Engine:
    """The engine for an index folder, loaded on first use and cached for the process.

    With no ``index``, the default index is used and kept in step with the default corpus
    (built on first use, updated for changed files). With an explicit ``index`` and no
    ``corpus`` the index is only loaded: it must exist.
    """
    index_dir = Path(index) if index is not None else default_index()
    if index is None and corpus is None:
        corpus = default_corpus()
    key = index_dir.resolve()
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if corpus is not None:
                from rag.indexing import build_index
                from rag.loading import load_paths

                build_index(load_paths([corpus]), index_dir)
            engine = Engine.open(load_index(index_dir))
            _engines[key] = engine
        return engine


def clear_engines(index: Path | str | None = None) -> None:
    """Forget loaded engines: all of them, or only the one of ``index`` (after it was rebuilt
    by another process or by an upload, and in tests). The next request loads the new index."""
    with _lock:
        if index is None:
            _engines.clear()
        else:
            _engines.pop(Path(index).resolve(), None)
