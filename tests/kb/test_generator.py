"""Generator backends: the OpenAI-compatible client against a real local HTTP server, model resolution."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kb.answering.generator import PACKAGED_GENERATORS, OpenAIGenerator, TransformersGenerator, make_generator
from kb.errors import ModelError
from kb.settings import Settings


class _ChatServer(BaseHTTPRequestHandler):
    """A minimal OpenAI-compatible /chat/completions endpoint that streams a fixed answer (plumbing only)."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["Staff get ", "25 days", " [1]."]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_compatible_server_streams(chat_server):
    generator = make_generator(Settings(generator="openai", openai_base_url=chat_server,
                                        generator_model="qwen2.5:7b", openai_api_key="secret"))
    assert isinstance(generator, OpenAIGenerator)
    pieces = list(generator.stream([{"role": "user", "content": "leave?"}], 32))
    assert "".join(pieces) == "Staff get 25 days [1]."
    request = _ChatServer.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer secret"
    assert request["body"]["model"] == "qwen2.5:7b" and request["body"]["temperature"] == 0
    assert request["body"]["stream"] is True and request["body"]["max_tokens"] == 32


def test_an_unreachable_server_is_a_clear_error():
    generator = OpenAIGenerator("http://127.0.0.1:9/v1", "any", timeout_s=2)
    with pytest.raises(ModelError, match="unreachable.*openai_base_url"):
        list(generator.stream([{"role": "user", "content": "hi"}], 8))


def test_generator_models_resolve_to_packaged_files_local_gguf_or_hub_ids(tmp_path):
    where, gguf = TransformersGenerator("HuggingFaceTB/SmolLM2-135M-Instruct")._location()
    assert gguf == PACKAGED_GENERATORS["HuggingFaceTB/SmolLM2-135M-Instruct"][1]
    assert (Path(where) / gguf).is_file()
    local = tmp_path / "model.Q4.gguf"
    local.write_bytes(b"GGUF")
    assert TransformersGenerator(str(local))._location() == (str(tmp_path), "model.Q4.gguf")
    assert TransformersGenerator("Qwen/Qwen2.5-1.5B-Instruct")._location() == ("Qwen/Qwen2.5-1.5B-Instruct", None)


def test_a_model_that_is_not_available_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    generator = TransformersGenerator(str(tmp_path / "no-such-model"))
    with pytest.raises(ModelError, match="cannot load generator model.*generator_model"):
        generator.count_tokens("hello")
