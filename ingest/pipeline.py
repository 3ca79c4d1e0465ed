"""Wires the stages for one item: known? → claim → fetch → extract → guess → render → write → record.

Every failure of one item becomes an Outcome (and a ledger row saying so); nothing here lets
one broken URL stop a run.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import jinja2

from .archive import scan_archive
from .config import Settings
from .errors import FetchError, IngestError, LedgerError
from .extract import extract_document, page_html, text_hash
from .fetch import Fetcher
from .guess import guess
from .ledger import Known, Ledger
from .models import Document, FetchResult, Outcome
from .render import render_note
from .urls import InvalidURLError, try_key, url_key
from .writer import write_note

DONE = ("created", "duplicate", "archived")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Run:
    """What one command invocation works with: settings, the ledger, the HTTP client, the template."""

    settings: Settings
    ledger: Ledger
    fetcher: Fetcher
    template: jinja2.Template
    dry_run: bool = False
    force: bool = False
    clock: Callable[[], datetime] = utc_now
    archived: dict[str, str] = field(default_factory=dict)  # dry runs: archive keys not persisted

    def known(self, keys: list[str]) -> Known | None:
        found = self.ledger.lookup(keys)
        if found is None:
            path = next((self.archived[k] for k in keys if k in self.archived), None)
            found = Known(None, "archived", path) if path else None
        return found


def sync_archive(run: Run) -> list[str]:
    """Learn the URLs of the curators' notes (archive_dir and output_dir); return problems found."""
    folders = [p for p in (run.settings.archive_dir, run.settings.output_dir) if p and p.is_dir()]
    scan = scan_archive(folders, run.ledger.archive_state())
    if run.dry_run:
        run.archived.update({c["url_key"]: c["path"] for c in scan.changed if c["url_key"]})
    else:
        run.ledger.update_archive(scan.changed, scan.removed)
    if run.settings.archive_dir and not run.settings.archive_dir.is_dir():
        scan.problems.insert(0, f"archive_dir {run.settings.archive_dir} does not exist; check the setting")
    return scan.problems


def ingest_url(url: str, run: Run) -> Outcome:
    """Archive one article URL: a new note, a known duplicate, or a failure with its reason."""
    url = url.strip()
    try:
        key = url_key(url)
    except InvalidURLError as exc:
        return Outcome(url, "failed", error=exc.message, code=exc.code)
    if not run.force:
        known = run.known([key])
        if known and known.outcome in DONE:
            return Outcome(url, "duplicate", path=known.note_path)
    now = run.clock()
    item_id = None
    if not run.dry_run:
        item_id = run.ledger.claim(url, key, now, force=run.force)
        if item_id is None:
            known = run.known([key])
            if known and known.outcome == "pending":
                return Outcome(url, "failed", error="another worker is ingesting this URL right now", code="claimed")
            return Outcome(url, "duplicate", path=known.note_path if known else None)
    try:
        return _fetch_and_write(url, item_id, run, now)
    except IngestError as exc:
        if item_id is not None:
            with contextlib.suppress(LedgerError):
                run.ledger.finish(item_id, "failed", run.clock(), error=exc.message, error_code=exc.code)
        return Outcome(url, "failed", error=exc.message, code=exc.code)
    except BaseException:  # Ctrl-C: release the claim so the next run need not wait for it to go stale
        if item_id is not None:
            with contextlib.suppress(LedgerError):
                run.ledger.finish(item_id, "failed", run.clock(), error="interrupted", error_code="interrupted")
        raise


def _fetch_and_write(url: str, item_id: int | None, run: Run, now: datetime) -> Outcome:
    result = _fetch(url, item_id, run)
    document = extract_document(page_html(result), result.final_url, today=now.date())
    content_hash = text_hash(document.text)
    if not run.force:
        duplicate = _known_elsewhere(result, document, content_hash, item_id, run)
        if duplicate is not None:
            if item_id is not None:
                run.ledger.finish(
                    item_id, "duplicate", run.clock(), duplicate_of=duplicate.item_id, note_path=duplicate.note_path,
                    final_url=result.final_url, canonical_url=document.canonical_url,
                    content_hash=content_hash, title=document.title,
                )
            return Outcome(url, "duplicate", path=duplicate.note_path)
    note = render_note(document, guess(document, run.settings), run.template, archived_on=now.date().isoformat())
    if run.dry_run:
        path = run.settings.output_dir / note.filename
        return Outcome(url, "created", path=str(path), note_text=note.text)
    path = write_note(run.settings.output_dir, note.filename, note.text)
    try:
        run.ledger.finish(
            item_id, "created", run.clock(), note_path=str(path.resolve()), final_url=result.final_url,
            canonical_url=document.canonical_url, content_hash=content_hash, title=document.title,
            date_is_fallback=note.date_is_fallback,
        )
    except LedgerError:
        os.unlink(path)  # a note the ledger does not know would be ingested again: take it back
        raise
    return Outcome(url, "created", path=str(path))


def _fetch(url: str, item_id: int | None, run: Run) -> FetchResult:
    started, clock = run.clock(), time.monotonic()
    try:
        result = run.fetcher.fetch(url)
    except FetchError as exc:
        if not run.dry_run:
            run.ledger.record_fetch(item_id, url, started, time.monotonic() - clock, exc.status, exc.code, exc.message)
        raise
    if not run.dry_run:
        run.ledger.record_fetch(item_id, url, started, time.monotonic() - clock, result.status)
    return result


def _known_elsewhere(result: FetchResult, document: Document, content_hash: str,
                     item_id: int | None, run: Run) -> Known | None:
    """The same article reached another way: by its final URL, its canonical URL or its text."""
    keys = [k for k in (try_key(result.final_url), try_key(document.canonical_url)) if k]
    known = run.known(keys) if run.dry_run else run.ledger.add_aliases(item_id, keys)
    if known and (known.outcome in DONE or (known.outcome == "pending" and not run.dry_run)):
        return known
    return run.ledger.lookup_hash(content_hash, exclude=item_id)


def display_path(path: str | None) -> str:
    """A note path as the user would type it: relative to the current folder when inside it."""
    if not path:
        return ""
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    return path
