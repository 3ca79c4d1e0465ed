"""The `sources` commands: list, add, remove, check, and OPML import and export."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from ..errors import IngestError
from ..records import SourceStatus
from . import Fatal, configured_sources, guard, ledger_for, main, run_for, settings_from


@main.group("sources")
def sources_group():
    """The configured sources: add, list, check, remove, import and export OPML."""


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@click.pass_context
def sources_list(ctx, as_json):
    """Name, kind, interval, last poll, next poll and health of every source."""
    settings = settings_from(ctx)
    from ..runtime import utc_now
    from ..sources import format_interval
    from ..timing import source_health

    configured = configured_sources(settings)
    ledger = ledger_for(settings)
    try:
        now = utc_now()
        guard(lambda: ledger.sync_sources(configured, now))
        states = {s.name: s for s in guard(ledger.source_states)}
    finally:
        ledger.close()
    rows = []
    for source in configured:
        state = states[source.name]
        rows.append({
            "name": source.name, "kind": state.kind or "?", "every": format_interval(source.every),
            "last_poll": _when(state.last_polled_at),
            "next_poll": _when(state.next_check_at) if source.enabled else "-",
            "health": source_health(source.enabled, state, settings, now).text, "url": state.fetch_url,
        })
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo(f"no sources in {settings.sources_path}; add one with: ingest sources add URL")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "kind", "every", "last poll", "next poll", "health"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["every"], row["last_poll"], row["next_poll"], row["health"])
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@sources_group.command("add")
@click.argument("url")
@click.option("--name", help="Source name (default: made from the URL).")
@click.option("--kind", type=click.Choice(["feed", "page", "sitemap"]), help="Skip discovery.")
@click.option("--every", default="6h", show_default=True, help="Polling interval: 30m, 2h, 1d…")
@click.option("--domain", help="Note domain for this source's items.")
@click.option("--format", "format_", help="Note format for this source's items.")
@click.option("--priority", type=click.Choice(["high", "medium", "low"]))
@click.option("--tag", "tags", multiple=True, help="A tag for every note of this source (repeatable).")
@click.option("--include", multiple=True, help="Regex an article URL must match (repeatable).")
@click.option("--exclude", multiple=True, help="Regex of article URLs to skip (repeatable).")
@click.option("--backfill", type=int, default=3, show_default=True, help="Entries ingested on the first poll.")
@click.pass_context
def sources_add(ctx, url, name, kind, every, domain, format_, priority, tags, include, exclude, backfill):
    """Add a source: a homepage's feed is discovered, a page without one is watched."""
    settings = settings_from(ctx)
    from ..sources import add_source, source_from_options, unique_name
    from ..urls import normalize_url
    from .typed import typed_url

    configured = configured_sources(settings)
    try:
        url = normalize_url(typed_url(url))
    except IngestError as exc:
        raise Fatal(f"{url}: {exc.message}") from None
    taken = {s.name for s in configured}
    # every value is read by the sources file's rules before anything is fetched or written
    source = guard(lambda: source_from_options({
        "name": ("--name", name or unique_name(url, taken)), "url": ("URL", url), "kind": ("--kind", kind),
        "every": ("--every", every), "domain": ("--domain", domain), "format": ("--format", format_),
        "priority": ("--priority", priority), "tags": ("--tag", tags), "include": ("--include", include),
        "exclude": ("--exclude", exclude), "backfill": ("--backfill", backfill),
    }, domains=settings.domains, formats=settings.formats))
    if kind is None:
        kind, found = _discover(settings, url)
        source = dataclasses.replace(source, kind=kind, url=found, name=name or unique_name(found, taken))
    guard(lambda: add_source(settings.sources_path, source, domains=settings.domains, formats=settings.formats))
    click.echo(f"added {source.name}: {kind} {source.url} (every {every})")


