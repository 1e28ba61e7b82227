"""``kb ask`` and ``kb eval``: answers with verified citations, and how good they are on a gold file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb.cli.common import (Spinner, admin_option, batch_file, emit, index_option, json_option, open_kb, print_hits,
                           progress_bar, reader, run_batch, show_progress, user_option)
from kb.text.questions import check_question


@click.command()
@click.argument("question", required=False)
@index_option
@json_option
@batch_file("question")
@user_option
@admin_option
@click.pass_context
def ask(ctx, question, index, as_json, batch, username, as_admin):
    """Answer QUESTION from the documents, with verified citations (or say the documents do not cover it).

    A blank question, one without a letter or digit, or one longer than setting max_question_chars is refused
    with exit status 2 before anything is searched."""
    if (question is None) == (batch is None):
        raise click.UsageError("give either QUESTION or --batch FILE")
    kb = open_kb(ctx, index)
    if question is not None:
        question = check_question(question, kb.settings)  # refused before the models load (exit status 2)
    user = reader(kb, username, as_admin)
    spinner = Spinner("Loading models…")  # 20-60 s on a small CPU before the first word: say so on a terminal
    if spinner.enabled and not as_json:
        with spinner:
            kb.warm_up()
    if batch is not None:
        def answer_line(line):
            answer = kb.ask(line.text, user=user)
            if as_json:
                emit({"id": line.id, **answer.to_json()})
            else:
                click.echo(f"# {line.id}: {line.text}")
                print_answer(answer)

        run_batch(ctx, batch, "question", "question", kb.settings, as_json, answer_line)
        return
    if as_json:
        emit(kb.ask(question, user=user).to_json())
        return
    answer = kb.ask(question, on_text=lambda text: click.echo(text + " ", nl=False), user=user)
    click.echo()
    print_answer(answer, text=False)


@click.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@index_option
@json_option
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write the full report as JSON here.")
@click.option("--stages", is_flag=True, help="Run the questions with each of the judge's stages on and off "
              "(baseline, judge, no-rerank, no-decide, no-quote, no-verify) and compare the summaries.")
@click.pass_context
def eval_(ctx, gold, index, as_json, output, stages):
    """Evaluate retrieval, answers, citations and refusals on a GOLD.jsonl file.

    Lines are {"question","answer","sources":[{"name","page"}],"answerable","value"} or {"question","truth"}
    with the truth ending in [file.pdf#page=N] citations.
    """
    from kb.answering.evaluate import format_table, format_variants

    kb = open_kb(ctx, index)
    bar = progress_bar(show_progress(None))
    on_progress = (lambda d, t: bar("questions", d, t)) if bar else None
    if stages:
        report = kb.evaluate_stages(gold, progress=on_progress)
        if output:
            output.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
        if as_json:
            emit(report)
        else:
            click.echo(format_variants(report["variants"]))
        return
    report = kb.evaluate(gold, output, progress=on_progress)
    if as_json:
        emit(report)
    else:
        click.echo(format_table(report["summary"]))


def print_answer(answer, text: bool = True) -> None:
    likely = answer.grade == "likely"  # the reader is unsure: a passage that may answer, not a checked answer
    if text:
        click.echo(("This passage may answer your question: " if likely else "") + answer.text)
    elif likely:
        click.echo("\n  (this passage may answer your question; the answer is not certain)")
    for c in answer.citations:
        where = c.name + (f" p.{c.page}" if c.page else "") + (f" — {c.heading}" if c.heading else "")
        click.echo(f"  [{c.n}] {where}: “{c.quote}”")
    if answer.refused:
        print_hits(answer.hits)
    click.echo(f"  ({answer.mode}, {answer.timings.get('total', 0):.1f} s)", err=True)


COMMANDS = (ask, eval_)
