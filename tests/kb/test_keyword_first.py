"""Keyword-first publishing: new files are searchable by keyword before their vectors exist, then by both.

The embedder is the deterministic hashed one (this is about plumbing, not meaning), wrapped in
``GatedEmbedder``: a real implementation of the Embedder protocol that, once armed, blocks in ``encode``
until the test releases it (to observe the version published between the two steps), or raises (a crash
between the steps). The writer, the index versions, FAISS, BM25 and the reader are the real ones.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL
from kb.embedding.hashed import HashedEmbedder
from kb.index.manifest import Manifest
from kb.retrieval.filters import Filter

PHRASE = "zebracorn turbine warranty"


class GatedEmbedder(HashedEmbedder):
    """The hashed embedder; armed, ``encode`` signals ``entered`` and waits for ``release`` (or raises)."""

    def __init__(self):
        super().__init__()
        self.armed = False
        self.fail = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def encode(self, texts, progress=None):
        if self.armed:
            self.entered.set()
            if self.fail:
                raise RuntimeError("embedding failed (test double)")
            assert self.release.wait(30), "the test never released the embedder"
        return super().encode(texts, progress)


@pytest.fixture
def setup(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(3):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nTravel expenses are reimbursed within {n + 10} days.\n")
    embedder = GatedEmbedder()
    settings = Settings(index_dir=tmp_path / "index", docs_dir=docs, embedding_model=HASHED_MODEL, rerank=False)
    writer_kb = KnowledgeBase(settings, embedder=embedder)
    writer_kb.ingest([docs])
    reader_kb = KnowledgeBase(settings, embedder=HashedEmbedder())  # the web app's own reader
    new = docs / "manual.md"
    new.write_text(f"# Turbine manual\n\nThe {PHRASE} covers five years of service.\n")
    return writer_kb, reader_kb, embedder, docs, new


def _dense_paths(kb: KnowledgeBase, text: str) -> set[str]:
    reader = kb.reader()
    ids, _ = reader.dense.search(kb.embedder.encode_queries([text])[0], 50)
    rows = reader.db.execute(f"SELECT path FROM chunks WHERE id IN ({','.join('?' * len(ids))})",
                             tuple(int(i) for i in ids))
    return {path for (path,) in rows}


def _keyword_hit(kb: KnowledgeBase, path: Path, **kw):
    return next((h for h in kb.search(PHRASE, k=5, **kw) if h.chunk.path == str(path)), None)


def test_keyword_version_first_then_vectors(setup):
    writer_kb, reader_kb, embedder, docs, new = setup
    embedder.armed = True
    result = {}
    thread = threading.Thread(target=lambda: result.update(report=writer_kb.ingest([docs], keyword_first=True)))
    thread.start()
    try:
        assert embedder.entered.wait(30), "the writer never started embedding"
        # first step published: the new file is in the chunk table and BM25, not in FAISS
        hit = _keyword_hit(reader_kb, new)
        assert hit is not None and hit.keyword_rank is not None and hit.dense_rank is None
        assert _keyword_hit(reader_kb, new, where=Filter.of(paths=[new])) is not None  # filtered search too
        assert str(new) not in _dense_paths(reader_kb, PHRASE)
        reader = reader_kb.reader()
        assert reader.dense.size < len(reader.ids)
        assert reader_kb.status()["vectors_pending"] == [str(new)]
        row = next(d for d in reader_kb.documents() if d["path"] == str(new))
        assert row["vectors_pending"] and row["status"] == "indexed"
    finally:
        embedder.release.set()
        thread.join(30)
    report = result["report"]
    assert report.keyword_version and report.version > report.keyword_version
    assert str(new) in report.indexed
    # second step published: dense search finds it, nothing pending, the chunk table is the same
    assert reader_kb.status()["vectors_pending"] == []
    assert str(new) in _dense_paths(reader_kb, PHRASE)
    hit = _keyword_hit(reader_kb, new)
    assert hit is not None and hit.dense_rank is not None and hit.keyword_rank is not None
    reader = reader_kb.reader()
    assert reader.dense.size == len(reader.ids) == Manifest.read(reader.folder).chunks


def test_crash_between_steps_leaves_keyword_version_that_next_run_completes(setup):
    writer_kb, reader_kb, embedder, docs, new = setup
    embedder.armed, embedder.fail = True, True
    with pytest.raises(RuntimeError, match="test double"):
        writer_kb.ingest([docs], keyword_first=True)
    keyword_only = writer_kb.folder.current()
    assert Manifest.read(keyword_only).vectors_pending == [str(new)]
    assert _keyword_hit(reader_kb, new) is not None
    assert str(new) not in _dense_paths(reader_kb, PHRASE)
    # the next run (an ordinary one: the file itself is unchanged) embeds what is pending
    embedder.armed = False
    report = writer_kb.ingest([docs])
    assert report.keyword_version == keyword_only.name and report.version > keyword_only.name
    assert str(new) in report.unchanged
    assert reader_kb.status()["vectors_pending"] == []
    assert str(new) in _dense_paths(reader_kb, PHRASE)
    assert not list((writer_kb.folder.versions).glob(".tmp-*"))  # the failed run's leftovers are gone
    # the completed version carries the keyword-only version's files unchanged
    done = writer_kb.folder.current()
    assert (done / "chunks.sqlite").read_bytes() == (keyword_only / "chunks.sqlite").read_bytes()
    assert np.array_equal(np.load(done / "ids.npy"), np.load(keyword_only / "ids.npy"))


def test_pending_file_renamed_before_completion_stays_pending(setup):
    writer_kb, reader_kb, embedder, docs, new = setup
    embedder.armed, embedder.fail = True, True
    with pytest.raises(RuntimeError):
        writer_kb.ingest([docs], keyword_first=True)
    moved = new.rename(docs / "manual-v2.md")
    embedder.armed = False
    report = writer_kb.ingest([docs])
    assert str(moved) in report.indexed and reader_kb.status()["vectors_pending"] == []
    assert str(moved) in _dense_paths(reader_kb, PHRASE) and str(new) not in _dense_paths(reader_kb, PHRASE)
