"""Index builds in a separate, lower-priority process, so that questions never wait for them.

In the server, a build in a thread shared the process with the questions: its Python work
held the GIL and its embedding took every core, so answers took 4 s (p50) while a 1 MB file
was indexed, against 0.02 s otherwise. The worker is one child process (started on the
first build, then kept, with its own copy of the model) running one build at a time at a
lower CPU priority (nice +10) with one core fewer than the machine has for torch (at least
one), and reporting progress back through a queue. Builds still write the index
atomically; the server reloads it afterwards.

Usage example::

    worker = BuildWorker()
    report = worker.build(Path("docs"), Path("index"), progress=print)
    worker.close()
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.indexing.build import BuildReport, build_index
from rag.indexing.exclusions import folder_documents

Progress = Callable[[float, str], None]

NICENESS = 10  # below the server's questions; the OS still gives it every idle cycle
_progress: Any = None  # the child's end of the progress queue (set by _start)


def _start(progress_queue: Any, log_level: int) -> None:
    """Runs once in the child: lower priority, a core left free, the progress queue, and its
    log records sent to the server, which prints them as its own (one format, one place)."""
    global _progress
    _progress = progress_queue
    root = logging.getLogger()
    root.handlers[:] = [_ForwardLogs(progress_queue)]
    root.setLevel(log_level)
    # Die with the server: a parent killed or stopped without closing the pool would leave
    # this process (and its copy of the model) behind, waiting for work that never comes.
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch_parent, name="rag-build-parent-watch", daemon=True).start()
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    threads = max(1, (os.cpu_count() or 2) - 1)  # one core stays free for the questions
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from rag.embedding import onnx_embedder

    onnx_embedder.THREADS = threads
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


class _ForwardLogs(logging.handlers.QueueHandler):
    """Log records onto the progress queue as ("log", record), formatted for pickling."""

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put_nowait(("log", record))


def _build(corpus: str, index: str, without: str | None) -> BuildReport:
    """Runs in the child: read the corpus folder and build its index (see Library), less the
    index's left-out documents (rag.indexing.exclusions) and ``without``."""

    documents = folder_documents(corpus, index, [without] if without else [])
    return build_index(
        documents, Path(index), progress=lambda f, message: _progress.put(("progress", f, message))
    )


class BuildWorker:
    """One child process that runs builds one at a time (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._queue: Any = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the server holds threads (Gradio, uvicorn) that fork would copy
            # in whatever state they are, and a model already loaded in torch.
            context = multiprocessing.get_context("spawn")
            self._queue = context.Queue()
            level = logging.getLogger().getEffectiveLevel()
            self._executor = ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_start, initargs=(self._queue, level)
            )
        return self._executor

    def build(
        self, corpus: Path, index: Path, *, without: str | None = None, progress: Progress | None = None
    ) -> BuildReport:
        """Index the documents of ``corpus`` (less ``without``) into ``index`` in the child.

        Raises:
            RagError: as :func:`rag.indexing.build.build_index` raises it (re-raised here).
            CorpusError: the child process died (out of memory, killed); the index is as it was.
        """
        with self._lock:  # one build at a time; progress messages are then all this build's
            future: Future[BuildReport] = self._pool().submit(_build, str(corpus), str(index), without)
            while True:
                try:
                    self._relay(self._queue.get(timeout=0.1), progress)
                except queue.Empty:
                    if future.done():
                        break
            while not self._queue.empty():  # the last messages before it finished
                self._relay(self._queue.get(), progress)
            try:
                return future.result()
            except BrokenProcessPool as error:
                self._executor = None  # the next build starts a fresh child
                raise CorpusError(
                    "The indexing process stopped unexpectedly (out of memory, or killed); the index "
                    "is as it was before. Try again with fewer or smaller files."
                ) from error

    @staticmethod
    def _relay(item: tuple, progress: Progress | None) -> None:
        if item[0] == "log":
            record = item[1]
            logging.getLogger(record.name).handle(record)
        elif progress is not None:
            progress(item[1], item[2])

    def close(self) -> None:
        """Stop the child process (a later build starts a new one)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
