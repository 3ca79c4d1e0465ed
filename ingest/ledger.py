"""The ledger: SQLAlchemy tables and the queries that decide work (what is known, claimed, done).

Everything that decides whether an item is fetched lives here, never only in a process's memory,
so several workers can share one database. Schema changes go through the Alembic migrations in
`ingest/migrations/`; `open_ledger` upgrades an older ledger in place.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from .errors import LedgerError
from .claim_owner import dead_here, owner_id
from .records import DONE, State

HEAD = "0008"  # latest migration; keep in step with ingest/migrations/versions
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
BATCH = 500  # keys per IN (...): SQLite's bound-parameter limit
SOURCE_LEASE = timedelta(minutes=30)  # a worker polling a source holds it this long at most
STALE_CLAIM = timedelta(minutes=15)  # a "pending" item older than this was left by a dead worker
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

metadata = sa.MetaData()

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),  # as given
    sa.Column("url_key", sa.Text, nullable=False),
    sa.Column("final_url", sa.Text),
    sa.Column("canonical_url", sa.Text),
    sa.Column("content_hash", sa.String(64), index=True),
    sa.Column("title", sa.Text),
    sa.Column("note_path", sa.Text),
    # queued (known, not started) | pending (claimed) | created | duplicate | failed
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("items.id")),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error", sa.Text),
    sa.Column("date_is_fallback", sa.Boolean, nullable=False, default=False),
    sa.Column("source_id", sa.Integer),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("retry_at", sa.DateTime(timezone=True), index=True),  # set for transient failures
    sa.Column("hint", sa.Text),  # JSON: what the source said of the item (date, author, categories)
    sa.Column("claimed_by", sa.String(255)),  # claim_owner.owner_id() of the process holding a pending item
    sa.Column("note_sha256", sa.String(64)),  # of the note as ingest wrote it: reextract may rewrite only that
    sa.Column("simhash", sa.BigInteger),  # fingerprint.fingerprint of the main text, for near-duplicates
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),  # urls.url_key of any URL that names the item
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False, index=True),
)

fetches = sa.Table(
    "fetches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error_code", sa.String(40)),
    sa.Column("error", sa.Text),
)

archive_notes = sa.Table(
    "archive_notes",
    metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("url_key", sa.Text, index=True),
    sa.Column("error", sa.Text),  # why the note could not be read, if it could not
)


sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("url", sa.Text, nullable=False),  # as configured
    sa.Column("fetch_url", sa.Text, nullable=False),  # the discovered feed, or where it moved
    sa.Column("kind", sa.String(16)),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("every_s", sa.Float, nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("body_hash", sa.String(64)),
    sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("claimed_by", sa.String(255)),
    sa.Column("last_polled_at", sa.DateTime(timezone=True)),
    sa.Column("last_success_at", sa.DateTime(timezone=True)),
    sa.Column("last_new_at", sa.DateTime(timezone=True)),
    sa.Column("publish_interval_s", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_code", sa.String(40)),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("backfilled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("url_key", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("skipped", sa.Boolean, nullable=False, default=False),  # left out by the backfill limit
)


simhash_bands = sa.Table(
    "simhash_bands",
    metadata,
    sa.Column("band", sa.Integer, primary_key=True),  # fingerprint.bands: any near copy shares one
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
)


snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False, default="page"),  # page | full_text (a paper's PDF)
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("final_url", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),  # JSON object, lower-case names
    sa.Column("body_sha256", sa.String(64), nullable=False, index=True),  # the body in the SnapshotStore
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)


robots = sa.Table(
    "robots",
    metadata,
    sa.Column("origin", sa.Text, primary_key=True),
    sa.Column("body", sa.Text),  # None: the host has no robots.txt (everything allowed)
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)


# what Known is made of (Ledger._resolve)
KNOWN_COLUMNS = (items.c.id, items.c.outcome, items.c.note_path, items.c.duplicate_of, items.c.updated_at)


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


@dataclass(frozen=True)
class RetryItem:
    item_id: int
    url: str
    source_id: int | None
    hint: str | None


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
class Known:
    """An item the ledger already has, or a note of the curators' archive."""

    item_id: int | None
    outcome: str  # created | duplicate | failed | pending | queued | archived
    note_path: str | None
    updated_at: datetime | None = None


