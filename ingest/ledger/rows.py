"""What goes into the ledger and comes out of it: plain frozen dataclasses, no queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..records import State
from .base import aware


@dataclass(frozen=True)
class Known:
    """An item the ledger already has, or a note of the curators' archive."""

    item_id: int | None
    outcome: State  # created | duplicate | failed | pending | queued | archived
    note_path: str | None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RetryItem:
    """An item waiting in the ledger: queued, or failed and due for another try."""

    item_id: int
    url: str
    source_id: int | None
    hint: str | None


@dataclass(frozen=True)
class QueuedItem:
    """An item a source has shown, to be queued for ingestion."""

    url: str
    url_key: str
    hint: str | None  # JSON: what the source said of it (pipeline.hint_json)


@dataclass(frozen=True)
class Snapshot:
    """An ingested item as reextract needs it: its note and the response it was made from."""

    item_id: int
    url: str
    note_path: str | None
    note_sha256: str | None
    hint: str | None
    source_id: int | None
    final_url: str
    status: int
    headers: dict[str, str]
    body_sha256: str
    fetched_at: datetime
    full_text: tuple[str, str, dict[str, str]] | None = None  # a paper's PDF: (final URL, body SHA-256, headers)


@dataclass(frozen=True)
class SourceState:
    """A source's row in the ledger: where to fetch it and how its polling has gone."""

    id: int
    name: str
    url: str
    fetch_url: str
    kind: str | None
    enabled: bool
    every_s: float
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_check_at: datetime
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_new_at: datetime | None
    publish_interval_s: float | None
    last_error: str | None
    last_error_code: str | None
    consecutive_failures: int
    backfilled: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row) -> SourceState:
        values = dict(row._mapping)
        values.pop("claimed_until", None)
        values.pop("claimed_by", None)
        for key, value in values.items():
            if isinstance(value, datetime):
                values[key] = aware(value)
        return cls(**values)


@dataclass(frozen=True)
class Entry:
    """An entry a source's document showed, as the source's history keeps it."""

    url_key: str
    url: str
    published_at: datetime | None
    skipped: bool  # left out by the backfill limit


@dataclass(frozen=True)
class SourceRead:
    """What a source's document was when a poll read it through (not when it was unchanged)."""

    kind: str
    body_hash: str | None
    publish_interval_s: float | None  # how often it publishes, when its entries tell


@dataclass(frozen=True)
class PollResult:
    """A poll of a source that worked, as its row records it."""

    polled_at: datetime
    next_check_at: datetime
    not_modified: bool  # a 304: the stored validators stay, etag and last_modified are not recorded
    etag: str | None = None
    last_modified: str | None = None
    fetch_url: str | None = None  # where to fetch the source from now on; None: where it was
    read: SourceRead | None = None  # None: the document had not changed and was not read
    found_new: bool = False  # entries not seen before: the source's last_new_at becomes polled_at


@dataclass(frozen=True)
class PollFailure:
    """A poll of a source that failed, as its row records it: the error, and when to try again."""

    polled_at: datetime
    error: str
    error_code: str
    failures: int  # in a row, this one included
    next_check_at: datetime
