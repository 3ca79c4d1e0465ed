"""Command line: flags → settings → library calls; every IngestError becomes one line and an exit code.

Exit codes: 0 all done, 1 some item failed, 2 usage or configuration error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ConfigError, IngestError
from .records import SourceStatus, State


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
    _limit_malloc_arenas()


def _limit_malloc_arenas() -> None:
    """glibc gives each thread its own heap arena, and a long poll's threads each keep freed page
    buffers in theirs: two arenas cut the resident memory of a 3,000-article poll by a quarter."""
    if sys.platform.startswith("linux") and "MALLOC_ARENA_MAX" not in os.environ:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
        except (OSError, AttributeError):
            pass


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
@click.option("--explain", is_flag=True, help="Show the top signals behind each guessed field (on stderr).")
@click.pass_context
def url_command(ctx, urls, input_file, output, dry_run, as_json, force, explain):
    """Archive one or more article URLs as source notes.

    Prints one line per URL: `created PATH`, `duplicate URL (archived as PATH)` or
    `failed URL: REASON`. Exit 0 when every URL was created or a duplicate, 1 when any failed.
    With --explain, each guessed field (domain, secondary domains, format, priority, tags) is
    followed by the signals behind it; with --json they are the record's "explain".
    """
    given = list(urls)
    if input_file is not None:
        given += [line.strip() for line in input_file if line.strip() and not line.lstrip().startswith("#")]
    if not given:
        raise click.UsageError("give at least one URL, or -i FILE")
    settings = _settings(ctx, output_dir=output)
    from .pipeline import Job, all_known, ingest_many

    failed = False
    with (_open_run(settings, dry_run=dry_run, force=force, explain=explain) as run,
          Report(as_json, dry_run, len(given), guesses=run.guesses if explain else None) as report):
        _catch_up(run)
        if force or not _guard(lambda: all_known(run, given)):  # the model is only needed for new notes
            run = _refresh_model(run)
        for outcome in _guard(lambda: list(ingest_many(run, [Job(u) for u in given], on_done=report.outcome))):
            failed |= outcome.status == State.FAILED
    ctx.exit(1 if failed else 0)


class Report:
    """Prints outcomes as they come: plain lines, JSON lines, or a rich progress bar on a terminal."""

    def __init__(self, as_json: bool = False, dry_run: bool = False, total: int | None = None, *,
                 guesses: dict | None = None):
        self.as_json, self.dry_run, self.total = as_json, dry_run, total
        self.progress = None
        self.guesses = guesses  # given: explain each outcome's guess (the run's `guesses`)

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
        if self.progress is not None:
            self.progress.advance(self.task)
        choice = self.guesses.get(outcome.url) if self.guesses is not None else None
        if self.as_json:
            record = outcome.as_json() | {"path": display_path(outcome.path) or None}
            if self.dry_run:
                record |= {"dry_run": True, "note": outcome.note_text}
            if self.guesses is not None:
                record |= {"explain": _explanation(choice) if choice else None}
            click.echo(json.dumps(record, ensure_ascii=False))
        elif self.dry_run and outcome.note_text is not None:
            click.echo(outcome.note_text, nl=False)
            click.echo(f"dry run: would create {display_path(outcome.path)}", err=True)
        elif outcome.status == State.CREATED:
            self.echo(f"created {display_path(outcome.path)}")
        elif outcome.status == State.DUPLICATE:
            where = f" (archived as {display_path(outcome.path)})" if outcome.path else ""
            self.echo(f"duplicate {_one_line(outcome.url)}{where}")
        elif outcome.status == State.SKIPPED:
            self.echo(f"skipped {_one_line(outcome.url)}: {outcome.error}")
        else:
            self.echo(f"failed {_one_line(outcome.url)}: {outcome.error}")
        if choice is not None and not self.as_json:
            for line in _explain_lines(choice):
                self.echo(line, err=True)

    def source(self, report) -> None:
        if self.progress is not None and report.jobs:
            total = (self.progress.tasks[0].total or 0) + len(report.jobs)
            self.progress.update(self.task, total=total)
        if self.as_json:
            click.echo(json.dumps({"source": report.name, "status": report.status, "found": report.found,
                                   "new": len(report.jobs), "error": report.error}))
            return
        if report.status == SourceStatus.FAILED:
            self.echo(f"source {report.name} failed: {report.error}")
        elif report.status == SourceStatus.SKIPPED:
            self.echo(f"source {report.name} skipped: {report.error}")
        elif report.status == SourceStatus.UNCHANGED and not report.found:
            self.echo(f"source {report.name}: unchanged")
        else:
            extra = f", {report.backfill_skipped} older left out (backfill)" if report.backfill_skipped else ""
            self.echo(f"source {report.name}: {len(report.jobs)} new of {report.found}{extra}")
        if report.moved_to:
            self.echo(f"source {report.name} moved permanently to {report.moved_to}; sources file updated")


EXPLAINED = ("domain", "secondary_domains", "format", "priority", "tags")


def _one_line(url: str) -> str:
    """A URL as given, its control characters percent-encoded: one outcome, one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"%{ord(m.group()):02X}", url)


