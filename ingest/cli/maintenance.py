"""The commands that look after the archive: learn, status, reextract and doctor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import IngestError
from ..records import State
from . import Fatal, guard, ledger_for, main, read_sources, run_for, settings_from, with_current_model
from .report import display_path, one_line, shown


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
    settings = settings_from(ctx)
    from ..learn import ensure_model
    from ..taxonomy import load_taxonomy

    folder = archive or settings.archive_dir
    if folder is None:
        raise Fatal("give the ARCHIVE folder to learn from, or set archive_dir in the settings")
    if not folder.is_dir():
        raise Fatal(f"{folder} is not a folder of notes")
    taxonomy = guard(lambda: load_taxonomy(settings.taxonomy_path))
    learned = ensure_model(settings, taxonomy, archive=folder, force=force)
    for problem in learned.problems + learned.save_problems:
        click.echo(f"warning: {problem}", err=True)
    model = learned.model
    if learned.relearned:
        click.echo(f"learned from {learned.notes} labelled note(s) in {shown(folder)} "
                   f"in {learned.seconds:.1f}s"
                   + (f" ({len(learned.problems)} skipped)" if learned.problems else "")
                   + ("" if learned.save_problems else f"; saved {shown(settings.model_path)}"))
    else:
        click.echo(f"up to date: {learned.notes} labelled note(s) from {shown(folder)} "
                   f"in {shown(settings.model_path)} (--force learns again)")
    for label in ("domain", "format"):
        counts = model.label_counts(range(len(model.notes)), label)
        click.echo(f"{label}s: " + (", ".join(f"{v} {n}" for v, n in counts.most_common()) or "none"))
    shared = sum(1 for stat in model.tags.values() if stat.df >= 2)
    click.echo(f"tags: {len(model.tags)} in use, {shared} on two notes or more")


@main.command("status")
@click.option("-n", "--limit", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="How many recent items to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
@click.pass_context
def status_command(ctx, limit, as_json):
    """Show the most recent items and their outcome."""
    settings = settings_from(ctx)
    ledger = ledger_for(settings)
    try:
        rows = guard(lambda: ledger.recent(limit))
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
    settings = settings_from(ctx)
    from ..reextract import Action, parse_since, reextract
    from ..urls import InvalidURLError, url_key

    try:
        after = parse_since(since) if since else None
    except ValueError:
        raise click.BadParameter(f"{since!r} is not a date; give YYYY-MM-DD", param_hint="--since") from None
    try:
        keys = [url_key(u) for u in urls] or None
    except InvalidURLError as exc:
        raise Fatal(exc.message) from None
    try:
        configured = read_sources(settings)
    except IngestError as exc:  # the sources only add their defaults; their file need not be sound
        click.echo(f"warning: {exc.message}; notes are made without the sources' defaults", err=True)
        configured = []
    counts: dict[str, int] = {}
    with run_for(settings, dry_run=dry_run, force=False) as run:
        run = with_current_model(run)
        found, missing = guard(lambda: run.ledger.snapshots_to_reextract(since=after, keys=keys))
        for url in missing:
            click.echo(f"no snapshot {one_line(url)}: ingested before snapshots were kept; "
                       f"`ingest url --force {url}` fetches it again")
        for done in guard(lambda: list(reextract(run, found, configured))):
            counts[done.action] = counts.get(done.action, 0) + 1
            _report_reextracted(done)
    if keys is not None and not (found or missing):
        click.echo("no note of ingest's has these URLs")
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"
    click.echo(f"reextracted {len(found)} note(s): {summary}"
               + (f"; {len(missing)} without a snapshot" if missing else ""))
    ctx.exit(1 if counts.get(Action.FAILED) else 0)


def _report_reextracted(done) -> None:
    from ..reextract import Action

    path, new = display_path(done.path), display_path(done.new_path)
    if done.text is not None:  # a dry run: the note on stdout, what would happen on stderr
        click.echo(done.text, nl=False)
        where = f"rewrite {path}" if done.action == Action.WOULD_REWRITE else f"keep {path} and write {new}"
        click.echo(f"dry run: would {where}", err=True)
    elif done.action == Action.REWRITTEN:
        click.echo(f"rewrote {path}")
    elif done.action == Action.UNCHANGED:
        click.echo(f"unchanged {path}")
    elif done.action == Action.BESIDE:
        click.echo(f"kept {path} (changed by a curator); new version: {new}")
    else:
        click.echo(f"{done.action} {one_line(done.url)}: {done.error}")


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
    settings = settings_from(ctx)
    from ..doctor import examine
    from ..runtime import utc_now

    ledger = ledger_for(settings, create=not dry_run)
    try:
        findings = guard(lambda: examine(settings, ledger, utc_now(), repair=not dry_run))
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
