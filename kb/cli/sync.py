"""``kb watch``, ``kb reindex``, ``kb rollback`` and ``kb serve``: the commands that keep an index current."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from kb.cli.common import emit, index_option, json_option, load_settings, progress_bar, progress_option, show_progress
from kb.errors import KBError


class Terminated(KBError):
    """SIGTERM arrived during a one-shot command."""


def _raise_on_sigterm() -> None:
    def handler(signum, frame):
        raise Terminated("stopped by SIGTERM; the current index version stays in use")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@index_option
@json_option
@click.option("--debounce", type=click.FloatRange(0), default=None,
              help="Seconds of quiet before a batch runs (default: setting watch_debounce_s).")
@click.option("--stable", type=click.FloatRange(0), default=None,
              help="Seconds a file's size and mtime must stay unchanged (default: setting watch_stable_s).")
@click.pass_context
def watch(ctx, folder, index, as_json, debounce, stable):
    """Keep the index in step with FOLDER (default: setting docs_dir) until Ctrl-C or SIGTERM.

    First catches up on what changed while nothing was watching, then indexes new and edited files once
    they are completely written, re-uses embeddings of renamed files and removes deleted ones. With --json,
    prints one JSON line per batch.
    """
    from kb.knowledge_base import KnowledgeBase
    from kb.sync.watch import FolderWatcher

    settings = load_settings(ctx, index, docs_dir=folder, watch_debounce_s=debounce, watch_stable_s=stable)

    def show(batch) -> None:
        if as_json:
            emit(batch.to_json())
        elif batch.error:
            click.echo(f"error: {batch.error}", err=True)
        elif (r := batch.report).indexed or r.removed or r.deferred or batch.reason == "start":
            click.echo(f"{batch.reason}: indexed {len(r.indexed)}, removed {len(r.removed)}, unchanged "
                       f"{len(r.unchanged)}, skipped {len(r.skipped)}, waiting for {len(r.deferred)} "
                       f"-> {r.version} ({batch.seconds:.1f} s)")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    watcher = FolderWatcher(KnowledgeBase(settings).writer(), settings.docs_dir, on_batch=show).start()
    if not as_json:
        click.echo(f"watching {watcher.folder} -> {Path(settings.index_dir).resolve()} (Ctrl-C to stop)", err=True)
    try:
        while not stop.wait(0.5):
            if not watcher.alive:
                raise KBError("the watcher stopped unexpectedly; see the log")
    finally:
        watcher.stop()


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@index_option
@json_option
@click.option("--wait", is_flag=True, help="If another writer holds the index, wait for it instead of failing.")
@click.option("--rebuild", is_flag=True, help="Rebuild every file into the new version (not only changes).")
@click.option("--force", is_flag=True, help="Swap the new version in even if the gold file says it is worse.")
@progress_option
@click.pass_context
def reindex(ctx, folder, index, as_json, wait, rebuild, force, progress):
    """Reconcile the index with FOLDER (default: setting docs_dir) into a new version: the nightly job.

    New, changed, deleted and renamed files are handled; the current version keeps serving until the new
    one is swapped in. A changed embedding model or chunking rebuilds everything. With gold_file set, a new
    version that is worse than the current one by more than reindex_max_drop is not swapped in (exit 3).
    Every run writes a report to <index>/reports/. Exit 0: published or unchanged; 1: error or locked.
    """
    from kb.knowledge_base import KnowledgeBase
    from kb.sync.reindex import reindex as run

    _raise_on_sigterm()
    writer = KnowledgeBase(load_settings(ctx, index)).writer()
    report = run(writer, folder, wait=wait, force=force, rebuild=rebuild,
                 progress=progress_bar(show_progress(progress, as_json, lines=True))).to_json()
    if as_json:
        emit(report)
    else:
        c, d = report["counts"], report["durations"]
        click.echo(f"{report['status']}: {report['version_before']} -> {report['version_after']}: new {c['new']}, "
                   f"changed {c['changed']}, removed {c['removed']}, renamed {c['renamed']}, unchanged "
                   f"{c['unchanged']}, skipped {c['skipped']}; {c['documents']} documents, {c['chunks']} chunks "
                   f"in {d['total_seconds']:.1f} s")
        if report["rebuild_reason"]:
            click.echo(f"  full rebuild: {report['rebuild_reason']}")
        for failure in report["failures"]:
            click.echo(f"  skipped {failure['path']}: {failure['reason']}")
        if report["gate"]:
            click.echo(f"  gold gate: {'passed' if report['gate']['passed'] else 'FAILED'} "
                       f"({report['gate']['reason']})")
    if report["status"] == "rejected":
        ctx.exit(3)


@click.command()
@index_option
@json_option
@click.option("--force", is_flag=True, help="Roll back even if the previous version needs other settings.")
@click.option("--wait", is_flag=True, help="If another writer holds the index, wait for it.")
@click.pass_context
def rollback(ctx, index, as_json, force, wait):
    """Make the previous kept index version the one in use again (readers switch without a restart).

    The next reindex or watcher batch reconciles from it again, so fix what was wrong first.
    """
    from kb.knowledge_base import KnowledgeBase
    from kb.sync.reindex import rollback as run

    result = run(KnowledgeBase(load_settings(ctx, index)).writer(), force=force, wait=wait)
    if as_json:
        emit(result)
    else:
        click.echo(f"rolled back {result['index']} from {result['from']} to {result['to']}")


@click.command()
@index_option
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Watched documents folder (default: setting docs_dir).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="Web app port.")
@click.option("--address", default="0.0.0.0", show_default=True, help="Web app address to listen on.")
@click.option("--app/--no-app", default=True, help="Run the web app.")
@click.option("--watch/--no-watch", default=True, help="Watch the documents folder.")
@click.option("--schedule/--no-schedule", default=True, help="Run the nightly reindex (setting reindex_schedule).")
@click.option("--app-path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Streamlit script of the web app (default: ui/server.py of this installation: the pages "
                   "behind the download guard).")
@click.pass_context
def serve(ctx, index, folder, port, address, app, watch, schedule, app_path):
    """Run the web app, the folder watcher and the nightly reindex together; stop cleanly on SIGTERM.

    Logs go to the setting log_file (default <index>/kb-serve.log) and stderr.
    """
    from kb.sync.service import ServeOptions, Service, configure_logging

    settings = load_settings(ctx, index, docs_dir=folder)
    path = configure_logging(settings)
    click.echo(f"kb serve: logging to {path}", err=True)
    options = ServeOptions(port=port, address=address, app=app, watch=watch, schedule=schedule,
                           app_path=app_path, config_file=ctx.obj["config"])
    ctx.exit(Service(settings, options).run())


COMMANDS = (watch, reindex, rollback, serve)