def open_ledger(url: str, *, create: bool = True, wait: float = 30.0) -> "Ledger":
    """Open (and create or upgrade) the ledger at a SQLAlchemy database URL; a write waits up to
    `wait` seconds for another process's, then fails as locked."""
    if url.startswith("sqlite:///") and not create and not Path(url[len("sqlite:///"):]).exists():
        url = "sqlite://"  # a dry run on a fresh machine: an empty in-memory ledger, no file made
    if url.startswith("sqlite:///"):
        folder = Path(url[len("sqlite:///"):]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"ledger folder {folder} cannot be created ({exc.strerror}); check the 'ledger' setting") from None
    engine = _engine(url, wait)
    ledger = Ledger(engine, url)
    ledger.upgrade(allowed=create or url == "sqlite://")
    return ledger


def _engine(url: str, wait: float) -> sa.Engine:
    try:
        if url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"timeout": wait})

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # WAL lets readers work while a poll writes
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                if url != "sqlite://":
                    _use_wal(cur, wait)
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            return engine
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise LedgerError(f"ledger URL {url!r} is not usable ({exc}); give a SQLite path or a database URL") from None


def _use_wal(cur, wait: float) -> None:
    """Put the file in WAL mode (it stays so). Switching needs the file to itself and SQLite does
    not wait for that, so a second process opening a new ledger tries again for a while."""
    give_up_at = time.monotonic() + wait
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up_at:
                raise
            time.sleep(0.05)


