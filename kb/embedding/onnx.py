"""A sentence-transformers model run by ONNX Runtime, int8: ``embedding_backend = "onnx"``.

The model folder is exported once (offline, ``torch.onnx.export`` of its Transformer module), its weights
quantised to int8 (``onnxruntime.quantization.quantize_dynamic``, per channel: per-tensor scales measured a mean
cosine of 0.936 to fp32 on an AVX2 CPU without VNNI, per channel 0.993) and cached under
``~/.cache/kb/onnx/<folder hash>-<variant>/`` (``$XDG_CACHE_HOME`` if set). The key is the folder's content
hash plus backend and quantisation, so two models or two variants never share an entry. An export is built in a
hidden temporary folder and renamed into place, under a file lock: a crash never leaves a usable-looking entry,
and concurrent exporters wait for one another. Pooling and normalisation follow the folder's ``modules.json``
(the Pooling module's config), truncation its ``max_seq_length``, exactly as sentence-transformers does.

Vectors are close to, not equal to, the torch backend's, so the embedder's ``model_id`` carries the variant
(``<model>#onnx-int8``): an index never mixes the two.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from kb.embedding.packaged import resolve_model_path
from kb.embedding.protocol import ProgressFn
from kb.errors import ModelError
from kb.settings import EMBEDDING_BACKEND_TAGS

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the export or quantisation changes: old cache entries are then left unused
MODEL_FILE = "model.onnx"
META_FILE = "meta.json"  # written last inside the temporary folder: an entry without it is not one
_OPSET = 17
_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
            "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len"}
_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
            "sentence_transformers.models.Normalize"}


def default_cache_dir() -> Path:
    """Where exported models are kept: ``$XDG_CACHE_HOME/kb/onnx`` or ``~/.cache/kb/onnx``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "kb" / "onnx"


