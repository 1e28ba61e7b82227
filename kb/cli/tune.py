"""``kb tune``: fine-tune the judge on this company's documents, gold questions and feedback."""

from __future__ import annotations

from pathlib import Path

import click

from kb.cli.common import emit, index_option, json_option, open_kb


@click.command()
@index_option
@json_option
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="kb eval gold file: half its questions are learned from, the other half judge the result.")
@click.option("--budget-minutes", type=click.FloatRange(0.1), default=30.0, show_default=True,
              help="Training time budget (the run stops with what it has learned by then).")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the training checkpoint here (running the same command again resumes it).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pairs, the split and training.")
@click.pass_context
def tune(ctx, index, as_json, gold, budget_minutes, work, seed):
    """Fine-tune the judge on the index's own documents (no labels needed), GOLD questions and the 👍/👎
    feedback in the app store; adopt it into a new index version only if held-out figures improve.

    With GOLD questions it then tunes the embedding model the same way (re-embedding the index into a new
    version, adopted only if the held-out questions' retrieval improves).

    Exit status 0 when a model was adopted, 3 when the gate rejected both (nothing changes), 1 on an error.
    """
    report = open_kb(ctx, index).tune(gold, budget_minutes, work, seed)
    if as_json:
        emit(report.to_json())
    else:
        click.echo(f"{report.status}: {report.reason}")
        click.echo("pairs: " + ", ".join(f"{k} {v}" for k, v in report.pairs.items()))
        click.echo("held out: " + ", ".join(f"{k} {v}" for k, v in report.held_out.items()))
        width = max((len(k) for k in report.before), default=0)
        for key, before in report.before.items():
            click.echo(f"  {key.ljust(width)}  {before:.4f} -> {report.after.get(key, float('nan')):.4f}")
        click.echo(f"trained {report.training.get('pairs', 0)} pairs in {report.training.get('trained_seconds', 0)} s; "
                   f"{report.version_before} -> {report.version_after or '(unchanged)'}")
        if report.embedder:
            emb = report.embedder
            click.echo(f"embedder {emb['status']}: {emb.get('reason', '')}")
            for key, before in emb.get("before", {}).items():
                click.echo(f"  {key.ljust(width)}  {before:.4f} -> {emb.get('after', {}).get(key, float('nan')):.4f}")
    if "adopted" not in (report.status, report.embedder.get("status")):
        ctx.exit(3)


COMMANDS = (tune,)