def _explanation(choice) -> dict:
    """Each guessed field: its value and the signals behind it, strongest first."""
    return {name: {"value": list(v) if isinstance(v := getattr(choice, name), tuple) else v,
                   "signals": choice.reasons.get(name, [])} for name in EXPLAINED}


def _explain_lines(choice) -> list[str]:
    lines = []
    for name, field in _explanation(choice).items():
        value = field["value"]
        shown = "[" + ", ".join(value) + "]" if isinstance(value, list) else value
        lines.append(f"  {name}: {shown}")
        lines += [f"    {signal}" for signal in field["signals"]]
    return lines


def _catch_up(run) -> None:
    """Before new work: take back what a killed process left, and read the archive's notes."""
    from .pipeline import recover, sync_archive

    for done in _guard(lambda: recover(run)):
        click.echo(f"recovered: {done}", err=True)
    for problem in _guard(lambda: sync_archive(run)):
        click.echo(f"warning: {problem}", err=True)


def _refresh_model(run):
    """The run with the guesser's current model, said on stderr when it was learned again."""
    from .runtime import refresh_model

    run, learned = refresh_model(run)
    _report_learned(run, learned)
    return run


def _report_learned(run, learned) -> None:
    """Problems with single notes were already reported by sync_archive."""
    if learned.relearned:
        saved = not (run.dry_run or learned.save_problems)
        click.echo(f"learned the guesser from {learned.notes} archived note(s) in {learned.seconds:.1f}s"
                   + (f"; saved {_shown(run.settings.model_path)}" if saved else ""), err=True)
    for problem in learned.save_problems:
        click.echo(f"warning: {problem}", err=True)


def _shown(path) -> str:
    return display_path(str(path))


