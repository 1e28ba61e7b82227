"""The ``kb`` command. Output with ``--json`` is a stable, machine-readable contract."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Callable

import click

from kb.errors import KBError

log = logging.getLogger("kb")


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "faiss", "bm25s", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _open(ctx: click.Context, index: Path | None):
    from kb.knowledge_base import KnowledgeBase
    from kb.settings import Settings

    settings = Settings.load(ctx.obj["config"], index_dir=index)
    return KnowledgeBase(settings)


def _emit(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def _progress_bar(enabled: bool) -> Callable[[str, int, int], None] | None:
    """A progress callback drawing one tqdm bar per stage on stderr."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    labels = {"parse": "parsing files", "index": "building index"}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="file" if stage == "parse"
                                     else "step", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KBError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


index_option = click.option("--index", "index", type=click.Path(path_type=Path), default=None,
                             help="Index folder (default: setting index_dir, indexes/default).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="Settings file (default: $KB_CONFIG or ./kb.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """A private, local company knowledge base: ingest documents, search them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from packages or local folders, never a hub
    _setup_logging(verbose)
    ctx.obj = {"config": config}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@json_option
@click.option("--rebuild", is_flag=True, help="Ignore the current index and build a new one from PATHS.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal).")
@click.pass_context
def ingest(ctx, paths, index, as_json, rebuild, progress):
    """Index PDF, DOCX, TXT and MD files under PATHS (new and changed files; removes deleted ones)."""
    kb = _open(ctx, index)
    show = sys.stderr.isatty() if progress is None else progress
    report = kb.ingest(paths, rebuild=rebuild, progress=_progress_bar(show))
    if as_json:
        _emit(report.to_json())
        return
    counts = report.to_json()["counts"]
    click.echo(f"indexed {counts['indexed']}, unchanged {counts['unchanged']}, removed {counts['removed']}, "
               f"skipped {counts['skipped']} ({counts['chunks_added']} new chunks) in "
               f"{report.total_seconds:.1f} s -> {kb.folder.root} {report.version}")
    for skip in report.skipped:
        click.echo(f"  skipped {skip.path}: {skip.reason}")


@main.command()
@click.argument("query", required=False)
@index_option
@json_option
@click.option("-k", "k", type=click.IntRange(1, 1000), default=5, show_default=True, help="Number of hits.")
@click.option("--batch", type=click.File("r"), default=None,
              help='JSONL file (or - for stdin) of {"id", "query"} lines; one output line per input line.')
@click.pass_context
def search(ctx, query, index, as_json, k, batch):
    """Search the index for QUERY (hybrid: dense vectors + BM25, fused)."""
    if (query is None) == (batch is None):
        raise click.UsageError("give either QUERY or --batch FILE")
    kb = _open(ctx, index)
    if batch is not None:
        for number, item in _jsonl(batch, "query"):
            qid, text = item.get("id", number), item["query"]
            hits = kb.search(str(text), k)
            if as_json:
                _emit({"id": qid, "hits": [h.to_json() for h in hits]})
            else:
                click.echo(f"# {qid}: {text}")
                _print_hits(hits)
        return
    hits = kb.search(query, k)
    if as_json:
        _emit({"query": query, "hits": [h.to_json() for h in hits]})
    else:
        _print_hits(hits)


@main.command()
@click.argument("question", required=False)
@index_option
@json_option
@click.option("--batch", type=click.File("r"), default=None,
              help='JSONL file (or - for stdin) of {"id", "question"} lines; one JSON line out per line in.')
@click.pass_context
def ask(ctx, question, index, as_json, batch):
    """Answer QUESTION from the documents, with verified citations (or say the documents do not cover it)."""
    if (question is None) == (batch is None):
        raise click.UsageError("give either QUESTION or --batch FILE")
    kb = _open(ctx, index)
    if batch is not None:
        for number, item in _jsonl(batch, "question"):
            answer = kb.ask(str(item["question"]))
            if as_json:
                _emit({"id": item.get("id", number), **answer.to_json()})
            else:
                click.echo(f"# {item.get('id', number)}: {item['question']}")
                _print_answer(answer)
        return
    if as_json:
        _emit(kb.ask(question).to_json())
        return
    answer = kb.ask(question, on_text=lambda text: click.echo(text + " ", nl=False))
    click.echo()
    _print_answer(answer, text=False)


@main.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@index_option
@json_option
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write the full report as JSON here.")
@click.pass_context
def eval_(ctx, gold, index, as_json, output):
    """Evaluate retrieval, answers, citations and refusals on a GOLD.jsonl file.

    Lines are {"question","answer","sources":[{"name","page"}],"answerable"} or {"question","truth"} with the
    truth ending in [file.pdf#page=N] citations.
    """
    from kb.evaluate import format_table, run_eval

    kb = _open(ctx, index)
    bar = _progress_bar(sys.stderr.isatty())
    report = run_eval(kb, gold, output, progress=(lambda d, t: bar("questions", d, t)) if bar else None)
    if as_json:
        _emit(report)
    else:
        click.echo(format_table(report["summary"]))


def _print_answer(answer, text: bool = True) -> None:
    if text:
        click.echo(answer.text)
    for c in answer.citations:
        where = c.name + (f" p.{c.page}" if c.page else "") + (f" — {c.heading}" if c.heading else "")
        click.echo(f"  [{c.n}] {where}: “{c.quote}”")
    if answer.refused:
        _print_hits(answer.hits)
    click.echo(f"  ({answer.mode}, {answer.timings.get('total', 0):.1f} s)", err=True)


def _jsonl(handle, field: str):
    """(line number, object) for each non-empty line of a JSONL input that has ``field``."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            item[field]
        except (ValueError, KeyError, TypeError):
            raise click.UsageError(f'line {number} of the batch file is not a JSON object with a "{field}" '
                                   "field") from None
        yield number, item


def _print_hits(hits) -> None:
    if not hits:
        click.echo("no matching passages")
    for hit in hits:
        c = hit.chunk
        where = f"{c.name}" + (f" p.{c.page}" if c.page else "") + (f" — {c.heading}" if c.heading else "")
        snippet = " ".join(c.text.split())
        click.echo(f"{hit.rank:>2}. [{hit.score:.4f}] {where}\n    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


@main.command()
@index_option
@json_option
@click.pass_context
def status(ctx, index, as_json):
    """Show what the index holds: documents, chunks, pages, skipped files with reasons, model, size."""
    info = _open(ctx, index).status()
    if as_json:
        _emit(info)
        return
    click.echo(f"index      {info['index']} ({info['version']}, built {info['created_at']})")
    click.echo(f"documents  {info['documents']}   chunks {info['chunks']}   pages {info['pages']}")
    click.echo(f"model      {info['embedding_model']} (dim {info['dimension']}), chunking {info['chunking']}")
    click.echo(f"size       {info['size_bytes'] / 1e6:.1f} MB")
    click.echo(f"skipped    {len(info['skipped'])}")
    for skip in info["skipped"]:
        click.echo(f"  {skip['path']}: {skip['reason']}")
    for item in info["warnings"]:
        click.echo(f"  warning {item['path']}: {'; '.join(item['warnings'])}")


from kb.cli_service import add_service_commands; add_service_commands(main)  # noqa: E402,E702
from kb.cli_users import add_user_commands; add_user_commands(main)  # noqa: E402,E702

if __name__ == "__main__":  # pragma: no cover
    main()