def folder_hash(folder: Path) -> str:
    """SHA-256 over the relative paths and contents of every file in ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


class OnnxEmbedder:
    """A sentence-transformers folder (Transformer + Pooling [+ Normalize]) exported to ONNX, run by ONNX Runtime.

    ``quantize=False`` keeps fp32 weights (``<model>#onnx-fp32``; for benchmarks, not a setting). Construction
    reads only small config files; the export (first time) and the session load on first use.
    """

    def __init__(self, model: str, batch_size: int = 32, quantize: bool = True, cache_dir: Path | None = None,
                 threads: int = 0):
        self.model = model
        self.batch_size = batch_size
        self.quantize = quantize
        self.variant = "onnx-int8" if quantize else "onnx-fp32"
        self.model_id = model + (EMBEDDING_BACKEND_TAGS["onnx"] if quantize else "#onnx-fp32")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.threads = threads or _usable_cores()
        self.folder = Path(resolve_model_path(model))
        self._config = _read_config(self.folder, model)
        self._session = None
        self._tokenizer = None
        self._inputs: list[str] = []
        self._pad_id = 0
        self._lock = threading.Lock()
        self.exported = False  # whether this instance ran the export (False: found in the cache)

    # -------------------------------------------------------------------- protocol

    @property
    def dimension(self) -> int:
        return self._config["dimension"]

    @property
    def max_tokens(self) -> int:
        return self._config["max_seq_length"]

    @property
    def tokenizer_path(self) -> str:
        return str(self.folder)

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = self.batch_size * 8
        for start in range(0, len(texts), step):
            out[start:start + step] = self._encode_window(texts[start:start + step])
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    # -------------------------------------------------------------------- inference

    def _encode_window(self, texts: Sequence[str]) -> np.ndarray:
        session, tokenizer = self._load()
        if self._config["lower_case"]:
            texts = [t.lower() for t in texts]
        encodings = tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # batches of similar length: little padding
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                ids[i, :lengths[row]] = encodings[row].ids
                mask[i, :lengths[row]] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {name: feed[name] for name in self._inputs})[0]
            out[rows] = _pool(hidden, mask, self._config["pooling"])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                path = self.ensure_exported()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                try:
                    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise ModelError(f"cannot load the exported model {path} ({exc}); delete {path.parent} "
                                     "and try again, or set embedding_backend = 'torch'") from exc
                tokenizer = Tokenizer.from_file(str(self.folder / self._config["transformer_path"]
                                                    / "tokenizer.json"))
                self._pad_id = int((tokenizer.padding or {}).get("pad_id", 0))
                tokenizer.no_padding()  # the file may pad to a fixed length; batches are padded here
                tokenizer.enable_truncation(self.max_tokens)
                self._inputs = [i.name for i in session.get_inputs()]
                self._tokenizer, self._session = tokenizer, session
                log.info("loaded embedding model %s from %s (%d threads)", self.model_id, path, self.threads)
            return self._session, self._tokenizer

    # -------------------------------------------------------------------- export cache

    @cached_property
    def folder_sha256(self) -> str:
        return folder_hash(self.folder)

    @property
    def cache_key(self) -> str:
        """Model folder content + backend + quantisation + export format: what makes two exports the same."""
        return f"{self.folder_sha256[:24]}-{self.variant}-f{FORMAT}"

    def cache_entry(self) -> Path:
        """The folder this model's export lives in (or will)."""
        return self.cache_dir / self.cache_key

    def ensure_exported(self) -> Path:
        """The exported model file, exporting it first if the cache has no complete entry."""
        entry = self.cache_entry()
        if _complete(entry):
            return entry / MODEL_FILE
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.cache_dir / f".{self.cache_key}.lock"):
            if _complete(entry):  # another process exported it while this one waited
                return entry / MODEL_FILE
            for stale in self.cache_dir.glob(f".{self.cache_key}.tmp-*"):  # a killed exporter's leftovers
                shutil.rmtree(stale, ignore_errors=True)
            if entry.exists():  # incomplete (not written by this code): never trusted
                shutil.rmtree(entry)
            tmp = Path(tempfile.mkdtemp(prefix=f".{self.cache_key}.tmp-", dir=self.cache_dir))
            try:
                started = time.perf_counter()
                log.info("exporting %s to ONNX (%s), once, into %s", self.model, self.variant, entry)
                meta = self._export(tmp)
                meta["seconds"] = round(time.perf_counter() - started, 1)
                (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
                os.rename(tmp, entry)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self.exported = True
            log.info("exported %s in %.1f s", self.model_id, meta["seconds"])
        return entry / MODEL_FILE

    def _export(self, tmp: Path) -> dict:
        try:
            import torch
            from transformers import AutoModel
        except ImportError as exc:
            raise ModelError(f"exporting {self.model} to ONNX needs torch and transformers (installed with "
                             "sentence-transformers)") from exc
        transformer = self.folder / self._config["transformer_path"]
        try:
            # eager attention exports as plain MatMul/Softmax, which ONNX Runtime fuses into its Attention kernel
            # (measured about 10 % faster than exporting torch's scaled-dot-product attention)
            model = AutoModel.from_pretrained(str(transformer), attn_implementation="eager").eval()
        except Exception as exc:  # transformers raises many kinds
            raise ModelError(f"cannot load {transformer} to export it to ONNX: {exc}") from exc
        names = ["input_ids", "attention_mask"]
        if "token_type_ids" in inspect.signature(model.forward).parameters:
            names.append("token_type_ids")

        class HiddenStates(torch.nn.Module):  # named inputs in, one output: the token embeddings
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, *inputs):
                return self.model(**dict(zip(names, inputs))).last_hidden_state

        sample = torch.ones((2, 8), dtype=torch.long)
        fp32 = tmp / ("model_fp32.onnx" if self.quantize else MODEL_FILE)
        axes = {name: {0: "batch", 1: "tokens"} for name in names + ["token_embeddings"]}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter from the exporter
            torch.onnx.export(HiddenStates(), tuple(sample for _ in names), str(fp32), dynamo=False,
                              input_names=names, output_names=["token_embeddings"], dynamic_axes=axes,
                              opset_version=_OPSET, do_constant_folding=True)
        meta = {"format": FORMAT, "model": self.model, "model_id": self.model_id, "folder": str(self.folder),
                "folder_sha256": self.folder_sha256, "variant": self.variant, "inputs": names,
                "opset": _OPSET, "torch": torch.__version__, "created_at": time.time()}
        if self.quantize:
            try:
                from onnxruntime.quantization import QuantType, quantize_dynamic
            except ImportError as exc:
                raise ModelError("int8 quantisation needs the onnx package: pip install onnx") from exc
            with _quiet_quantizer():
                quantize_dynamic(str(fp32), str(tmp / MODEL_FILE), per_channel=True, weight_type=QuantType.QInt8)
            fp32.unlink()
            meta["quantization"] = {"method": "dynamic", "weights": "int8", "per_channel": True}
        return meta


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    weights = mask[..., None].astype(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1)
    summed = (hidden * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    return summed / (np.sqrt(counts) if mode == "mean_sqrt_len" else counts)


def _read_config(folder: Path, model: str) -> dict:
    """What inference needs from a sentence-transformers folder, checked before anything is exported."""
    def load(path: Path) -> dict:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"embedding_backend 'onnx' needs a sentence-transformers folder for {model!r}; "
                             f"cannot read {path} ({exc}). Use a local model folder or embedding_backend = "
                             "'torch'") from None

    modules = load(folder / "modules.json")
    unsupported = [m.get("type") for m in modules if m.get("type") not in _MODULES]
    if unsupported:
        raise ModelError(f"embedding_backend 'onnx' runs Transformer + Pooling (+ Normalize) models; {model!r} "
                         f"also has {', '.join(map(str, unsupported))}: use embedding_backend = 'torch'")
    transformer = next((m.get("path", "") for m in modules if m["type"].endswith(".Transformer")), None)
    pooling_path = next((m.get("path", "") for m in modules if m["type"].endswith(".Pooling")), None)
    if transformer is None or pooling_path is None:
        raise ModelError(f"{folder}/modules.json has no Transformer and Pooling module; use embedding_backend = "
                         "'torch'")
    pooling = load(folder / pooling_path / "config.json")
    modes = [mode for key, mode in _POOLING.items() if pooling.get(key)]
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and k not in _POOLING]
    if len(modes) != 1 or others:
        raise ModelError(f"embedding_backend 'onnx' supports one of mean, cls, max or mean_sqrt_len pooling; "
                         f"{folder / pooling_path / 'config.json'} asks for {modes + others}: use torch")
    sbert = load(folder / transformer / "sentence_bert_config.json")
    if not (folder / transformer / "tokenizer.json").is_file():
        raise ModelError(f"embedding_backend 'onnx' needs a fast tokenizer file "
                         f"({folder / transformer / 'tokenizer.json'}); "
                         "use embedding_backend = 'torch'")
    return {"dimension": int(pooling["word_embedding_dimension"]), "pooling": modes[0],
            "max_seq_length": int(sbert.get("max_seq_length") or 512),
            "lower_case": bool(sbert.get("do_lower_case")), "transformer_path": transformer}


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantiser logs on the root logger (advice to pre-process, which fails on this graph, and a line per
    tensor); drop its records below ERROR while it runs rather than show them to every first-time user."""
    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or "onnxruntime" not in record.pathname

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _complete(entry: Path) -> bool:
    try:
        meta = json.loads((entry / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("format") == FORMAT and (entry / MODEL_FILE).is_file()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename still keeps entries whole
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
