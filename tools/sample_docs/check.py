"""Check the sample documents in ``sample_docs/`` and the evaluation questions that cite them.

* every PDF/DOCX has its page furniture, outline/headings, metadata title, tables and lists;
* the committed files are current: the Markdown/text files equal their sources, the DOCX paragraphs and
  (if reportlab is installed) the PDF page texts equal a fresh rendering, and each PDF still has a
  paragraph that flows across a page break;
* ``sample_docs/questions.jsonl`` is well formed, and every answerable question's key phrases
  (``answer_keys.jsonl``, or else the answer) occur on the cited PDF page or DOCX/Markdown section.

Usage::

    python tools/sample_docs/check.py                      # run the checks (exit status 1 on a problem)
    python tools/sample_docs/check.py --locate "phrase"    # where a phrase occurs (helps writing questions)
    python tools/sample_docs/check.py --compare DIR        # does DIR read the same as sample_docs/?

Needs pypdf and python-docx.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import sys
from pathlib import Path

from model import COMPANY, CONFIDENTIAL, OUT, Doc, Library, load_answer_keys, load_library, load_questions
from render import render_docx, render_pdf

log = logging.getLogger("check")

SIZE_LIMIT = 2 * 1024 * 1024  # the sample folder ships with the repository
FIELDS = {"id", "question", "answer", "sources", "answerable", "follow_up_of", "value"}  # of a questions.jsonl row


class Problems(list):
    """The problems found so far, as messages."""

    def expect(self, cond, msg: str) -> None:
        """Record ``msg`` unless ``cond`` holds."""
        if not cond:
            self.append(msg)


# --- reading the rendered documents ---------------------------------------------------------------------


def _norm(text: str) -> str:
    # key phrases are matched loosely: PDF extraction turns spaces into line breaks and ’ may differ from '
    text = text.replace("\u00a0", " ").replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip().lower()


def pdf_pages(path) -> list[str]:
    """The extracted text of each page (``path`` may also be a file object)."""
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(path).pages]


def docx_sections(path: Path) -> list[tuple[str | None, str]]:
    """(heading, text) for each heading section, in order; tables are included where they occur."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = Document(str(path))
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for child in d.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, d)
            if p.style is not None and p.style.name.startswith("Heading"):
                sections.append((p.text, []))
            else:
                sections[-1][1].append(p.text)
        elif tag == "tbl":
            for row in Table(child, d).rows:
                sections[-1][1].append(" | ".join(c.text for c in row.cells))
    return [(h, "\n".join(t)) for h, t in sections]


def md_sections(text: str) -> list[tuple[str | None, str]]:
    """(heading, text) for each Markdown heading section, in order."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            sections.append((m.group(1).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(h, "\n".join(t)) for h, t in sections]


def _read(rel: str):
    """A document as the checks see it: PDF pages, (heading, text) sections, or the whole text."""
    path = OUT / rel
    if rel.endswith(".pdf"):
        return pdf_pages(path)
    if rel.endswith(".docx"):
        return docx_sections(path)
    if rel.endswith(".md"):
        return md_sections(path.read_text(encoding="utf-8"))
    return path.read_text(encoding="utf-8")


def source_text(src: dict, paths: dict[str, str], cache: dict) -> str:
    """The text of the page or section that a question's source cites."""
    rel = paths[src["name"]]
    if rel not in cache:
        cache[rel] = _read(rel)
    content = cache[rel]
    if rel.endswith(".pdf"):
        if not isinstance(src["page"], int) or not 1 <= src["page"] <= len(content):
            raise IndexError(f"{src['name']} has no page {src['page']!r}")
        return content[src["page"] - 1]
    if rel.endswith((".docx", ".md")):
        texts = [t for h, t in content if h == src["heading"]]
        if len(texts) != 1:
            raise AssertionError(f"{src['name']}: heading {src['heading']!r} found {len(texts)} times")
        return texts[0]
    return content


def _flatten(outline, depth: int = 0):
    """(depth, item) for every entry of a pypdf outline."""
    for item in outline:
        if isinstance(item, list):
            yield from _flatten(item, depth + 1)
        else:
            yield depth, item


