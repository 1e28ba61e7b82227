"""Fuzzing the parsers and the chunker with mutated real files: every outcome is a Document (chunks) or a
recorded skip with a reason, never an unhandled exception.

Files go through the real parse pool (separate process, time and memory limits), as in ``kb ingest``. A skip
reason starting with "parser error:" means an exception escaped ``parse_file``/``chunk_document`` unhandled
(the worker's last-resort catch), so it fails the test.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [
    "robustness/pypdf-sample-files/001-trivial/minimal-document.pdf",
    "robustness/pypdf-sample-files/002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf",
    "robustness/pypdf-sample-files/022-pdfkit/pdfkit.pdf",
    "robustness/pdfplumber/hello_structure.pdf",
    "robustness/python-docx/par-hlink-frags.docx",
    "robustness/python-docx/tbl-props.docx",
]
SAMPLE_SEEDS = ["general/faq.docx", "general/holiday_calendar_2026.txt", "general/office_facilities_guide.md"]
TOKENS = [b"0", b"-1", b"99999999999", b" obj ", b"endobj", b"stream\n", b"endstream", b"/Count 999999999",
          b"/Length 0", b"<<", b">>", b"[", b"(", b"\\", b"\xff\xfe", b"\x00", b"%PDF-", b"PK\x03\x04",
          b"<w:p>", b"<w:t>", b"</w:body>", b"&amp;", b"<!ENTITY x SYSTEM 'file:///etc/passwd'>", b"\xe2\x80\xae",
          b"# ", b"\n\n", b"\r", "é漢字🙂".encode()]


def _seeds(shared_data: Path, sample_docs: Path) -> list[tuple[str, bytes]]:
    paths = [shared_data / s for s in SEEDS] + [sample_docs / s for s in SAMPLE_SEEDS]
    return [(p.suffix, p.read_bytes()) for p in paths]


mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("set"), st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 512)),
    st.tuples(st.just("duplicate"), st.floats(0, 1, exclude_max=True), st.integers(1, 4096)),
    st.tuples(st.just("insert"), st.floats(0, 1, exclude_max=True), st.sampled_from(TOKENS)),
    st.tuples(st.just("truncate"), st.floats(0.05, 1, exclude_max=True), st.just(0)),
)


def _mutate(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for op, where, arg in ops:
        if not out:
            break
        pos = int(where * len(out))
        if op == "flip":
            out[pos] ^= 1 << arg
        elif op == "set":
            out[pos] = arg
        elif op == "delete":
            del out[pos:pos + arg]
        elif op == "duplicate":
            out[pos:pos] = out[pos:pos + arg]
        elif op == "insert":
            out[pos:pos] = arg
        else:
            del out[pos:]
    return bytes(out)


def _mutate_inside_zip(data: bytes, ops) -> bytes:
    """Mutate word/document.xml and repack, so the mutation reaches the XML instead of failing the ZIP CRC."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    except zipfile.BadZipFile:
        return _mutate(data, ops)
    parts["word/document.xml"] = _mutate(parts.get("word/document.xml", b""), ops)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pool():
    from ingest.pool import ParsePool, WorkerConfig
    from kb.embedding.packaged import resolve_model_path
    from kb.settings import Settings

    config = WorkerConfig(tokenizer_path=resolve_model_path(Settings().embedding_model), max_tokens=256,
                          overlap_tokens=40, max_file_mb=50, max_pages=500, memory_mb=1536)
    with ParsePool(config, workers=1, timeout_s=20) as parse_pool:
        yield parse_pool


@pytest.fixture(scope="module")
def seeds(shared_data, sample_docs):
    return _seeds(shared_data, sample_docs)


def test_fuzz_parsers_and_chunker_through_the_parse_pool(pool, seeds, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    counter = itertools.count()
    outcomes: Counter = Counter()

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, len(seeds) - 1), ops=st.lists(mutation, min_size=1, max_size=6),
           inside=st.booleans())
    def check(seed, ops, inside):
        suffix, data = seeds[seed]
        mutated = _mutate_inside_zip(data, ops) if suffix == ".docx" and inside else _mutate(data, ops)
        path = folder / f"case{next(counter)}{suffix}"
        path.write_bytes(mutated)
        (result,) = list(pool.parse([str(path)]))
        if result.skip_reason is None:
            assert result.chunks, f"{path}: parsed without chunks and without a skip reason"
            assert all(c.text.strip() for c in result.chunks)
            outcomes["parsed"] += 1
        else:
            assert isinstance(result.skip_reason, str) and result.skip_reason.strip()
            assert not result.skip_reason.startswith("parser error:"), \
                f"unhandled exception for a mutated {suffix} (ops {ops}): {result.skip_reason}"
            outcomes[result.skip_reason.split(":")[0][:60]] += 1
        path.unlink()

    check()
    print("fuzz outcomes:", dict(outcomes))
    assert outcomes["parsed"] > 0  # the mutations are not all trivially fatal


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(sections=st.lists(st.tuples(st.text(max_size=1500), st.lists(st.text(max_size=30), max_size=3)),
                         min_size=1, max_size=5),
       title=st.text(max_size=200), size=st.integers(8, 256), overlap=st.integers(0, 64))
def test_fuzz_chunker_offsets_hold_for_any_text(sections, title, size, overlap, token_counter):
    from ingest.chunker import ChunkingConfig, chunk_document, document_text
    from kb.types import Document, Section

    doc = Document(path=Path("/fuzz/doc.md"), title=title,
                   sections=[Section(text=t, heading_path=tuple(h)) for t, h in sections])
    chunks = chunk_document(doc, token_counter, ChunkingConfig(size, min(overlap, size // 2)))
    text = document_text(doc)
    for chunk in chunks:
        assert chunk.text == text[chunk.char_start:chunk.char_end]
        assert chunk.text.strip()


@pytest.fixture(scope="module")
def token_counter():
    from ingest.tokens import load_token_counter
    from kb.embedding.packaged import resolve_model_path
    from kb.settings import Settings

    return load_token_counter(resolve_model_path(Settings().embedding_model))
