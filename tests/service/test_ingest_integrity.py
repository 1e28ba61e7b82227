"""Ingest when the world changes under it (issue 30): a file rewritten while the run is under way, a disk that
fills up, a document that kills the parse worker; and the parse workers sharing the cores with the embedder.

Plumbing: the hashed embedder (BM25 finds the passages); real files, real parse workers, and a real small file
system (tmpfs) where this machine lets the test mount one.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from kb.files import DiskFull
from kb.index.manifest import Manifest
from kb.sync.reindex import rollback
from tests.service.conftest import HASHED_ENV, texts

pytestmark = pytest.mark.slow


def test_a_file_rewritten_mid_run_is_read_again_by_the_next_run(make_kb, docs):
    """The run hashes zz.md when it plans, the worker reads it later: the manifest must record the bytes that
    were parsed, so that restoring the file (even with its old timestamps) is seen as a change."""
    zz = docs / "zz.md"
    zz.write_text("# Parking\n\nStaff park in the north car park behind building A.\n", encoding="utf-8")
    (docs / "aa.md").write_text("# Canteen\n\nLunch is served from noon in the canteen.\n", encoding="utf-8")
    original, before = zz.read_bytes(), zz.stat()
    kb = make_kb()

    def rewrite_once_planned(stage: str, done: int, total: int) -> None:
        if stage == "parse" and done == 0:  # planned (and hashed); no worker has read a file yet
            zz.write_text("# Parking\n\nStaff park on the roof of building C from now on.\n", encoding="utf-8")

    first = kb.ingest([docs], progress=rewrite_once_planned)
    assert sorted(first.indexed) == [str(docs / "aa.md"), str(zz)]
    assert any("roof of building C" in t for t in texts(kb, "staff park"))
    zz.write_bytes(original)  # restored as it was, timestamps included
    os.utime(zz, ns=(before.st_atime_ns, before.st_mtime_ns))

    second = kb.ingest([docs])
    assert second.indexed == [str(zz)] and second.unchanged == [str(docs / "aa.md")], second.to_json()
    found = texts(kb, "staff park")
    assert any("north car park" in t for t in found) and not any("roof" in t for t in found), found
    assert kb.ingest([docs]).unchanged == sorted([str(docs / "aa.md"), str(zz)])  # and then it is settled


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB file system (tmpfs) to fill up; only where the test may mount one (root on Linux)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(disk)], check=True,
                       capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc}); test_a_publish_that_fails_after_the_rename covers "
                    "the same rules with an injected ENOSPC")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def _fill(disk: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free the space)."""
    filler = disk / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_disk_fails_clearly_and_keeps_the_rollback_target(small_disk, make_kb, docs):
    index = small_disk / "index"
    (docs / "a.md").write_text("# Alpha\n\nThe alpha project ships in May.\n", encoding="utf-8")
    kb = make_kb(index_dir=index, keep_versions=2)
    v1 = kb.ingest([docs]).version
    (docs / "b.md").write_text("# Beta\n\nThe beta project ships in June.\n", encoding="utf-8")
    v2 = kb.ingest([docs]).version
    filler = _fill(small_disk)

    words = "policy leave travel expense claim approval payroll pension contract notice security".split()
    rng = random.Random(7)
    (docs / "c.md").write_text("# Gamma\n\n" + " ".join(rng.choice(words) for _ in range(20000)) + "\n",
                               encoding="utf-8")
    for _ in range(2):  # two failed publishes in a row
        with pytest.raises(DiskFull) as err:
            kb.ingest([docs])
        message = str(err.value)
        assert message.startswith(f"the disk holding {index / 'versions'} is full: the new index version needs about ")
        assert " MB are free there" in message and "nothing half-written was kept" in message
        assert [p.name for p in kb.folder.list_versions()] == [v1, v2]
        assert not list(kb.folder.versions.glob(".tmp-*")) and not (index / "CURRENT.tmp").exists()
        assert kb.folder.current().name == v2 and kb.search("beta project", k=1)[0].chunk.text.endswith("June.")
    cli = subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(docs), "--index", str(index)],
                         env={**os.environ, "HF_HUB_OFFLINE": "1", **HASHED_ENV}, capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 1 and "is full" in cli.stderr and "Traceback" not in cli.stderr, cli.stderr

    filler.unlink()
    v3 = kb.ingest([docs]).version
    assert [p.name for p in kb.folder.list_versions()] == [v2, v3]  # keep_versions=2: the two last published
    assert rollback(kb.writer())["to"] == v2  # the version published before the failures


