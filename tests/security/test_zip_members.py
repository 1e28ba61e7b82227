"""A zip bomb in any DOCX member, ``_rels/.rels`` included, is refused before anything is inflated (issue 12)."""

from __future__ import annotations

import warnings
import zipfile

import pytest

from ingest.registry import parse_file
from kb.errors import UnreadableFile
from tests.security.test_bombs import _docx


def test_a_bomb_in_the_package_relationships_is_never_inflated(tmp_path, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name" -- the bomb shadows the real part
        bomb = _docx(tmp_path / "rels-bomb.docx", {"_rels/.rels": 200 << 20})
    assert bomb.stat().st_size < 1 << 20
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, mode="r", *args, **kwargs):  # what zipfile is asked to inflate, and nothing else changes
        if mode == "r":
            opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(UnreadableFile, match="_rels/.rels inflates .*zip bomb"):
        parse_file(bomb)
    assert opened == [], f"inflated before the bomb check: {opened}"
