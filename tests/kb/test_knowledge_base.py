"""The whole write and read path with real files, the real embedding model and a real FAISS index."""

import json
import shutil
from pathlib import Path

import pytest

from kb import KnowledgeBase, Settings
from kb.errors import IncompatibleIndex, IndexLocked, IndexNotFound
from kb.index.folder import IndexFolder

pytestmark = pytest.mark.model


def _kb(index: Path, embedder, **settings) -> KnowledgeBase:
    return KnowledgeBase(Settings(index_dir=index, **settings), embedder=embedder)


def _docx(path: Path, title: str, sections: dict[str, str]) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for heading, text in sections.items():
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    document.save(path)
    return path


@pytest.fixture
def policies(tmp_path, shared_data):
    """A small folder of real company policies (copied so tests may change it)."""
    folder = tmp_path / "docs"
    (folder / "it").mkdir(parents=True)
    src = shared_data / "docs" / "policies"
    shutil.copy(src / "vanderbloemen_remote_work_policy.pdf", folder)
    shutil.copy(src / "Remote_Access_Policy.docx", folder / "it")
    shutil.copy(src / "Acceptable_Use_Policy.docx", folder / "it")
    return folder


def test_ingest_search_and_status(policies, tmp_path, embedder):
    kb = _kb(tmp_path / "index", embedder)
    report = kb.ingest([policies])
    assert len(report.indexed) == 3 and not report.skipped and report.chunks_added > 5
    hits = kb.search("remote access VPN multi-factor authentication requirements", k=5)
    assert len(hits) == 5 and [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].chunk.name == "Remote_Access_Policy.docx"
    assert hits[0].chunk.heading and hits[0].chunk.page is None
    assert hits[0].score >= hits[-1].score
    assert any(h.dense_rank for h in hits) and any(h.keyword_rank for h in hits)
    pdf_hits = [h for h in kb.search("remote work policy", k=10) if h.chunk.name.endswith(".pdf")]
    assert pdf_hits and all(isinstance(h.chunk.page, int) and h.chunk.page >= 1 for h in pdf_hits)
    status = kb.status()
    assert status["documents"] == 3 and status["chunks"] == sum(
        1 for _ in kb.reader().db.execute("SELECT id FROM chunks"))
    assert status["pages"] >= 1 and status["embedding_model"] == Settings().embedding_model
    assert status["dimension"] == 384 and status["size_bytes"] > 0


def test_incremental_updates_reuse_what_did_not_change(policies, tmp_path, embedder):
    kb = _kb(tmp_path / "index", embedder)
    memo = _docx(policies / "memo.docx", "Canteen memo", {"Canteen": "The canteen serves quinoa porridge."})
    first = kb.ingest([policies])
    assert len(first.indexed) == 4

    again = kb.ingest([policies])
    assert len(again.unchanged) == 4 and not again.indexed and again.version == first.version

    _docx(memo, "Canteen memo", {"Canteen": "The canteen now serves buckwheat pancakes."})
    edited = kb.ingest([policies])
    assert edited.indexed == [str(memo.resolve())] and len(edited.unchanged) == 3
    texts = [h.chunk.text for h in kb.search("canteen breakfast menu", k=10)]
    assert any("buckwheat" in t for t in texts) and not any("quinoa" in t for t in texts)

    moved = policies / "it" / "renamed-memo.docx"
    memo.rename(moved)
    renamed = kb.ingest([policies])
    assert renamed.indexed == [str(moved.resolve())] and renamed.removed == [str(memo.resolve())]
    assert renamed.embed_seconds == 0.0, "a renamed file keeps its embeddings"
    hit = kb.search("buckwheat pancakes canteen", k=1)[0]
    assert hit.chunk.path == str(moved.resolve()) and hit.chunk.name == "renamed-memo.docx"

    moved.unlink()
    deleted = kb.ingest([policies])
    assert deleted.removed == [str(moved.resolve())]
    assert all("buckwheat" not in h.chunk.text for h in kb.search("buckwheat pancakes canteen", k=10))
    assert kb.status()["documents"] == 3


def test_ingesting_one_folder_keeps_other_folders(policies, tmp_path, embedder):
    kb = _kb(tmp_path / "index", embedder)
    other = tmp_path / "other"
    other.mkdir()
    _docx(other / "facilities.docx", "Facilities", {"Parking": "Visitor parking is in garage level minus two."})
    kb.ingest([policies])
    kb.ingest([other])
    assert kb.status()["documents"] == 4
    report = kb.ingest([policies / "it"])
    assert not report.removed and kb.status()["documents"] == 4


