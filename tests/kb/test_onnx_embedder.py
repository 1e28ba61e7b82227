"""The ONNX Runtime int8 backend (``embedding_backend = "onnx"``): the setting, the export cache, the vectors,
and that an index never mixes vectors of two backends."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from kb.embedding.onnx import META_FILE, MODEL_FILE, OnnxEmbedder
from kb.errors import ConfigError, IncompatibleIndex
from kb.settings import Settings

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCES = ["Full-time employees receive 25 days of paid annual leave per calendar year.",
             "The VPN requires two-factor authentication with the company authenticator app.",
             "Travel expenses are reimbursed within 30 days of submitting the receipts.",
             "Net revenue increased 8% to $107.0 billion, driven by growth in North America segment sales.",
             ""]


# ------------------------------------------------------------------------------------ the setting

def test_a_bad_backend_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match=r"embedding_backend='openvino' is not one of torch, onnx"):
        Settings(embedding_backend="openvino")
    with pytest.raises(ConfigError, match="unknown backend tag '#onnx-fp16'"):
        Settings(embedding_model=f"{MODEL}#onnx-fp16")


def test_the_onnx_backend_tags_the_model_id_an_index_records():
    onnx = Settings.load(config_file=None, env={"KB_EMBEDDING_BACKEND": "onnx"})
    assert onnx.embedding_model == f"{MODEL}#onnx-int8" and onnx.embedding_backend == "onnx"
    assert Settings().embedding_model == MODEL  # torch ids stay as they were: existing indexes still match
    assert Settings.from_mapping(onnx.to_dict()) == onnx
    # an index's tagged id sets its backend (reading an older version with its own model)
    assert Settings(embedding_model=onnx.embedding_model).embedding_backend == "onnx"
    assert Settings(embedding_model="/models/run#3").embedding_model == "/models/run#3"  # a "#" is not a tag


def test_make_embedder_returns_the_onnx_embedder_with_its_own_model_id():
    from kb.embedding import make_embedder

    embedder = make_embedder(Settings(embedding_backend="onnx", embedding_batch_size=8))
    assert isinstance(embedder, OnnxEmbedder) and embedder.batch_size == 8
    assert embedder.model_id == f"{MODEL}#onnx-int8" != make_embedder(Settings()).model_id
    assert (embedder.dimension, embedder.max_tokens) == (384, 256)  # from the folder's configs, nothing loaded
    with pytest.raises(ConfigError, match="own engine"):
        make_embedder(Settings(embedding_model="kb-hashed-bow", embedding_backend="onnx"))


# ------------------------------------------------------------------------------- export and vectors

@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    """The default model exported and quantised once into a fresh cache, over a killed exporter's leftovers."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    embedder = OnnxEmbedder(MODEL, batch_size=4, cache_dir=cache)
    stale = cache / f".{embedder.cache_key}.tmp-killed"
    stale.mkdir()
    (stale / MODEL_FILE).write_bytes(b"half a model")
    half = embedder.cache_entry()
    half.mkdir()
    (half / MODEL_FILE).write_bytes(b"half a model")  # no meta.json: not an entry
    embedder.encode(["warm up"])
    return embedder


@pytest.mark.model
def test_export_quantises_into_a_complete_entry_and_clears_leftovers(onnx_embedder):
    entry = onnx_embedder.cache_entry()
    assert onnx_embedder.exported
    assert sorted(p.name for p in entry.iterdir()) == [META_FILE, MODEL_FILE]
    assert not list(entry.parent.glob(".*.tmp-*"))
    assert (entry / MODEL_FILE).stat().st_size < 40e6  # int8: a quarter of the 90 MB fp32 graph
    assert '"per_channel": true' in (entry / META_FILE).read_text()


