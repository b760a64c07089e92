"""The document collections a server serves, shared by every session and protocol.

:class:`Libraries` holds them by name: the folders of the command line, then the collections
made in the UI (kept in rag.serve.registry), which it can create, rename and remove. The engine
of every index is loaded once (``rag.engine.get_engine`` caches it) and reloaded only after an
upload, a delete or a change seen by :class:`FolderWatch`. ``answer_modes`` lists the answer
modes that can be offered.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.generators import modes
from rag.config import data_dir, default_corpus, default_index, demo_corpus, settings
from rag.engine import Engine, clear_engines, get_engine
from rag.errors import RagError
from rag.indexing.watch import watch_and_rebuild
from rag.library import Library
from rag.serve.registry import KeptCollection, Registry, check_name, index_for, new_collection_paths

if TYPE_CHECKING:
    from rag.indexing.build import BuildReport

# Under "rag" so that `rag serve` prints its lines (the CLI shows rag's INFO lines).
log = logging.getLogger("rag.serve")


class Libraries:
    """The document collections the app serves, by name; the first is the default.

    With a ``registry``, the collections made in the UI are served after ``libraries`` and
    :meth:`create`, :meth:`rename` and :meth:`remove` change them (and the registry's file);
    ``local_folders`` allows a collection over an existing folder of this machine (a server
    reachable from elsewhere, or behind a login, must not let its users index the server's
    folders).
    """

    def __init__(
        self, libraries: Sequence[Library], registry: Registry | None = None, *, local_folders: bool = True
    ):
        if not libraries:
            raise ValueError("The app needs at least one document collection.")
        self._by_name = {library.name: library for library in libraries}
        self._aliases: dict[str, str] = {}  # old name → new, for chats that cite a renamed one
        self._kept: dict[str, KeptCollection] = {}
        self._synced: set[str] = set()
        self._lock = threading.Lock()
        self.registry = registry
        self.local_folders = local_folders
        self._builder = next((library.builder for library in libraries if library.builder), None)
        self._on_remove: list[Callable[[Library], None]] = []  # told of each collection removed
        for kept in registry.load() if registry else []:
            if not kept.owned and not local_folders:
                # A folder of this machine, made while serving it alone: not served to others.
                log.warning(
                    "Not serving %s (%s): this server is reachable from elsewhere.", kept.name, kept.folder
                )
                continue
            name = kept.name
            while name in self._by_name:  # a command-line folder of the same name comes first
                name += "+"
            self._kept[name] = kept
            self._by_name[name] = self._library(name, kept)

    def _library(self, name: str, kept: KeptCollection) -> Library:
        return Library(
            name, kept.folder, kept.index, builder=self._builder, kind="owned" if kept.owned else "folder"
        )

    @property
    def names(self) -> list[str]:
        """The collections' names, the default first."""
        with self._lock:
            return list(self._by_name)

    def made_in_ui(self, name: str) -> bool:
        """Whether the collection was made in the UI (so it can be renamed and removed there)."""
        return self.get(name).name in self._kept

    def get(self, name: str | None) -> Library:
        """The library called ``name`` (None: the default one; a renamed one's old name works).

        Raises:
            RagError: no library has that name.
        """
        with self._lock:
            if name is None:
                return next(iter(self._by_name.values()))
            # A name in use now wins over a renamed collection's old name.
            name = name if name in self._by_name else self._aliases.get(name, name)
            try:
                return self._by_name[name]
            except KeyError:
                choices = ", ".join(self._by_name)
        raise RagError(f"No document collection {name!r}; choose one of {choices}.")

    def create(self, name: str, folder: str = "") -> Library:
        """A new collection: a new, empty folder under the data folder, or (``folder``) an
        existing folder of this machine, whose files are indexed where they are.

        Raises:
            RagError: no registry; a bad or taken name; the folder is missing, is not a folder,
                or existing folders are not allowed on this server.
        """
        if self.registry is None:
            raise RagError("This server cannot make collections; serve it with `rag serve`.")
        with self._lock:
            name = check_name(name, set(self._by_name) | set(self._aliases))
            if folder.strip():
                if not self.local_folders:
                    raise RagError(
                        "This server is reachable from other machines or asks for a login, so it "
                        "cannot index its own folders; create an empty collection and upload files."
                    )
                path = Path(folder.strip()).expanduser()
                if not path.is_dir():
                    raise RagError(
                        f"{path} is not a folder on this computer; give an existing folder's full path."
                    )
                path = path.resolve()
                served = next((lib for lib in self._by_name.values() if lib.corpus.resolve() == path), None)
                if served is not None:  # one index per folder: two collections would share it
                    raise RagError(f"{path} is already the collection {served.name}; choose it in the list.")
                kept = KeptCollection(name, str(path), str(index_for(path)), owned=False)
            else:
                documents, index = new_collection_paths(name)
                documents.mkdir(parents=True)
                kept = KeptCollection(name, str(documents), str(index), owned=True)
            self._kept[name] = kept
            self._by_name[name] = library = self._library(name, kept)
            self._save()
        log.info("Collection %s created over %s", name, kept.folder)
        return library

    def rename(self, name: str, new: str) -> Library:
        """Give a collection made in the UI a new name (its folders stay where they are).

        Raises:
            RagError: no such collection, it came from the command line, or the new name is bad.
        """
        library = self.get(name)
        with self._lock:
            if library.name not in self._kept:
                raise RagError(f"{library.name} comes from the command line; it cannot be renamed here.")
            new = check_name(new, set(self._by_name) - {library.name})
            old = library.name
            self._aliases = {
                alias: new if target == old else target for alias, target in self._aliases.items()
            }
            self._aliases[old] = new
            library.name = new
            # Rebuilt in order: the collection keeps its place in the list.
            self._kept = {
                (new if name == old else name): (
                    KeptCollection(new, k.folder, k.index, k.owned) if name == old else k
                )
                for name, k in self._kept.items()
            }
            self._by_name = {(new if name == old else name): lib for name, lib in self._by_name.items()}
            self._save()
        return library

    def remove(self, name: str) -> str:
        """Remove a collection made in the UI: a folder rag made goes with its files; a folder
        the user pointed to is left as it is, only its index goes. Returns what was removed.

        Raises:
            RagError: no such collection; it came from the command line; or its folders are not
                where rag keeps collections (a hand-edited list: nothing is deleted then).
        """
        library = self.get(name)
        with library._lock, self._lock:  # never in the middle of the collection's upload or build
            kept = self._kept.get(library.name)
            if kept is None:
                raise RagError(f"{library.name} comes from the command line; it cannot be removed here.")
            home, index = Path(kept.folder).parent.resolve(), Path(kept.index).resolve()
            data = data_dir().resolve()
            # Only what rag made is deleted: a collection's own folder, an index of the data folder.
            if (kept.owned and home.parent != data / "collections") or not index.is_relative_to(data):
                raise RagError(
                    f"{library.name}'s folders are not where rag keeps collections ({data}); "
                    "nothing was deleted. Fix collections.json by hand."
                )
            del self._kept[library.name], self._by_name[library.name]
            self._aliases = {a: t for a, t in self._aliases.items() if t != library.name}
            self._synced.discard(library.name)
            self._save()
            clear_engines(library.index)
            if kept.owned:
                shutil.rmtree(home, ignore_errors=True)
                said = f"Removed {library.name} and its files ({home})."
            else:
                shutil.rmtree(index, ignore_errors=True)
                said = f"Removed {library.name}; its folder {kept.folder} was left as it is."
        for forget in self._on_remove:
            forget(library)
        return said

    def _save(self) -> None:
        assert self.registry is not None
        self.registry.save(list(self._kept.values()))

    def engine(self, name: str | None, *, here: bool = False) -> Engine:
        """The shared engine of a library; the first call brings its index in step with its folder
        (in the library's build worker when it has one, so other collections' questions are
        not held up; ``here``: in this process, as at start-up before any question), and is
        made again after a failure (an empty folder since filled).

        Raises:
            RagError: no such library, or its folder holds nothing to index.
        """
        library = self.get(name)
        with self._lock:
            first = library.name not in self._synced
        if not first:
            return get_engine(library.index)
        if library.builder is not None and not here:
            library.sync()
            engine = get_engine(library.index)
        else:
            engine = get_engine(library.index, library.corpus)
        with self._lock:
            self._synced.add(library.name)
        return engine


class FolderWatch:
    """``rag serve --watch``: a daemon thread per collection keeps its index in step with its folder.

    Each batch of changes (files added, changed, renamed or removed by hand) becomes one
    :meth:`rag.library.Library.sync`; the engine is then reloaded at once, so the next
    question reads the new index. :meth:`stamp` lets the documents tab refresh only when
    something happened.
    """

    def __init__(self, libraries: Libraries):
        self.libraries = libraries
        self.stop = _StopAll()  # set it to end every watcher (tests; the process exits anyway)
        self.ready = {name: threading.Event() for name in libraries.names}  # set once watching
        self._batches = dict.fromkeys(libraries.names, 0)  # batches handled, per collection
        self._stops: dict[int, threading.Event] = {}  # per watched Library (by id), set when it goes
        libraries._on_remove.append(self.forget)

    def start(self) -> None:
        """Start watching every collection's folder (returns at once)."""
        for name in self.libraries.names:
            self.watch(name)

    def forget(self, library: Library) -> None:
        """Stop watching a removed collection (its folder is no longer indexed)."""
        stop = self._stops.pop(id(library), None)
        if stop is not None:
            stop.set()

    def stamp(self, name: str | None) -> str:
        """Changes whenever a collection's documents list may have: its live index generation
        and the batches handled (a bad file leaves the index alone but is listed). Cheap: one
        small file is read (a Milvus store: one row)."""
        library = self.libraries.get(name)
        return f"{library.generation() or ''}:{self._batches.get(library.name, 0)}"

    def watch(self, name: str) -> None:
        """Start watching a collection's folder, e.g. one made after :meth:`start` (returns at once)."""
        self.ready.setdefault(name, threading.Event())
        self._stops[id(self.libraries.get(name))] = self.stop.child()
        threading.Thread(target=self._run, args=(name,), name=f"rag-watch-{name}", daemon=True).start()

    def _run(self, name: str) -> None:

        library = self.libraries.get(name)
        name = library.name

        def built(report: BuildReport) -> None:
            self._batches[name] = self._batches.get(name, 0) + 1
            if report.up_to_date:
                return
            log.info("%s: %s", name, report.summary())
            try:
                self.libraries.engine(name)  # load the new index now, not on the next question
            except RagError as error:
                log.warning("%s: %s", name, error)

        def failed(error: BaseException) -> None:
            self._batches[name] = self._batches.get(name, 0) + 1

        try:
            watch_and_rebuild(
                [library.corpus],
                library.sync,
                on_built=built,
                on_failed=failed,
                ignore=[library.index],
                stop=self._stops.get(id(library), self.stop),
                ready=self.ready[name],
            )
        except OSError as error:  # the folder is missing: nothing to watch (an upload creates it)
            log.warning("Not watching %s for changes: %s", library.corpus, error)


class _StopAll(threading.Event):
    """An event that, when set, also sets every event made by :meth:`child`."""

    def __init__(self) -> None:
        super().__init__()
        self._children: list[threading.Event] = []

    def child(self) -> threading.Event:
        """A new event, set now if this one is, and whenever this one is set."""
        event = threading.Event()
        self._children.append(event)
        if self.is_set():
            event.set()
        return event

    def set(self) -> None:
        super().set()
        for event in self._children:
            event.set()


def default_libraries(corpora: Sequence[Path | str] = (), index: Path | str | None = None) -> list[Library]:
    """Libraries for ``rag serve``. No corpus: the default corpus (rag.config) over the default
    index. With ``index``, the first corpus uses it and each further one gets
    ``<index>/corpora/<folder name>``; without, each folder other than the default corpus has
    its own index under the data folder (rag.serve.registry.index_for). The checkout's seeds/
    is served read-only (kind "demo"), every other folder as the user's own ("folder")."""

    folders = [Path(c).expanduser() for c in corpora] or [default_corpus()]
    demo = demo_corpus()
    libraries: list[Library] = []
    for position, folder in enumerate(folders):
        name = folder.resolve().name or "documents"
        while name in {lib.name for lib in libraries}:
            name += "+"
        if index is not None:
            where = Path(index) if position == 0 else Path(index) / "corpora" / name
        elif folder.resolve() == default_corpus().resolve():
            where = default_index()
        else:
            where = index_for(folder)
        is_demo = demo is not None and folder.resolve() == demo.resolve()
        libraries.append(Library(name, folder, where, kind="demo" if is_demo else "folder"))
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
