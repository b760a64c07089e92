"""`make soak`: the reliability issue's load and race at full size, with the figures it asks for.

Not a test (it takes minutes and its figures depend on the machine). It prints one JSON
object and writes it to bench/soak.json:

* ``loads``: 1,000 index loads while another process switches generations continuously,
  plus new ``rag ask`` processes during the switching: how many failed.
* ``api``: 32 concurrent clients against ``rag serve`` (real model, the seeds), for the
  OpenAI-style ``/v1/chat/completions`` and Gradio's ``/answer`` (through gradio_client, and
  through Gradio's REST protocol with plain HTTP): questions/s, p50, p95.
* ``bomb``: the server's RSS before and after a ~1 GB-when-unpacked .docx is uploaded.
* ``edges``: issue 30's rows 1, 3, 4 and 5 at full size against a server with a login: a .docx
  whose zip says 1 KB of XML but inflates 1 GiB, a PDF page drawing a 2 MB form 2,000
  times (questions asked meanwhile), a 200 MB ``/v1`` body without credentials (RSS before
  and after, seconds, what the server said), and 300 half-sent request heads held against a
  server limited to 256 descriptors (the page and questions meanwhile; when all were closed).
* ``generations``: generation folders left in the index folder after all of it, and after
  ``rag index`` runs killed with SIGKILL right after their switch.

Run alone: ``python -m bench.soak [--clients 32] [--seconds 20] [--loads 1000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.common import ROOT, SEEDS, offline_env, percentile

QUESTIONS = [
    "How many parameters does Mistral Medium 3.5 have?",
    "Who leads the SoftBank loan?",
    "What did Anthropic refuse to share with the EU?",
    "When was Mistral Medium 3.5 released?",
    "What is the capital of Peru?",  # unanswerable here: abstention costs the same path
    "Which company raised money from banks?",
]

SWITCHER = """
import json, shutil, sys
from pathlib import Path
from rag.store.generations import Manifest, MANIFEST, build_lock, live_generation, write_generation

index_dir, stop = Path(sys.argv[1]), Path(sys.argv[2])
switches = 0
while not stop.exists():
    with build_lock(index_dir):
        source = live_generation(index_dir)
        manifest = Manifest.from_json(json.loads((source / MANIFEST).read_text()))

        def copy(folder, source=source):
            for path in source.iterdir():
                if path.name != MANIFEST:
                    (shutil.copytree if path.is_dir() else shutil.copy)(path, folder / path.name)

        write_generation(index_dir, manifest, copy)
    switches += 1
    print(switches, flush=True)  # a line per switch: tests wait for the first
"""


def _rag(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag", *args]


def _generations(index_dir: Path) -> int:
    return sum(1 for p in index_dir.iterdir() if p.name.startswith(("gen-", ".gen-")))


def measure_loads(index_dir: Path, loads: int, processes: int) -> dict:
    """Loads (in this process) and `rag ask` runs (new processes) while generations switch."""
    from rag.errors import RagError
    from rag.store import load_index

    stop = index_dir.parent / "stop-switching"
    switcher = subprocess.Popen(
        [sys.executable, "-c", SWITCHER, str(index_dir), str(stop)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    failed, asks_failed, seen = 0, 0, set()
    try:
        time.sleep(1.0)
        for _ in range(loads):
            try:
                seen.add(load_index(index_dir).path.name)
            except RagError:
                failed += 1
        for _ in range(processes):
            run = subprocess.run(
                _rag("ask", QUESTIONS[0], "--index", str(index_dir)),
                cwd=ROOT,
                env=offline_env(),
                capture_output=True,
                text=True,
            )
            asks_failed += run.returncode != 0
    finally:
        stop.touch()
        switcher.wait(timeout=120)
    return {
        "loads": loads,
        "loads_failed": failed,
        "generations_seen": len(seen),
        "new_process_asks": processes,
        "new_process_asks_failed": asks_failed,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(
    corpus: Path, index_dir: Path, login: tuple[str, str] | None = None, max_files: int | None = None
) -> tuple[subprocess.Popen, str]:
    import httpx

    def limit_files() -> None:  # in the child, before rag starts: as on a host with ulimit -n 256
        if max_files is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))

    port = _free_port()
    env = offline_env() | ({"RAG_USERNAME": login[0], "RAG_PASSWORD": login[1]} if login else {})
    server = subprocess.Popen(
        _rag("serve", "--corpus", str(corpus), "--index", str(index_dir), "--port", str(port)),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit_files if max_files is not None else None,  # noqa: PLW1509 - no threads yet
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code in (200, 401):
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("rag serve did not start within 180 s")


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _hammer(call, clients: int, seconds: float) -> dict:  # noqa: ANN001 - a client factory
    """``clients`` threads, each calling ``call(client_state, question)`` for ``seconds``."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker(number: int) -> None:
        state = call(None, None)  # per-client setup
        i = number
        while time.perf_counter() < end:
            started = time.perf_counter()
            try:
                call(state, QUESTIONS[i % len(QUESTIONS)])
                with lock:
                    latencies.append(time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - counted, the soak goes on
                with lock:
                    errors[0] += 1
            i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "clients": clients,
        "questions": len(latencies),
        "errors": errors[0],
        "questions_per_s": round(len(latencies) / elapsed, 1),
        "p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
    }


