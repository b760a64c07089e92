"""Folder sync: `rag index --watch` and `rag serve --watch` keep an index in step with its folder.

Real watchers on real folders, offline, with the hashing embedder (no model). Every check
polls, bounded, until the index or the answers follow a change: how long a rebuild takes is
never asserted, only that it comes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.errors import RagError
from tests.ports import PortTaken, on_free_port

ROOT = Path(__file__).resolve().parents[2]
PATIENCE = 30.0  # seconds a change may take to show before a check fails (the goal is ~2 s)
SERVER_START = 180.0  # seconds for `rag serve` to import gradio and build its index (2 slow cores)

# One distinctive fact per file, so the best passage for its question is that file's.
FILLER = {
    "harbour.md": "# Harbour\n\nThe harbour of Kotka handled nine million tonnes of cargo in 2023.\n",
    "jam.txt": "Orion Foods sold three million jars of lingonberry jam in the spring season.\n",
}
LITHIUM = "Zephyr Mining opened a lithium mine near Sodankyla in Lapland in 2024."
LITHIUM_Q = "Where did Zephyr Mining open its lithium mine?"
ZINC = "Quarrel Metals built a zinc smelter beside the Kokkola railway station."
ZINC_Q = "Where did Quarrel Metals build its zinc smelter?"
TIN = "Bramble Shipping ordered four tin barges from the Rauma shipyard."
TIN_Q = "Which shipyard builds the tin barges for Bramble Shipping?"


def eventually(check: Callable[[], bool], what: str, patience: float = PATIENCE) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` when it has not after ``patience`` s."""
    deadline = time.monotonic() + patience
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {patience:.0f} s: {what}")
        time.sleep(0.2)


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture()
def corpus(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")  # builds here and in the watcher thread
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in FILLER.items():
        write(folder, name, text)
    return folder


@contextmanager
def watching(corpus: Path, index: Path) -> Iterator[tuple[list, list]]:
    """A watcher thread over ``corpus`` rebuilding ``index`` through rag.api.build_index;
    yields the lists of its rebuilds' reports and of its failures."""
    from rag.api import build_index
    from rag.engine import clear_engines
    from rag.indexing.watch import watch_and_rebuild

    build_index([corpus], index=index)
    built: list = []
    failed: list = []
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=watch_and_rebuild,
        args=([corpus], lambda: build_index([corpus], index=index)),
        kwargs={"on_built": built.append, "on_failed": failed.append, "stop": stop, "ready": ready},
        daemon=True,
    )
    thread.start()
    try:
        assert ready.wait(PATIENCE), "the watcher did not start"
        yield built, failed
    finally:
        stop.set()
        thread.join(PATIENCE)
        clear_engines()
    assert not thread.is_alive(), "the watcher did not stop when told to"


def indexed(index: Path) -> set[str]:
    from rag.store.generations import read_summary

    return set(read_summary(index).chunks)


def top(question: str, index: Path, k: int = 1) -> list:
    """The best ``k`` passages, or [] while a rebuild swaps the generation under the loader."""
    from rag import retrieve

    try:
        return retrieve(question, k=k, index=index)
    except RagError:
        return []


def cited(question: str, index: Path, k: int = 5) -> set[str]:
    from rag import ask

    return {c.source for c in ask(question, k=k, index=index).citations}