def test_new_version_is_picked_up_by_an_open_reader(policies, tmp_path, embedder):
    index = tmp_path / "index"
    reader_kb = _kb(index, embedder)
    writer_kb = _kb(index, embedder)
    writer_kb.ingest([policies])
    assert not any("zanzibar" in h.chunk.text.lower() for h in reader_kb.search("zanzibar office", k=5))
    _docx(policies / "offices.docx", "Offices", {"Zanzibar": "Our Zanzibar office opens in March."})
    writer_kb.ingest([policies])
    assert any("Zanzibar" in h.chunk.text for h in reader_kb.search("zanzibar office", k=5))


def test_errors_say_what_to_do(policies, tmp_path, embedder):
    index = tmp_path / "index"
    with pytest.raises(IndexNotFound, match="kb ingest"):
        _kb(index, embedder).search("anything")
    _kb(index, embedder).ingest([policies / "it"])
    with pytest.raises(IncompatibleIndex, match="embedding model .*rebuild"):
        _kb(index, embedder, embedding_model="intfloat/e5-small-v2").search("vpn")
    with pytest.raises(IncompatibleIndex, match="chunking .*rebuild"):
        _kb(index, embedder, chunk_tokens=128).search("vpn")
    manifest = IndexFolder(index).current() / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(IncompatibleIndex, match="schema version 99"):
        _kb(index, embedder).search("vpn")
    rebuilt = _kb(index, embedder).ingest([policies / "it"], rebuild=True)
    assert len(rebuilt.indexed) == 2 and _kb(index, embedder).search("vpn", k=1)


def test_a_second_writer_is_refused_with_the_holder(policies, tmp_path, embedder):
    index = tmp_path / "index"
    folder = IndexFolder(index)
    with folder.writer_lock():
        with pytest.raises(IndexLocked, match=r"another process \(pid \d+"):
            _kb(index, embedder).ingest([policies])
    assert len(_kb(index, embedder).ingest([policies]).indexed) == 3


def test_bad_files_are_skipped_with_reasons_and_the_rest_indexed(policies, tmp_path, embedder, shared_data):
    robust = shared_data / "robustness"
    shutil.copy(robust / "pdfplumber" / "empty.pdf", policies)
    shutil.copy(robust / "pdfplumber" / "password-example.pdf", policies)
    (policies / "notes.xyz").write_text("not a document format")
    (policies / "fake.pdf").write_text("this is plain text pretending to be a PDF")
    (policies / "~$lockfile.docx").write_text("office lock file")
    report = _kb(tmp_path / "index", embedder).ingest([policies, tmp_path / "does-not-exist"])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert len(report.indexed) == 3
    assert "empty" in reasons["empty.pdf"]
    assert "password" in reasons["password-example.pdf"]
    assert "unsupported" in reasons["notes.xyz"]
    assert "not a PDF" in reasons["fake.pdf"]
    assert "no such file" in reasons["does-not-exist"]
    assert "~$lockfile.docx" not in reasons
    status = _kb(tmp_path / "index", embedder).status()
    assert {Path(s["path"]).name for s in status["skipped"]} == {"empty.pdf", "password-example.pdf",
                                                                 "notes.xyz", "fake.pdf"}


def test_ingest_reports_the_embedding_stage_as_it_goes(policies, tmp_path, hashed_embedder):
    """Parsing, then embedding (chunks embedded of the chunks parsed so far), then writing: the re-index bar and
    the CLI show each (before, the bar sat at "Reading documents 3/3" while the chunks were embedded)."""
    from kb.embedding import HASHED_MODEL

    seen: list[tuple[str, int, int]] = []
    kb = _kb(tmp_path / "index", hashed_embedder, embedding_model=HASHED_MODEL, embedding_batch_size=8)
    report = kb.ingest([policies], progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [stage for stage, _, _ in seen]
    assert stages.index("embed") > stages.index("parse") and stages.index("index") > stages.index("embed")
    embedded = [(done, total) for stage, done, total in seen if stage == "embed"]
    assert len(embedded) >= 2 and embedded[-1] == (report.chunks_added, report.chunks_added)
    assert all(done <= total for done, total in embedded) and [d for d, _ in embedded] == sorted(d for d, _ in embedded)


def test_ask_tells_which_passages_it_reads_before_the_answer_comes(hashed_sample_index, hashed_embedder):
    """The web app's "Reading 3 passages from …" stage: heard before the first verified sentence."""
    from kb.embedding import HASHED_MODEL

    kb = _kb(hashed_sample_index, hashed_embedder, embedding_model=HASHED_MODEL, answer_mode="quote")
    events: list[tuple[str, object]] = []
    answer = kb.ask("How many days of annual leave do full-time staff get?",
                    on_stage=lambda stage, passages: events.append((stage, [h.chunk.chunk_id for h in passages])),
                    on_text=lambda text: events.append(("text", text)))
    assert events[0][0] == "read" and events[1][0] == "text"
    assert events[0][1] == [h.chunk.chunk_id for h in answer.hits[: kb.settings.answer_passages]]
