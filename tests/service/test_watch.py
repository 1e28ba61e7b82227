"""The watcher with real files, a real inotify watcher, the real embedding model and real index versions."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from kb.errors import ConfigError
from kb.index.folder import IndexFolder
from kb.index.manifest import Manifest
from kb.sync.watch import FolderWatcher
from tests.service.conftest import make_pdf, paths, poll, texts


def indexed_in(watcher: FolderWatcher, path: Path) -> list:
    return [b for b in watcher.batches if str(path.resolve()) in b.report.indexed]


def test_a_dropped_pdf_becomes_searchable(watch, docs, tmp_path):
    watcher, kb = watch()
    pdf = make_pdf(tmp_path / "handbook.pdf", ["Visitors to the Reykjavik office must sign the blue ledger.",
                                               "Parking permits are issued by reception."])
    shutil.move(pdf, docs / "handbook.pdf")
    hit = poll(lambda: next((h for h in kb.search("Reykjavik office blue ledger", k=3)
                             if h.chunk.name == "handbook.pdf"), None), what="the PDF to be searchable")
    assert hit.chunk.page == 1 and "Reykjavik" in hit.chunk.text


@pytest.mark.slow
def test_a_file_copied_in_slowly_is_indexed_once_and_complete(watch, docs, tmp_path):
    watcher, kb = watch(watch_stable_s=1.0)
    source = make_pdf(tmp_path / "slow.pdf", [f"Page {n} of the slow manual mentions the word "
                                              f"{'zeppelin' if n == 12 else 'ordinary'} once." for n in range(1, 13)])
    data = source.read_bytes()
    target = docs / "slow.pdf"
    pieces = 8
    with open(target, "wb") as fh:  # like a network copy: one handle, chunks with pauses (3+ s in all)
        for i in range(pieces):
            fh.write(data[i * len(data) // pieces:(i + 1) * len(data) // pieces])
            fh.flush()
            time.sleep(0.45)
    hit = poll(lambda: next((h for h in kb.search("zeppelin manual", k=5) if h.chunk.name == "slow.pdf"), None),
               what="the slowly copied PDF")
    assert hit.chunk.page == 12, "the last page was indexed: the file was complete"
    assert watcher.wait_idle(30)
    assert len(indexed_in(watcher, target)) == 1, [b.to_json() for b in watcher.batches]
    assert not any(s.path == str(target) for b in watcher.batches for s in b.report.skipped), \
        "a partial PDF was parsed (and skipped as broken)"


@pytest.mark.slow
def test_edit_replaces_the_old_chunks(watch, docs):
    watcher, kb = watch()
    memo = docs / "canteen.txt"
    memo.write_text("Canteen menu\n\nThe canteen serves quinoa porridge every morning.\n")
    poll(lambda: any("quinoa" in t for t in texts(kb, "canteen breakfast porridge")), what="first version")
    memo.write_text("Canteen menu\n\nThe canteen now serves buckwheat pancakes every morning.\n")
    poll(lambda: any("buckwheat" in t for t in texts(kb, "canteen breakfast")), what="the edit")
    assert not any("quinoa" in t for t in texts(kb, "canteen quinoa porridge", k=20))
    manifest = Manifest.read(IndexFolder(kb.settings.index_dir).require_current())
    assert manifest.files[str(memo.resolve())].chunks == kb.reader().db.execute(
        "SELECT COUNT(*) FROM chunks WHERE path = ?", (str(memo.resolve()),)).fetchone()[0]


@pytest.mark.slow
def test_delete_removes_the_chunks(watch, docs):
    watcher, kb = watch()
    doomed = docs / "doomed.md"
    doomed.write_text("# Ferry timetable\n\nThe staff ferry to Tromsø leaves at 07:40.\n")
    (docs / "keeper.md").write_text("# Keeper\n\nThe lighthouse keeper logs every ship.\n")
    poll(lambda: str(doomed) in paths(kb, "ferry Tromsø timetable"), what="the file to be indexed")
    doomed.unlink()
    poll(lambda: str(doomed) not in paths(kb, "ferry Tromsø timetable", k=20), what="the delete")
    assert kb.status()["documents"] == 1


@pytest.mark.slow
def test_a_rename_or_move_keeps_the_chunks_without_re_embedding(watch, docs):
    watcher, kb = watch()
    original = docs / "policy.md"
    original.write_text("# Bicycle policy\n\nBicycles may be parked in the courtyard racks overnight.\n" * 5)
    poll(lambda: str(original) in paths(kb, "bicycle courtyard racks"), what="the original")
    before = {h.chunk.text for h in kb.search("bicycle courtyard racks", k=10) if h.chunk.path == str(original)}
    (docs / "facilities").mkdir()
    moved = docs / "facilities" / "bikes.md"
    original.rename(moved)
    poll(lambda: str(moved) in paths(kb, "bicycle courtyard racks"), what="the moved file")
    assert watcher.wait_idle(30)
    batch = indexed_in(watcher, moved)[-1]
    assert batch.report.embed_seconds == 0.0 and str(original) in batch.report.removed, batch.to_json()
    after = {h.chunk.text for h in kb.search("bicycle courtyard racks", k=10) if h.chunk.path == str(moved)}
    assert after == before and str(original) not in paths(kb, "bicycle courtyard racks", k=20)


@pytest.mark.slow
def test_300_files_dropped_at_once_are_all_indexed(watch, docs):
    watcher, kb = watch()
    for n in range(300):
        folder = docs / f"team{n % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"note{n:03d}.md").write_text(f"# Note {n}\n\nItem code QX{n:03d} belongs to team {n % 3}.\n")
    poll(lambda: watcher.wait_idle(1) and kb.status()["documents"] == 300, timeout=180, interval=0.5,
         what="300 documents")
    assert [h.chunk.name for h in kb.search("QX217", k=1)] == ["note217.md"]
    assert sum(len(b.report.indexed) for b in watcher.batches) == 300
    assert not any(b.error for b in watcher.batches)


def test_temporary_and_hidden_names_are_ignored(watch, docs):
    watcher, kb = watch()
    batches = len(watcher.batches)
    (docs / "~$report.docx").write_text("office lock file")
    (docs / "download.pdf.part").write_text("partial")
    (docs / "big.pdf.crdownload").write_text("partial")
    (docs / ".hidden.txt").write_text("hidden notes about the falcon")
    (docs / ".cache").mkdir()
    (docs / ".cache" / "x.txt").write_text("cached notes about the falcon")
    time.sleep(1.5)  # long enough for a batch to have started if any of these had triggered one
    assert watcher.wait_idle(10) and len(watcher.batches) == batches
    (docs / "falcon.txt.crdownload").write_text("The falcon nests on the roof of building C.")
    os.rename(docs / "falcon.txt.crdownload", docs / "falcon.txt")  # a finished browser download
    poll(lambda: str(docs / "falcon.txt") in paths(kb, "falcon nests roof"), what="the finished download")
    assert kb.status()["documents"] == 1


def test_start_catches_up_on_changes_made_while_down(make_kb, docs, no_leaked_threads):
    (docs / "keep.txt").write_text("The archive room is in the basement.")
    (docs / "edit.txt").write_text("The cafeteria opens at eight.")
    (docs / "gone.txt").write_text("The old printer is on floor two.")
    with FolderWatcher(make_kb().writer(), docs, debounce_s=0.2, stable_s=0.5) as watcher:
        assert watcher.wait_idle(60)
        batches = list(watcher.batches)
    assert batches[0].report.deferred, "files written a moment ago are left until they settle"
    assert sum(len(b.report.indexed) for b in batches) == 3
    (docs / "edit.txt").write_text("The cafeteria opens at nine thirty.")
    (docs / "gone.txt").unlink()
    (docs / "new.txt").write_text("The new scanner is next to reception.")
    os.utime(docs / "edit.txt", (time.time() - 60, time.time() - 60))  # settled long ago
    os.utime(docs / "new.txt", (time.time() - 60, time.time() - 60))
    kb = make_kb()
    with FolderWatcher(kb.writer(), docs, debounce_s=0.2, stable_s=0.5) as watcher:
        assert watcher.wait_idle(60)
        first = watcher.batches[0]
    assert first.reason == "start" and len(first.report.unchanged) == 1
    assert sorted(Path(p).name for p in first.report.indexed) == ["edit.txt", "new.txt"]
    assert [Path(p).name for p in first.report.removed] == ["gone.txt"]
    assert any("nine thirty" in t for t in texts(kb, "cafeteria opening time"))


def test_refuses_an_index_inside_the_watched_folder(make_kb, docs):
    with pytest.raises(ConfigError, match="inside the watched folder"):
        FolderWatcher(make_kb(index_dir=docs / "index").writer(), docs)
    with pytest.raises(ConfigError, match="does not exist"):
        FolderWatcher(make_kb().writer(), docs / "missing")


def test_a_periodic_rescan_catches_changes_that_raised_no_event(make_kb, docs, no_leaked_threads):
    kb = make_kb()
    with FolderWatcher(kb.writer(), docs, debounce_s=0.2, stable_s=0.5, rescan_s=1.0) as watcher:
        assert watcher.wait_idle(60)
        watcher._observer.stop()  # events lost, as on a network share or after an inotify queue overflow
        watcher._observer.join(10)
        (docs / "quiet.txt").write_text("The night shift starts at ten in the evening.")
        poll(lambda: str(docs / "quiet.txt") in paths(kb, "night shift start"), timeout=60, what="the rescan")
        assert any(b.reason == "rescan" and b.report.indexed for b in watcher.batches)