def test_the_index_follows_files_added_changed_renamed_removed_and_written_together(corpus, tmp_path):
    index = tmp_path / "index"
    with watching(corpus, index):
        write(corpus, "lapland.md", f"# Mines\n\n{LITHIUM}\n")
        eventually(lambda: [p.source for p in top(LITHIUM_Q, index)] == ["lapland.md"], "an added file")

        write(corpus, "lapland.md", f"# Mines\n\n{LITHIUM.replace('Sodankyla', 'Kittila')}\n")
        eventually(
            lambda: any("Kittila" in p.text and "Sodankyla" not in p.text for p in top(LITHIUM_Q, index)),
            "a changed file",
        )

        os.replace(corpus / "lapland.md", corpus / "arctic.md")
        eventually(lambda: "lapland.md" not in indexed(index), "a renamed file's old name goes")
        assert "arctic.md" in indexed(index)  # one batch: both sides of the rename
        # The new generation is live a moment before the watcher drops the cached engine: the
        # answers follow within that moment (a run under load once asked inside it).
        eventually(
            lambda: [p.source for p in top(LITHIUM_Q, index)] == ["arctic.md"], "answers follow the rename"
        )
        sources = cited(LITHIUM_Q, index)
        assert "arctic.md" in sources and "lapland.md" not in sources

        (corpus / "arctic.md").unlink()
        eventually(lambda: "arctic.md" not in indexed(index), "a removed file")
        assert not {"arctic.md", "lapland.md"} & cited(LITHIUM_Q, index)
        assert all(p.source in FILLER for p in top(LITHIUM_Q, index, k=5))

        # Two changes that land together (one batch, or one rebuild catching up the other).
        write(corpus, "zinc.txt", ZINC)
        write(corpus, "tin.txt", TIN)
        eventually(lambda: {"zinc.txt", "tin.txt"} <= indexed(index), "two files written at once")
        assert [p.source for p in top(ZINC_Q, index)] == ["zinc.txt"]
        assert [p.source for p in top(TIN_Q, index)] == ["tin.txt"]
        assert indexed(index) == {*FILLER, "zinc.txt", "tin.txt"}


def test_hidden_files_and_other_types_cause_no_rebuild(corpus, tmp_path):
    index = tmp_path / "index"
    with watching(corpus, index) as (built, failed):
        write(corpus, ".upload-1234.tmp", LITHIUM)  # what an upload writes before its rename
        (corpus / ".cache").mkdir()
        write(corpus / ".cache", "notes.md", LITHIUM)
        write(corpus, "script.py", "print('hi')\n")
        write(corpus, "marker.txt", ZINC)  # a relevant change after them, to know they were seen
        eventually(lambda: "marker.txt" in indexed(index), "the file after the ignored ones")
        assert len(built) == 1 and not failed  # the ignored files brought no rebuild of their own
        assert indexed(index) == {*FILLER, "marker.txt"}


