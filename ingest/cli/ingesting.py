"""The commands that ingest: url (given URLs), poll (one pass over the due sources), schedule (forever)."""

from __future__ import annotations

import json

import click

from ..records import State
from . import configured_sources, guard, main, read_sources, run_for, settings_from, with_current_model
from .report import Report, report_learned
from .typed import given_urls


@main.command("url")
@click.argument("urls", nargs=-1)
@click.option("-i", "--input", "input_file", type=click.File("rb"),
              help="Read URLs from a file, one a line, '# comments' allowed ('-' for stdin).")
@click.option("-o", "--output", metavar="DIR", help="Write notes to DIR instead of output_dir.")
@click.option("--dry-run", is_flag=True, help="Print the note; write nothing, record nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per URL on stdout.")
@click.option("--force", is_flag=True, help="Fetch again; a known note gets NAME.reextracted.md beside it "
              "(status: reextracted, not new work).")
@click.option("--explain", is_flag=True, help="Show the top signals behind each guessed field (on stderr).")
@click.pass_context
def url_command(ctx, urls, input_file, output, dry_run, as_json, force, explain):
    """Archive one or more article URLs as source notes.

    Prints one line per URL: `created PATH`, `duplicate URL (archived as PATH)` or
    `failed URL: REASON`. Exit 0 when every URL was created or a duplicate, 1 when any failed, 2
    when the settings or the note template are at fault. Ctrl-C starts no new URL, lets those in
    flight finish, and exits 130.
    With --explain, each guessed field (domain, secondary domains, format, priority, tags) is
    followed by the signals behind it; with --json they are the record's "explain".
    """
    given = given_urls(urls, input_file)  # a URL may leave out https://, a line may end with a # comment
    if not given:
        raise click.UsageError("give at least one URL, or -i FILE")
    settings = settings_from(ctx, output_dir=output)
    from ..pipeline import Job, all_known, ingest_many
    from ..runtime import stop_on_signals

    with (run_for(settings, dry_run=dry_run, force=force, explain=explain) as run,
          Report(as_json, dry_run, len(given), guesses=run.guesses if explain else None) as report):
        _catch_up(run)
        if force or not guard(lambda: all_known(run, given)):  # the model is only needed for new notes
            run = with_current_model(run)
        with stop_on_signals(run) as interrupted:
            outcomes = guard(lambda: list(ingest_many(run, [Job(u) for u in given], on_done=report.outcome)))
    _exit_if_interrupted(ctx, interrupted.signum, outcomes, "run the command again for them")
    ctx.exit(1 if any(o.status == State.FAILED for o in outcomes) else 0)


def _exit_if_interrupted(ctx, signum: int | None, outcomes, rest: str) -> None:
    """A signal stopped the items: say how many were not started, and exit 128 + the signal."""
    from ..pipeline import STOPPED

    if signum is None:
        return
    not_started = sum(1 for o in outcomes if o.code == STOPPED)
    click.echo(f"ingest: interrupted: {not_started} item(s) not started; {rest}", err=True)
    ctx.exit(128 + signum)


def _catch_up(run) -> None:
    """Before new work: take back what a killed process left, and read the archive's notes."""
    from ..pipeline import recover, sync_archive

    for done in guard(lambda: recover(run)):
        click.echo(f"recovered: {done}", err=True)
    for problem in guard(lambda: sync_archive(run)):
        click.echo(f"warning: {problem}", err=True)


def _source_reporter(settings, report):
    """Print each source's poll; a source that moved permanently gets its new URL in the file too."""
    from ..sources import set_source_url

    def on_source(source_report):
        if source_report.moved_to:
            guard(lambda: set_source_url(settings.sources_path, source_report.name, source_report.moved_to))
        report.source(source_report)

    return on_source


@main.command("poll")
@click.option("-s", "--source", "names", multiple=True, metavar="NAME",
              help="Poll this source, due or not (repeatable).")
@click.option("--all", "every_source", is_flag=True, help="Poll every enabled source now.")
@click.option("-o", "--output", metavar="DIR", help="Write notes to DIR instead of output_dir.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per source, one per item.")
@click.pass_context
def poll_command(ctx, names, every_source, output, as_json):
    """One pass over the sources that are due (or those named, or all).

    New entries become notes; a source's first poll ingests only its `backfill` newest entries.
    Exit 1 when a source or an item failed, 2 when the settings or the note template are at fault.
    Ctrl-C starts no new item, lets those in flight finish, and exits 130 (the rest stay queued).
    """
    settings = settings_from(ctx, output_dir=output)
    from ..poll import choose_sources, poll
    from ..runtime import stop_on_signals

    configured = configured_sources(settings)
    with run_for(settings, dry_run=False, force=False) as run, Report(as_json) as report:
        _catch_up(run)
        run = with_current_model(run)
        states = guard(lambda: choose_sources(run, configured, names=list(names), every_source=every_source))
        on_source = _source_reporter(settings, report)
        with stop_on_signals(run) as interrupted:
            summary = guard(lambda: poll(run, configured, states, on_source=on_source, on_outcome=report.outcome,
                                          due_only=not (names or every_source)))
    failed_items = summary.count(State.FAILED)
    line = (f"polled {len(summary.sources)} source(s): {summary.count(State.CREATED)} new note(s), "
            f"{summary.count(State.DUPLICATE)} duplicate(s), {failed_items} failed item(s), "
            f"{len(summary.failed_sources)} failed source(s)")
    if as_json:
        click.echo(json.dumps({"summary": line}))
    else:
        click.echo(line)
    _exit_if_interrupted(ctx, interrupted.signum, summary.outcomes, "they stay queued for the next poll")
    ctx.exit(1 if failed_items or summary.failed_sources else 0)


@main.command("schedule")
@click.option("-o", "--output", metavar="DIR", help="Write notes to DIR instead of output_dir.")
@click.pass_context
def schedule_command(ctx, output):
    """Run forever: poll each source when the ledger says it is due.

    Edits to the sources file apply at the next tick. SIGINT or SIGTERM stops cleanly: work in
    flight finishes, nothing is left half-written.
    """
    settings = settings_from(ctx, output_dir=output)
    from ..schedule import run_forever

    configured_sources(settings)  # a broken sources file is an error at start, a warning later
    with run_for(settings, dry_run=False, force=False) as run:
        report = Report()

        def on_tick(summary, error):
            if error:
                click.echo(f"warning: {error}", err=True)
            elif summary.sources or summary.outcomes:
                click.echo(f"tick: {len(summary.sources)} source(s), {summary.count(State.CREATED)} new note(s)")
            else:
                click.echo("tick: nothing due")

        click.echo(f"scheduling sources from {settings.sources_path} every {settings.tick:g}s; Ctrl-C stops",
                   err=True)
        run_forever(run, lambda: read_sources(settings), on_tick=on_tick,
                    on_learned=lambda learned: report_learned(run, learned),
                    on_source=_source_reporter(settings, report), on_outcome=report.outcome)
        click.echo("stopped", err=True)
