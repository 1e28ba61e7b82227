"""Plain text and Markdown parsing."""

from __future__ import annotations

import pytest

from ingest.registry import parse_file
from kb.errors import UnreadableFile


def test_txt_paragraphs_and_single_section(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("First line\nsecond line  \n\n\n\nNext paragraph.\r\n", encoding="utf-8")
    doc = parse_file(path)
    assert doc.kind == "text" and doc.title == "notes"
    assert len(doc.sections) == 1
    section = doc.sections[0]
    assert section.text == "First line\nsecond line\n\nNext paragraph."
    assert section.page is None and section.heading_path == ()
    assert doc.warnings == []


def test_txt_utf8_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffCafé au lait".encode("utf-8"))
    assert parse_file(path).sections[0].text == "Café au lait"


def test_txt_utf16_with_bom(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes("Grüße aus Köln".encode("utf-16"))
    assert parse_file(path).sections[0].text == "Grüße aus Köln"


def test_txt_cp1252_fallback_warns(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Price: 10 \u20ac \u2013 caf\u00e9".encode("cp1252"))
    doc = parse_file(path)
    assert doc.sections[0].text == "Price: 10 € – café"
    assert doc.warnings and "decoded as cp1252" in doc.warnings[0]


def test_txt_binary_content_is_rejected(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(b"abc\x00\x01\x02def")
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert err.value.reason == "binary content in a text file"


def test_txt_whitespace_only_has_no_text(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n \t\n")
    with pytest.raises(UnreadableFile, match="no text found"):
        parse_file(path)


MARKDOWN = """\
---
layout: post
---
Intro before any heading.

# Handbook

Welcome text.

## Leave
Annual leave is 25 days.

```python
# not a heading
print("hi")
```

### Sick leave ###
Call your manager.

Benefits
--------

Health plan details.

#hashtag is text

# Appendix
Last words.
"""


def test_markdown_sections_follow_heading_stack(tmp_path):
    path = tmp_path / "handbook.md"
    path.write_text(MARKDOWN)
    doc = parse_file(path)
    assert doc.kind == "markdown" and doc.title == "Handbook"
    by_path = {s.heading_path: s.text for s in doc.sections}
    assert by_path[()] == "Intro before any heading."
    assert by_path[("Handbook",)] == "Welcome text."
    assert by_path[("Handbook", "Leave")].startswith("Annual leave is 25 days.")
    assert "# not a heading" in by_path[("Handbook", "Leave")]  # fenced code is not a heading
    assert by_path[("Handbook", "Leave", "Sick leave")] == "Call your manager."
    assert by_path[("Handbook", "Benefits")] == "Health plan details.\n\n#hashtag is text"
    assert by_path[("Appendix",)] == "Last words."
    assert all(s.page is None for s in doc.sections)


def test_markdown_title_falls_back_to_stem_and_front_matter(tmp_path):
    plain = tmp_path / "no-h1.markdown"
    plain.write_text("## Only a subsection\n\ntext\n")
    assert parse_file(plain).title == "no-h1"
    front = tmp_path / "front.md"
    front.write_text("---\ntitle: 'Travel Policy'\n---\n\n## Booking\n\nUse the portal.\n")
    doc = parse_file(front)
    assert doc.title == "Travel Policy"
    assert doc.sections[0].heading_path == ("Booking",)


def test_markdown_heading_markup_is_stripped(tmp_path):
    path = tmp_path / "links.md"
    path.write_text("# **Bold** [Guide](http://x.org)\n\nBody.\n")
    doc = parse_file(path)
    assert doc.title == "Bold Guide"
    assert doc.sections[0].heading_path == ("Bold Guide",)


def test_real_markdown_groundtruth(shared_data):
    path = shared_data / "robustness/docling/docx/groundtruth/docx_code_blocks.docx.md"
    doc = parse_file(path)
    paths = [s.heading_path for s in doc.sections]
    assert ("Code-detection fixture", "Case A - normal prose") in paths
    code = next(s.text for s in doc.sections if s.heading_path[-1].startswith("Case C"))
    assert "print(sys.argv)" in code
