"""`ingest reextract`: notes made again from their snapshots with today's extractor, guesser and
template, without fetching the web.

A note is rewritten in place only while it is exactly what ingest wrote (its hash is in the
ledger) and still has the status ingest gave it; a note a curator has touched is left alone and
the new version goes beside it as `<name>.reextracted.md`, with `status: reextracted` so that
downstream jobs do not route its source a second time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from datetime import UTC, datetime
from pathlib import Path

from .archive import frontmatter_of
from .errors import IngestError, TemplateError
from .ledger import Snapshot
from .pipeline import hint_from_json, note_digest
from .runtime import Run
from .records import FetchResult, Source
from .render import NEW_STATUS, TWIN_STATUS, twin_filename, twin_text
from .writer import replace_note, write_note


class Action(StrEnum):
    """What reextract did with one note (a dry run says what it would do)."""

    REWRITTEN = "rewritten"  # in place: ingest's own note, untouched by a curator
    UNCHANGED = "unchanged"  # the new version is the note as it stands
    BESIDE = "beside"  # a curator's note kept; the new version written as NAME.reextracted.md (status: reextracted)
    MISSING = "missing"  # the note is gone
    FAILED = "failed"
    WOULD_REWRITE = "would-rewrite"
    WOULD_WRITE_BESIDE = "would-write-beside"


@dataclass(frozen=True)
class Reextracted:
    url: str
    action: Action
    path: str | None = None  # the note (rewritten, unchanged, or the curator's, left alone)
    new_path: str | None = None  # beside: where the new version went
    text: str | None = None  # dry runs: the new note
    error: str | None = None


def reextract(run: Run, snapshots: list[Snapshot], configured: list[Source]) -> Iterator[Reextracted]:
    """Each snapshot's note made again; a template that fails is raised (TemplateError), not put
    on the note: every later note would fail alike, and the note is not at fault."""
    by_id: dict[int | None, str] = {s.id: s.name for s in run.ledger.source_states()}  # None: no source
    by_name = {s.name: s for s in configured}
    for snap in snapshots:
        try:
            yield _one(run, snap, by_name.get(by_id.get(snap.source_id, "")))
        except TemplateError:
            raise
        except IngestError as exc:
            yield Reextracted(snap.url, Action.FAILED, path=snap.note_path, error=exc.message)


def _one(run: Run, snap: Snapshot, source: Source | None) -> Reextracted:
    path = Path(snap.note_path) if snap.note_path else None
    if path is None or not path.is_file():
        return Reextracted(snap.url, Action.MISSING, path=snap.note_path,
                           error=f"its note is gone; `ingest doctor` finds a moved one; `ingest forget {snap.url}` "
                                 "forgets one deleted on purpose")
    from .prepare import page_of

    result = _kept(run, snap.url, snap.final_url, snap.body_sha256, snap.headers, snap)
    full_text = None
    if snap.full_text is not None:
        final_url, body_sha256, headers = snap.full_text
        full_text = _kept(run, final_url, final_url, body_sha256, headers, snap)
    prepared = run.prepare(page_of(result, full_text), snap.fetched_at.date(), hint_from_json(snap.url, snap.hint),
                           source)
    current = path.read_bytes()
    meta, _, _ = frontmatter_of(current)
    status = (meta or {}).get("status")
    # a second version ingest wrote (url --force) is made again as one, never as new work
    text = twin_text(prepared.note.text) if status == TWIN_STATUS else prepared.note.text
    if current == text.encode("utf-8"):
        return Reextracted(snap.url, Action.UNCHANGED, path=str(path))
    if _untouched(current, snap.note_sha256, status):
        if run.dry_run:
            return Reextracted(snap.url, Action.WOULD_REWRITE, path=str(path), text=text)
        replace_note(path, text)
        run.ledger.note_rewritten(snap.item_id, run.clock(), note_sha256=note_digest(text),
                                  title=prepared.document.title, content_hash=prepared.content_hash)
        return Reextracted(snap.url, Action.REWRITTEN, path=str(path))
    beside, text = twin_filename(path.name), twin_text(text)
    if (path.parent / beside).is_file() and (path.parent / beside).read_bytes() == text.encode("utf-8"):
        return Reextracted(snap.url, Action.UNCHANGED, path=str(path.parent / beside))  # an earlier run wrote it
    if run.dry_run:
        return Reextracted(snap.url, Action.WOULD_WRITE_BESIDE, path=str(path), new_path=str(path.parent / beside),
                           text=text)
    written = write_note(path.parent, beside, text)
    return Reextracted(snap.url, Action.BESIDE, path=str(path), new_path=str(written))


def _kept(run: Run, url: str, final_url: str, body_sha256: str, headers: dict[str, str],
          snap: Snapshot) -> FetchResult:
    """A kept response, as the fetcher gave it then."""
    return FetchResult(url=url, final_url=final_url, status=snap.status, headers=headers,
                       content=run.snapshots.get(body_sha256), fetched_at=snap.fetched_at, elapsed=0.0)


def _untouched(current: bytes, written_sha256: str | None, status: str | None) -> bool:
    """The file is byte for byte what ingest wrote, and no curator has taken it up."""
    if written_sha256 is None or hashlib.sha256(current).hexdigest() != written_sha256:
        return False
    return status in (NEW_STATUS, TWIN_STATUS)


def parse_since(text: str) -> datetime:
    """`--since 2026-11-01` (or a full ISO time) as an aware UTC datetime."""
    when = datetime.fromisoformat(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
