"""What the ledger keeps so as not to read it again: hosts' robots.txt, and the index of the
curators' notes (path, stat, URL key) that archive.scan_archive keeps up to date."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .base import LedgerBase, aware
from .schema import archive_notes, robots

if TYPE_CHECKING:  # the ledger only reads its fields; archive.py loads frontmatter and YAML
    from ..archive import ArchiveNote


class CacheStore(LedgerBase):
    """robots.txt by origin, and the archive's notes by path."""

    # -- robots.txt -----------------------------------------------------------------------

    def robots_txt(self, origin: str, fresh_since: datetime) -> tuple[bool, str | None]:
        """(known, body): a host's robots.txt fetched after `fresh_since`; body None means none exists."""
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(sa.select(robots.c.body, robots.c.fetched_at).where(robots.c.origin == origin)).first()
        if row is None or aware(row.fetched_at) < fresh_since:
            return False, None
        return True, row.body

    def store_robots_txt(self, origin: str, body: str | None, now: datetime) -> None:
        def store(conn: sa.Connection) -> None:
            conn.execute(robots.delete().where(robots.c.origin == origin))
            conn.execute(robots.insert().values(origin=origin, body=body, fetched_at=now))

        self._write_racing(store)

    # -- the curators' archive ------------------------------------------------------------

    def archive_state(self) -> dict[str, tuple[int, int]]:
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(sa.select(archive_notes.c.path, archive_notes.c.mtime_ns, archive_notes.c.size))
            return {r.path: (r.mtime_ns, r.size) for r in rows}

    def update_archive(self, changed: list[ArchiveNote], removed: list[str]) -> None:
        self._write_racing(lambda conn: _update_archive(conn, changed, removed))

    def archived_notes(self) -> list[tuple[str, str | None]]:
        """(path, URL key) of every note the last archive scan found."""
        with self._guard("read"), self.engine.connect() as conn:
            return [(r.path, r.url_key) for r in conn.execute(sa.select(archive_notes.c.path, archive_notes.c.url_key))]


def _update_archive(conn: sa.Connection, changed: list[ArchiveNote], removed: list[str]) -> None:
    if removed:
        conn.execute(archive_notes.delete().where(archive_notes.c.path.in_(removed)))
    if changed:
        conn.execute(archive_notes.delete().where(archive_notes.c.path.in_([c.path for c in changed])))
        conn.execute(archive_notes.insert(), [
            {"path": c.path, "mtime_ns": c.mtime_ns, "size": c.size, "url_key": c.url_key, "error": c.error}
            for c in changed
        ])