# --- the checks -------------------------------------------------------------------------------------------


def check_pdf(doc: Doc, problems: Problems) -> None:
    """Page count, metadata title, outline = headings, header/footer on every page, block variety."""
    from pypdf import PdfReader

    reader = PdfReader(str(OUT / doc.path))
    n = len(reader.pages)
    problems.expect(3 <= n <= 8, f"{doc.name}: {n} pages (want 3-8)")
    problems.expect((reader.metadata or {}).get("/Title") == doc.title, f"{doc.name}: metadata title")
    outline = [o.title for _, o in _flatten(reader.outline)]
    headings = [b[1] for b in doc.blocks if b[0] in ("h1", "h2")]
    problems.expect(outline == headings, f"{doc.name}: outline {outline[:3]}... != headings")
    for i, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        for furniture in (COMPANY, doc.title, CONFIDENTIAL, f"Page {i} of {n}"):
            problems.expect(furniture in text, f"{doc.name} p{i}: header/footer {furniture!r} missing")
    kinds = {b[0] for b in doc.blocks}
    problems.expect({"h1", "h2", "table"} <= kinds and kinds & {"bullets", "numbers"},
                    f"{doc.name}: needs headings, sub-headings, a table and a list")


def check_docx(doc: Doc, problems: Problems) -> None:
    """Core title, heading/list/table styles, header and footer."""
    from docx import Document

    d = Document(str(OUT / doc.path))
    problems.expect(d.core_properties.title == doc.title, f"{doc.name}: core_properties.title")
    styles = [p.style.name for p in d.paragraphs]
    problems.expect(styles.count("Heading 1") >= 4, f"{doc.name}: fewer than 4 Heading 1 sections")
    problems.expect("Heading 2" in styles, f"{doc.name}: no Heading 2")
    problems.expect("List Bullet" in styles and "List Number" in styles,
                    f"{doc.name}: needs bulleted and numbered lists")
    problems.expect(len(d.tables) >= 1 and all(t.style.name == "Table Grid" for t in d.tables),
                    f"{doc.name}: tables")
    sec = d.sections[0]
    problems.expect(sec.header.paragraphs[0].text.strip() and CONFIDENTIAL in sec.footer.paragraphs[0].text,
                    f"{doc.name}: header/footer")


def check_files(lib: Library, problems: Problems) -> None:
    """Every document exists; structured ones pass their format's checks, verbatim ones equal the source."""
    for doc in lib.docs:
        if not (OUT / doc.path).exists():
            problems.append(f"missing {doc.path}")
        elif doc.kind == "pdf":
            check_pdf(doc, problems)
        else:
            check_docx(doc, problems)
    for f in lib.files:
        path = OUT / f.path
        problems.expect(path.exists() and path.read_bytes() == f.data,
                        f"{f.path}: missing or stale: run tools/sample_docs/render.py")


def check_current(lib: Library, problems: Problems) -> None:
    """The committed PDFs/DOCX read like a fresh rendering, and long paragraphs flow across page breaks."""
    from docx import Document

    try:
        import reportlab  # noqa: F401
    except ImportError:
        log.warning("reportlab not installed: skipping the layout/staleness check of the PDFs")
    else:
        for doc in lib.of_kind("pdf"):
            data, info = render_pdf(doc)
            problems.expect(info["flowed_paragraphs"], f"{doc.name}: no paragraph flows across a page break")
            fresh = [_norm(t) for t in pdf_pages(io.BytesIO(data))]
            on_disk = [_norm(t) for t in pdf_pages(OUT / doc.path)]
            problems.expect(fresh == on_disk, f"{doc.name} is stale: run tools/sample_docs/render.py")
    for doc in lib.of_kind("docx"):
        fresh = Document(io.BytesIO(render_docx(doc)))
        on_disk = Document(str(OUT / doc.path))
        problems.expect([p.text for p in fresh.paragraphs] == [p.text for p in on_disk.paragraphs],
                        f"{doc.name} is stale: run tools/sample_docs/render.py")


