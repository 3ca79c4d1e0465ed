"""Sources and what they have shown: the sources table kept in step with the configuration, each
poll's result, and the entries each source has listed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from .base import LedgerBase, aware, batches
from .claims import enqueue
from .rows import Entry, PollFailure, PollResult, QueuedItem, SourceState
from .schema import entries, sources


class SourceStore(LedgerBase):
    """The sources' rows and the entries they have shown."""

    def sync_sources(self, configured: list, now: datetime) -> None:
        """Make the sources table follow the configuration (records.Source list), keyed by name.

        A changed URL starts the source afresh; a source gone from the file is disabled, and its
        history kept."""
        self._write_racing(lambda conn: _sync_sources(conn, configured, now))

    def source_states(self, *, names: list[str] | None = None) -> list[SourceState]:
        query = sa.select(sources).order_by(sources.c.name)
        if names is not None:
            query = query.where(sources.c.name.in_(names))
        with self._guard("read"), self.engine.connect() as conn:
            return [SourceState.from_row(r) for r in conn.execute(query)]

    def finish_source(self, source_id: int, result: PollResult | PollFailure | None = None) -> None:
        """Store a poll's result and release the source; with no result only release it (it stays due)."""
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(sources.update().where(sources.c.id == source_id)
                         .values(claimed_until=None, claimed_by=None, **_poll_columns(result)))

    def seen_entries(self, source_id: int, keys: list[str]) -> set[str]:
        with self._guard("read"), self.engine.connect() as conn:
            return _seen(conn, source_id, keys)

    def add_entries(self, source_id: int, shown: Sequence[Entry], now: datetime,
                    queue: Sequence[QueuedItem] = ()) -> None:
        """Record entries a source has shown, known ones kept, and queue the items to ingest in
        the same transaction: a process killed after this still leaves the work in the ledger
        for the next one."""
        if not shown and not queue:
            return
        with self._guard("write"), self.engine.begin() as conn:
            already = _seen(conn, source_id, [e.url_key for e in shown])
            fresh = [{"url_key": e.url_key, "url": e.url, "published_at": e.published_at, "skipped": e.skipped,
                      "source_id": source_id, "first_seen_at": now} for e in shown if e.url_key not in already]
            if fresh:
                conn.execute(entries.insert(), fresh)
            for item in queue:
                enqueue(conn, item, source_id, now)

    def recent_publish_times(self, source_id: int, limit: int = 20) -> list[datetime]:
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entries.c.published_at)
                .where(entries.c.source_id == source_id, entries.c.published_at.is_not(None))
                .order_by(entries.c.published_at.desc())
                .limit(limit)
            ).scalars()
            return [aware(r) for r in rows]


def _sync_sources(conn: sa.Connection, configured: list, now: datetime) -> None:
    rows = {r.name: r for r in conn.execute(sa.select(sources))}
    for src in configured:
        row = rows.pop(src.name, None)
        if row is None:
            conn.execute(sources.insert().values(
                name=src.name, url=src.url, fetch_url=src.url, kind=src.kind, enabled=src.enabled,
                every_s=src.every, next_check_at=now, created_at=now, consecutive_failures=0,
                backfilled=False,
            ))
            continue
        values: dict[str, object] = {}
        if row.url != src.url and src.url == row.fetch_url:
            values["url"] = src.url  # the file now says where the source moved to
        elif row.url != src.url:
            values |= {"url": src.url, "fetch_url": src.url, "kind": src.kind, "etag": None, "last_modified": None,
                       "body_hash": None, "backfilled": False, "next_check_at": now, "consecutive_failures": 0}
        elif src.kind and row.kind != src.kind:
            values |= {"kind": src.kind, "body_hash": None}
        if row.enabled != src.enabled:
            values["enabled"] = src.enabled
        if row.every_s != src.every:
            values["every_s"] = src.every
        if values:
            conn.execute(sources.update().where(sources.c.id == row.id).values(**values))
    for row in rows.values():
        if row.enabled:
            conn.execute(sources.update().where(sources.c.id == row.id).values(enabled=False))


def _poll_columns(result: PollResult | PollFailure | None) -> dict[str, object]:
    """The columns of a source's row that a poll's result sets; the others keep their values."""
    if result is None:
        return {}
    if isinstance(result, PollFailure):
        return {"last_polled_at": result.polled_at, "last_error": result.error, "last_error_code": result.error_code,
                "consecutive_failures": result.failures, "next_check_at": result.next_check_at}
    columns: dict[str, object] = {
        "last_polled_at": result.polled_at, "last_success_at": result.polled_at, "last_error": None,
        "last_error_code": None, "consecutive_failures": 0, "next_check_at": result.next_check_at,
    }
    if not result.not_modified:
        columns |= {"etag": result.etag, "last_modified": result.last_modified}
    if result.fetch_url is not None:
        columns["fetch_url"] = result.fetch_url
    if result.read is not None:
        columns |= {"kind": result.read.kind, "body_hash": result.read.body_hash, "backfilled": True,
                    "publish_interval_s": result.read.publish_interval_s}
    if result.found_new:
        columns["last_new_at"] = result.polled_at
    return columns


def _seen(conn: sa.Connection, source_id: int, keys: list[str]) -> set[str]:
    """Which of `keys` the source has shown before."""
    seen: set[str] = set()
    for batch in batches(keys):
        seen.update(conn.execute(
            sa.select(entries.c.url_key).where(entries.c.source_id == source_id, entries.c.url_key.in_(batch))
        ).scalars())
    return seen
