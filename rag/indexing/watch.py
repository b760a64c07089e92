"""Keep an index in step with its folders while they change: file-system change batches in,
one rebuild per batch out.

The events come from watchfiles (inotify, FSEvents or ReadDirectoryChangesW, polling as a
fallback). A burst of events — a copy of many files, an editor's save-by-rename — is grouped
into one batch, and each batch triggers one rebuild that re-reads the folders' *current*
state, so it never matters which events a batch held: two changes that land together are
both picked up, and changes made during a rebuild are collected meanwhile and cause another
rebuild. Builds are atomic, so a rebuild that fails leaves the index as it was; it is logged
as one warning line and the watcher keeps running.

>>> watch_and_rebuild([Path("seeds")], lambda: build_index(["seeds"]))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rag.errors import RagError
from rag.ingest.formats import SUFFIXES

log = logging.getLogger(__name__)

T = TypeVar("T")

# A batch is handed over once the folder has been quiet for QUIET_SECONDS, and at the latest
# DEBOUNCE_SECONDS after its first event while events keep coming. 0.3 s of quiet covers an
# editor's temporary file and rename and a copy of several files (one rebuild, not one per
# event); the 1.6 s cap (watchfiles' own default) keeps a long copy from delaying answers, so
# a change reaches the index in about a second plus the rebuild.
QUIET_SECONDS = 0.3
DEBOUNCE_SECONDS = 1.6
# How often the watcher wakes up without events: the first wake-up says it is watching.
_WAKE_SECONDS = 0.5


class ChangeFilter:
    """Which changed paths matter to an index built from ``roots`` (files and folders).

    Under a folder: paths with a supported suffix (:data:`rag.ingest.formats.SUFFIXES`) and
    folders (a folder moved in or out holds documents); never hidden files or folders (a
    leading dot, like the ``.upload-*.tmp`` files rag writes before renaming them into
    place), nor anything under ``ignore`` (an index folder kept inside the corpus). A file
    given itself always matters, whatever its suffix (a JSONL corpus).
    """

    def __init__(self, roots: Sequence[Path], ignore: Sequence[Path] = ()):
        self.files = {root.resolve() for root in roots if root.is_file()}
        self.folders = [root.resolve() for root in roots if not root.is_file()]
        self.ignore = [path.resolve() for path in ignore]

    def __call__(self, change: object, path: str) -> bool:
        """True when a change of ``path`` can change the index (``change`` does not matter:
        a rebuild re-reads the current state anyway)."""
        target = Path(path)
        if target in self.files:
            return True
        if any(target.is_relative_to(ignored) for ignored in self.ignore):
            return False
        for folder in self.folders:
            if target == folder or not target.is_relative_to(folder):
                continue
            if any(part.startswith(".") for part in target.relative_to(folder).parts):
                return False  # the loader skips hidden files and folders too
            suffix = target.suffix.lower()
            # No suffix: maybe a folder that was just removed or renamed (it cannot be asked).
            return suffix in SUFFIXES or not suffix or target.is_dir()
        return False

    def watched(self) -> list[Path]:
        """The folders to watch: each folder itself, and the folder of each file given, because
        editors replace a file by renaming a new one over it, which ends a watch on the file."""
        return sorted({*self.folders, *(file.parent for file in self.files)})


def watch_and_rebuild(
    roots: Sequence[Path | str],
    rebuild: Callable[[], T],
    *,
    on_built: Callable[[T], None] | None = None,
    on_failed: Callable[[BaseException], None] | None = None,
    ignore: Sequence[Path | str] = (),
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
    quiet: float = QUIET_SECONDS,
    debounce: float = DEBOUNCE_SECONDS,
) -> None:
    """Call ``rebuild()`` once per batch of relevant changes under ``roots``, until ``stop`` is set.

    Once the watcher is in place, one rebuild catches up with changes made before it was (a
    no-op when nothing changed), then ``ready`` is set and a line is logged.

    Args:
        roots: the files and folders the index is built from.
        rebuild: rebuilds from the current state of ``roots``; returns e.g. a BuildReport.
        on_built: called with what each rebuild returned (to print it, to warm an engine).
        on_failed: called with the error of a failed rebuild, after it was logged.
        ignore: paths whose changes never matter (the index folder, when inside a root).
        stop: set it to end the watch (checked every ``quiet`` seconds); None: until Ctrl-C.
        ready: set once changes are being watched (tests wait for it before changing files).
        quiet: seconds without events before a batch is handed over.
        debounce: at most this many seconds from a batch's first event until it is handed over.

    Raises:
        KeyboardInterrupt: Ctrl-C in the main thread (the CLI exits with 130).
        FileNotFoundError: a root does not exist.
    """
    from watchfiles import watch

    changes = ChangeFilter([Path(root) for root in roots], [Path(path) for path in ignore])
    shown = ", ".join(str(root) for root in roots)
    folders = changes.watched()
    started = False
    while True:
        # A watch ends with the folder it watches: a folder removed and made again would leave
        # it silent. So each watch remembers its folders' identities, ends when one changes,
        # and the next starts once every folder is there again.
        identities = {folder: _identity(folder) for folder in folders}
        caught_up = False
        with contextlib.closing(
            watch(
                *folders,
                watch_filter=changes,
                debounce=round(debounce * 1000),
                step=round(quiet * 1000),
                stop_event=stop,
                rust_timeout=round(_WAKE_SECONDS * 1000),
                yield_on_timeout=True,  # an empty batch: the watcher is in place (or nothing happened)
            )
        ) as batches:
            for batch in batches:
                if not caught_up:
                    # Files changed before this watch was in place were not seen as events;
                    # a rebuild from the current state covers them.
                    caught_up = True
                    _rebuild(rebuild, shown, on_built, on_failed, quiet_if_unchanged=True)
                    log.info("Watching %s %s(Ctrl-C stops).", shown, "again " if started else "for changes ")
                    if not started and ready is not None:
                        ready.set()
                    started = True
                elif batch:
                    _rebuild(rebuild, shown, on_built, on_failed, quiet_if_unchanged=False)
                changed = [str(f) for f in folders if _identity(f) != identities[f]]
                if changed:
                    log.warning(
                        "%s was removed or replaced; it is watched again once it is there.",
                        ", ".join(changed),
                    )
                    break
            else:
                return  # stop was set
        if not _wait_for(folders, stop, quiet):
            return


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of ``folder``; None while it is missing."""
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if folder.is_dir() else None


