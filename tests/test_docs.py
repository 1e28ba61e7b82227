"""The README and the guides under docs/ stay true: the configuration reference is the one generated from
``Settings``, every link resolves, every ``kb`` command they show exists with the options they give it, every
``python -m`` module and script they name exists, and the cheap commands run for real on a small index built
with the deterministic hashed embedder (this is about the commands, not about answer quality)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _commands(kinds=("bash", "sh", "")) -> list[tuple[Path, str]]:
    """Every command line of the fenced shell blocks, comments and continuation lines joined."""
    out = []
    for doc in DOCS:
        for kind, body in _FENCE.findall(doc.read_text(encoding="utf-8")):
            if kind not in kinds:
                continue
            for line in body.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].split(" # ")[0].strip()
                if line and not line.startswith("#"):
                    out.append((doc, line))
    return out


def _words(line: str) -> list[str]:
    words = shlex.split(line.split("<")[0].split(">>")[0].split("|")[0])
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before the command
        words.pop(0)
    return words


def test_the_readme_is_short_and_links_every_guide():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for guide in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{guide.name}" in text, f"the README does not link {guide.name}"
    assert "scripts/run.sh" in text and "scripts/test.sh" in text


def test_the_configuration_reference_is_generated_from_the_settings():
    from kb.settings import Settings
    from tools.settings_reference import MEANING, TARGET, groups, render

    assert TARGET.read_text(encoding="utf-8") == render(), \
        "docs/configuration.md is stale: run python -m tools.settings_reference"
    listed = [f for g in groups() for f in g.fields]
    assert [f.name for f in listed] == [f.name for f in dataclasses.fields(Settings)]
    assert not [f.name for f in listed if not f.meaning], "a setting has no meaning: comment it in kb/settings.py"
    assert set(MEANING) <= {f.name for f in listed}


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_resolves(doc):
    for target in _LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name} links {target}: no such file"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{doc.name} links {target}: no such heading"


def _kb_command(words: list[str]) -> click.Command:
    from kb.cli import main

    command: click.Command = main
    for word in words[1:]:
        if not isinstance(command, click.Group) or word.startswith("-"):
            break
        if word in command.commands:
            command = command.commands[word]
        else:
            break
    return command


def test_every_kb_command_shown_exists_with_the_options_shown():
    shown = [(doc, line) for doc, line in _commands() if _words(line)[:1] == ["kb"]]
    assert len(shown) > 20
    for doc, line in shown:
        words = _words(line)
        command = _kb_command(words)
        assert command.name != "main" or len(words) == 1, f"{doc.name}: `{line}`: no such kb command"
        options = {o for p in command.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
        options |= {"--help", "-h", "--config", "-v", "-vv"}
        for word in words:
            flag = word.split("=")[0]
            if flag.startswith("-") and flag not in ("-", "--") and not re.fullmatch(r"-\d.*", flag):
                assert flag in options, f"{doc.name}: `{line}`: {command.name} has no option {flag}"


def test_every_module_and_script_shown_exists():
    for doc, line in _commands():
        words = _words(line)
        if words[:1] and words[0].endswith("python") and words[1:2] == ["-m"]:
            module = words[2]
            assert importlib.util.find_spec(module) is not None, f"{doc.name}: `{line}`: no module {module}"
        elif words[:1] and words[0].startswith("scripts/"):
            script = ROOT / words[0]
            assert script.is_file() and script.stat().st_mode & 0o111, f"{doc.name}: `{line}`: no script {script}"


def test_every_bench_command_shown_accepts_its_options():
    import contextlib
    import io

    seen = set()
    for doc, line in _commands():
        words = _words(line)
        if not (words[:1] and words[0].endswith("python") and words[1:3] and words[2].startswith("bench")):
            continue
        module = importlib.import_module(words[2]) if words[2] not in seen else importlib.import_module(words[2])
        seen.add(words[2])
        if not hasattr(module, "parse_args"):
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
            module.parse_args(["--help"])
        assert exit_.value.code == 0
        for word in words[3:]:
            if word.startswith("--"):
                assert word.split("=")[0] in out.getvalue(), f"{doc.name}: `{line}`: {words[2]} has no {word}"


def test_the_readmes_own_commands_run_on_a_small_index(tmp_path, monkeypatch, sample_docs):
    """``kb ingest``, ``kb status``, ``kb search``, ``kb ask`` and ``kb users`` exactly as the README writes them,
    with its folders pointing at a copy of two sample documents and the hashed embedder, judge off."""
    from click.testing import CliRunner

    from kb.cli import main
    from kb.embedding import HASHED_MODEL

    docs = tmp_path / "company-docs"
    (docs / "hr").mkdir(parents=True)
    shutil.copy(sample_docs / "hr" / "leave_policy.pdf", docs / "hr")
    shutil.copy(sample_docs / "general" / "office_facilities_guide.md", docs)
    index = tmp_path / "indexes" / "sample"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_EMBEDDING_MODEL", HASHED_MODEL)
    monkeypatch.setenv("KB_JUDGE_MODEL", "")
    monkeypatch.setenv("KB_SPELLING_CORRECTION", "false")
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(docs), "--index", str(index), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ran = 0
    for doc, line in _commands():
        words = _words(line)
        if doc.name != "README.md" or words[:2] not in (["kb", "search"], ["kb", "status"], ["kb", "ask"],
                                                          ["kb", "users"]):
            continue
        words = [str(index) if w in ("indexes/sample", "indexes/company") else w for w in words]
        result = runner.invoke(main, words[1:], input="a long enough password\na long enough password\n")
        assert result.exit_code == 0, f"`{line}` -> {result.exit_code}: {result.output}"
        ran += 1
    assert ran >= 4 and "kb ask" in readme