def measure_api(url: str, clients: int, seconds: float) -> dict:
    import httpx

    model = httpx.get(url + "/v1/models", timeout=30).json()["data"][0]["id"]

    def v1(client, question):  # noqa: ANN001, ANN202
        if question is None:
            return httpx.Client(base_url=url, timeout=60)
        body = {"model": model, "messages": [{"role": "user", "content": question}]}
        response = client.post("/v1/chat/completions", json=body)
        response.raise_for_status()
        return response

    def answer(client, question):  # noqa: ANN001, ANN202
        if question is None:
            from gradio_client import Client

            return Client(url, verbose=False)
        return client.predict(question, api_name="/answer")

    def answer_rest(client, question):  # noqa: ANN001, ANN202
        # Gradio's documented REST protocol (what curl does): post the call, read its result
        # stream. gradio_client does the same with more work per call, and here the clients
        # share the server's 2 cores, so both are measured.
        if question is None:
            return httpx.Client(base_url=url.rstrip("/"), timeout=60)
        posted = client.post("/gradio_api/call/answer", json={"data": [question, 5, "", "extractive"]})
        posted.raise_for_status()
        with client.stream("GET", f"/gradio_api/call/answer/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: complete"):
                    return stream
                if line.startswith("event: error"):
                    raise RuntimeError(line)
        raise RuntimeError("the result stream ended without a result")

    return {
        "v1": _hammer(v1, clients, seconds),
        "answer": _hammer(answer, clients, seconds),
        "answer_rest": _hammer(answer_rest, clients, seconds),
    }


