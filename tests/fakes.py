"""Deterministic stand-ins for a generative model, so the grounded path is tested offline."""

from __future__ import annotations

from collections.abc import Iterator

from rag.answer.prompting import OMITTED, Prompt
from rag.ingest.lexical import tokenize
from rag.ingest.text import split_sentences
from rag.ingest.tokens import count_tokens
from rag.records import NOT_FOUND


class CopyingGenerator:
    """A Generator that "writes" the prompt's passage sentence sharing most of the question's
    words, with its passage marker: what a faithful model would do, without a model."""

    name = "copying"
    context_tokens = 8192
    max_tokens = 128

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        question = set(tokenize(prompt.question))
        best: tuple[float, str, int] = (0.0, NOT_FOUND, 0)
        for passage in prompt.passages:
            for sentence in split_sentences(passage.text):
                if sentence.text == OMITTED:
                    continue
                overlap = len(question & set(tokenize(sentence.text))) / max(len(question), 1)
                if overlap > best[0]:
                    best = (overlap, sentence.text, passage.number)
        _, text, number = best
        yield f"{text} [{number}]" if number else text


class ScriptedGenerator:
    """A Generator that writes the given text, in word-sized pieces."""

    name = "scripted"
    context_tokens = 8192
    max_tokens = 128

    def __init__(self, text: str) -> None:
        self.text = text

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        for word in self.text.split(" "):
            yield word + " "


class SlowOpenAIServer:
    """An OpenAI-compatible server on loopback that streams one word every ``pause`` seconds
    (``words`` in all) and records whether the client hung up before the end: the measure
    of whether Stop really stops the model (issue 32 item 5). ``GET /v1/models`` lists "slow"."""

    def __init__(self, words: int = 300, pause: float = 0.1) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.words, self.pause = words, pause
        self.sent = 0  # words written to the last stream
        self.hung_up = threading.Event()  # the client closed the stream before its end
        self.started = threading.Event()  # a stream began
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                body = b'{"object": "list", "data": [{"id": "slow", "object": "model"}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                import json
                import time

                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                outer.sent = 0
                outer.started.set()
                try:
                    for number in range(outer.words):
                        word = "Mistral Medium 3.5 is a 128-billion-parameter scale model. ".split()[
                            number % 8
                        ]
                        event = {"choices": [{"delta": {"content": word + " "}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                        outer.sent += 1
                        time.sleep(outer.pause)
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    outer.hung_up.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