def check_questions(questions: list[dict], keys: dict[str, dict], lib: Library, problems: Problems) -> None:
    """questions.jsonl is well formed and consistent with the documents and answer_keys.jsonl."""
    ids = [q.get("id") for q in questions]
    problems.expect(len(ids) == len(set(ids)), "duplicate question ids")
    answerable = [q for q in questions if q.get("answerable") is True]
    unanswerable = [q for q in questions if q.get("answerable") is False]
    problems.expect(len(answerable) + len(unanswerable) == len(questions),
                    "every question needs answerable: true or false")
    problems.expect(len(questions) >= 36 and len(answerable) >= 30 and len(unanswerable) >= 6, "question counts")
    problems.expect(sum("follow_up_of" in q for q in questions) >= 2, "need 2 follow-up questions")
    paths = lib.paths()
    for i, q in enumerate(questions):
        _check_row(q, paths, problems)
        if "follow_up_of" in q:
            problems.expect(q["follow_up_of"] in ids[:i], f"{q['id']}: follow_up_of must be earlier")
    for q in unanswerable:
        problems.expect(q.get("sources") == [] and q.get("answer") == "",
                        f"{q['id']}: unanswerable needs no sources/answer")
    cited = {s["name"] for q in answerable for s in q.get("sources", [])}
    problems.expect(cited == set(paths), f"files without questions: {sorted(set(paths) - cited)}")
    by_id = {q["id"]: q for q in answerable}
    for qid, entry in keys.items():
        if qid not in by_id:
            problems.append(f"answer_keys.jsonl: {qid} is not an answerable question")
            continue
        names = {s["name"] for s in by_id[qid]["sources"]}
        for name in entry.get("source_keys", {}):
            problems.expect(name in names, f"answer_keys.jsonl: {qid} does not cite {name}")


def _check_row(q: dict, paths: dict[str, str], problems: Problems) -> None:
    """Fields and types of one question, and the page/heading form of each source."""
    qid = q.get("id")
    problems.expect(isinstance(q.get("question"), str) and q["question"], f"{qid}: no question text")
    problems.expect(isinstance(q.get("answer"), str), f"{qid}: answer must be a string")
    problems.expect(set(q) <= FIELDS, f"{qid}: unknown fields {sorted(set(q) - FIELDS)}")
    for src in q.get("sources", []):
        name = src.get("name")
        if name not in paths:
            problems.append(f"{qid}: cites unknown file {name!r}")
        elif name.endswith(".pdf"):
            problems.expect(set(src) == {"name", "page"} and isinstance(src["page"], int),
                            f"{qid}: {name} needs a page")
        else:
            needs_heading = name.endswith((".docx", ".md"))
            problems.expect(set(src) == {"name", "page", "heading"} and src["page"] is None
                            and isinstance(src["heading"], str) == needs_heading,
                            f"{qid}: {name} needs page null and " + ("a heading" if needs_heading else "heading null"))


def check_answers(questions: list[dict], keys: dict[str, dict], lib: Library, problems: Problems) -> None:
    """Every key phrase of every answerable question occurs on each page/section it cites."""
    paths, cache = lib.paths(), {}
    for q in questions:
        if q.get("answerable") is not True:
            continue
        problems.expect(q.get("sources"), f"{q['id']}: no sources")
        entry = keys.get(q["id"], {})
        texts: list[str] = []
        for src in q.get("sources", []):
            if src.get("name") not in paths:
                continue  # reported by check_questions
            phrases = entry.get("source_keys", {}).get(src["name"]) or entry.get("key") or [q["answer"]]
            try:
                text = _norm(source_text(src, paths, cache))
            except (AssertionError, IndexError, KeyError) as exc:
                problems.append(f"{q['id']}: {exc!r}")
                continue
            where = f"page {src['page']}" if src.get("page") else src.get("heading")
            for k in phrases:
                problems.expect(_norm(k) in text, f"{q['id']}: {k!r} not in {src['name']} {where}")
            texts.append(text)
        # "value": the short answer `kb eval` looks for in an answer; some form of it is on a cited page
        values = q.get("value", [])
        problems.expect(isinstance(values, list) and all(isinstance(v, str) and v for v in values),
                        f"{q['id']}: value must be a list of strings")
        if values and texts:
            problems.expect(any(_norm(v) in t for v in values for t in texts),
                            f"{q['id']}: none of the values {values} is on a cited page")


