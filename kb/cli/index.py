"""``kb ingest``, ``kb search`` and ``kb status``: build the index, search it, see what it holds."""

from __future__ import annotations

from pathlib import Path

import click

from kb.cli.common import (
    admin_option,
    batch_file,
    emit,
    index_option,
    json_option,
    open_kb,
    print_hits,
    progress_bar,
    progress_option,
    reader,
    run_batch,
    show_progress,
    user_option,
)
from kb.text.questions import check_question


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@json_option
@click.option("--rebuild", is_flag=True, help="Ignore the current index and build a new one from PATHS.")
@progress_option
@click.pass_context
def ingest(ctx, paths, index, as_json, rebuild, progress):
    """Index PDF, DOCX, TXT and MD files under PATHS (new and changed files; removes deleted ones)."""
    kb = open_kb(ctx, index)
    report = kb.ingest(paths, rebuild=rebuild, progress=progress_bar(show_progress(progress, as_json, lines=True)))
    if as_json:
        emit(report.to_json())
        return
    counts = report.to_json()["counts"]
    click.echo(f"indexed {counts['indexed']}, unchanged {counts['unchanged']}, removed {counts['removed']}, "
               f"skipped {counts['skipped']} ({counts['chunks_added']} new chunks) in "
               f"{report.total_seconds:.1f} s -> {kb.folder.root} {report.version}")
    for skip in report.skipped:
        click.echo(f"  skipped {skip.path}: {skip.reason}")


@click.command()
@click.argument("query", required=False)
@index_option
@json_option
@click.option("-k", "k", type=click.IntRange(1, 1000), default=5, show_default=True, help="Number of hits.")
@batch_file("query")
@click.option("--rerank/--no-rerank", default=None, help="Rerank the fused candidates with the judge (default: "
              "setting rerank).")
@user_option
@admin_option
@click.pass_context
def search(ctx, query, index, as_json, k, batch, rerank, username, as_admin):
    """Search the index for QUERY (hybrid: dense vectors + BM25, fused, reranked by the judge)."""
    if (query is None) == (batch is None):
        raise click.UsageError("give either QUERY or --batch FILE")
    kb = open_kb(ctx, index, rerank=rerank)
    if query is not None:
        query = check_question(query, kb.settings, "search query")  # refused as typed: exit status 2
    user = reader(kb, username, as_admin)
    if batch is not None:
        def search_line(line):
            hits = kb.search(line.text, k, user=user)
            if as_json:
                emit({"id": line.id, "hits": [h.to_json() for h in hits]})
            else:
                click.echo(f"# {line.id}: {line.text}")
                print_hits(hits)

        run_batch(ctx, batch, "query", "search query", kb.settings, as_json, search_line)
        return
    hits = kb.search(query, k, user=user)
    if as_json:
        emit({"query": query, "hits": [h.to_json() for h in hits]})
    else:
        print_hits(hits)


@click.command()
@index_option
@json_option
@click.pass_context
def status(ctx, index, as_json):
    """Show what the index holds: documents, chunks, pages, skipped files with reasons, model, size."""
    info = open_kb(ctx, index).status()
    if as_json:
        emit(info)
        return
    click.echo(f"index      {info['index']} ({info['version']}, built {info['created_at']})")
    click.echo(f"documents  {info['documents']}   chunks {info['chunks']}   pages {info['pages']}")
    click.echo(f"model      {info['embedding_model']} ({info['embedding_backend']} backend, dim {info['dimension']}), "
               f"chunking {info['chunking']}")
    click.echo(f"size       {info['size_bytes'] / 1e6:.1f} MB")
    click.echo(f"skipped    {len(info['skipped'])}")
    for skip in info["skipped"]:
        click.echo(f"  {skip['path']}: {skip['reason']}")
    for item in info["warnings"]:
        click.echo(f"  warning {item['path']}: {'; '.join(item['warnings'])}")
    if info.get("vectors_pending"):
        click.echo(f"vectors pending  {len(info['vectors_pending'])} file(s), searchable by keyword until embedded")
        for path in info["vectors_pending"]:
            click.echo(f"  {path}")
    access = info["access"]
    if access["rules"]:
        click.echo(f"access     {access['rules']}: {len(access['problems'])} problem(s)")
    for problem in access["problems"]:
        click.echo(f"  {problem['severity']}: {problem['message']}")


COMMANDS = (ingest, search, status)
