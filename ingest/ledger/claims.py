"""Work put in and taken out: items queued and claimed, sources leased for a poll, and the claims
of dead workers given back.

Every query that decides who works on what lives here. Items are claimed by racing to insert
their alias key, and a pending item older than STALE_CLAIM is taken to be its worker's loss;
sources are leased (`claimed_until`). The PostgreSQL ledger will give items leases too: `claim`
and `due_items` would select with `FOR UPDATE SKIP LOCKED` and set a `claimed_until` on the item,
and `release_claims` would give back the expired leases, all behind these same methods.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..claim_owner import dead_here, owner_id
from ..records import State
from .base import LedgerBase, aware, batches, inserted_id
from .rows import QueuedItem, RetryItem, SourceState
from .schema import aliases, items, sources

SOURCE_LEASE = timedelta(minutes=30)  # a worker polling a source holds it this long at most
STALE_CLAIM = timedelta(minutes=15)  # a "pending" item older than this was left by a dead worker


class ClaimStore(LedgerBase):
    """Claims on items and sources: taking them, and giving back those of dead workers."""

    def claim(self, url: str, key: str, now: datetime, *, force: bool = False, source_id: int | None = None,
              hint: str | None = None) -> int | None:
        """Take an item to work on; None when another worker holds it or it is already done.

        The alias key's primary key is the lock: of two workers inserting it, one fails.
        A queued or failed item, or one left pending by a dead worker, can be taken again.
        """
        me = owner_id()
        with self._guard("write"), self.engine.begin() as conn:
            item_id = inserted_id(conn.execute(
                items.insert().values(
                    url=url, url_key=key, outcome=State.PENDING, created_at=now, updated_at=now, attempts=1,
                    claimed_by=me, source_id=source_id, hint=hint,
                )
            ))
            try:
                with conn.begin_nested():
                    conn.execute(aliases.insert().values(key=key, item_id=item_id))
                return item_id
            except IntegrityError:
                pass
            if force:  # a deliberate second note: the key stays with the first item
                return item_id
            conn.execute(items.delete().where(items.c.id == item_id))
            owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == key)).scalar_one()
            retake = conn.execute(
                items.update()
                .where(
                    items.c.id == owner,
                    items.c.outcome.in_((State.QUEUED, State.FAILED))
                    | ((items.c.outcome == State.PENDING) & (items.c.updated_at < now - STALE_CLAIM)),
                )
                .values(
                    outcome=State.PENDING, url=url, error=None, error_code=None, retry_at=None, updated_at=now,
                    attempts=items.c.attempts + 1, claimed_by=me,
                )
            )
            return owner if retake.rowcount == 1 else None

    def due_items(self, now: datetime, max_attempts: int) -> list[RetryItem]:
        """The work waiting in the ledger: queued items, and failed ones whose failure was
        transient and whose retry time has come."""
        retry = (items.c.outcome == State.FAILED) & (items.c.retry_at <= now) & (items.c.attempts < max_attempts)
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(items.c.id, items.c.url, items.c.source_id, items.c.hint)
                .where((items.c.outcome == State.QUEUED) | retry)
                .order_by(items.c.retry_at, items.c.id)
            )
            return [RetryItem(r.id, r.url, r.source_id, r.hint) for r in rows]

    def due_sources(self, now: datetime) -> list[SourceState]:
        """The enabled sources whose next check has come and that no worker holds."""
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sources)
                .where(sources.c.enabled.is_(True), sources.c.next_check_at <= now, unclaimed(now))
                .order_by(sources.c.next_check_at)
            )
            return [SourceState.from_row(r) for r in rows]

    def claim_source(self, source_id: int, now: datetime, *, due_only: bool) -> bool:
        """Take a source for one poll; False when another worker has it (or it is no longer due)."""
        conditions = [sources.c.id == source_id, unclaimed(now)]
        if due_only:
            conditions.append(sources.c.next_check_at <= now)
        with self._guard("write"), self.engine.begin() as conn:
            done = conn.execute(sources.update().where(*conditions)
                                .values(claimed_until=now + SOURCE_LEASE, claimed_by=owner_id()))
            return done.rowcount == 1

    def release_claims(self, now: datetime) -> tuple[int, int]:
        """Give back the claims of workers that died: pending items (queued again) and sources
        (due again) held by a dead process of this machine, or pending for longer than any item
        takes. Returns (items, sources) released."""
        with self._guard("write"), self.engine.begin() as conn:
            lost = _lost_items(conn, now)
            for batch in batches(lost):
                conn.execute(
                    items.update().where(items.c.id.in_(batch), items.c.outcome == State.PENDING)
                    .values(outcome=State.QUEUED, retry_at=now, claimed_by=None, error="its worker stopped",
                            error_code="interrupted")
                )
            dropped = _lost_sources(conn, now)
            if dropped:
                conn.execute(sources.update().where(sources.c.id.in_(dropped))
                             .values(claimed_until=None, claimed_by=None))
        return len(lost), len(dropped)

    def lost_claims(self, now: datetime) -> tuple[list[int], list[int]]:
        """The items and sources that release_claims would give back."""
        with self._guard("read"), self.engine.connect() as conn:
            return _lost_items(conn, now), _lost_sources(conn, now)


def enqueue(conn: sa.Connection, item: QueuedItem, source_id: int, now: datetime) -> None:
    """A new item waiting to be ingested; a URL the ledger knows keeps its item, and one that
    failed for good gets one more try, as the source shows it anew."""
    owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == item.url_key)).scalar()
    if owner is None:
        try:
            with conn.begin_nested():
                item_id = inserted_id(conn.execute(items.insert().values(
                    url=item.url, url_key=item.url_key, outcome=State.QUEUED, attempts=0, retry_at=now,
                    source_id=source_id, hint=item.hint, created_at=now, updated_at=now,
                )))
                conn.execute(aliases.insert().values(key=item.url_key, item_id=item_id))
            return
        except IntegrityError:  # another worker queued it a moment ago
            return
    conn.execute(
        items.update().where(items.c.id == owner, items.c.outcome == State.FAILED, items.c.retry_at.is_(None))
        .values(outcome=State.QUEUED, retry_at=now, attempts=0, source_id=source_id, hint=item.hint, updated_at=now)
    )


def unclaimed(now: datetime):
    """Sources no worker holds: never leased, or the lease has run out."""
    return sa.or_(sources.c.claimed_until.is_(None), sources.c.claimed_until < now)


def _lost_items(conn: sa.Connection, now: datetime) -> list[int]:
    pending = conn.execute(
        sa.select(items.c.id, items.c.claimed_by, items.c.updated_at).where(items.c.outcome == State.PENDING)
    ).all()
    return [r.id for r in pending if dead_here(r.claimed_by) or aware(r.updated_at) < now - STALE_CLAIM]


def _lost_sources(conn: sa.Connection, now: datetime) -> list[int]:
    held = conn.execute(sa.select(sources.c.id, sources.c.claimed_by).where(~unclaimed(now))).all()
    return [r.id for r in held if dead_here(r.claimed_by)]
