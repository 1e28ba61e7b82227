"""DOCX parsing: document order, heading sections, tables as header/value text, lists, failures."""

from __future__ import annotations

import re
import zipfile

import docx
import pytest

from ingest.limits import ParseLimits
from ingest.registry import parse_file
from kb.errors import UnreadableFile


def _handbook(path, core_title: str | None = None):
    document = docx.Document()
    if core_title is not None:
        document.core_properties.title = core_title
    section = document.sections[0]
    section.header.paragraphs[0].text = "CONFIDENTIAL RUNNING HEADER"
    section.footer.paragraphs[0].text = "Footer text that must not be indexed"
    document.add_paragraph("Employee Handbook", style="Title")
    document.add_paragraph("Intro before the first section.")
    document.add_heading("Benefits", level=1)
    document.add_paragraph("Everyone can choose a plan.")
    document.add_heading("Health plans", level=2)
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(table.rows, [("Plan", "Monthly premium", "Deductible"),
                                        ("Gold", "$120", "$500"), ("Silver", "$80", "$1,000")]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_paragraph("After the table.")
    document.add_heading("Steps to enrol", level=2)
    for step in ("Open the portal", "Pick a plan", "Confirm"):
        document.add_paragraph(step, style="List Number")
    document.add_heading("Contacts", level=1)
    contacts = document.add_table(rows=2, cols=2)
    contacts.cell(0, 0).text, contacts.cell(0, 1).text = "HR", "hr@example.com"
    contacts.cell(1, 0).text, contacts.cell(1, 1).text = "Payroll", "pay@example.com"
    document.save(path)
    return path


def test_sections_follow_headings_in_document_order(tmp_path):
    doc = parse_file(_handbook(tmp_path / "handbook.docx"))
    assert doc.kind == "docx" and doc.pages is None
    paths = [s.heading_path for s in doc.sections]
    assert paths == [("Employee Handbook",), ("Benefits",), ("Benefits", "Health plans"),
                     ("Benefits", "Steps to enrol"), ("Contacts",)]
    assert all(s.page is None for s in doc.sections)
    assert doc.sections[0].text == "Intro before the first section."
    health = doc.sections[2].text
    assert health.index("Plan: Gold") < health.index("After the table.")  # table stays where it was


def test_table_with_header_row_becomes_header_value_pairs(tmp_path):
    doc = parse_file(_handbook(tmp_path / "handbook.docx"))
    health = doc.sections[2].text
    assert "Plan: Gold; Monthly premium: $120; Deductible: $500" in health.split("\n")
    assert "Plan: Silver; Monthly premium: $80; Deductible: $1,000" in health.split("\n")
    assert health.count("Monthly premium") == 2  # the header row itself is not repeated as data


def test_table_without_header_joins_cells(tmp_path):
    doc = parse_file(_handbook(tmp_path / "handbook.docx"))
    assert doc.sections[-1].text == "HR | hr@example.com\nPayroll | pay@example.com"


def test_numbered_list_items_each_on_a_line(tmp_path):
    doc = parse_file(_handbook(tmp_path / "handbook.docx"))
    assert doc.sections[3].text == "- Open the portal\n- Pick a plan\n- Confirm"


def test_headers_and_footers_are_ignored(tmp_path):
    doc = parse_file(_handbook(tmp_path / "handbook.docx"))
    text = "\n".join(s.text for s in doc.sections)
    assert "CONFIDENTIAL" not in text and "Footer text" not in text


def test_style_without_numbering_id_is_not_a_list(tmp_path):
    document = docx.Document()
    document.add_paragraph("How we protect accounts", style="Subtitle")  # its style has an empty w:numPr
    document.add_paragraph("Real item", style="List Bullet")
    document.save(tmp_path / "subtitle.docx")
    assert parse_file(tmp_path / "subtitle.docx").sections[0].text == "How we protect accounts\n\n- Real item"


def test_title_from_core_properties_then_title_style_then_stem(tmp_path):
    assert parse_file(_handbook(tmp_path / "a.docx", core_title="HR Handbook 2024")).title == "HR Handbook 2024"
    assert parse_file(_handbook(tmp_path / "b.docx")).title == "Employee Handbook"
    plain = docx.Document()
    plain.add_paragraph("Just text.")
    plain.save(tmp_path / "memo.docx")
    assert parse_file(tmp_path / "memo.docx").title == "memo"


def test_merged_and_nested_cells(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=4, cols=3)
    for cell, value in zip(table.rows[0].cells, ("Region", "Office", "Staff")):
        cell.text = value
    table.cell(1, 0).text, table.cell(1, 1).text, table.cell(1, 2).text = "EMEA", "London", "120"
    table.cell(2, 1).text, table.cell(2, 2).text = "Paris", "45"
    table.cell(1, 0).merge(table.cell(2, 0))  # EMEA spans two rows
    merged = table.cell(3, 0).merge(table.cell(3, 1))  # one cell over two columns
    merged.text = "Remote"
    inner = table.cell(3, 2).add_table(rows=2, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "a", "b"
    inner.cell(1, 0).text, inner.cell(1, 1).text = "c", "d"
    document.save(tmp_path / "offices.docx")
    lines = parse_file(tmp_path / "offices.docx").sections[0].text.split("\n")
    assert lines[0] == "Region: EMEA; Office: London; Staff: 120"
    assert lines[1] == "Region: EMEA; Office: Paris; Staff: 45"
    assert lines[2].startswith("Region: Remote; Staff: ")  # the merged cell appears once
    assert "a | b; c | d" in lines[2]


def test_empty_docx_has_no_text(tmp_path):
    docx.Document().save(tmp_path / "empty.docx")
    with pytest.raises(UnreadableFile) as err:
        parse_file(tmp_path / "empty.docx")
    assert err.value.reason == "no text found in document"


def test_corrupt_zip(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert err.value.reason == "corrupt DOCX: not a valid ZIP archive"


def test_zip_bomb_is_refused(tmp_path):
    path = _handbook(tmp_path / "bomb.docx")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("word/media/padding.bin", b"\0" * (3 * 1024 * 1024), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(UnreadableFile) as err:
        parse_file(path, ParseLimits(max_file_mb=0.2))
    assert re.fullmatch(r"DOCX unpacks to \d MB, over 10x the 0\.2 MB limit \(setting max_file_mb\)", err.value.reason)


def test_encrypted_office_container(tmp_path):
    path = tmp_path / "secret.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert err.value.reason == "encrypted or password-protected Office file"


def test_excel_workbook_named_docx(tmp_path):
    path = tmp_path / "sheet.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert err.value.reason == ("extension .docx but the ZIP holds no Word document "
                                "(looks like an Excel .xlsx workbook)")


def test_real_policy_docx(shared_data):
    doc = parse_file(shared_data / "docs/policies/Acceptable_Use_Policy.docx")
    assert doc.title == "ACCEPTABLE USE POLICY (AUP)"
    sections = {s.heading_path: s.text for s in doc.sections}
    acceptable = sections[("ACCEPTABLE USE POLICY (AUP)", "3. Acceptable Use")]
    assert "- Use company resources only for legitimate business purposes" in acceptable.split("\n")
    assert acceptable.startswith("Users must:")


def test_real_tables_with_spans(shared_data):
    doc = parse_file(shared_data / "robustness/docling/docx/sources/word_tables.docx")
    lines = doc.sections[0].text.split("\n")
    assert "Header 0.0: Cell 1.0; Header 0.1: Cell 1.1; Header 0.2: Cell 1.2" in lines
    assert "Header 0.0: Cell 1.0; Header 0.1: Merged Cell 1.1 1.2" in lines


def test_real_header_footer_file(shared_data):
    doc = parse_file(shared_data / "robustness/unstructured/docx-hdrftr.docx")
    text = "\n".join(s.text for s in doc.sections)
    assert "Main document" in text
    assert "First header" not in text and "cell1" not in text


def test_strict_ooxml(shared_data):
    with pytest.raises(UnreadableFile) as err:
        parse_file(shared_data / "robustness/docling/docx/sources/Strict.docx")
    assert err.value.reason == "Strict Open XML DOCX is not supported: re-save it as a standard Word document"


def test_docx_saved_as_doc_is_read(shared_data):
    doc = parse_file(shared_data / "robustness/unstructured/language-docs/eng_spa_mult.doc")
    assert doc.kind == "docx"
    assert doc.warnings == ["file has extension .doc but contains a .docx document"]
    assert sum(len(s.text) for s in doc.sections) > 1000