@main.command("learn")
@click.argument("archive", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Learn again even when the archive has not changed.")
@click.pass_context
def learn_command(ctx, archive, force):
    """Learn how the curators label notes from their ARCHIVE folder (default: archive_dir).

    Reads every note's domain, format and tags with its title, URL, author and text, and saves
    the guesser's model (the `model` setting; default model.json beside the ledger). Commands that
    guess relearn by themselves when the archive or config/taxonomy.toml changes; this command
    does it now and shows what was learned. Malformed notes are skipped with a warning.
    """
    settings = _settings(ctx)
    from .learn import ensure_model
    from .taxonomy import load_taxonomy

    folder = archive or settings.archive_dir
    if folder is None:
        raise Fatal("give the ARCHIVE folder to learn from, or set archive_dir in the settings")
    if not folder.is_dir():
        raise Fatal(f"{folder} is not a folder of notes")
    taxonomy = _guard(lambda: load_taxonomy(settings.taxonomy_path))
    learned = ensure_model(settings, taxonomy, archive=folder, force=force)
    for problem in learned.problems + learned.save_problems:
        click.echo(f"warning: {problem}", err=True)
    model = learned.model
    if learned.relearned:
        click.echo(f"learned from {learned.notes} labelled note(s) in {_shown(folder)} "
                   f"in {learned.seconds:.1f}s"
                   + (f" ({len(learned.problems)} skipped)" if learned.problems else "")
                   + ("" if learned.save_problems else f"; saved {_shown(settings.model_path)}"))
    else:
        click.echo(f"up to date: {learned.notes} labelled note(s) from {_shown(folder)} "
                   f"in {_shown(settings.model_path)} (--force learns again)")
    for label in ("domain", "format"):
        counts = model.label_counts(range(len(model.notes)), label)
        click.echo(f"{label}s: " + (", ".join(f"{v} {n}" for v, n in counts.most_common()) or "none"))
    shared = sum(1 for stat in model.tags.values() if stat.df >= 2)
    click.echo(f"tags: {len(model.tags)} in use, {shared} on two notes or more")


@main.command("status")
@click.option("-n", "--limit", default=20, show_default=True, help="How many recent items to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
@click.pass_context
def status_command(ctx, limit, as_json):
    """Show the most recent items and their outcome."""
    settings = _settings(ctx)
    ledger = _open_ledger(settings)
    try:
        rows = _guard(lambda: ledger.recent(limit))
    finally:
        ledger.close()
    if not rows:
        click.echo("no items yet; archive one with: ingest url URL")
    for row in rows:
        when = row["updated_at"].strftime("%Y-%m-%d %H:%M")
        detail = display_path(row["note_path"]) if row["outcome"] == State.CREATED else (row["error"] or "")
        if as_json:
            click.echo(json.dumps({k: (str(v) if v is not None and k.endswith("_at") else v) for k, v in row.items()}))
        else:
            click.echo(f"{when}  {row['outcome']:<9}  {row['url']}  {detail}".rstrip())


@main.command("reextract")
@click.argument("urls", nargs=-1)
@click.option("--since", metavar="DATE", help="Only items fetched on or after DATE (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="Print the new notes; write nothing.")
@click.pass_context
def reextract_command(ctx, urls, since, dry_run):
    """Make notes again from their snapshots with the current extractor, guesser and template.

    No web request is made. A note still exactly as ingest wrote it, and still `status:
    unprocessed`, is rewritten in place; a note a curator has changed is left alone and the new
    version goes beside it as NAME.reextracted.md. Without URLs: every item (or those since DATE).
    """
    settings = _settings(ctx)
    from .reextract import parse_since, reextract
    from .urls import InvalidURLError, url_key

    try:
        after = parse_since(since) if since else None
    except ValueError:
        raise click.BadParameter(f"{since!r} is not a date; give YYYY-MM-DD", param_hint="--since") from None
    try:
        keys = [url_key(u) for u in urls] or None
    except InvalidURLError as exc:
        raise Fatal(exc.message) from None
    try:
        configured = _read_sources(settings)
    except IngestError as exc:  # the sources only add their defaults; their file need not be sound
        click.echo(f"warning: {exc.message}; notes are made without the sources' defaults", err=True)
        configured = []
    counts: dict[str, int] = {}
    with _open_run(settings, dry_run=dry_run, force=False) as run:
        run = _refresh_model(run)
        found, missing = _guard(lambda: run.ledger.snapshots_to_reextract(since=after, keys=keys))
        for url in missing:
            click.echo(f"no snapshot {_one_line(url)}: ingested before snapshots were kept; "
                       f"`ingest url --force {url}` fetches it again")
        for done in _guard(lambda: list(reextract(run, found, configured))):
            counts[done.action] = counts.get(done.action, 0) + 1
            _report_reextracted(done)
    if keys is not None and not (found or missing):
        click.echo("no note of ingest's has these URLs")
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"
    click.echo(f"reextracted {len(found)} note(s): {summary}" + (f"; {len(missing)} without a snapshot" if missing else ""))
    ctx.exit(1 if counts.get("failed") else 0)


def _report_reextracted(done) -> None:
    path, new = display_path(done.path), display_path(done.new_path)
    if done.text is not None:  # a dry run: the note on stdout, what would happen on stderr
        click.echo(done.text, nl=False)
        where = f"rewrite {path}" if done.action == "would-rewrite" else f"keep {path} and write {new}"
        click.echo(f"dry run: would {where}", err=True)
    elif done.action == "rewritten":
        click.echo(f"rewrote {path}")
    elif done.action == "unchanged":
        click.echo(f"unchanged {path}")
    elif done.action == "beside":
        click.echo(f"kept {path} (changed by a curator); new version: {new}")
    else:
        click.echo(f"{'failed' if done.action == 'failed' else 'missing'} {_one_line(done.url)}: {done.error}")


@main.command("doctor")
@click.option("--dry-run", is_flag=True, help="Only report; repair nothing.")
@click.pass_context
def doctor_command(ctx, dry_run):
    """Check that the ledger and the note files agree, and repair what is safe.

    Repairs: leftover temporary files removed, claims of stopped workers given back, moved notes
    followed, notes the ledger never recorded recorded. Missing notes and two notes for one URL
    are reported for you to decide. Exit 0 when all agree (after repairs), 1 when something is
    left for you.
    """
    settings = _settings(ctx)
    from .doctor import examine
    from .runtime import utc_now

    ledger = _open_ledger(settings, create=not dry_run)
    try:
        findings = _guard(lambda: examine(settings, ledger, utc_now(), repair=not dry_run))
    finally:
        ledger.close()
    for finding in findings:
        label = "repaired" if finding.repaired else ("would repair" if finding.repairable else "problem")
        click.echo(f"{label}: {finding.text}")
    left = [f for f in findings if not f.repaired]
    repaired = len(findings) - len(left)
    if not findings:
        click.echo(f"ok: the ledger {display_path(settings.ledger_url.removeprefix('sqlite:///'))} "
                   f"and the notes in {display_path(str(settings.output_dir))} agree")
    else:
        click.echo(f"{repaired} repaired, {len(left)} left" + (" for you" if left else ""))
    ctx.exit(1 if left else 0)


def _read_sources(settings):
    from .sources import load_sources

    return load_sources(settings.sources_path, domains=settings.domains, formats=settings.formats)


def _load_sources(settings):
    return _guard(lambda: _read_sources(settings))


def _source_reporter(settings, report):
    """Print each source's poll; a source that moved permanently gets its new URL in the file too."""
    from .sources import set_source_url

    def on_source(source_report):
        if source_report.moved_to:
            _guard(lambda: set_source_url(settings.sources_path, source_report.name, source_report.moved_to))
        report.source(source_report)

    return on_source


@main.command("poll")
@click.option("-s", "--source", "names", multiple=True, metavar="NAME", help="Poll this source, due or not (repeatable).")
@click.option("--all", "every_source", is_flag=True, help="Poll every enabled source now.")
@click.option("-o", "--output", metavar="DIR", help="Write notes to DIR instead of output_dir.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per source, one per item.")
@click.pass_context
def poll_command(ctx, names, every_source, output, as_json):
    """One pass over the sources that are due (or those named, or all).

    New entries become notes; a source's first poll ingests only its `backfill` newest entries.
    Exit 1 when a source or an item failed.
    """
    settings = _settings(ctx, output_dir=output)
    from .poll import choose_sources, poll

    configured = _load_sources(settings)
    with _open_run(settings, dry_run=False, force=False) as run, Report(as_json) as report:
        _catch_up(run)
        run = _refresh_model(run)
        states = _guard(lambda: choose_sources(run, configured, names=list(names), every_source=every_source))
        on_source = _source_reporter(settings, report)
        summary = _guard(lambda: poll(run, configured, states, on_source=on_source, on_outcome=report.outcome,
                                      due_only=not (names or every_source)))
    failed_items = summary.count(State.FAILED)
    line = (f"polled {len(summary.sources)} source(s): {summary.count('created')} new note(s), "
            f"{summary.count('duplicate')} duplicate(s), {failed_items} failed item(s), "
            f"{len(summary.failed_sources)} failed source(s)")
    if as_json:
        click.echo(json.dumps({"summary": line}))
    else:
        click.echo(line)
    ctx.exit(1 if failed_items or summary.failed_sources else 0)


@main.command("schedule")
@click.option("-o", "--output", metavar="DIR", help="Write notes to DIR instead of output_dir.")
@click.pass_context
def schedule_command(ctx, output):
    """Run forever: poll each source when the ledger says it is due.

    Edits to the sources file apply at the next tick. SIGINT or SIGTERM stops cleanly: work in
    flight finishes, nothing is left half-written.
    """
    settings = _settings(ctx, output_dir=output)
    from .schedule import run_forever

    _load_sources(settings)  # a broken sources file is an error at start, a warning later
    with _open_run(settings, dry_run=False, force=False) as run:
        report = Report()

        def on_tick(summary, error):
            if error:
                click.echo(f"warning: {error}", err=True)
            elif summary.sources or summary.outcomes:
                click.echo(f"tick: {len(summary.sources)} source(s), {summary.count('created')} new note(s)")
            else:
                click.echo("tick: nothing due")

        click.echo(f"scheduling sources from {settings.sources_path} every {settings.tick:g}s; Ctrl-C stops",
                   err=True)
        run_forever(run, lambda: _read_sources(settings), on_tick=on_tick,
                    on_learned=lambda learned: _report_learned(run, learned),
                    on_source=_source_reporter(settings, report), on_outcome=report.outcome)
        click.echo("stopped", err=True)


@main.group("sources")
def sources_group():
    """The configured sources: add, list, check, remove, import and export OPML."""


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@click.pass_context
def sources_list(ctx, as_json):
    """Name, kind, interval, last poll, next poll and health of every source."""
    settings = _settings(ctx)
    from .runtime import utc_now
    from .sources import format_interval
    from .timing import source_health

    configured = _load_sources(settings)
    ledger = _open_ledger(settings)
    try:
        now = utc_now()
        _guard(lambda: ledger.sync_sources(configured, now))
        states = {s.name: s for s in _guard(ledger.source_states)}
    finally:
        ledger.close()
    rows = []
    for source in configured:
        state = states[source.name]
        rows.append({
            "name": source.name, "kind": state.kind or "?", "every": format_interval(source.every),
            "last_poll": _when(state.last_polled_at), "next_poll": _when(state.next_check_at) if source.enabled else "-",
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
    settings = _settings(ctx)
    from .records import NoteDefaults, Source
    from .sources import add_source, parse_interval, unique_name
    from .urls import normalize_url

    configured = _load_sources(settings)
    try:
        url = normalize_url(url)
    except IngestError as exc:
        raise Fatal(f"{url}: {exc.message}") from None
    interval = _guard(lambda: parse_interval(every, "option --every"))
    if kind is None:
        kind, url = _discover(settings, url)
    name = name or unique_name(url, {s.name for s in configured})
    source = Source(
        name=name, url=url, kind=kind, every=interval, include=include, exclude=exclude, backfill=backfill,
        defaults=NoteDefaults(domain=domain, format=format_, priority=priority, tags=tuple(tags)),
    )
    _guard(lambda: add_source(settings.sources_path, source))
    click.echo(f"added {name}: {kind} {url} (every {every})")


def _discover(settings, url: str) -> tuple[str, str]:
    """What a URL is: a feed, a sitemap, a page whose feed it links, or a listing page to watch."""
    from .fetch import Fetcher
    from .politeness import PoliteFetcher
    from .poll import discover_kind

    with PoliteFetcher(Fetcher(settings), settings) as fetcher:
        try:
            return discover_kind(fetcher.fetch(url))
        except IngestError as exc:
            raise Fatal(f"cannot add {url}: {exc.message}; give --kind to add it without checking") from None


@sources_group.command("remove")
@click.argument("name")
@click.pass_context
def sources_remove(ctx, name):
    """Remove a source from the sources file (its history stays in the ledger)."""
    settings = _settings(ctx)
    from .sources import remove_source

    _guard(lambda: remove_source(settings.sources_path, name))
    click.echo(f"removed {name}")


@sources_group.command("check")
@click.argument("name")
@click.pass_context
def sources_check(ctx, name):
    """Fetch a source once and show what would be ingested; nothing is written or recorded."""
    settings = _settings(ctx)
    from .poll import fresh_state, poll_source

    configured = {s.name: s for s in _load_sources(settings)}
    if name not in configured:
        raise Fatal(f"no source named {name} in {settings.sources_path}; see `ingest sources list`")
    source = configured[name]
    with _open_run(settings, dry_run=True, force=False) as run:
        known = {s.name: s for s in _guard(run.ledger.source_states)}
        state = known.get(name) or fresh_state(source, run.clock())
        # parse even an unchanged document: the point is to show what it holds
        state = dataclasses.replace(state, etag=None, last_modified=None, body_hash=None)
        report = _guard(lambda: poll_source(run, state, source, due_only=False))
    if report.status == SourceStatus.FAILED:
        click.echo(f"source {name} failed: {report.error}")
        ctx.exit(1)
    click.echo(f"source {name}: {report.found} entries, {len(report.jobs)} would be ingested"
               + (f", {report.backfill_skipped} older left out (backfill)" if report.backfill_skipped else ""))
    for job in report.jobs:
        date = job.hint.published.date().isoformat() if job.hint and job.hint.published else "----------"
        title = job.hint.title if job.hint and job.hint.title else ""
        click.echo(f"  {date}  {job.url}  {title}".rstrip())


@sources_group.command("import-opml")
@click.argument("file", type=click.File("rb"))
@click.pass_context
def sources_import(ctx, file):
    """Add every feed of an OPML file (a feed reader's export); known ones are skipped."""
    settings = _settings(ctx)
    from .opml import sources_from_opml
    from .sources import add_source

    configured = _load_sources(settings)
    found = _guard(lambda: sources_from_opml(file.read(), {s.name for s in configured}))
    added = 0
    for source in found:
        try:
            add_source(settings.sources_path, source)
            added += 1
            click.echo(f"added {source.name}: {source.kind} {source.url}")
        except IngestError as exc:
            click.echo(f"skipped {source.url}: {exc.message}")
    click.echo(f"imported {added} of {len(found)} source(s)")


@sources_group.command("export-opml")
@click.argument("file", type=click.File("wb"), default="-")
@click.pass_context
def sources_export(ctx, file):
    """Write the sources as OPML (to FILE, or stdout)."""
    settings = _settings(ctx)
    from .opml import sources_to_opml

    file.write(sources_to_opml(_load_sources(settings)))


@contextlib.contextmanager
def _open_run(settings, *, dry_run: bool, force: bool, explain: bool = False):
    """runtime.open_run, its errors while opening a whole-command error."""
    from .runtime import open_run

    with contextlib.ExitStack() as stack:
        yield _guard(lambda: stack.enter_context(open_run(settings, dry_run=dry_run, force=force, explain=explain)))


def _open_ledger(settings, *, create: bool = True):
    from .ledger import open_ledger

    return _guard(lambda: open_ledger(settings.ledger_url, create=create, wait=settings.ledger_wait))


def _guard(call):
    """Run `call`; an IngestError that concerns the whole command ends it with exit code 2."""
    try:
        return call()
    except IngestError as exc:
        raise Fatal(exc.message) from None



def display_path(path: str | None) -> str:
    """A note path as the user would type it: relative to the current folder when inside it."""
    if not path:
        return ""
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    return path


if __name__ == "__main__":
    sys.exit(main())
