"""The ledger's tables, and its schema's life: the engine, the revision, upgrades by migration.

Schema changes go through the Alembic migrations in `ingest/migrations/versions/`; `HEAD` and
`KNOWN_REVISIONS` are read from those files, so a new migration is all a schema change needs.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from ..errors import LedgerError
from .base import LedgerBase, in_memory

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

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
    # records.State: queued (known, not started) | pending (claimed) | created | duplicate | failed
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


# -- revisions ----------------------------------------------------------------------------

_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:["']([^"']+)["']|None)""", re.MULTILINE)


def read_revisions(versions: Path) -> tuple[str, ...]:
    """The revisions of the migration files in `versions`, oldest first, read from their
    `revision` and `down_revision` lines: alembic itself is slow to import and loads only when a
    migration is due."""
    parent_of: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:
            raise LedgerError(f"migration {path} names no revision or down_revision")
        parent_of[revision.group(1)] = down.group(1)
    child_of = {parent: child for child, parent in parent_of.items()}
    chain: list[str] = []
    while (child := child_of.get(chain[-1] if chain else None)) is not None:
        chain.append(child)
    if len(chain) != len(parent_of) or len(child_of) != len(parent_of):
        raise LedgerError(f"the migrations in {versions} are not one line of revisions: {sorted(parent_of)}")
    return tuple(chain)


KNOWN_REVISIONS = read_revisions(MIGRATIONS / "versions")
HEAD = KNOWN_REVISIONS[-1]  # the schema this version of ingest writes


# -- the engine ---------------------------------------------------------------------------


def usable_url(url: str, create: bool) -> str:
    """The database URL to open: a missing SQLite file on a dry run is an empty in-memory
    ledger (no file made); otherwise the file's folder is made."""
    if url.startswith("sqlite:///") and not create and not Path(url[len("sqlite:///"):]).exists():
        return "sqlite://"  # a dry run on a fresh machine: an empty in-memory ledger, no file made
    if url.startswith("sqlite:///"):
        folder = Path(url[len("sqlite:///"):]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"ledger folder {folder} cannot be created ({exc.strerror}); "
                              "check the 'ledger' setting") from None
    return url


def make_engine(url: str, wait: float) -> sa.Engine:
    try:
        if url.startswith("sqlite"):
            engine = (_memory_engine(url) if in_memory(url)
                      else sa.create_engine(url, connect_args={"timeout": wait}))

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # WAL lets readers work while a poll writes
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                if not in_memory(url):
                    _use_wal(cur, wait)
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            return engine
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise LedgerError(f"ledger URL {url!r} is not usable ({exc}); give a SQLite path or a database URL") from None


def _memory_engine(url: str) -> sa.Engine:
    """An in-memory SQLite database lives in its one connection: every thread of a run (a dry
    run of a batch) must get that connection, not one of its own (LedgerBase takes turns on it)."""
    return sa.create_engine(url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})


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


# -- upgrades -----------------------------------------------------------------------------


class SchemaStore(LedgerBase):
    """The schema's revision, its upgrade, and the database file's own health check."""

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

    def integrity_problems(self) -> list[str]:
        """What the database engine finds wrong with its own file (SQLite only)."""
        if self.engine.dialect.name != "sqlite":
            return []
        with self._guard("check"), self.engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check")]
        return [] if rows == ["ok"] else rows


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
