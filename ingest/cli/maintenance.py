"""The commands that look after the archive: learn, status, reextract, doctor and forget."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import IngestError
from ..records import State
from . import Fatal, guard, ledger_for, main, read_sources, run_for, settings_from, with_current_model
from .report import display_path, forget_hint, note_missing, one_line, shown
from .typed import typed_url


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
    from ..validation import is_folder

    if not guard(lambda: is_folder(folder, "archive_dir")):
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
        if row["outcome"] == State.CREATED and note_missing(row["note_path"]):
            detail += f" (now missing; {forget_hint(row['url'])})"
        if as_json:
            click.echo(json.dumps({k: (str(v) if v is not None and k.endswith("_at") else v) for k, v in row.items()}
                                  | {"note_missing": note_missing(row["note_path"])}))
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
    version goes beside it as NAME.reextracted.md, with `status: reextracted` (not new work).
    Without URLs: every item (or those since DATE).
    """
    settings = settings_from(ctx)
    from ..reextract import Action, parse_since, reextract
    from ..urls import InvalidURLError, url_key

    try:
        after = parse_since(since) if since else None
    except ValueError:
        raise click.BadParameter(f"{since!r} is not a date; give YYYY-MM-DD", param_hint="--since") from None
    try:
        keys = [url_key(typed_url(u)) for u in urls] or None
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
        try:
            for done in reextract(run, found, configured):  # each reported as it is made
                counts[done.action] = counts.get(done.action, 0) + 1
                _report_reextracted(done)
        except IngestError as exc:  # the template, or the ledger: the notes not reached keep their text
            raise Fatal(exc.message) from None
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

    Repairs: leftover temporary files removed, claims of stopped workers given back, worker
    processes a killed run left running stopped, moved notes followed, notes the ledger never
    recorded recorded. Missing notes (`ingest forget URL` for one deleted on purpose) and two
    notes for one URL that would both be routed as new work are problems for you to decide.
    Warnings list, for the curator, second versions waiting beside their note (status:
    reextracted) and other notes that share a URL; nothing is deleted. Exit 0 when all agree
    (after repairs; warnings or not), 1 when something is left for you.
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
        click.echo(f"{'warning' if finding.warning else label}: {finding.text}")
    warnings = sum(f.warning for f in findings)
    left = [f for f in findings if not (f.repaired or f.warning)]
    repaired = len(findings) - len(left) - warnings
    if repaired or left:
        click.echo(f"{repaired} repaired, {len(left)} left" + (" for you" if left else "")
                   + (f"; {warnings} warning(s)" if warnings else ""))
    else:
        click.echo(f"ok: the ledger {display_path(settings.ledger_url.removeprefix('sqlite:///'))} "
                   f"and the notes in {display_path(str(settings.output_dir))} agree"
                   + (f"; {warnings} warning(s) above for the curator" if warnings else ""))
    ctx.exit(1 if left else 0)


@main.command("forget")
@click.argument("urls", nargs=-1, required=True, metavar="URL…")
@click.option("--dry-run", is_flag=True, help="Say what would be forgotten; change nothing.")
@click.pass_context
def forget_command(ctx, urls, dry_run):
    """Forget URLs whose notes you deleted on purpose, so that they may be ingested again.

    The ledger forgets the article each URL names: its items (also those of its other URLs:
    redirects, canonical URL, copies), their aliases, fetch attempts and snapshot records. Nothing
    is forgotten while a note of it is still on disk. A source's poll does not bring it back (the
    source has shown it already); `ingest url URL` does. Prints `forgot URL (note PATH)` or
    `not known: URL` per URL; exit 1 when any URL was not known, kept or not a URL.
    """
    settings = settings_from(ctx)
    from ..forget import Verdict, forget

    ledger = ledger_for(settings, create=not dry_run)
    try:
        done = guard(lambda: list(forget(settings, ledger, [typed_url(u) for u in urls], dry_run=dry_run)))
    finally:
        ledger.close()
    for one in done:
        url, path = one_line(one.url), display_path(one.note_path)
        if one.verdict in (Verdict.FORGOT, Verdict.WOULD_FORGET):
            others = (f"; and {one.others} other URL{'s' if one.others > 1 else ''} of the same note"
                      if one.others else "")
            click.echo(f"{one.verdict} {url} ({f'note {path}' if path else 'no note'}{others})")
        elif one.verdict == Verdict.KEPT:
            click.echo(f"kept {url}: its note {path} is still there; delete the note first "
                       "(while it is there, the URL is a duplicate of it)")
        elif one.verdict == Verdict.NOT_KNOWN:
            click.echo(f"not known: {url}")
        else:
            click.echo(f"failed {url}: {one.error}")
    ctx.exit(1 if any(one.verdict not in (Verdict.FORGOT, Verdict.WOULD_FORGET) for one in done) else 0)
