"""What happened to each item, kept for later: every fetch attempt, and the responses (snapshots)
its notes were made from, which `ingest reextract` makes them again from."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from ..records import State
from .base import LedgerBase, aware
from .rows import Snapshot
from .schema import aliases, fetches, items, snapshots


class HistoryStore(LedgerBase):
    """The fetch log and the snapshots."""

    def record_fetch(self, item_id: int | None, url: str, started_at: datetime, duration: float,
                     status: int | None = None, error_code: str | None = None, error: str | None = None) -> None:
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(
                fetches.insert().values(
                    item_id=item_id, url=url, started_at=started_at, duration_ms=int(duration * 1000),
                    status_code=status, error_code=error_code, error=error,
                )
            )

    def fetch_count(self) -> int:
        with self._guard("read"), self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(fetches)).scalar_one()

    def record_snapshot(self, item_id: int, url: str, final_url: str, status: int, headers: dict[str, str],
                        body_sha256: str, size: int, fetched_at: datetime, role: str = "page") -> None:
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(snapshots.insert().values(
                item_id=item_id, role=role, url=url, final_url=final_url, status=status,
                headers=json.dumps(headers), body_sha256=body_sha256, size=size, fetched_at=fetched_at,
            ))

    def snapshots_to_reextract(self, *, since: datetime | None = None,
                               keys: list[str] | None = None) -> tuple[list[Snapshot], list[str]]:
        """The latest snapshot of each item that wrote a note (fetched since `since`, or named by
        one of `keys`), and the URLs of such items that have none (ingested before snapshots)."""
        latest = (sa.select(snapshots.c.item_id, sa.func.max(snapshots.c.id).label("id"))
                  .where(snapshots.c.role == "page").group_by(snapshots.c.item_id).subquery())
        query = (
            sa.select(items.c.id, items.c.url, items.c.note_path, items.c.note_sha256, items.c.hint,
                      items.c.source_id, items.c.created_at, snapshots.c.final_url, snapshots.c.status,
                      snapshots.c.headers,
                      snapshots.c.body_sha256, snapshots.c.fetched_at)
            .select_from(items.outerjoin(latest, latest.c.item_id == items.c.id)
                         .outerjoin(snapshots, snapshots.c.id == latest.c.id))
            .where(items.c.outcome == State.CREATED)
            .order_by(items.c.id)
        )
        if keys is not None:
            named = sa.select(aliases.c.item_id).where(aliases.c.key.in_(keys))
            query = query.where(items.c.id.in_(named) | items.c.url_key.in_(keys))
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
            full_texts = {r.item_id: (r.final_url, r.body_sha256, json.loads(r.headers)) for r in conn.execute(
                sa.select(snapshots.c.item_id, snapshots.c.final_url, snapshots.c.body_sha256, snapshots.c.headers)
                .where(snapshots.c.role == "full_text").order_by(snapshots.c.id))}  # the latest wins
        found, missing = [], []
        for r in rows:
            if r.body_sha256 is None:
                if since is None or aware(r.created_at) >= since:
                    missing.append(r.url)
                continue
            if since is not None and aware(r.fetched_at) < since:
                continue
            found.append(Snapshot(r.id, r.url, r.note_path, r.note_sha256, r.hint, r.source_id, r.final_url,
                                  r.status, json.loads(r.headers), r.body_sha256, aware(r.fetched_at),
                                  full_texts.get(r.id)))
        return found, missing