class Ledger:
    def __init__(self, engine: sa.Engine, url: str):
        self.engine = engine
        self.url = url

    # -- schema ---------------------------------------------------------------------------

    def revision(self) -> str | None:
        with self._guard("read"), self.engine.connect() as conn:
            return _revision(conn)

    def _check_upgradable(self, current: str | None, allowed: bool) -> None:
        if current is not None and current not in KNOWN_REVISIONS:
            raise LedgerError(
                f"ledger {self.url} was written by a newer version of ingest (schema {current}); upgrade ingest",
                code="ledger_newer",
            )
        if not allowed:
            raise LedgerError(f"ledger {self.url} needs an upgrade first; run any ingest command without --dry-run")

    def upgrade(self, *, allowed: bool = True) -> None:
        current = self.revision()
        if current == HEAD:
            return
        self._check_upgradable(current, allowed)
        from alembic import command  # imported only when a migration is due: it is slow to load
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._guard("upgrade"), self.engine.connect() as conn:
            # SQLite batch migrations copy a table and drop the old one, which fails while other
            # tables' foreign keys point at it; the pragma only takes effect outside a transaction
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    # two processes starting on a fresh ledger: one migrates, the other waits here
                    # and then finds the schema current
                    _lock_schema(conn)
                    current = _revision(conn)
                    if current == HEAD:
                        return
                    self._check_upgradable(current, allowed)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()

    def close(self) -> None:
        self.engine.dispose()

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
            path = conn.execute(
                sa.select(archive_notes.c.path).where(archive_notes.c.url_key.in_(keys)).limit(1)
            ).scalar()
        if path:  # e.g. a note written just before a crash, which the ledger never heard of
            return Known(known.item_id if known else None, State.ARCHIVED, path)
        return known

    def lookup_hash(self, content_hash: str, *, exclude: int | None = None) -> Known | None:
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(
                sa.select(*KNOWN_COLUMNS)
                .where(items.c.content_hash == content_hash, items.c.outcome == State.CREATED, items.c.id != (exclude or -1))
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
            row = conn.execute(
                sa.select(*KNOWN_COLUMNS)
                .where(items.c.id == item_id)
            ).first()
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
            target = conn.execute(
                sa.select(*KNOWN_COLUMNS)
                .where(items.c.id == row.duplicate_of)
            ).first()
            if target is None:
                break
            row = target
        return Known(row.id, row.outcome, row.note_path, _aware(row.updated_at))

    # -- claims and outcomes --------------------------------------------------------------

    def claim(self, url: str, key: str, now: datetime, *, force: bool = False, **extra: object) -> int | None:
        """Take an item to work on; None when another worker holds it or it is already done.

        The alias key's primary key is the lock: of two workers inserting it, one fails.
        A queued or failed item, or one left pending by a dead worker, can be taken again.
        """
        me = owner_id()
        with self._guard("write"), self.engine.begin() as conn:
            item_id = conn.execute(
                items.insert().values(
                    url=url, url_key=key, outcome=State.PENDING, created_at=now, updated_at=now, attempts=1,
                    claimed_by=me, **extra
                )
            ).inserted_primary_key[0]
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
                    row = conn.execute(
                        sa.select(*KNOWN_COLUMNS)
                        .where(items.c.id == owner)
                    ).first()
                    known = self._resolve(conn, row)
                    if known.item_id != item_id:
                        return known
            path = conn.execute(
                sa.select(archive_notes.c.path).where(archive_notes.c.url_key.in_(keys)).limit(1)
            ).scalar()
            return Known(None, State.ARCHIVED, path) if path else None

    def item_attempts(self, item_id: int) -> int:
        with self._guard("read"), self.engine.connect() as conn:
            return conn.execute(sa.select(items.c.attempts).where(items.c.id == item_id)).scalar() or 0

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

    def finish(self, item_id: int, outcome: str, now: datetime, **values: object) -> None:
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(items.update().where(items.c.id == item_id)
                         .values(outcome=outcome, updated_at=now, claimed_by=None, **values))

    def release_claims(self, now: datetime) -> tuple[int, int]:
        """Give back the claims of workers that died: pending items (queued again) and sources
        (due again) held by a dead process of this machine, or pending for longer than any item
        takes. Returns (items, sources) released."""
        with self._guard("write"), self.engine.begin() as conn:
            lost = self._lost_claims(conn, now)
            for batch in _batches(lost):
                conn.execute(
                    items.update().where(items.c.id.in_(batch), items.c.outcome == State.PENDING)
                    .values(outcome=State.QUEUED, retry_at=now, claimed_by=None, error="its worker stopped",
                            error_code="interrupted")
                )
            dropped = self._lost_sources(conn, now)
            if dropped:
                conn.execute(sources.update().where(sources.c.id.in_(dropped)).values(claimed_until=None, claimed_by=None))
        return len(lost), len(dropped)

    def lost_claims(self, now: datetime) -> tuple[list[int], list[int]]:
        """The items and sources that release_claims would give back."""
        with self._guard("read"), self.engine.connect() as conn:
            return self._lost_claims(conn, now), self._lost_sources(conn, now)

    @staticmethod
    def _lost_claims(conn: sa.Connection, now: datetime) -> list[int]:
        pending = conn.execute(
            sa.select(items.c.id, items.c.claimed_by, items.c.updated_at).where(items.c.outcome == State.PENDING)
        ).all()
        return [r.id for r in pending if dead_here(r.claimed_by) or _aware(r.updated_at) < now - STALE_CLAIM]

    @staticmethod
    def _lost_sources(conn: sa.Connection, now: datetime) -> list[int]:
        held = conn.execute(sa.select(sources.c.id, sources.c.claimed_by).where(~_unclaimed(now))).all()
        return [r.id for r in held if dead_here(r.claimed_by)]

    # -- checks for `ingest doctor` -------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """What the database engine finds wrong with its own file (SQLite only)."""
        if self.engine.dialect.name != "sqlite":
            return []
        with self._guard("check"), self.engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check")]
        return [] if rows == ["ok"] else rows

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

    def archived_notes(self) -> list[tuple[str, str | None]]:
        """(path, URL key) of every note the last archive scan found."""
        with self._guard("read"), self.engine.connect() as conn:
            return [(r.path, r.url_key) for r in conn.execute(sa.select(archive_notes.c.path, archive_notes.c.url_key))]

    def adopt_note(self, url: str, key: str, path: str, now: datetime) -> None:
        """Record a note found on disk as the created note of its URL: the item that names the
        URL if there is one and it is unfinished, else a new item."""
        with self._guard("write"), self.engine.begin() as conn:
            owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == key)).scalar()
            if owner is None:
                owner = conn.execute(items.insert().values(
                    url=url, url_key=key, outcome=State.CREATED, note_path=path, attempts=0,
                    created_at=now, updated_at=now,
                )).inserted_primary_key[0]
                conn.execute(aliases.insert().values(key=key, item_id=owner))
                return
            conn.execute(
                items.update().where(items.c.id == owner, items.c.outcome.not_in((State.CREATED, State.DUPLICATE)))
                .values(outcome=State.CREATED, note_path=path, error=None, error_code=None, retry_at=None,
                        claimed_by=None, updated_at=now)
            )

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
                      items.c.source_id, items.c.created_at, snapshots.c.final_url, snapshots.c.status, snapshots.c.headers,
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
                if since is None or _aware(r.created_at) >= since:
                    missing.append(r.url)
                continue
            if since is not None and _aware(r.fetched_at) < since:
                continue
            found.append(Snapshot(r.id, r.url, r.note_path, r.note_sha256, r.hint, r.source_id, r.final_url,
                                  r.status, json.loads(r.headers), r.body_sha256, _aware(r.fetched_at),
                                  full_texts.get(r.id)))
        return found, missing

    def record_fetch(self, item_id: int | None, url: str, started_at: datetime, duration: float,
                     status: int | None = None, error_code: str | None = None, error: str | None = None) -> None:
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(
                fetches.insert().values(
                    item_id=item_id, url=url, started_at=started_at, duration_ms=int(duration * 1000),
                    status_code=status, error_code=error_code, error=error,
                )
            )

    def recent(self, limit: int = 20) -> list[dict]:
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(sa.select(items).order_by(items.c.updated_at.desc(), items.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def fetch_count(self) -> int:
        with self._guard("read"), self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(fetches)).scalar_one()

    # -- sources --------------------------------------------------------------------------

    def sync_sources(self, configured: list, now: datetime) -> None:
        """Make the sources table follow the configuration (records.Source list), keyed by name.

        A changed URL starts the source afresh; a source gone from the file is disabled, and its
        history kept."""
        self._write_racing(lambda conn: self._sync_sources(conn, configured, now))

    @staticmethod
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
                values |= dict(url=src.url, fetch_url=src.url, kind=src.kind, etag=None, last_modified=None,
                               body_hash=None, backfilled=False, next_check_at=now, consecutive_failures=0)
            elif src.kind and row.kind != src.kind:
                values |= dict(kind=src.kind, body_hash=None)
            if row.enabled != src.enabled:
                values["enabled"] = src.enabled
            if row.every_s != src.every:
                values["every_s"] = src.every
            if values:
                conn.execute(sources.update().where(sources.c.id == row.id).values(**values))
        for row in rows.values():
            if row.enabled:
                conn.execute(sources.update().where(sources.c.id == row.id).values(enabled=False))

    def source_states(self, *, names: list[str] | None = None) -> list[SourceState]:
        query = sa.select(sources).order_by(sources.c.name)
        if names is not None:
            query = query.where(sources.c.name.in_(names))
        with self._guard("read"), self.engine.connect() as conn:
            return [_source_state(r) for r in conn.execute(query)]

    def due_sources(self, now: datetime) -> list[SourceState]:
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sources)
                .where(sources.c.enabled.is_(True), sources.c.next_check_at <= now, _unclaimed(now))
                .order_by(sources.c.next_check_at)
            )
            return [_source_state(r) for r in rows]

    def claim_source(self, source_id: int, now: datetime, *, due_only: bool) -> bool:
        """Take a source for one poll; False when another worker has it (or it is no longer due)."""
        conditions = [sources.c.id == source_id, _unclaimed(now)]
        if due_only:
            conditions.append(sources.c.next_check_at <= now)
        with self._guard("write"), self.engine.begin() as conn:
            done = conn.execute(sources.update().where(*conditions)
                                .values(claimed_until=now + SOURCE_LEASE, claimed_by=owner_id()))
            return done.rowcount == 1

    def finish_source(self, source_id: int, **values: object) -> None:
        """Store a poll's result and release the source."""
        with self._guard("write"), self.engine.begin() as conn:
            conn.execute(sources.update().where(sources.c.id == source_id)
                         .values(claimed_until=None, claimed_by=None, **values))

    def seen_entries(self, source_id: int, keys: list[str]) -> set[str]:
        with self._guard("read"), self.engine.connect() as conn:
            return _seen(conn, source_id, keys)

    def add_entries(self, source_id: int, rows: list[dict], now: datetime, queue: list[dict] = ()) -> None:
        """Record entries a source has shown (key, url, published_at, skipped), known ones kept,
        and queue the items to ingest (url, url_key, hint) in the same transaction: a process
        killed after this still leaves the work in the ledger for the next one."""
        if not rows and not queue:
            return
        with self._guard("write"), self.engine.begin() as conn:
            already = _seen(conn, source_id, [r["url_key"] for r in rows])
            fresh = [r | {"source_id": source_id, "first_seen_at": now} for r in rows if r["url_key"] not in already]
            if fresh:
                conn.execute(entries.insert(), fresh)
            for item in queue:
                _enqueue(conn, item, source_id, now)

    def recent_publish_times(self, source_id: int, limit: int = 20) -> list[datetime]:
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entries.c.published_at)
                .where(entries.c.source_id == source_id, entries.c.published_at.is_not(None))
                .order_by(entries.c.published_at.desc())
                .limit(limit)
            ).scalars()
            return [_aware(r) for r in rows]

    # -- robots.txt --------------------------------------------------------------------------

    def robots_txt(self, origin: str, fresh_since: datetime) -> tuple[bool, str | None]:
        """(known, body): a host's robots.txt fetched after `fresh_since`; body None means none exists."""
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(sa.select(robots.c.body, robots.c.fetched_at).where(robots.c.origin == origin)).first()
        if row is None or _aware(row.fetched_at) < fresh_since:
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

    def update_archive(self, changed: list[dict], removed: list[str]) -> None:
        self._write_racing(lambda conn: self._update_archive(conn, changed, removed))

    @staticmethod
    def _update_archive(conn: sa.Connection, changed: list[dict], removed: list[str]) -> None:
        if removed:
            conn.execute(archive_notes.delete().where(archive_notes.c.path.in_(removed)))
        if changed:
            conn.execute(archive_notes.delete().where(archive_notes.c.path.in_([c["path"] for c in changed])))
            conn.execute(archive_notes.insert(), changed)

    # -- errors ---------------------------------------------------------------------------

    def _write_racing(self, work) -> None:
        """Run `work(conn)` in a transaction that another process may race to the same new rows
        (two polls starting at once both add the new sources, robots.txt, archive notes): the
        loser of the race finds those rows on a second try, and writes over them."""
        for attempt in range(3):
            try:
                with self._guard("write"), self.engine.begin() as conn:
                    work(conn)
                return
            except IntegrityError:
                if attempt == 2:
                    raise LedgerError(f"ledger {self.url}: cannot write (another process keeps writing the same "
                                      "rows); try again") from None

    def _guard(self, what: str):
        return _LedgerErrors(self.url, what)