def check() -> int:
    """Run every check on sample_docs/; prints the problems and a summary, returns the exit status."""
    problems = Problems()
    lib = load_library()
    questions, keys = load_questions(), load_answer_keys()
    check_files(lib, problems)
    check_questions(questions, keys, lib, problems)
    check_answers(questions, keys, lib, problems)
    check_current(lib, problems)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    problems.expect(total < SIZE_LIMIT, f"sample_docs is {total} bytes (limit 2 MB)")
    for p in problems:
        print("FAIL:", p)
    n_answerable = sum(q.get("answerable") is True for q in questions)
    print(f"checked {len(lib.docs) + len(lib.files)} documents, {len(questions)} questions "
          f"({n_answerable} answerable): {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


# --- helpers for writing questions and changing the renderer ---------------------------------------------


def locate(phrase: str) -> None:
    """Print every page/section where ``phrase`` occurs (to help write questions)."""
    needle = _norm(phrase)
    for name, rel in sorted(load_library().paths().items()):
        content = _read(rel)
        if rel.endswith(".pdf"):
            for i, t in enumerate(content, start=1):
                if needle in _norm(t):
                    print(f"{name} page {i}")
        elif rel.endswith((".docx", ".md")):
            for h, t in content:
                if needle in _norm(t):
                    print(f"{name} heading {h!r}")
        elif needle in _norm(content):
            print(name)


def reader_view(path: Path) -> dict:
    """What a reader (or the ingester) gets from a document, for comparing two renderings.

    PDF: metadata title, page texts, outline (depth, title, page); DOCX: core title, (style, text) of every
    paragraph, table cells, header/footer text; anything else: the bytes.
    """
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        r = PdfReader(str(path))
        outline = [(depth, o.title, r.get_destination_page_number(o) + 1) for depth, o in _flatten(r.outline)]
        return {"title": (r.metadata or {}).get("/Title"), "pages": [p.extract_text() for p in r.pages],
                "outline": outline}
    if path.suffix == ".docx":
        from docx import Document

        d = Document(str(path))
        sec = d.sections[0]
        return {"title": d.core_properties.title,
                "paragraphs": [(p.style.name, p.text) for p in d.paragraphs],
                "tables": [[[c.text for c in row.cells] for row in t.rows] for t in d.tables],
                "furniture": [sec.header.paragraphs[0].text, sec.footer.paragraphs[0].text]}
    return {"bytes": path.read_bytes()}


def compare(other: Path) -> int:
    """Compare every document in sample_docs/ with the same file under ``other``; returns the exit status."""
    different = 0
    for rel in sorted(load_library().paths().values()):
        mine, theirs = OUT / rel, other / rel
        if not theirs.exists():
            print(f"{rel}: missing in {other}")
            different += 1
        elif mine.read_bytes() == theirs.read_bytes():
            print(f"{rel}: identical bytes")
        else:
            a, b = reader_view(mine), reader_view(theirs)
            changed = [k for k in a if a[k] != b[k]]
            different += bool(changed)
            print(f"{rel}: " + (f"DIFFERENT {', '.join(changed)}" if changed else "reads the same (bytes differ)"))
    return 1 if different else 0


def main(argv: list[str] | None = None) -> int:
    """Command line: run the checks, or --locate a phrase, or --compare with another folder."""
    ap = argparse.ArgumentParser(description="Check sample_docs/ and sample_docs/questions.jsonl "
                                             "(exit status 1 if anything is wrong).")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--locate", metavar="PHRASE", help="print where a phrase occurs in sample_docs/")
    group.add_argument("--compare", metavar="DIR", type=Path,
                       help="compare the documents in sample_docs/ with those in DIR (e.g. a copy made before "
                            "changing the renderer): page texts, outline, titles, DOCX paragraphs and tables")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if args.locate:
        locate(args.locate)
        return 0
    if args.compare:
        return compare(args.compare)
    return check()


if __name__ == "__main__":
    sys.exit(main())
