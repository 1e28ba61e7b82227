"""Ingest on Ray (setting ``ingest_executor = "ray"``): files parsed by parse actors, passages embedded by
embedding actors, the version published by the writer as in a local run.

Each parse actor owns a one-worker :class:`ingest.pool.ParsePool`, so every file gets the local run's limits
(size, pages, memory, time, OCR) and skip reasons, and a parser that crashes or hangs costs one file. Actors
rather than a task per file because a fresh parse worker costs ~1.3 s (interpreter, tokenizer, parser imports)
against ~0.2 s warm. Results come back in input order, so chunks get the ids a one-worker local run gives them.

Each embedding actor builds the writer's embedder once from its model id (:func:`kb.embedding.make_embedder`),
on a GPU when the cluster has GPUs. ``ray_address = ""`` starts a private local Ray for the run inside a
temporary folder (its session files, its own auth token, no dashboard, no usage reporting); otherwise Ray
connects to that cluster, whose nodes need this package, the model and the files at the same paths.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ingest.pool import ParsedFile, ParsePool, WorkerConfig
from kb.embedding import make_embedder
from kb.embedding.protocol import Embedder
from kb.errors import ConfigError, ModelError
from kb.files import private_dir, private_file
from kb.settings import Settings

log = logging.getLogger(__name__)

# variables a local start sets for Ray's processes when the user has set none of the auth ones: a token file in
# the session folder (Ray 2.60 turns token auth on and would otherwise write ~/.ray/auth_token), no usage reports
_AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
_USAGE_VAR = "RAY_USAGE_STATS_ENABLED"
# a parse actor's answer may come this much later than the pool's own time limit before the actor is given up
_PARSE_GRACE_S = 60.0


class _ParseActor:
    """A Ray actor around a one-worker ParsePool (the same limits and skip reasons as a local run)."""

    def __init__(self, config: WorkerConfig):
        self._pool = ParsePool(config, workers=1, timeout_s=config.timeout_s)
        self._pool.__enter__()

    def parse(self, path: str) -> ParsedFile:
        return next(iter(self._pool.parse([path])))

    def stop(self) -> None:
        self._pool.__exit__(None, None, None)


class _EmbedActor:
    """A Ray actor holding one embedder, loaded once."""

    def __init__(self, settings: Settings, model_id: str):
        self._embedder = make_embedder(settings, model_id)

    def describe(self) -> tuple[str, int]:
        return self._embedder.model_id, self._embedder.dimension  # loads the model now, not on the first batch

    def encode(self, texts: list[str]) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        vectors = np.asarray(self._embedder.encode(texts), dtype=np.float32)
        return vectors, time.perf_counter() - t0


class RayExecutor:
    """Parses and embeds an ingest run's files on Ray (an :class:`kb.index.writer.IngestExecutor`).

    Started explicitly (``start()``/``close()`` or ``with``), it keeps Ray and its actors up across runs;
    otherwise each writer run starts (or connects to) Ray when it has files and stops it at the end.
    ``temp_dir``, ``num_cpus`` and ``object_store_mb`` shape a local start only (``ray_address = ""``).
    """

    def __init__(self, settings: Settings, temp_dir: Path | None = None, num_cpus: int | None = None,
                 object_store_mb: int | None = None):
        self.settings = settings
        self.start_seconds = 0.0  # how long the last start took (ray.init or the connection)
        self.actor_seconds = 0.0  # how long creating the actors took (the embedders load their model)
        self._temp_dir = Path(temp_dir) if temp_dir is not None else None
        self._num_cpus = num_cpus
        self._object_store_mb = object_store_mb
        self._connected = False
        self._owned = False  # we called ray.init, so we call ray.shutdown
        self._lazy = False  # started by a run, not by the caller: stopped when the run ends
        self._holds = 0
        self._own_dir: Path | None = None
        self._saved_env: dict[str, str | None] = {}
        self._parsers: list = []
        self._parser_config: WorkerConfig | None = None
        self._embedders: list = []
        self._embedder_id: str | None = None
        self._layout: tuple[int, int, float] | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "RayExecutor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "RayExecutor":
        """Start a local Ray (``ray_address = ""``) or connect to the cluster; an already initialised Ray in this
        process (the caller's) is used as it is and left running."""
        import ray

        if self._connected:
            return self
        t0 = time.perf_counter()
        if ray.is_initialized():
            self._owned = False
        elif self.settings.ray_address:
            try:
                ray.init(address=self.settings.ray_address, log_to_driver=False)
            except Exception as exc:  # ConnectionError, AuthenticationError, ValueError: all say the same to users
                raise ConfigError(f"cannot connect to the Ray cluster at ray_address={self.settings.ray_address!r}: "
                                  f"{exc}. Check the address and that RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) holds "
                                  "the cluster's token, or set ray_address = \"\" for a local Ray") from exc
            self._owned = True
        else:
            self._start_local(ray)
            self._owned = True
        self._connected = True
        self.start_seconds = time.perf_counter() - t0
        log.info("Ray %s in %.1f s: %s", "started" if self._owned and not self.settings.ray_address else "connected",
                 self.start_seconds, {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")})
        return self

    def _start_local(self, ray) -> None:
        folder = self._temp_dir
        if folder is None:
            folder = self._own_dir = Path(tempfile.mkdtemp(prefix="kb-ray-"))
        private_dir(folder)
        self._saved_env = {name: os.environ.get(name) for name in (*_AUTH_VARS, _USAGE_VAR)}
        if not any(os.environ.get(name) for name in _AUTH_VARS):
            token = private_file(folder / "auth_token")
            token.write_text(secrets.token_hex(32), encoding="utf-8")
            os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)
            _forget_cached_token()  # a second local start in this process has a new token
        os.environ.setdefault(_USAGE_VAR, "0")
        needed = self.settings.ray_embed_actors + max(1, self.settings.ray_parse_actors)
        cpus = self._num_cpus or max(os.cpu_count() or 1, needed)
        options = {"object_store_memory": self._object_store_mb * 2**20} if self._object_store_mb else {}
        try:
            # session files (sockets, logs, spilled objects) under folder/ray, never /tmp/ray
            ray.init(_temp_dir=str(folder / "ray"), include_dashboard=False, num_cpus=cpus, log_to_driver=False,
                     **options)
        except Exception:
            self._restore()
            raise

    def close(self) -> None:
        """Stop the actors, then Ray if this executor started it (or disconnect from the cluster)."""
        if not self._connected:
            return
        import ray

        try:
            if self._parsers:
                ray.wait([a.stop.remote() for a in self._parsers], num_returns=len(self._parsers), timeout=10)
            for actor in self._parsers + self._embedders:
                ray.kill(actor)
        except Exception as exc:  # the cluster may already be gone; shutting down is all that is left
            log.warning("stopping the Ray actors: %s", exc)
        self._parsers, self._embedders = [], []
        self._parser_config = self._embedder_id = self._layout = None
        if self._owned:
            ray.shutdown()
        self._connected = self._owned = self._lazy = False
        self._restore()

    def _restore(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    @contextmanager
    def running(self) -> Iterator[None]:
        """Keep Ray up across the sessions of one writer run (started by the first session that needs it)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if self._holds == 0 and self._lazy:
                self.close()

    @contextmanager
    def session(self, embedder: Embedder, config: WorkerConfig | None = None, workers: int = 1,
                ahead: int = 0) -> Iterator["_RaySession"]:
        """One run's parsing (``config``) and embedding with ``embedder``; ``workers`` (the local pool's size) and
        ``ahead`` are not used: setting ``ray_parse_actors`` sizes parsing on Ray, whose actors each have cores."""
        with self.running():
            if not self._connected:
                self.start()
                self._lazy = True
            yield _RaySession(self, embedder, config)

    # ------------------------------------------------------------------ actors

    def layout(self) -> tuple[int, int, float]:
        """(parse actors, embedding actors, GPUs per embedding actor) for the cluster as it is now."""
        if self._layout is not None:
            return self._layout
        import ray

        # a Ray of our own is all ours; on another one (a cluster, the caller's) other work may hold some of it
        own = self._owned and not self.settings.ray_address
        resources = ray.cluster_resources() if own else ray.available_resources()
        cpus, gpus = int(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        embed = self.settings.ray_embed_actors
        parse = self.settings.ray_parse_actors or max(1, cpus - embed)
        if parse + embed > cpus:
            free = "" if own else "free "
            message = (f"the Ray cluster has {cpus} CPUs {free}but {parse} parse actors and {embed} embedding "
                       f"actors ask for one each: lower ray_parse_actors or ray_embed_actors, or add CPUs")
            if not self.settings.ray_address:
                raise ConfigError(message)
            log.warning("%s (actors wait until the cluster has them)", message)
        self._layout = (parse, embed, min(1.0, gpus / embed) if gpus else 0.0)
        return self._layout

    def parsers(self, config: WorkerConfig) -> list:
        if self._parsers and self._parser_config == config:
            return self._parsers
        self._stop(self._parsers)
        parse, _, _ = self.layout()
        self._parsers = [self._new_parser(config) for _ in range(parse)]
        self._parser_config = config
        return self._parsers

    @staticmethod
    def _new_parser(config: WorkerConfig):
        import ray

        return ray.remote(num_cpus=1)(_ParseActor).remote(config)

    def replace_parser(self, actor):
        """A fresh parse actor instead of ``actor`` (dead, or given up on)."""
        import ray

        try:
            ray.kill(actor)
        except Exception:  # already gone
            pass
        fresh = self._new_parser(self._parser_config)
        self._parsers[self._parsers.index(actor)] = fresh
        return fresh

    def embedders(self, embedder: Embedder) -> list:
        if self._embedders and self._embedder_id == embedder.model_id:
            return self._embedders
        import ray
        from ray.exceptions import RayError

        self._stop(self._embedders)
        _, count, gpus = self.layout()
        settings = self.settings.replace(device="cuda") if gpus else self.settings
        t0 = time.perf_counter()
        actors = [ray.remote(num_cpus=1, num_gpus=gpus)(_EmbedActor).remote(settings, embedder.model_id)
                  for _ in range(count)]
        try:
            described = ray.get([a.describe.remote() for a in actors])
        except RayError as exc:  # the model is missing on a node, a GPU fails, ...: name the model, not Ray's frames
            self._stop(actors)
            cause = getattr(exc, "cause", None) or exc
            raise ModelError(f"the Ray embedding actors cannot load {embedder.model_id!r}: {cause}") from exc
        for model_id, dimension in described:
            if model_id != embedder.model_id or dimension != embedder.dimension:
                raise ModelError(f"the Ray embedding actors built {model_id!r} ({dimension} dimensions) for "
                                 f"{embedder.model_id!r} ({embedder.dimension}); the cluster's nodes need the same "
                                 "model (set embedding_model to a path or id they all have)")
        self.actor_seconds = time.perf_counter() - t0
        log.info("%d embedding actor(s) of %s ready in %.1f s (%s)", count, embedder.model_id, self.actor_seconds,
                 f"{gpus:g} GPU each" if gpus else "on CPU")
        self._embedders, self._embedder_id = actors, embedder.model_id
        return actors

    @staticmethod
    def _stop(actors: list) -> None:
        import ray

        for actor in actors:
            ray.kill(actor)


class _RaySession:
    """One run's work on Ray: ordered parsing over the parse actors, batches round-robin over the embedders."""

    def __init__(self, executor: RayExecutor, embedder: Embedder, config: WorkerConfig | None):
        self._executor, self._embedder, self._config = executor, embedder, config
        self._futures: deque = deque()
        self._turn = 0
        self._actors: list = []

    def parse(self, paths: Sequence[str]) -> Iterator[ParsedFile]:
        import ray

        if self._config is None:
            raise ValueError("this session was opened without a parse config")
        idle = list(self._executor.parsers(self._config))
        limit = self._config.timeout_s + _PARSE_GRACE_S
        running: dict = {}  # future -> (index, path, actor, deadline)
        done: dict[int, ParsedFile] = {}
        submitted = yielded = 0
        while yielded < len(paths):
            while idle and submitted < len(paths):
                actor = idle.pop()
                running[actor.parse.remote(paths[submitted])] = (submitted, paths[submitted], actor,
                                                                 time.monotonic() + limit)
                submitted += 1
            if running:
                wait_s = max(0.0, min(d for *_, d in running.values()) - time.monotonic())
                ready, _ = ray.wait(list(running), num_returns=1, timeout=wait_s)
                for future in ready:
                    index, path, actor = running.pop(future)[:3]
                    done[index], healthy = self._outcome(future, path)
                    idle.append(actor if healthy else self._executor.replace_parser(actor))
                for future, (index, path, actor, deadline) in list(running.items()):
                    if future not in ready and time.monotonic() >= deadline:
                        del running[future]
                        log.warning("parse actor gave no answer for %s in %.0f s; replacing it", path, limit)
                        done[index] = ParsedFile(path=path, seconds=self._config.timeout_s, transient=True,
                                                 skip_reason=f"parsing took longer than {self._config.timeout_s:g} s "
                                                             "(setting parse_timeout_s)")
                        idle.append(self._executor.replace_parser(actor))
            while yielded in done:  # in input order: chunk ids as a one-worker local run numbers them
                yield done.pop(yielded)
                yielded += 1

    def _outcome(self, future, path: str) -> tuple[ParsedFile, bool]:
        """The file's ParsedFile, and whether its actor is still usable."""
        import ray
        from ray.exceptions import RayActorError, RayError

        try:
            return ray.get(future), True
        except RayActorError as exc:  # the actor's process died (the pool inside survives parser crashes)
            reason = f"parser process died (Ray actor lost: {type(exc).__name__}) while reading this file"
        except RayError as exc:
            reason = f"parse task failed on Ray: {type(exc).__name__}: {exc}"[:300]
        log.warning("Ray parse of %s: %s", path, reason)
        return ParsedFile(path=path, transient=True, skip_reason=reason), False

    def submit(self, texts: Sequence[str]) -> None:
        if not self._actors:
            self._actors = self._executor.embedders(self._embedder)
        actor = self._actors[self._turn % len(self._actors)]
        self._turn += 1
        self._futures.append(actor.encode.remote(list(texts)))

    def embedded(self, final: bool = False) -> Iterator[tuple[np.ndarray, float]]:
        import ray

        window = 2 * max(1, len(self._actors))  # batches in flight before the writer waits (keeps memory bounded)
        while self._futures:
            if not final and len(self._futures) <= window:
                ready, _ = ray.wait([self._futures[0]], timeout=0)
                if not ready:
                    return
            vectors, seconds = ray.get(self._futures.popleft())
            yield np.array(vectors, dtype=np.float32), seconds  # a copy: Ray's arrays are read-only views


def _forget_cached_token() -> None:
    try:
        from ray._raylet import AuthenticationTokenLoader

        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError):  # another Ray version: it reads the token when it starts
        pass
