"""Command line: flags → settings → library calls; every IngestError becomes one line and an exit code.

Exit codes: 0 all done, 1 some item failed, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ConfigError, IngestError


class Fatal(click.ClickException):
    """A whole-command error (config, ledger, output folder): one line on stderr."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"ingest: {self.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar="INGEST_CONFIG",
              help="Settings file (default: ./config/ingest.toml).")
@click.version_option(__version__, prog_name="ingest")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Archive research sources as Markdown source notes with `status: unprocessed`."""
    ctx.obj = {"config": config_path}


def _settings(ctx: click.Context, **overrides):
    from .config import load_settings

    try:
        return load_settings(ctx.obj["config"], overrides=overrides)
    except ConfigError as exc:
        raise Fatal(exc.message) from None


@main.command("url")
@click.argument("urls", nargs=-1)
@click.option("-i", "--input", "input_file", type=click.File("r", encoding="utf-8"),
              help="Read URLs from a file, one a line ('-' for stdin).")
@click.option("-o", "--output", metavar="DIR", help="Write notes to DIR instead of output_dir.")
@click.option("--dry-run", is_flag=True, help="Print the note; write nothing, record nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per URL on stdout.")
@click.option("--force", is_flag=True, help="Fetch again and write a new note beside a known one.")
@click.pass_context
def url_command(ctx, urls, input_file, output, dry_run, as_json, force):
    """Archive one or more article URLs as source notes.

    Prints one line per URL: `created PATH`, `duplicate URL (archived as PATH)` or
    `failed URL: REASON`. Exit 0 when every URL was created or a duplicate, 1 when any failed.
    """
    given = list(urls)
    if input_file is not None:
        given += [line.strip() for line in input_file if line.strip() and not line.lstrip().startswith("#")]
    if not given:
        raise click.UsageError("give at least one URL, or -i FILE")
    settings = _settings(ctx, output_dir=output)
    from .pipeline import Job, ingest_many, sync_archive

    failed = False
    with _open_run(settings, dry_run=dry_run, force=force) as run, Report(as_json, dry_run, len(given)) as report:
        for problem in _guard(lambda: sync_archive(run)):
            click.echo(f"warning: {problem}", err=True)
        for outcome in _guard(lambda: list(ingest_many(run, [Job(u) for u in given], on_done=report.outcome))):
            failed |= outcome.status == "failed"
    ctx.exit(1 if failed else 0)


class Report:
    """Prints outcomes as they come: plain lines, JSON lines, or a rich progress bar on a terminal."""

    def __init__(self, as_json: bool = False, dry_run: bool = False, total: int | None = None):
        self.as_json, self.dry_run, self.total = as_json, dry_run, total
        self.progress = None

    def __enter__(self):
        if sys.stdout.isatty() and not self.as_json and not self.dry_run:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("ingesting", total=self.total)
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False

    def echo(self, line: str, err: bool = False) -> None:
        if self.progress is not None and not err:
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(line, err=err)

    def outcome(self, outcome) -> None:
        from .pipeline import display_path

        if self.progress is not None:
            self.progress.advance(self.task)
        if self.as_json:
            record = outcome.as_json() | {"path": display_path(outcome.path) or None}
            if self.dry_run:
                record |= {"dry_run": True, "note": outcome.note_text}
            click.echo(json.dumps(record, ensure_ascii=False))
        elif self.dry_run and outcome.note_text is not None:
            click.echo(outcome.note_text, nl=False)
            click.echo(f"dry run: would create {display_path(outcome.path)}", err=True)
        elif outcome.status == "created":
            self.echo(f"created {display_path(outcome.path)}")
        elif outcome.status == "duplicate":
            where = f" (archived as {display_path(outcome.path)})" if outcome.path else ""
            self.echo(f"duplicate {outcome.url}{where}")
        elif outcome.status == "skipped":
            self.echo(f"skipped {outcome.url}: {outcome.error}")
        else:
            self.echo(f"failed {outcome.url}: {outcome.error}")

    def source(self, report) -> None:
        if self.progress is not None and report.jobs:
            total = (self.progress.tasks[0].total or 0) + len(report.jobs)
            self.progress.update(self.task, total=total)
        if self.as_json:
            click.echo(json.dumps({"source": report.name, "status": report.status, "found": report.found,
                                   "new": len(report.jobs), "error": report.error}))
            return
        if report.status == "failed":
            self.echo(f"source {report.name} failed: {report.error}")
        elif report.status == "skipped":
            self.echo(f"source {report.name} skipped: {report.error}")
        elif report.status == "unchanged" and not report.found:
            self.echo(f"source {report.name}: unchanged")
        else:
            extra = f", {report.backfill_skipped} older left out (backfill)" if report.backfill_skipped else ""
            self.echo(f"source {report.name}: {len(report.jobs)} new of {report.found}{extra}")
        if report.moved_to:
            self.echo(f"source {report.name} moved permanently to {report.moved_to}; sources file updated")


@main.command("status")
@click.option("-n", "--limit", default=20, show_default=True, help="How many recent items to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
@click.pass_context
def status_command(ctx, limit, as_json):
    """Show the most recent items and their outcome."""
    settings = _settings(ctx)
    from .ledger import open_ledger
    from .pipeline import display_path

    ledger = _guard(lambda: open_ledger(settings.ledger_url))
    try:
        rows = _guard(lambda: ledger.recent(limit))
    finally:
        ledger.close()
    if not rows:
        click.echo("no items yet; archive one with: ingest url URL")
    for row in rows:
        when = row["updated_at"].strftime("%Y-%m-%d %H:%M")
        detail = display_path(row["note_path"]) if row["outcome"] == "created" else (row["error"] or "")
        if as_json:
            click.echo(json.dumps({k: (str(v) if v is not None and k.endswith("_at") else v) for k, v in row.items()}))
        else:
            click.echo(f"{when}  {row['outcome']:<9}  {row['url']}  {detail}".rstrip())


class _open_run:
    """The ledger, HTTP client and template for one command, closed afterwards."""

    def __init__(self, settings, *, dry_run: bool, force: bool):
        self.settings, self.dry_run, self.force = settings, dry_run, force

    def __enter__(self):
        from .fetch import Fetcher
        from .ledger import open_ledger
        from .pipeline import Run
        from .politeness import PoliteFetcher
        from .render import load_template

        template = _guard(lambda: load_template(self.settings.template))
        ledger = _guard(lambda: open_ledger(self.settings.ledger_url, create=not self.dry_run))
        fetcher = PoliteFetcher(Fetcher(self.settings), self.settings)
        self.run = Run(self.settings, ledger, fetcher, template, self.dry_run, self.force)
        return self.run

    def __exit__(self, *exc):
        self.run.fetcher.close()
        self.run.ledger.close()
        return False


def _guard(call):
    """Run `call`; an IngestError that concerns the whole command ends it with exit code 2."""
    try:
        return call()
    except IngestError as exc:
        raise Fatal(exc.message) from None


if __name__ == "__main__":
    sys.exit(main())