def _discover(settings, url: str) -> tuple[str, str]:
    """What a URL is: a feed, a sitemap, a page whose feed it links, or a listing page to watch."""
    from ..politeness import polite_fetcher
    from ..poll import discover_kind

    with polite_fetcher(settings) as fetcher:
        try:
            return discover_kind(fetcher.fetch(url))
        except IngestError as exc:
            raise Fatal(f"cannot add {url}: {exc.message}; give --kind to add it without checking") from None


@sources_group.command("remove")
@click.argument("name")
@click.pass_context
def sources_remove(ctx, name):
    """Remove a source from the sources file (its history stays in the ledger)."""
    settings = settings_from(ctx)
    from ..sources import remove_source

    guard(lambda: remove_source(settings.sources_path, name))
    click.echo(f"removed {name}")


@sources_group.command("check")
@click.argument("name")
@click.pass_context
def sources_check(ctx, name):
    """Fetch a source once and show what would be ingested; nothing is written or recorded."""
    settings = settings_from(ctx)
    from ..pipeline import sync_archive
    from ..poll import fresh_state, poll_source
    from .report import left_out

    configured = {s.name: s for s in configured_sources(settings)}
    if name not in configured:
        raise Fatal(f"no source named {name} in {settings.sources_path}; see `ingest sources list`")
    source = configured[name]
    with run_for(settings, dry_run=True, force=False) as run:
        known = {s.name: s for s in guard(run.ledger.source_states)}
        state = known.get(name) or fresh_state(source, run.clock())
        # parse even an unchanged document: the point is to show what it holds
        state = dataclasses.replace(state, etag=None, last_modified=None, body_hash=None)
        guard(lambda: sync_archive(run))  # an entry already archived is not one that would be ingested
        report = guard(lambda: poll_source(run, state, source, due_only=False))
    if report.status == SourceStatus.FAILED:
        click.echo(f"source {name} failed: {report.error}")
        ctx.exit(1)
    click.echo(f"source {name}: {report.found} entries, {len(report.jobs)} would be ingested{left_out(report)}")
    for job in report.jobs:
        date = job.hint.published.date().isoformat() if job.hint and job.hint.published else "----------"
        title = job.hint.title if job.hint and job.hint.title else ""
        click.echo(f"  {date}  {job.url}  {title}".rstrip())


@sources_group.command("import-opml")
@click.argument("file", type=click.File("rb"))
@click.pass_context
def sources_import(ctx, file):
    """Add every feed of an OPML file (a feed reader's export); known ones are skipped.

    A feed filed in folders gets their titles as tags. An outline whose address is unusable is
    reported and the others are imported; the exit code is then 1.
    """
    settings = settings_from(ctx)
    from ..opml import sources_from_opml
    from ..sources import add_source

    configured = configured_sources(settings)
    found, failed = guard(lambda: sources_from_opml(file.read(), {s.name for s in configured}))
    for problem in failed:
        click.echo(f"failed {problem}")
    added = 0
    for source in found:
        try:
            add_source(settings.sources_path, source, domains=settings.domains, formats=settings.formats)
            added += 1
            click.echo(f"added {source.name}: {source.kind} {source.url}")
        except IngestError as exc:
            click.echo(f"skipped {source.url}: {exc.message}")
    click.echo(f"imported {added} of {len(found)} source(s)" + (f"; {len(failed)} outline(s) failed" if failed else ""))
    ctx.exit(1 if failed else 0)


@sources_group.command("export-opml")
@click.argument("file", default="-")
@click.pass_context
def sources_export(ctx, file):
    """Write the sources as OPML (to FILE, or stdout)."""
    settings = settings_from(ctx)
    from pathlib import Path

    from ..opml import sources_to_opml
    from ..writer import write_atomic

    document = sources_to_opml(configured_sources(settings))
    if file == "-":
        with click.open_file("-", "wb") as stdout:
            stdout.write(document)
        return
    path = Path(file)
    try:
        # never a half-written export in place of the last one; the folder must exist already
        write_atomic(path, document, perms=0o666, create_folder=False)
    except OSError as exc:
        raise Fatal(f"{file}: cannot be written ({exc.strerror}); give a file in an existing folder") from None
