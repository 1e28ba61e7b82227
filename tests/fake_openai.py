"""A deterministic fake OpenAI-compatible server, for tests about plumbing (HTTP, streaming, concurrency).

A real HTTP server on 127.0.0.1 (a free port, one thread per request) serving ``POST /v1/chat/completions``,
streamed as Server-Sent Events (``data: {...}`` chunks, then ``data: [DONE]``) or as one JSON answer, and
``GET /v1/models``. It writes no text of its own: it reads the numbered sources in the prompt
(``[1] (where)\\ntext``, as ``kb.answering.pipeline`` writes them) and answers with the one or two source
sentences that share the most words with the question, each cited, word by word with a small pause, so
that verification can pass and several requests overlap in time. It records every request and the peak
number of requests it was answering at once. It is not a language model and says nothing about quality.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_SOURCE = re.compile(r"^\[(\d+)\] \([^\n]*\)\n", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("the a an of to and or in on for is are do does did how what when who which many much "
                  "can i we you my our get".split())


@dataclass
class Served:
    """One request as the fake saw it (times from ``time.monotonic``)."""

    body: dict
    started: float
    finished: float = 0.0
    pieces: int = 0


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def parse_prompt(prompt: str) -> tuple[list[str], str]:
    """(the numbered source texts, the question) of a prompt written by ``Answerer._messages``."""
    question = prompt.rsplit("Question:", 1)[1].strip() if "Question:" in prompt else prompt.strip()
    head = prompt.rsplit("\n\nQuestion:", 1)[0]
    marks = list(_SOURCE.finditer(head))
    sources = [head[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(head)].strip()
               for i, m in enumerate(marks)]
    return sources, question


def fake_answer(prompt: str, sentences: int = 2) -> str:
    """The source sentences that share the most words with the question, best first, each cited."""
    sources, question = parse_prompt(prompt)
    if not sources:
        return "Hello."
    wanted = _words(question)
    ranked = []
    for n, text in enumerate(sources, start=1):
        for position, sentence in enumerate(_SENTENCE_END.split(text)):
            sentence = " ".join(sentence.split()).rstrip(".!?")
            if len(sentence.split()) >= 4:
                ranked.append((-len(wanted & _words(sentence)), n, position, sentence))
    ranked.sort()
    chosen = [r for r in ranked if r[0] < 0][:sentences] or ranked[:1]
    return " ".join(f"{sentence} [{n}]." for _, n, _, sentence in chosen) or "The sources do not say."


class FakeOpenAI:
    """Start with ``with FakeOpenAI() as server:``; point ``openai_base_url`` at ``server.url``."""

    def __init__(self, pause_s: float = 0.02, sentences: int = 2):
        self.pause_s = pause_s  # between streamed pieces: a stream lasts long enough for others to overlap it
        self.sentences = sentences
        self.served: list[Served] = []
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._begun = threading.Condition(self._lock)
        self._gate: tuple[int, int, float] | None = None  # (requests begun when armed, how many to wait for, s)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake server is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(_Handler):
            owner = fake

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64  # many askers connect at the same moment

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def hold_until(self, count: int, timeout_s: float = 30.0) -> None:
        """From now on, hold each request until ``count`` requests have begun (or ``timeout_s`` has passed): a
        client that sends them one at a time then shows as ``peak == 1`` whatever the machine's speed, and one
        that sends them together as ``peak == count``."""
        with self._lock:
            self._gate = (len(self.served), count, timeout_s)

    def _begin(self, body: dict) -> Served:
        with self._begun:
            self.active += 1
            self.peak = max(self.peak, self.active)
            served = Served(body, time.monotonic())
            self.served.append(served)
            self._begun.notify_all()
            if self._gate is not None:
                armed, count, timeout_s = self._gate
                self._begun.wait_for(lambda: len(self.served) - armed >= count, timeout_s)
            return served

    def _end(self, served: Served) -> None:
        with self._lock:
            self.active -= 1
            served.finished = time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeOpenAI

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # http.server's names
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # http.server's names
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        fake = self.owner
        served = fake._begin(body)
        try:
            prompt = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
            words = re.findall(r"\S+\s*", fake_answer(prompt, fake.sentences))[: int(body.get("max_tokens") or 10**6)]
            if body.get("stream"):
                self._stream(served, words, body.get("model", "fake"))
            else:
                time.sleep(fake.pause_s * len(words))
                self._json(200, {"id": "fake-1", "object": "chat.completion", "model": body.get("model", "fake"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": "".join(words)}}]})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (it had enough sentences): what a real server sees too
        finally:
            fake._end(served)

    def _stream(self, served: Served, words: list[str], model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

        def send(delta: dict, finish: str | None = None) -> None:
            chunk = {"id": "fake-1", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

        send({"role": "assistant"})
        for word in words:
            time.sleep(self.owner.pause_s)
            send({"content": word})
            served.pieces += 1
        send({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