def _wait_for(folders: Sequence[Path], stop: threading.Event | None, every: float) -> bool:
    """Wait until every folder exists; False when ``stop`` was set first."""
    while not all(folder.is_dir() for folder in folders):
        if stop is not None and stop.wait(every):
            return False
        if stop is None:
            time.sleep(every)
    return True


def _rebuild(
    rebuild: Callable[[], T],
    shown: str,
    on_built: Callable[[T], None] | None,
    on_failed: Callable[[BaseException], None] | None,
    *,
    quiet_if_unchanged: bool,
) -> None:
    """One rebuild: its result to ``on_built``, or one logged line and the error to ``on_failed``."""
    failure: BaseException
    try:
        result = rebuild()
    except (RagError, OSError) as error:
        # A bad or half-written file, a folder emptied, a file removed while it was read: the
        # build is atomic, so the index is still the previous one, and the next change retries.
        log.warning("%s changed, but the index was left as it was: %s", shown, error)
        failure = error
    except Exception as error:  # a bug: keep its traceback, and keep watching
        log.exception("Rebuilding after a change in %s failed; the index was left as it was.", shown)
        failure = error
    else:
        # The catch-up rebuild of the start says nothing when there was nothing to catch up.
        if on_built is not None and not (quiet_if_unchanged and getattr(result, "up_to_date", False)):
            on_built(result)
        return
    if on_failed is not None:
        on_failed(failure)
