"""The writer stages new files' chunks and vectors on disk inside the version being built (not in RAM) and
assembles the version from them: the published version must be exactly what the chunks and the embedder give.

Plumbing: the deterministic hashed embedder, so every stored vector can be recomputed exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from kb import KnowledgeBase, Settings
from kb.embedding import HASHED_MODEL
from kb.index.version import load_ids, load_vectors, open_db, select_chunks
from tests.conftest import SAMPLE_DOCS


def _check_version(version, embedder) -> list[str]:
    db = open_db(version)
    try:
        rows = list(select_chunks(db))
    finally:
        db.close()
    ids = load_ids(version)
    assert [row_id for row_id, _ in rows] == ids.tolist(), "the chunk table and the vectors list the same ids"
    assert np.all(np.diff(ids) > 0)
    expected = embedder.encode([chunk.embed_text for _, chunk in rows])
    np.testing.assert_allclose(np.asarray(load_vectors(version)), expected, rtol=0, atol=1e-6)
    assert not [p.name for p in version.iterdir() if p.name.startswith("staged.")], "staged files left behind"
    return sorted(chunk.chunk_id for _, chunk in rows)


@pytest.mark.slow
def test_versions_are_assembled_from_the_staged_rows(tmp_path, hashed_embedder):
    settings = Settings(embedding_model=HASHED_MODEL, judge_model="")
    whole = KnowledgeBase(settings.replace(index_dir=tmp_path / "whole"), embedder=hashed_embedder)
    whole.ingest([SAMPLE_DOCS])
    at_once = _check_version(whole.folder.require_current(), hashed_embedder)

    # the same documents in two runs: the second version carries the first one's rows and adds staged ones
    steps = KnowledgeBase(settings.replace(index_dir=tmp_path / "steps"), embedder=hashed_embedder)
    first = steps.ingest([SAMPLE_DOCS / "hr"])
    assert first.indexed
    second = steps.ingest([SAMPLE_DOCS])
    assert second.unchanged and second.indexed
    assert _check_version(steps.folder.require_current(), hashed_embedder) == at_once
    assert not list((tmp_path / "steps" / "versions").glob(".tmp-*"))
    assert steps.search("parental leave", k=3)