class _LedgerErrors:
    """Turn driver errors into one clear LedgerError that says what to do."""

    def __init__(self, url: str, what: str):
        self.url, self.what = url, what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, DatabaseError) or isinstance(exc, IntegrityError):
            return False
        text = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        if isinstance(exc, OperationalError) and "locked" in text:
            raise LedgerError(f"ledger {self.url} is locked by another process; wait for it to finish and retry", code="ledger_locked") from None
        if "not a database" in text or "malformed" in text:
            raise LedgerError(f"ledger {self.url} is corrupted ({text}); move it aside and restore a backup", code="ledger_corrupt") from None
        if "readonly" in text or "read-only" in text:
            raise LedgerError(f"ledger {self.url} is read-only; fix its permissions", code="ledger_readonly") from None
        raise LedgerError(f"ledger {self.url}: cannot {self.what} ({text})") from None


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _lock_schema(conn: sa.Connection) -> None:
    """Hold the database's write lock for the rest of the transaction, so migrations run once."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite has not begun yet: it begins before DML only
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242, 1)"))


def _batches(values: list) -> list[list]:
    return [values[start:start + BATCH] for start in range(0, len(values), BATCH)]


def _seen(conn: sa.Connection, source_id: int, keys: list[str]) -> set[str]:
    """Which of `keys` the source has shown before."""
    seen: set[str] = set()
    for batch in _batches(keys):
        seen.update(conn.execute(
            sa.select(entries.c.url_key).where(entries.c.source_id == source_id, entries.c.url_key.in_(batch))
        ).scalars())
    return seen


def _enqueue(conn: sa.Connection, item: dict, source_id: int, now: datetime) -> None:
    """A new item waiting to be ingested; a URL the ledger knows keeps its item, and one that
    failed for good gets one more try, as the source shows it anew."""
    owner = conn.execute(sa.select(aliases.c.item_id).where(aliases.c.key == item["url_key"])).scalar()
    if owner is None:
        try:
            with conn.begin_nested():
                item_id = conn.execute(items.insert().values(
                    url=item["url"], url_key=item["url_key"], outcome=State.QUEUED, attempts=0, retry_at=now,
                    source_id=source_id, hint=item.get("hint"), created_at=now, updated_at=now,
                )).inserted_primary_key[0]
                conn.execute(aliases.insert().values(key=item["url_key"], item_id=item_id))
            return
        except IntegrityError:  # another worker queued it a moment ago
            return
    conn.execute(
        items.update().where(items.c.id == owner, items.c.outcome == State.FAILED, items.c.retry_at.is_(None))
        .values(outcome=State.QUEUED, retry_at=now, attempts=0, source_id=source_id, hint=item.get("hint"), updated_at=now)
    )


def _unclaimed(now: datetime):
    return sa.or_(sources.c.claimed_until.is_(None), sources.c.claimed_until < now)


def _source_state(row) -> SourceState:
    values = dict(row._mapping)
    values.pop("claimed_until", None)
    values.pop("claimed_by", None)
    for key, value in values.items():
        if isinstance(value, datetime):
            values[key] = _aware(value)
    return SourceState(**values)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything in ingest is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