@pytest.mark.model
def test_vectors_are_normalised_and_close_to_torch_fp32(onnx_embedder, embedder):
    vectors = onnx_embedder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(vectors * embedder.encode(SENTENCES), axis=1)
    assert cosine.min() > 0.95, cosine
    # batches are sorted by length and put back in order; int8 activations are scaled per batch, so another
    # batching moves a vector a little (measured cosine >= 0.96), a row put back in the wrong place far more
    again = onnx_embedder.encode(SENTENCES[::-1] + ["x " * 400])[:len(SENTENCES)][::-1]
    assert np.sum(again * vectors, axis=1).min() > 0.95
    assert onnx_embedder.encode([]).shape == (0, 384)


@pytest.mark.model
def test_a_second_load_reuses_the_cache(onnx_embedder, monkeypatch):
    import torch

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    second = OnnxEmbedder(MODEL, batch_size=4, cache_dir=onnx_embedder.cache_dir)
    assert np.allclose(second.encode(SENTENCES), onnx_embedder.encode(SENTENCES), atol=1e-6)
    assert not second.exported


@pytest.mark.model
def test_a_crash_mid_export_leaves_no_usable_looking_entry(tmp_path, monkeypatch):
    import torch

    def crash(model, args, f, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"\x08\x07" * 1000)  # the start of a file
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(torch.onnx, "export", crash)
    embedder = OnnxEmbedder(MODEL, cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match="killed mid-export"):
        embedder.encode(["hello"])
    assert not embedder.cache_entry().exists()
    assert [p.name for p in tmp_path.iterdir()] == [f".{embedder.cache_key}.lock"]


@pytest.mark.model
def test_concurrent_exporters_export_once(tmp_path, monkeypatch):
    import torch

    calls = []

    def fake_export(model, args, f, **kwargs):  # fp32: the exported file is the entry's model
        calls.append(f)
        threading.Event().wait(0.3)
        real_sized = b"0" * 100
        with open(f, "wb") as fh:
            fh.write(real_sized)

    monkeypatch.setattr(torch.onnx, "export", fake_export)
    embedders = [OnnxEmbedder(MODEL, quantize=False, cache_dir=tmp_path) for _ in range(2)]
    paths = []
    threads = [threading.Thread(target=lambda e=e: paths.append(e.ensure_exported())) for e in embedders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(calls) == 1 and len(set(paths)) == 1 and paths[0].read_bytes() == b"0" * 100
    assert embedders[0].model_id == f"{MODEL}#onnx-fp32"


# ------------------------------------------------------------------------------- switching backends

@pytest.mark.model
def test_switching_the_backend_of_an_index_asks_for_a_rebuild(tmp_path, embedder, onnx_embedder):
    from kb import KnowledgeBase

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text(f"# Leave\n\n{SENTENCES[0]}\n", encoding="utf-8")
    (docs / "vpn.md").write_text(f"# VPN\n\n{SENTENCES[1]}\n", encoding="utf-8")
    index = tmp_path / "index"
    torch_kb = KnowledgeBase(Settings(index_dir=index, judge_model=""), embedder=embedder)
    torch_kb.ingest([docs])
    assert torch_kb.status()["embedding_backend"] == "torch"

    onnx_kb = KnowledgeBase(Settings(index_dir=index, judge_model="", embedding_backend="onnx"),
                            embedder=onnx_embedder)
    with pytest.raises(IncompatibleIndex, match=r"all-MiniLM-L6-v2#onnx-int8.*kb ingest --rebuild"):
        onnx_kb.ingest([docs])
    with pytest.raises(IncompatibleIndex):
        onnx_kb.search("annual leave")

    onnx_kb.ingest([docs], rebuild=True)
    status = onnx_kb.status()
    assert status["embedding_backend"] == "onnx" and status["embedding_model"] == f"{MODEL}#onnx-int8"
    assert onnx_kb.search("how many days of holiday do I get", k=1)[0].chunk.name == "leave.md"
    with pytest.raises(IncompatibleIndex, match="was built with embedding model"):
        KnowledgeBase(Settings(index_dir=index, judge_model=""), embedder=embedder).search("vpn")
