"""Cold start of `make run` to the first answer in a browser.

What `make run` does once installed: `rag index seeds` (a full build the first time, "up to
date" afterwards), then `rag serve`. Timed from the first command, each in a new process, to
the moment the first answer's text shows in Debian's chromium (Playwright), asked as a user
would: page opened as soon as the server answers, question typed, Enter. Two runs: the first
over an empty index folder (a new checkout), then one over the index it left ("make run"
again). The model's ONNX export is already cached (made once per machine, ~10 s, by the
first use of the model ever; not billed here).

Run alone: ``python -m bench.browser_start --corpus seeds``; it prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.common import ROOT, offline_env

CHROMIUM = Path("/usr/bin/chromium")
QUESTION = "Who is the Commission spokesperson?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rag(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "rag"), *args]


def _wait_http(url: str, server: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rag serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"rag serve did not answer at {url} in {timeout:.0f} s")


def one_start(corpus: Path, index_dir: Path, browser) -> dict:  # noqa: ANN001 - a Playwright browser
    """Seconds from `rag index` to the first answer's text in the page, and the steps between."""
    started = time.perf_counter()
    subprocess.run(_rag("index", str(corpus), "--index", str(index_dir)), env=offline_env(), check=True,
                   capture_output=True, cwd=ROOT)  # fmt: skip
    indexed = time.perf_counter()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        _rag("serve", "--index", str(index_dir), "--corpus", str(corpus), "--port", str(port)),
        env=offline_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(url, server)
        serving = time.perf_counter()
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_selector("#question textarea")
        loaded = time.perf_counter()
        page.fill("#question textarea", QUESTION)
        page.press("#question textarea", "Enter")
        page.wait_for_function(
            "() => { const a = document.querySelectorAll('#chat .rag-answer'); const last = a[a.length - 1];"
            " return last && last.querySelector('.rag-text') && !last.querySelector('.rag-thinking'); }"
        )
        answered = time.perf_counter()
        text = page.locator("#chat .rag-answer .rag-text").last.inner_text()
        context.close()
    finally:
        server.terminate()
        server.wait(30)
    return {
        "to_first_answer_s": round(answered - started, 2),
        "index_s": round(indexed - started, 2),
        "serve_until_http_s": round(serving - indexed, 2),
        "page_ready_s": round(loaded - serving, 2),
        "question_to_answer_s": round(answered - loaded, 2),
        "answered": "Regnier" in text,
    }


def measure(corpus: Path) -> dict:
    """The first start (empty index folder) and a second one (index up to date)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        return {"skipped": f"no {CHROMIUM}: `make test` installs Debian's chromium"}
    with tempfile.TemporaryDirectory(prefix="rag-bench-start-") as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            index_dir = Path(scratch) / "index"
            first = one_start(corpus, index_dir, browser)
            again = one_start(corpus, index_dir, browser)
        finally:
            browser.close()
    return {"first_run": first, "next_run": again}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.corpus.resolve())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