def test_a_publish_that_fails_after_the_rename_removes_the_version(make_kb, docs, monkeypatch):
    """A deterministic fake of a full disk at the last write of a publish (CURRENT): an injected ENOSPC from
    ``write_atomic``, where the version is already renamed into place. It must go at once, and a version left
    in place unpublished (a writer killed at that moment) is never kept or rolled back to."""
    import kb.index.folder as folder_module

    (docs / "a.md").write_text("# Alpha\n\nThe alpha project ships in May.\n", encoding="utf-8")
    kb = make_kb(keep_versions=2)
    v1 = kb.ingest([docs]).version
    (docs / "b.md").write_text("# Beta\n\nThe beta project ships in June.\n", encoding="utf-8")
    v2 = kb.ingest([docs]).version
    real = folder_module.write_atomic

    def full_disk(path: Path, text: str) -> None:
        if path.name == "CURRENT":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(folder_module, "write_atomic", full_disk)
    (docs / "c.md").write_text("# Gamma\n\nThe gamma project ships in July.\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(DiskFull, match="is full"):
            kb.ingest([docs])
        assert [p.name for p in kb.folder.list_versions()] == [v1, v2]
        assert sorted(p.name for p in kb.folder.versions.iterdir()) == [v1, v2]
    monkeypatch.setattr(folder_module, "write_atomic", real)
    # a writer killed between the rename and CURRENT leaves a complete version nobody published
    orphan = kb.folder.versions / "v000009"
    orphan.mkdir()
    (orphan / "manifest.json").write_text((kb.folder.current() / "manifest.json").read_text())
    assert kb.folder.previous().name == v1
    v3 = kb.ingest([docs]).version
    assert v3 == "v000010" and [p.name for p in kb.folder.list_versions()] == [v2, v3] and not orphan.exists()
    assert rollback(kb.writer())["to"] == v2


def _big_docx(path: Path, xml_mb: int = 20) -> Path:
    """A DOCX of a few MB whose document.xml unpacks to ``xml_mb`` MB of plain paragraphs (no zip bomb)."""
    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    parts, size = [], 0
    while size < xml_mb * 1_000_000:
        part = f'<w:p><w:r><w:t>{" ".join(rng.choice(words) for _ in range(30))}</w:t></w:r></w:p>'
        parts.append(part)
        size += len(part)
    main = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{main}"><w:body>{"".join(parts)}</w:body></w:document>'
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
             'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
             'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/'
             'word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
             'document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("word/document.xml", xml)
    return path


def test_a_document_that_kills_the_worker_at_its_memory_limit_is_skipped_until_it_changes(make_kb, docs):
    """A real DOCX whose 20 MB document.xml the worker cannot read within 300 MB: it dies (the tokenizer's
    allocation fails: SIGABRT) or raises MemoryError; either way the next run does not read it again."""
    big = _big_docx(docs / "big.docx")
    (docs / "small.md").write_text("# Canteen\n\nLunch is served from noon.\n", encoding="utf-8")
    kb = make_kb(parse_memory_mb=300)
    first = kb.ingest([docs])
    reason = {s.path: s.reason for s in first.skipped}[str(big)]
    assert ("killed by SIGABRT" in reason and reason.endswith("not tried again until the file changes")) \
        or reason.startswith("ran out of memory while parsing"), reason
    assert first.indexed == [str(docs / "small.md")]
    second = kb.ingest([docs])
    assert {s.path: s.reason for s in second.skipped} == {str(big): reason} and second.parse_seconds == 0
    assert Manifest.read(kb.folder.current()).files[str(big)].retries == 0


def test_a_parser_crash_is_not_retried_but_a_kill_from_outside_is(make_kb, docs):
    """Plumbing: the worker's death by a signal of its own (SIGABRT, SIGSEGV: a crash in the parser, which the
    same bytes cause again) is recorded as skipped until the file changes; SIGKILL (the system's out-of-memory
    killer) is tried again on the next run."""
    pdf = docs / "long.md"
    pdf.write_text("# Notes\n\n" + "Quarterly figures are reported to the board. " * 2000, encoding="utf-8")
    kb = make_kb()
    killer = threading.Thread(target=_signal_first_worker, args=(signal.SIGABRT,), daemon=True)
    killer.start()
    first = kb.ingest([docs])
    killer.join(60)
    reason = {s.path: s.reason for s in first.skipped}[str(pdf)]
    assert "killed by SIGABRT" in reason and reason.endswith("not tried again until the file changes"), reason
    assert kb.ingest([docs]).parse_seconds == 0  # not read again
    pdf.write_text(pdf.read_text(encoding="utf-8") + "\nChanged.\n", encoding="utf-8")
    assert kb.ingest([docs]).indexed == [str(pdf)]


def _signal_first_worker(sig: int, timeout: float = 60.0) -> None:
    """Send ``sig`` to this process's first parse worker once it exists (it has its file at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _worker_pids():
            os.kill(pid, sig)
            return
        time.sleep(0.01)


def _worker_pids() -> list[int]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == os.getpid() and b"ingest.worker" in cmdline:
            out.append(int(status.parent.name))
    return out
