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
    from .pipeline import display_path, ingest_url, sync_archive

    failed = False
    with _open_run(settings, dry_run=dry_run, force=force) as run:
        for problem in _guard(lambda: sync_archive(run)):
            click.echo(f"warning: {problem}", err=True)
        for url in given:
            outcome = _guard(lambda: ingest_url(url, run))
            failed |= outcome.status == "failed"
            if as_json:
                record = outcome.as_json() | {"path": display_path(outcome.path) or None}
                if dry_run:
                    record |= {"dry_run": True, "note": outcome.note_text}
                click.echo(json.dumps(record, ensure_ascii=False))
            elif dry_run and outcome.note_text is not None:
                click.echo(outcome.note_text, nl=False)
                click.echo(f"dry run: would create {display_path(outcome.path)}", err=True)
            else:
                click.echo(_line(outcome, display_path))
    ctx.exit(1 if failed else 0)


def _line(outcome, display_path) -> str:
    if outcome.status == "created":
        return f"created {display_path(outcome.path)}"
    if outcome.status == "duplicate":
        where = f" (archived as {display_path(outcome.path)})" if outcome.path else ""
        return f"duplicate {outcome.url}{where}"
    return f"failed {outcome.url}: {outcome.error}"


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
        from .render import load_template

        template = _guard(lambda: load_template(self.settings.template))
        ledger = _guard(lambda: open_ledger(self.settings.ledger_url, create=not self.dry_run))
        self.run = Run(self.settings, ledger, Fetcher(self.settings), template, self.dry_run, self.force)
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
