"""The document collections a server serves, shared by every session and protocol.

:class:`Libraries` holds them by name; the engine of every index is loaded once
(``rag.engine.get_engine`` caches it) and reloaded only after an upload, a delete or a change
seen by :class:`FolderWatch`. ``answer_modes`` lists the answer modes that can be offered.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.generators import modes
from rag.config import default_corpus, default_index, settings
from rag.engine import Engine, get_engine
from rag.errors import RagError
from rag.indexing.watch import watch_and_rebuild
from rag.library import Library

if TYPE_CHECKING:
    from rag.indexing.build import BuildReport

# Under "rag" so that `rag serve` prints its lines (the CLI shows rag's INFO lines).
log = logging.getLogger("rag.serve")


class Libraries:
    """The document collections the app serves, by name; the first is the default."""

    def __init__(self, libraries: Sequence[Library]):
        if not libraries:
            raise ValueError("The app needs at least one document collection.")
        self._by_name = {library.name: library for library in libraries}
        self._synced: set[str] = set()
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """The collections' names, the default first."""
        return list(self._by_name)

    def get(self, name: str | None) -> Library:
        """The library called ``name`` (None: the default one).

        Raises:
            RagError: no library has that name.
        """
        if name is None:
            return next(iter(self._by_name.values()))
        try:
            return self._by_name[name]
        except KeyError:
            raise RagError(
                f"No document collection {name!r}; choose one of {', '.join(self.names)}."
            ) from None

    def engine(self, name: str | None) -> Engine:
        """The shared engine of a library; the first call brings its index in step with its folder."""
        library = self.get(name)
        with self._lock:
            first = library.name not in self._synced
            self._synced.add(library.name)
        if first:  # build or update from the folder once; afterwards only uploads change it
            return get_engine(library.index, library.corpus)
        return get_engine(library.index)


class FolderWatch:
    """``rag serve --watch``: a daemon thread per collection keeps its index in step with its folder.

    Each batch of changes (files added, changed, renamed or removed by hand) becomes one
    :meth:`rag.library.Library.sync`; the engine is then reloaded at once, so the next
    question reads the new index. :meth:`stamp` lets the documents tab refresh only when
    something happened.
    """

    def __init__(self, libraries: Libraries):
        self.libraries = libraries
        self.stop = threading.Event()  # set it to end every watcher (tests; the process exits anyway)
        self.ready = {name: threading.Event() for name in libraries.names}  # set once watching
        self._batches = dict.fromkeys(libraries.names, 0)  # batches handled, per collection

    def start(self) -> None:
        """Start watching every collection's folder (returns at once)."""
        for name in self.libraries.names:
            threading.Thread(target=self._run, args=(name,), name=f"rag-watch-{name}", daemon=True).start()

    def stamp(self, name: str | None) -> str:
        """Changes whenever a collection's documents list may have: its live index generation
        and the batches handled (a bad file leaves the index alone but is listed). Cheap: one
        small file is read (a Milvus store: one row)."""
        library = self.libraries.get(name)
        return f"{library.generation() or ''}:{self._batches[library.name]}"

    def _run(self, name: str) -> None:

        library = self.libraries.get(name)

        def built(report: BuildReport) -> None:
            self._batches[name] += 1
            if report.up_to_date:
                return
            log.info("%s: %s", name, report.summary())
            try:
                self.libraries.engine(name)  # load the new index now, not on the next question
            except RagError as error:
                log.warning("%s: %s", name, error)

        def failed(error: BaseException) -> None:
            self._batches[name] += 1

        try:
            watch_and_rebuild(
                [library.corpus],
                library.sync,
                on_built=built,
                on_failed=failed,
                ignore=[library.index],
                stop=self.stop,
                ready=self.ready[name],
            )
        except OSError as error:  # the folder is missing: nothing to watch (an upload creates it)
            log.warning("Not watching %s for changes: %s", library.corpus, error)


def default_libraries(corpora: Sequence[Path | str] = (), index: Path | str | None = None) -> list[Library]:
    """Libraries for ``rag serve``: the first corpus uses ``index`` (default: the default index), each
    further one gets ``<index>/corpora/<folder name>``. No corpus: the default corpus (rag.config)."""

    root = Path(index) if index is not None else default_index()
    folders = [Path(c) for c in corpora] or [default_corpus()]
    libraries: list[Library] = []
    for position, folder in enumerate(folders):
        name = folder.resolve().name or "documents"
        while name in {lib.name for lib in libraries}:
            name += "+"
        libraries.append(Library(name, folder, root if position == 0 else root / "corpora" / name))
    return libraries


def answer_modes() -> list[str]:
    """The answer modes to offer: "extractive", plus the generative backends that are configured.

    A backend is offered when its requirements are there (llama-cpp: the package and a GGUF
    model; openai: a server address), so nobody picks a mode that can only fail.
    """
    return [name for name in modes() if _configured(name)]


def _configured(name: str) -> bool:
    if name == "llama-cpp":
        if importlib.util.find_spec("llama_cpp") is None:
            return False
        from rag.answer.generators.llama_cpp import bundled_model

        return bool(settings().llama_model) or bundled_model() is not None
    if name == "openai":
        return bool(settings().openai_base_url)
    return True  # extractive, and backends registered by others: trust them