def measure_during_upload(url: str, folder: Path, clients: int = 4) -> dict:
    """/v1 answers while a 978 KB one-line Markdown file is uploaded and indexed."""
    import random

    from gradio_client import Client, handle_file

    words = "the archive harbour opens at nine and closes when the last ship leaves port".split()
    rng = random.Random(0)
    line = folder / "one-line.md"
    line.write_text(" ".join(rng.choice(words) for _ in range(978 * 1024 // 6))[: 978 * 1024])
    done: dict = {}

    def upload() -> None:
        started = time.perf_counter()
        status, *_ = Client(url, verbose=False).predict(
            [handle_file(str(line))], "corpus", api_name="/upload"
        )
        done.update(index_s=round(time.perf_counter() - started, 1), status=str(status)[:160])

    uploader = threading.Thread(target=upload)
    uploader.start()
    time.sleep(2.0)  # the upload is stored and its build under way
    import httpx

    model = httpx.get(url + "/v1/models", timeout=30).json()["data"][0]["id"]
    latencies: list[float] = []

    def ask() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            i = 0
            while uploader.is_alive():
                started = time.perf_counter()
                body = {
                    "model": model,
                    "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
                }
                client.post("/v1/chat/completions", json=body).raise_for_status()
                latencies.append(time.perf_counter() - started)
                i += 1

    askers = [threading.Thread(target=ask) for _ in range(clients)]
    for thread in askers:
        thread.start()
    uploader.join()
    for thread in askers:
        thread.join()
    return {
        **done,
        "questions_meanwhile": len(latencies),
        "p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 95), 3) if latencies else None,
    }


def measure_bomb(url: str, pid: int, folder: Path) -> dict:
    from gradio_client import Client, handle_file

    from tests.documents import docx_bomb_bytes

    bomb = folder / "bomb.docx"
    bomb.write_bytes(docx_bomb_bytes(1000))  # ~1 GB of XML when unpacked
    before = _rss_mib(pid)
    client = Client(url, verbose=False)
    status, *_ = client.predict([handle_file(str(bomb))], "corpus", api_name="/upload")
    return {
        "bomb_bytes": bomb.stat().st_size,
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(_rss_mib(pid), 1),
        "status": str(status)[:200],
    }


def measure_edges(url: str, pid: int, folder: Path, login: tuple[str, str]) -> dict:
    """Issue 30's rows 1, 3 and 4 at full size, against a server that requires ``login``:
    an upload whose zip under-declares its XML (1 GiB inflated), a PDF page drawing a 2 MB
    form 2,000 times (with /v1 questions asked meanwhile), and a 200 MB /v1 body sent
    without credentials. Each: the server's RSS before and after, seconds, what it said."""
    import threading

    import httpx
    from gradio_client import Client, handle_file

    from tests.documents import docx_underdeclared_bytes, pdf_xobject_bytes

    client = Client(url, auth=login, verbose=False)
    headers = {"Authorization": f"Bearer {login[0]}:{login[1]}"}
    figures: dict = {}
    for row, name, data in [
        ("row1_underdeclared_docx", "liar.docx", docx_underdeclared_bytes(1024)),
        ("row3_xobject_pdf", "forms.pdf", pdf_xobject_bytes(2048, 2000)),
    ]:
        path = folder / name
        path.write_bytes(data)
        before, began = _rss_mib(pid), time.perf_counter()
        answered: list[float] = []
        done = threading.Event()

        def ask(done: threading.Event = done, answered: list[float] = answered) -> None:
            # Questions meanwhile: the upload must not stall them.
            body = {"model": "rag", "messages": [{"role": "user", "content": QUESTIONS[0]}]}
            while not done.is_set():
                start = time.perf_counter()
                reply = httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=60)
                if reply.is_success:
                    answered.append(time.perf_counter() - start)

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        status, *_ = client.predict([handle_file(str(path))], "corpus", api_name="/upload")
        done.set()
        asker.join(60)
        figures[row] = {
            "file_bytes": len(data),
            "seconds": round(time.perf_counter() - began, 1),
            "rss_before_mib": round(before, 1),
            "rss_after_mib": round(_rss_mib(pid), 1),
            "questions_meanwhile": len(answered),
            "p95_s": round(percentile(answered, 95), 3) if answered else None,
            "status": str(status)[:240],
        }

    head, tail = b'{"model": "rag", "messages": [{"role": "user", "content": "', b'"}]}'

    def body() -> Iterator[bytes]:  # 200 MB, streamed: the client never holds it either
        yield head
        for _ in range(200):
            yield b"x" * 1_000_000
        yield tail

    before, began = _rss_mib(pid), time.perf_counter()
    length = str(len(head) + 200 * 1_000_000 + len(tail))
    try:
        refused = httpx.post(
            url + "/v1/chat/completions", content=body(), headers={"Content-Length": length}, timeout=60
        ).status_code
    except httpx.HTTPError as error:  # the server answered and closed before the body was sent
        refused = type(error).__name__
    figures["row4_200mb_body_no_login"] = {
        "seconds": round(time.perf_counter() - began, 1),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(_rss_mib(pid), 1),
        "status": refused,
    }
    figures["row5_300_half_sent_requests"] = measure_half_sent(url, headers, 300)
    return figures


def measure_half_sent(url: str, headers: dict[str, str], held: int) -> dict:
    """``held`` connections that send half a request head and stop (the server has 256
    descriptors): the page and /v1 questions meanwhile, and how long until the server has
    closed every one of them (rag.serve.timeouts)."""
    import selectors
    import socket
    from urllib.parse import urlsplit

    import httpx

    address = urlsplit(url)
    sockets = []
    for _ in range(held):
        client = socket.create_connection((address.hostname, address.port), timeout=10)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sockets.append(client)
    began = time.perf_counter()
    closed_at: list[float] = []  # seconds since held, when the server closed each
    replies_408 = 0

    def watch() -> None:  # reads every held socket until the server closes it (or 120 s pass)
        nonlocal replies_408
        selector = selectors.DefaultSelector()
        for client in sockets:
            client.setblocking(False)
            selector.register(client, selectors.EVENT_READ)
        while selector.get_map() and time.perf_counter() - began < 120:
            for key, _ in selector.select(timeout=1):
                data = b""
                try:
                    while chunk := key.fileobj.recv(4096):
                        data += chunk
                except BlockingIOError:
                    if not data:
                        continue
                replies_408 += data.startswith(b"HTTP/1.1 408")
                closed_at.append(time.perf_counter() - began)
                selector.unregister(key.fileobj)
                key.fileobj.close()
        for key in list(selector.get_map().values()):
            key.fileobj.close()

    import threading

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    body = {"model": "rag", "messages": [{"role": "user", "content": QUESTIONS[0]}]}
    # Questions and the page for 60 s: while the heads are held, and after the server cut them.
    outcomes: list[tuple[float, bool, float]] = []  # (seconds since held, answered, latency)
    pages: list[tuple[float, object]] = []
    while time.perf_counter() - began < 60:
        start = time.perf_counter()
        try:
            ok = httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=30).is_success
        except httpx.HTTPError:
            ok = False
        outcomes.append((start - began, ok, time.perf_counter() - start))
        if len(outcomes) % 20 == 1:
            try:
                pages.append((start - began, httpx.get(url + "/", timeout=30).status_code))
            except httpx.HTTPError as error:
                pages.append((start - began, type(error).__name__))
    watcher.join(130)
    return {
        "held": held,
        "closed_by_server": len(closed_at),
        "answered_408": replies_408,
        "all_closed_after_s": round(max(closed_at), 1) if len(closed_at) == held else None,
        "page_statuses": [status for _, status in pages],
        "questions_in_first_20_s": sum(1 for t, _, _ in outcomes if t < 20),
        "failed_in_first_20_s": sum(1 for t, ok, _ in outcomes if t < 20 and not ok),
        "questions_after_20_s": sum(1 for t, _, _ in outcomes if t >= 20),
        "failed_after_20_s": sum(1 for t, ok, _ in outcomes if t >= 20 and not ok),
        "p95_s": round(percentile([dt for _, ok, dt in outcomes if ok], 95), 3) if outcomes else None,
    }


def measure_killed_builds(corpus: Path, index_dir: Path, runs: int) -> dict:
    """`rag index` killed by SIGKILL right after it switched generations, ``runs`` times."""
    left = []
    for number in range(runs):
        (corpus / f"note-{number}.md").write_text(f"# Note {number}\n\nLlama number {number} hums.\n")
        build = subprocess.Popen(
            _rag("index", str(corpus), "--index", str(index_dir)), cwd=ROOT, env=offline_env()
        )
        before = (index_dir / "CURRENT").read_text()
        while build.poll() is None and (index_dir / "CURRENT").read_text() == before:
            time.sleep(0.005)
        if build.poll() is None:
            os.kill(build.pid, signal.SIGKILL)
        build.wait()
        left.append(_generations(index_dir))
    from rag.store import load_index

    load_index(index_dir)  # a start: removes what the killed builds left
    return {
        "killed_builds": runs,
        "generations_after_kills": left,
        "generations_after_next_start": _generations(index_dir),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--loads", type=int, default=1000)
    parser.add_argument(
        "--processes", type=int, default=8, help="new `rag ask` processes during the switching"
    )
    parts_known = ["loads", "api", "upload", "bomb", "edges", "kills"]
    parser.add_argument("--only", choices=parts_known, action="append")
    args = parser.parse_args(argv)
    parts = set(args.only or parts_known)
    work = Path(tempfile.mkdtemp(prefix="rag-soak-"))
    corpus, index_dir = work / "corpus", work / "index"
    shutil.copytree(SEEDS, corpus)
    subprocess.run(
        _rag("index", str(corpus), "--index", str(index_dir)), cwd=ROOT, env=offline_env(), check=True
    )
    figures: dict = {}
    try:
        if "loads" in parts:
            figures["loads"] = measure_loads(index_dir, args.loads, args.processes)
        if parts & {"api", "upload", "bomb"}:
            server, url = _start_server(corpus, index_dir)
            try:
                if "api" in parts:
                    figures["api"] = measure_api(url, args.clients, args.seconds)
                if "upload" in parts:
                    figures["during_upload"] = measure_during_upload(url, work)
                if "bomb" in parts:
                    figures["bomb"] = measure_bomb(url, server.pid, work)
            finally:
                server.terminate()
                server.wait(timeout=60)
        if "edges" in parts:
            login = ("soak", "s0ak-password")
            server, url = _start_server(corpus, index_dir, login, max_files=256)
            try:
                figures["edges"] = measure_edges(url, server.pid, work, login)
            finally:
                server.terminate()
                server.wait(timeout=60)
        if "kills" in parts:
            figures["generations"] = measure_killed_builds(corpus, index_dir, 5)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    out = ROOT / "bench" / "soak.json"
    # `--only` replaces its own parts and keeps the figures of the others from the last run.
    kept = json.loads(out.read_text()) if args.only and out.is_file() else {}
    out.write_text(json.dumps({**kept, **figures}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
