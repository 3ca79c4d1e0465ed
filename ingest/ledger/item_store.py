"""Items as the ledger knows them: lookups by URL key, text hash and SimHash, their aliases, and
the outcome each finished item records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..records import DONE, State
from .base import LedgerBase, aware, batches, inserted_id
from .rows import Known
from .schema import aliases, archive_notes, fetches, items, simhash_bands, snapshots

# what Known is made of (ItemStore._resolve)
KNOWN_COLUMNS = (items.c.id, items.c.outcome, items.c.note_path, items.c.duplicate_of, items.c.updated_at)


@dataclass(frozen=True)
class Article:
    """Every item of one article: the one a URL names, what it is a duplicate of, and the items
    that are duplicates of it (its other URLs: redirects, canonical, copies)."""

    item_ids: tuple[int, ...]
    urls: tuple[str, ...]  # as given, one per item
    keys: tuple[str, ...]  # every URL key of its items
    note_path: str | None  # the note of the item the URL resolves to
    note_paths: tuple[str, ...]  # every note its items name


class ItemStore(LedgerBase):
    """What is known of each item, and how it finished."""

    # -- lookups --------------------------------------------------------------------------

    def lookup(self, keys: list[str]) -> Known | None:
        """The item (or archived note) that any of these URL keys names, following duplicates."""
        keys = [k for k in dict.fromkeys(keys) if k]
        if not keys:
            return None
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(
                sa.select(*KNOWN_COLUMNS)
                .join(aliases, aliases.c.item_id == items.c.id)
                .where(aliases.c.key.in_(keys))
                .order_by(items.c.id)
                .limit(1)
            ).first()
            known = self._resolve(conn, row) if row is not None else None
            if known is not None and known.outcome in DONE:
                return known
            path = _archived_path(conn, keys)
        if path:  # e.g. a note written just before a crash, which the ledger never heard of
            return Known(known.item_id if known else None, State.ARCHIVED, path)
        return known

    def lookup_hash(self, content_hash: str, *, exclude: int | None = None) -> Known | None:
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(
                sa.select(*KNOWN_COLUMNS)
                .where(items.c.content_hash == content_hash, items.c.outcome == State.CREATED,
                       items.c.id != (exclude or -1))
                .order_by(items.c.id)
                .limit(1)
            ).first()
            return self._resolve(conn, row) if row else None

    def near_candidates(self, bands: tuple[int, ...], *, exclude: int | None = None) -> list[tuple[int, int]]:
        """(item id, SimHash) of the created items sharing a band with a fingerprint, oldest
        first: every near copy is among them (the caller measures the distance)."""
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(items.c.id, items.c.simhash)
                .where(items.c.id.in_(sa.select(simhash_bands.c.item_id).where(simhash_bands.c.band.in_(bands))),
                       items.c.outcome == State.CREATED, items.c.simhash.is_not(None), items.c.id != (exclude or -1))
                .order_by(items.c.id)
            ).all()
        return [(r.id, r.simhash) for r in rows]

    def known_item(self, item_id: int) -> Known | None:
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(sa.select(*KNOWN_COLUMNS).where(items.c.id == item_id)).first()
            return self._resolve(conn, row) if row else None

    def record_simhash(self, item_id: int, simhash: int, bands: tuple[int, ...]) -> None:
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(items.update().where(items.c.id == item_id).values(simhash=simhash))
            conn.execute(simhash_bands.delete().where(simhash_bands.c.item_id == item_id))
            conn.execute(simhash_bands.insert(), [{"band": b, "item_id": item_id} for b in dict.fromkeys(bands)])

    @staticmethod
    def _resolve(conn: sa.Connection, row) -> Known:
        for _ in range(10):  # duplicate chains are short; the bound guards against a cycle
            if row.outcome != State.DUPLICATE or row.duplicate_of is None:
                break
            target = conn.execute(sa.select(*KNOWN_COLUMNS).where(items.c.id == row.duplicate_of)).first()
            if target is None:
                break
            row = target
        return Known(row.id, State(row.outcome), row.note_path, aware(row.updated_at))

    def add_aliases(self, item_id: int, keys: list[str]) -> Known | None:
        """Record more URL keys for an item; if one already names another item, return that one."""
        with self._guard("write"), self.engine.begin() as conn:
            for key in dict.fromkeys(k for k in keys if k):
                owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == key)).scalar()
                if owner is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(aliases.insert().values(key=key, item_id=item_id))
                        continue
                    except IntegrityError:
                        owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == key)).scalar()
                if owner != item_id:
                    row = conn.execute(sa.select(*KNOWN_COLUMNS).where(items.c.id == owner)).first()
                    known = self._resolve(conn, row)
                    if known.item_id != item_id:
                        return known
            path = _archived_path(conn, keys)
            return Known(None, State.ARCHIVED, path) if path else None

    def item_attempts(self, item_id: int) -> int:
        with self._guard("read"), self.engine.connect() as conn:
            return conn.execute(sa.select(items.c.attempts).where(items.c.id == item_id)).scalar() or 0

    def recent(self, limit: int = 20) -> list[dict]:
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(sa.select(items).order_by(items.c.updated_at.desc(), items.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    # -- outcomes: each finish gives up the item's claim ----------------------------------

    def finish_created(self, item_id: int, now: datetime, *, note_path: str, final_url: str, canonical_url: str,
                       content_hash: str, title: str, date_is_fallback: bool, note_sha256: str) -> None:
        """The item's note is written."""
        self._finish(item_id, State.CREATED, now, note_path=note_path, final_url=final_url,
                     canonical_url=canonical_url, content_hash=content_hash, title=title,
                     date_is_fallback=date_is_fallback, note_sha256=note_sha256)

    def finish_duplicate(self, item_id: int, now: datetime, *, duplicate_of: int | None, note_path: str | None,
                         final_url: str, canonical_url: str, content_hash: str, title: str) -> None:
        """The item's page turned out to be another item's (or an archived note's, duplicate_of None)."""
        self._finish(item_id, State.DUPLICATE, now, duplicate_of=duplicate_of, note_path=note_path,
                     final_url=final_url, canonical_url=canonical_url, content_hash=content_hash, title=title)

    def finish_failed(self, item_id: int, now: datetime, *, error: str, error_code: str,
                      retry_at: datetime | None) -> None:
        """The item failed; it is tried again at `retry_at`, if set."""
        self._finish(item_id, State.FAILED, now, error=error, error_code=error_code, retry_at=retry_at)

    def requeue(self, item_id: int, now: datetime, *, error: str, error_code: str, retry_at: datetime) -> None:
        """The item could not be finished through no fault of its own (the output folder failed):
        it waits, queued, with the reason."""
        self._finish(item_id, State.QUEUED, now, error=error, error_code=error_code, retry_at=retry_at)

    def finish_with_note(self, item_id: int, outcome: State, now: datetime, note_path: str) -> None:
        """An unfinished item whose note is already on disk: done (CREATED, or DUPLICATE of a
        curator's note), its last error forgotten."""
        self._finish(item_id, outcome, now, note_path=note_path, error=None, error_code=None, retry_at=None)

    def note_moved(self, item_id: int, now: datetime, note_path: str) -> None:
        """A created item's note was found elsewhere (`ingest doctor` follows it)."""
        self._finish(item_id, State.CREATED, now, note_path=note_path)

    def note_rewritten(self, item_id: int, now: datetime, *, note_sha256: str, title: str, content_hash: str) -> None:
        """A created item's note was made again from its snapshot (`ingest reextract`)."""
        self._finish(item_id, State.CREATED, now, note_sha256=note_sha256, title=title, content_hash=content_hash)

    def _finish(self, item_id: int, outcome: State, now: datetime, **columns: object) -> None:
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(items.update().where(items.c.id == item_id)
                         .values(outcome=outcome, updated_at=now, claimed_by=None, **columns))

    # -- notes, for `ingest doctor` -------------------------------------------------------

    def created_notes(self) -> list[tuple[int, str, str, list[str]]]:
        """(item id, URL, note path, every URL key of the item) for each item that wrote a note."""
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(items.c.id, items.c.url, items.c.note_path)
                .where(items.c.outcome == State.CREATED, items.c.note_path.is_not(None))
            ).all()
            keys: dict[int, list[str]] = {}
            for item_id, key in conn.execute(sa.select(aliases.c.item_id, aliases.c.key)):
                keys.setdefault(item_id, []).append(key)
        return [(r.id, r.url, r.note_path, keys.get(r.id, [])) for r in rows]

    def adopt_note(self, url: str, key: str, path: str, now: datetime) -> None:
        """Record a note found on disk as the created note of its URL: the item that names the
        URL if there is one and it is unfinished, else a new item."""
        with self._guard("write"), self.engine.begin() as conn:
            owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == key)).scalar()
            if owner is None:
                owner = inserted_id(conn.execute(items.insert().values(
                    url=url, url_key=key, outcome=State.CREATED, note_path=path, attempts=0,
                    created_at=now, updated_at=now,
                )))
                conn.execute(aliases.insert().values(key=key, item_id=owner))
                return
            conn.execute(
                items.update().where(items.c.id == owner, items.c.outcome.not_in((State.CREATED, State.DUPLICATE)))
                .values(outcome=State.CREATED, note_path=path, error=None, error_code=None, retry_at=None,
                        claimed_by=None, updated_at=now)
            )


    # -- forgetting, for `ingest forget` ----------------------------------------------------

    def article(self, keys: list[str]) -> Article | None:
        """The article that one of these URL keys names (see Article); None when no item has them."""
        keys = [k for k in dict.fromkeys(keys) if k]
        if not keys:
            return None
        with self._guard("read"), self.engine.connect() as conn:
            named = set(conn.execute(
                sa.select(items.c.id).where(items.c.id.in_(sa.select(aliases.c.item_id).where(aliases.c.key.in_(keys)))
                                            | items.c.url_key.in_(keys))
            ).scalars())
            if not named:
                return None
            resolved = self._resolve(conn, conn.execute(
                sa.select(*KNOWN_COLUMNS).where(items.c.id == min(named))).one())
            ids = set(named)
            while True:  # up to what they duplicate, down to what duplicates them, until nothing is added
                grown = set(conn.execute(sa.select(items.c.duplicate_of).where(
                    items.c.id.in_(sorted(ids)), items.c.duplicate_of.is_not(None))).scalars())
                grown |= set(conn.execute(
                    sa.select(items.c.id).where(items.c.duplicate_of.in_(sorted(ids)))).scalars())
                if grown <= ids:
                    break
                ids |= grown
            rows = conn.execute(sa.select(items.c.id, items.c.url, items.c.url_key, items.c.note_path)
                                .where(items.c.id.in_(sorted(ids))).order_by(items.c.id)).all()
            alias_keys = conn.execute(
                sa.select(aliases.c.key).where(aliases.c.item_id.in_(sorted(ids)))).scalars().all()
        return Article(
            item_ids=tuple(r.id for r in rows), urls=tuple(r.url for r in rows),
            keys=tuple(dict.fromkeys([*(r.url_key for r in rows), *alias_keys])),
            note_path=resolved.note_path,
            note_paths=tuple(dict.fromkeys(r.note_path for r in rows if r.note_path)),
        )

    def forget(self, item_ids: list[int]) -> None:
        """Forget these items as if they had never been seen: their aliases, fetch log, snapshot
        records (the bytes stay in the snapshot store, which other items may share) and SimHash.
        A source's entries stay, so that a poll does not ingest them again."""
        with self._guard("write"), self.engine.begin() as conn:
            for batch in batches(item_ids):
                for table in (aliases, fetches, snapshots, simhash_bands):
                    conn.execute(table.delete().where(table.c.item_id.in_(batch)))
                # an item outside `item_ids` that is a duplicate of one would keep a dangling reference
                conn.execute(items.update().where(items.c.duplicate_of.in_(batch)).values(duplicate_of=None))
            for batch in batches(item_ids):
                conn.execute(items.delete().where(items.c.id.in_(batch)))


def _archived_path(conn: sa.Connection, keys: list[str]) -> str | None:
    """The path of a note of the curators' archive that names one of `keys`."""
    return conn.execute(sa.select(archive_notes.c.path).where(archive_notes.c.url_key.in_(keys)).limit(1)).scalar()