def test_a_bad_file_or_an_emptied_folder_leaves_the_index_answering_as_before(corpus, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    index = tmp_path / "index"
    with watching(corpus, index) as (built, failed):
        live = (index / "CURRENT").read_text()
        before = top("How many jars of jam were sold?", index)
        assert [p.source for p in before] == ["jam.txt"]

        (corpus / "bad.pdf").write_text("This is plain text, not a PDF.", encoding="utf-8")
        eventually(lambda: len(built) >= 1, "a rebuild after the bad file")
        assert built[-1].up_to_date and not failed
        assert (index / "CURRENT").read_text() == live
        assert top("How many jars of jam were sold?", index) == before
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1 and "bad.pdf" in lines[0] and "\n" not in lines[0], lines

        # Emptying the folder would leave nothing to answer from: refused, the index stays.
        # (One file left, so its removal is one batch, not a half-emptied folder first.)
        (corpus / "bad.pdf").unlink()
        (corpus / "harbour.md").unlink()
        eventually(lambda: indexed(index) == {"jam.txt"}, "the index without harbour.md")
        live = (index / "CURRENT").read_text()
        before = top("How many jars of jam were sold?", index)
        caplog.clear()
        (corpus / "jam.txt").unlink()
        eventually(lambda: len(failed) >= 1, "a refused rebuild after the folder was emptied")
        assert isinstance(failed[-1], RagError)
        assert (index / "CURRENT").read_text() == live
        assert top("How many jars of jam were sold?", index) == before
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1 and "left as it was" in lines[0] and "\n" not in lines[0], lines

        write(corpus, "jam.txt", FILLER["jam.txt"])  # and the watcher is still there
        eventually(lambda: len(built) >= 3, "a rebuild after the folder was filled again")


def test_library_sync_reads_the_folder_and_drops_the_cached_engine(corpus, tmp_path):
    from rag.library import Library
    from rag.serve.collections import Libraries

    libraries = Libraries([Library("docs", corpus, tmp_path / "index")])
    engine = libraries.engine("docs")
    write(corpus, "zinc.txt", ZINC)
    report = libraries.get("docs").sync()
    assert report.added == ["zinc.txt"] and report.unchanged == len(FILLER)
    fresh = libraries.engine("docs")
    assert fresh is not engine and fresh.retrieve(ZINC_Q, k=1)[0].source == "zinc.txt"
    assert libraries.get("docs").sync().up_to_date


class Server:
    """A `rag` subprocess with its output collected line by line as it comes."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Ctrl-C must reach it even when this test runs in a background job, which ignores it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> int:
        """How many output lines contain ``text``."""
        return sum(text in line for line in list(self.lines))

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def rag_env() -> dict[str, str]:
    env = {**os.environ, "RAG_EMBEDDER": "hash-384", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("RAG_USERNAME", "RAG_PASSWORD", "RAG_CORPUS", "RAG_INDEX"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path, Server]]:
    """`rag serve --watch` over a folder of its own; yields (base URL, folder, server)."""
    folder = tmp_path_factory.mktemp("served") / "docs"
    folder.mkdir()
    for name, text in FILLER.items():
        write(folder, name, text)
    index = folder.parent / "index"

    def start(port: int) -> tuple[str, Server]:
        command = [sys.executable, "-m", "rag", "serve", "--watch", "--corpus", str(folder)]
        server = Server([*command, "--index", str(index), "--port", str(port)], rag_env())
        deadline = time.monotonic() + SERVER_START
        while not server.saw("for changes"):  # the watcher's line: it is in place
            if server.process.poll() is not None:
                if "port" in server.output().lower():
                    raise PortTaken(server.output())
                pytest.fail(f"rag serve exited:\n{server.output()}")
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"rag serve did not start within {SERVER_START:.0f} s:\n{server.output()}")
            time.sleep(0.3)
        return f"http://127.0.0.1:{port}", server

    url, server = on_free_port(start)
    try:
        yield url, folder, server
    finally:
        server.stop()


def chat(url: str, question: str, k: int = 1) -> dict:
    """One question through the OpenAI-compatible endpoint; {} when it failed (e.g. mid-swap)."""
    body = {"model": "rag", "rag_k": k, "messages": [{"role": "user", "content": question}]}
    request = urllib.request.Request(
        url + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError):
        return {}


def sources(url: str, question: str, k: int = 1) -> list[str]:
    return [c["source"] for c in chat(url, question, k).get("citations", [])]


def test_rag_serve_watch_answers_follow_the_folder(served):
    url, folder, server = served
    assert set(sources(url, "How many jars of jam were sold?", k=5)) <= set(FILLER)

    write(folder, "lapland.md", f"# Mines\n\n{LITHIUM}\n")
    eventually(lambda: sources(url, LITHIUM_Q) == ["lapland.md"], "the answer from an added file")

    write(folder, "lapland.md", f"# Mines\n\n{LITHIUM.replace('Sodankyla', 'Kittila')}\n")
    eventually(lambda: "Kittila" in json.dumps(chat(url, LITHIUM_Q)), "the answer from a changed file")
    assert "Sodankyla" not in json.dumps(chat(url, LITHIUM_Q, k=5))

    os.replace(folder / "lapland.md", folder / "arctic.md")
    eventually(lambda: sources(url, LITHIUM_Q) == ["arctic.md"], "the new name of a renamed file")
    assert "lapland.md" not in sources(url, LITHIUM_Q, k=5)

    (folder / "arctic.md").unlink()
    eventually(
        lambda: (cited := sources(url, LITHIUM_Q, k=5)) != [] and "arctic.md" not in cited,
        "no citation of a removed file",
    )
    assert set(sources(url, LITHIUM_Q, k=5)) <= set(FILLER)

    write(folder, "zinc.txt", ZINC)
    write(folder, "tin.txt", TIN)
    eventually(
        lambda: sources(url, ZINC_Q) == ["zinc.txt"] and sources(url, TIN_Q) == ["tin.txt"],
        "answers from two files written at once",
    )
    # The documents list follows too (what the documents tab shows).
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    names = {row["name"] for row in client.predict("", api_name="/documents")}
    assert names == {*FILLER, "zinc.txt", "tin.txt"}


def test_rag_serve_watch_skips_a_bad_file_with_one_line_and_answers_as_before(served):
    url, folder, server = served
    question = "How many jars of jam were sold?"
    before = chat(url, question)
    assert [c["source"] for c in before["citations"]] == ["jam.txt"]
    (folder / "bad.pdf").write_text("This is plain text, not a PDF.", encoding="utf-8")
    eventually(lambda: server.saw("bad.pdf") >= 1, "a warning naming the bad file")
    time.sleep(1)  # a second line would come with the same rebuild
    assert server.saw("bad.pdf") == 1, server.output()
    assert [line for line in server.lines if "bad.pdf" in line][0].startswith("WARNING: ")
    after = chat(url, question)
    assert after["citations"] == before["citations"] and after["choices"] == before["choices"]
    (folder / "bad.pdf").unlink()


def test_rag_index_watch_prints_a_line_per_update_and_exits_130_on_ctrl_c(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in FILLER.items():
        write(folder, name, text)
    index = tmp_path / "index"
    command = [sys.executable, "-m", "rag", "index", "--watch", str(folder), "--index", str(index)]
    server = Server(command, rag_env())
    try:
        eventually(lambda: server.saw("for changes") == 1, "the watcher's start", patience=120)
        assert server.saw("from 2 files") == 1  # the first build, said once (the catch-up is silent)
        write(folder, "zinc.txt", ZINC)
        eventually(lambda: server.saw("(1 added, ") == 1, "a summary line for the added file")
        (folder / "zinc.txt").unlink()
        eventually(lambda: server.saw(" 1 removed, ") == 1, "a summary line for the removed file")
    finally:
        status = server.stop(signal.SIGINT)
    assert status == 130, server.output()
    assert "Traceback" not in server.output()


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed")
def test_an_open_documents_tab_shows_files_as_they_come_and_go(served):
    from playwright.sync_api import sync_playwright

    url, folder, _ = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(PATIENCE * 1000)
            page.goto(url)
            page.get_by_role("tab", name="Documents").click()
            table = page.locator("#documents")
            table.get_by_text("jam.txt").wait_for()
            write(folder, "ledger.md", "# Ledger\n\nThe ledger of Hanko port lists 412 ships for 2022.\n")
            table.get_by_text("ledger.md").wait_for()  # no reload, no click: the page refreshed itself
            (folder / "ledger.md").unlink()
            table.get_by_text("ledger.md").wait_for(state="detached")
        finally:
            browser.close()


def test_a_watched_folder_removed_and_made_again_is_watched_again(corpus, tmp_path, caplog):
    """Issue 30, row 8: the watcher went silent; new files were listed with 0 chunks, never indexed."""
    import shutil

    index = tmp_path / "index"
    with caplog.at_level(logging.INFO, logger="rag"), watching(corpus, index) as (built, _):
        shutil.rmtree(corpus)
        eventually(lambda: "was removed or replaced" in caplog.text, "a line saying the folder went")
        corpus.mkdir()
        write(corpus, "lapland.md", f"# Mines\n\n{LITHIUM}\n")
        eventually(lambda: "lapland.md" in indexed(index), "a file in the folder made again")
        assert "again (Ctrl-C stops)" in caplog.text
        write(corpus, "zinc.md", f"# Zinc\n\n{ZINC}\n")  # and changes after that are seen too
        eventually(lambda: "zinc.md" in indexed(index), "a later file")
