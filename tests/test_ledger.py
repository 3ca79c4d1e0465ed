"""ingest.ledger on real SQLite files: schema, claims, lookups, upgrades and broken ledgers."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ingest.archive import ArchiveNote
from ingest.errors import LedgerError
from ingest.ledger import HEAD, KNOWN_REVISIONS, MIGRATIONS, STALE_CLAIM, Known, open_ledger
from ingest.records import State

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
URL = "https://example.org/posts/one"
KEY = "example.org/posts/one"


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "state" / "ledger.db"


@pytest.fixture
def ledger(db_path):
    led = open_ledger(f"sqlite:///{db_path}")
    yield led
    led.close()


def _rows(db_path, sql, *args):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, args).fetchall()


def _created(ledger, item_id, now, note_path, *, content_hash):
    ledger.finish_created(item_id, now, note_path=note_path, final_url=URL, canonical_url=URL,
                          content_hash=content_hash, title="T", date_is_fallback=False, note_sha256="0" * 64)


def _duplicate(ledger, item_id, now, of, *, content_hash="0" * 64):
    ledger.finish_duplicate(item_id, now, duplicate_of=of, note_path=None, final_url=URL, canonical_url=URL,
                            content_hash=content_hash, title="T")


# -- schema -------------------------------------------------------------------------------


def test_open_creates_schema_at_head(db_path, ledger):
    assert db_path.is_file()  # the state/ folder was created too
    assert ledger.revision() == HEAD
    tables = {r[0] for r in _rows(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"items", "aliases", "fetches", "archive_notes", "alembic_version"} <= tables
    columns = {r[1] for r in _rows(db_path, "PRAGMA table_info(items)")}
    assert "date_is_fallback" in columns
    assert _rows(db_path, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_head_and_known_revisions_are_read_from_the_migration_files():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert HEAD == script.get_current_head()
    oldest_first = tuple(reversed([r.revision for r in script.walk_revisions()]))
    assert KNOWN_REVISIONS == oldest_first
    files = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert len(KNOWN_REVISIONS) == len(files)
    assert HEAD == files[-1].name.split("_")[0]  # the newest file, by its number


def test_reopen_keeps_data(db_path, ledger):
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_with_note(item, State.CREATED, T0, "/notes/a.md")
    ledger.close()
    again = open_ledger(f"sqlite:///{db_path}")
    try:
        assert again.revision() == HEAD
        assert again.lookup([KEY]) == Known(item, "created", "/notes/a.md", T0)
    finally:
        again.close()


def test_dry_run_open_of_missing_ledger_makes_no_file(tmp_path):
    path = tmp_path / "none" / "ledger.db"
    led = open_ledger(f"sqlite:///{path}", create=False)
    try:
        assert led.revision() == HEAD
        assert led.lookup([KEY]) is None
    finally:
        led.close()
    assert not path.exists()
    assert not path.parent.exists()


# -- claims -------------------------------------------------------------------------------


def test_claim_then_second_claim_is_refused_while_pending(ledger):
    item = ledger.claim(URL, KEY, T0)
    assert isinstance(item, int)
    assert ledger.claim(URL, KEY, T0 + timedelta(seconds=1)) is None
    assert ledger.claim("http://www.example.org/posts/one/", KEY, T0 + timedelta(minutes=5)) is None
    known = ledger.lookup([KEY])
    assert known.item_id == item and known.outcome == "pending"


def test_claim_of_a_done_item_is_refused(ledger):
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_with_note(item, State.CREATED, T0, "/n.md")
    assert ledger.claim(URL, KEY, T0 + timedelta(days=30)) is None
    assert ledger.lookup([KEY]).outcome == "created"


def test_failed_item_can_be_reclaimed(ledger):
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_failed(item, T0, error="HTTP 503", error_code="http_503", retry_at=None)
    later = T0 + timedelta(seconds=10)
    assert ledger.claim(URL + "?again", KEY, later) == item
    row = ledger.recent(1)[0]
    assert row["id"] == item
    assert row["outcome"] == "pending"
    assert row["error"] is None and row["error_code"] is None
    assert row["url"] == URL + "?again"
    # and now it is held again
    assert ledger.claim(URL, KEY, later) is None


def test_stale_pending_claim_can_be_taken_over(ledger):
    item = ledger.claim(URL, KEY, T0)
    assert ledger.claim(URL, KEY, T0 + STALE_CLAIM - timedelta(seconds=1)) is None
    taken = ledger.claim(URL, KEY, T0 + STALE_CLAIM + timedelta(seconds=1))
    assert taken == item
    # the takeover refreshed updated_at: it is not stale any more
    assert ledger.claim(URL, KEY, T0 + STALE_CLAIM + timedelta(minutes=1)) is None


def test_refused_claims_leave_no_stray_items(db_path, ledger):
    item = ledger.claim(URL, KEY, T0)
    for n in range(3):
        assert ledger.claim(URL, KEY, T0 + timedelta(seconds=n)) is None
    assert _rows(db_path, "SELECT id FROM items") == [(item,)]


def test_force_claim_gives_a_new_item(ledger):
    first = ledger.claim(URL, KEY, T0)
    ledger.finish_with_note(first, State.CREATED, T0, "/a.md")
    forced = ledger.claim(URL, KEY, T0 + timedelta(hours=1), force=True)
    assert forced is not None and forced != first
    # the key still names the first item
    assert ledger.lookup([KEY]).item_id == first
    ledger.finish_with_note(forced, State.CREATED, T0, "/a-2.md")
    assert {r["id"] for r in ledger.recent()} == {first, forced}


def test_different_keys_are_independent(ledger):
    a = ledger.claim(URL, KEY, T0)
    b = ledger.claim("https://example.org/posts/two", "example.org/posts/two", T0)
    assert a is not None and b is not None and a != b


# -- lookups ------------------------------------------------------------------------------


def test_lookup_unknown_and_empty(ledger):
    assert ledger.lookup([]) is None
    assert ledger.lookup(["", None]) is None
    assert ledger.lookup(["nobody.example/x"]) is None


def test_lookup_returns_utc_aware_time(ledger):
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_with_note(item, State.CREATED, T0 + timedelta(minutes=2), "/n.md")
    known = ledger.lookup(["other.example/x", KEY])
    assert known == Known(item, "created", "/n.md", T0 + timedelta(minutes=2))
    assert known.updated_at.tzinfo is not None


def test_add_aliases_then_lookup_by_any_of_them(ledger):
    item = ledger.claim(URL, KEY, T0)
    assert ledger.add_aliases(item, ["example.org/p/1", "ex.org/one", "", KEY]) is None
    ledger.finish_with_note(item, State.CREATED, T0, "/n.md")
    for key in ("example.org/p/1", "ex.org/one", KEY):
        assert ledger.lookup([key]).item_id == item


def test_add_aliases_reports_the_item_that_already_has_a_key(ledger):
    first = ledger.claim(URL, KEY, T0)
    ledger.finish_with_note(first, State.CREATED, T0, "/first.md")
    second = ledger.claim("https://mirror.example/one", "mirror.example/one", T0)
    known = ledger.add_aliases(second, ["mirror.example/canonical", KEY])
    assert known is not None
    assert (known.item_id, known.outcome, known.note_path) == (first, "created", "/first.md")


def test_duplicate_chains_are_followed(ledger):
    a = ledger.claim("https://a.example/x", "a.example/x", T0)
    _created(ledger, a, T0, "/a.md", content_hash="h" * 64)
    b = ledger.claim("https://b.example/x", "b.example/x", T0)
    _duplicate(ledger, b, T0, a)
    c = ledger.claim("https://c.example/x", "c.example/x", T0)
    _duplicate(ledger, c, T0, b)
    for key in ("c.example/x", "b.example/x", "a.example/x"):
        known = ledger.lookup([key])
        assert (known.item_id, known.outcome, known.note_path) == (a, "created", "/a.md")
    # add_aliases follows the chain too
    d = ledger.claim("https://d.example/x", "d.example/x", T0)
    known = ledger.add_aliases(d, ["c.example/x"])
    assert known.item_id == a


def test_lookup_hash(ledger):
    h = "ab" * 32
    a = ledger.claim(URL, KEY, T0)
    assert ledger.lookup_hash(h) is None
    _duplicate(ledger, a, T0, None, content_hash=h)
    assert ledger.lookup_hash(h) is None  # only created notes count
    _created(ledger, a, T0, "/a.md", content_hash=h)
    assert ledger.lookup_hash(h).item_id == a
    assert ledger.lookup_hash(h, exclude=a) is None
    b = ledger.claim("https://other.example/", "other.example/", T0)
    assert ledger.lookup_hash(h, exclude=b).item_id == a
    assert ledger.lookup_hash("cd" * 32) is None


def test_finish_records_values(ledger):
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_created(item, T0 + timedelta(seconds=3), note_path="/n.md", title="T", date_is_fallback=True,
                          final_url=URL + "/", canonical_url=URL, content_hash="c" * 64, note_sha256="d" * 64)
    row = ledger.recent(1)[0]
    assert row["outcome"] == "created"
    assert row["title"] == "T"
    assert row["date_is_fallback"] is True
    assert row["final_url"] == URL + "/"
    assert (row["content_hash"], row["note_sha256"], row["claimed_by"]) == ("c" * 64, "d" * 64, None)
    assert row["updated_at"].replace(tzinfo=UTC) == T0 + timedelta(seconds=3)


def test_each_finish_writes_only_its_own_columns(ledger):
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_failed(item, T0, error="timed out", error_code="timeout", retry_at=T0 + timedelta(minutes=5))
    row = ledger.recent(1)[0]
    assert (row["outcome"], row["error_code"], row["claimed_by"]) == ("failed", "timeout", None)
    ledger.requeue(item, T0, error="disk full", error_code="write_failed", retry_at=T0)
    assert (ledger.recent(1)[0]["outcome"], ledger.recent(1)[0]["error"]) == ("queued", "disk full")
    ledger.finish_with_note(item, State.DUPLICATE, T0, "/vault/a.md")
    row = ledger.recent(1)[0]
    assert (row["outcome"], row["note_path"], row["error"], row["retry_at"]) == ("duplicate", "/vault/a.md", None, None)
    ledger.note_rewritten(item, T0, note_sha256="e" * 64, title="New", content_hash="f" * 64)
    row = ledger.recent(1)[0]
    assert (row["outcome"], row["note_path"], row["title"], row["note_sha256"]) == ("created", "/vault/a.md", "New", "e" * 64)


def test_record_fetch(ledger):
    item = ledger.claim(URL, KEY, T0)
    assert ledger.fetch_count() == 0
    ledger.record_fetch(item, URL, T0, 0.25, status=200)
    ledger.record_fetch(None, URL, T0, 1.5, error_code="timeout", error="timed out")
    assert ledger.fetch_count() == 2


# -- the curators' archive ----------------------------------------------------------------


def test_archive_state_round_trip_and_lookup(ledger):
    assert ledger.archive_state() == {}
    rows = [
        ArchiveNote("/vault/a.md", 1_700_000_000_123_456_789, 120, "example.org/a", None),
        ArchiveNote("/vault/b.md", 5, 7, None, "not UTF-8 text"),
    ]
    ledger.update_archive(rows, [])
    assert ledger.archive_state() == {"/vault/a.md": (1_700_000_000_123_456_789, 120), "/vault/b.md": (5, 7)}
    assert ledger.lookup(["example.org/a"]) == Known(None, "archived", "/vault/a.md")
    # a changed note replaces its row; a removed one disappears
    ledger.update_archive([replace(rows[0], mtime_ns=9, size=121, url_key="example.org/a2")], ["/vault/b.md"])
    assert ledger.archive_state() == {"/vault/a.md": (9, 121)}
    assert ledger.lookup(["example.org/a"]) is None
    assert ledger.lookup(["example.org/a2"]).note_path == "/vault/a.md"


def test_add_aliases_reports_an_archived_note(ledger):
    ledger.update_archive([ArchiveNote("/vault/a.md", 1, 1, "example.org/a", None)], [])
    item = ledger.claim("https://example.org/a?x", "example.org/a?x", T0)
    # the item reached an archived URL by another way (its canonical URL, say)
    assert ledger.add_aliases(item, ["example.org/a"]) == Known(None, "archived", "/vault/a.md")
    assert ledger.add_aliases(item, ["example.org/unrelated"]) is None


def test_ledger_items_win_over_archive(ledger):
    ledger.update_archive([ArchiveNote("/vault/a.md", 1, 1, KEY, None)], [])
    item = ledger.claim(URL, KEY, T0)
    ledger.finish_with_note(item, State.CREATED, T0, "/seeds/a.md")
    assert ledger.lookup([KEY]).item_id == item


# -- upgrades and broken ledgers ----------------------------------------------------------


def _ledger_at(db_path, revision: str) -> None:
    """A ledger as an older ingest left it: migrations up to `revision` only."""
    from alembic import command
    from alembic.config import Config

    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{db_path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_upgrade_from_0001_keeps_rows(db_path):
    _ledger_at(db_path, "0001")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
        assert "date_is_fallback" not in {r[1] for r in conn.execute("PRAGMA table_info(items)")}
        conn.execute(
            "INSERT INTO items (id, url, url_key, outcome, note_path, created_at, updated_at) "
            "VALUES (1, ?, ?, 'created', '/seeds/old.md', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            (URL, KEY),
        )
        conn.execute("INSERT INTO aliases (key, item_id) VALUES (?, 1)", (KEY,))
    led = open_ledger(f"sqlite:///{db_path}")
    try:
        assert led.revision() == HEAD
        known = led.lookup([KEY])
        assert (known.item_id, known.outcome, known.note_path) == (1, "created", "/seeds/old.md")
        row = led.recent()[0]
        assert row["id"] == 1 and row["url"] == URL
        assert row["date_is_fallback"] is False
        assert led.archive_state() == {}  # the new table exists
    finally:
        led.close()
    assert _rows(db_path, "SELECT date_is_fallback FROM items WHERE id = 1") == [(0,)]
    assert _rows(db_path, "PRAGMA foreign_key_check") == []


def test_foreign_keys_stay_enforced_after_an_upgrade(db_path):
    _ledger_at(db_path, "0001")
    led = open_ledger(f"sqlite:///{db_path}")
    try:
        with led.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(sa.exc.IntegrityError), led.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO aliases (key, item_id) VALUES ('k', 12345)")
    finally:
        led.close()


def test_old_ledger_is_not_upgraded_on_a_dry_run(db_path):
    _ledger_at(db_path, "0001")
    with pytest.raises(LedgerError, match="needs an upgrade"):
        open_ledger(f"sqlite:///{db_path}", create=False)
    assert _rows(db_path, "SELECT version_num FROM alembic_version") == [("0001",)]


def test_ledger_from_a_newer_ingest_is_refused(db_path, ledger):
    ledger.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(LedgerError) as info:
        open_ledger(f"sqlite:///{db_path}")
    assert info.value.code == "ledger_newer"
    assert "newer version" in str(info.value)
    assert "9999" in str(info.value)
    # and it was left alone
    assert _rows(db_path, "SELECT version_num FROM alembic_version") == [("9999",)]


def test_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "ledger.db"
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)
    with pytest.raises(LedgerError) as info:
        open_ledger(f"sqlite:///{path}")
    assert info.value.code == "ledger_corrupt"
    assert str(path) in str(info.value)
    assert path.read_bytes() == garbage


def test_unusable_ledger_url(tmp_path):
    with pytest.raises(LedgerError, match="not usable"):
        open_ledger("nosuchdialect://x/y")


def test_a_new_ledger_waits_for_wal_mode_while_another_process_writes_it(tmp_path):
    # switching to WAL needs the file to itself, and SQLite does not wait for that by itself
    path = tmp_path / "ledger.db"
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("CREATE TABLE t (x)")
    reader.execute("BEGIN IMMEDIATE")  # another process starting its migration of the new file
    threading.Timer(0.3, lambda: reader.execute("COMMIT")).start()
    ledger = open_ledger(f"sqlite:///{path}", wait=5)
    try:
        assert ledger.revision() == HEAD
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        ledger.close()
        reader.close()


def test_a_write_that_loses_a_race_for_new_rows_is_tried_again(tmp_path):
    # two polls starting at once both insert the new sources: the loser's unique-key error must
    # become a second try that finds the winner's rows, not a traceback
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    tries = []

    def work(conn):
        tries.append(1)
        conn.execute(sa.text("INSERT INTO robots (origin, body, fetched_at) VALUES ('x', NULL, '2026-01-01')"))
        if len(tries) == 1:
            raise sa.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    try:
        ledger._write_racing(work)
        assert len(tries) == 2
        with ledger.engine.connect() as conn:  # the failed try was rolled back, the second kept
            assert conn.execute(sa.text("SELECT COUNT(*) FROM robots")).scalar() == 1

        def always(conn):
            raise sa.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

        with pytest.raises(LedgerError, match="another process keeps writing the same rows"):
            ledger._write_racing(always)
    finally:
        ledger.close()


def test_upgrade_gives_items_their_keys_as_this_version_computes_them(db_path):
    # a ledger of version 0007 knew an arXiv paper by its versioned address and a page by a URL
    # whose real parameter courlan cut; after the upgrade both are found under today's keys
    from ingest.urls import url_key

    open_ledger(f"sqlite:///{db_path}").close()
    stamp = "2026-03-01 12:00:00"
    with sqlite3.connect(db_path) as db:
        for n, (url, old_key) in enumerate([("https://arxiv.org/abs/2401.01234v2", "arxiv.org/abs/2401.01234v2"),
                                            ("https://games.example/list?game=chess", "games.example/list")], 1):
            db.execute("INSERT INTO items (id, url, url_key, outcome, date_is_fallback, attempts, created_at,"
                       " updated_at, note_path) VALUES (?, ?, ?, 'created', 0, 1, ?, ?, ?)",
                       (n, url, old_key, stamp, stamp, f"/notes/{n}.md"))
            db.execute("INSERT INTO aliases (key, item_id) VALUES (?, ?)", (old_key, n))
        db.execute("INSERT INTO sources (id, name, url, fetch_url, enabled, every_s, next_check_at, created_at,"
                   " consecutive_failures, backfilled) VALUES (1, 's', 'https://x.example/feed', "
                   "'https://x.example/feed', 1, 3600, ?, ?, 0, 1)", (stamp, stamp))
        db.executemany("INSERT INTO entries (source_id, url_key, url, first_seen_at, skipped) VALUES (1, ?, ?, ?, 0)",
                       [("arxiv.org/abs/2401.01234v2", "https://arxiv.org/abs/2401.01234v2", stamp),
                        ("arxiv.org/pdf/2401.01234", "https://arxiv.org/pdf/2401.01234", stamp)])
        db.execute("INSERT INTO archive_notes (path, mtime_ns, size, url_key) VALUES ('/a.md', 1, 1, 'old')")
        db.execute("UPDATE alembic_version SET version_num = '0007'")
    ledger = open_ledger(f"sqlite:///{db_path}")
    try:
        assert ledger.revision() == HEAD
        assert ledger.lookup([url_key("http://arxiv.org/pdf/2401.01234")]).note_path == "/notes/1.md"
        assert ledger.lookup([url_key("https://games.example/list?game=chess")]).note_path == "/notes/2.md"
        assert ledger.lookup(["arxiv.org/abs/2401.01234v2"]).note_path == "/notes/1.md"  # old keys still work
        # the two old spellings of one entry are one row now, under the new key
        assert _rows(db_path, "SELECT url_key FROM entries") == [("arxiv.org/abs/2401.01234",)]
        assert _rows(db_path, "SELECT COUNT(*) FROM archive_notes") == [(0,)]  # read again on the next run
    finally:
        ledger.close()


def test_migrations_that_are_not_one_line_of_revisions_are_refused(tmp_path):
    from ingest.ledger.schema import read_revisions

    (tmp_path / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "0002_b.py").write_text("revision = '0002'\ndown_revision = '0001'\n")
    assert read_revisions(tmp_path) == ("0001", "0002")
    (tmp_path / "0003_c.py").write_text('revision = "0003"\ndown_revision = "0001"\n')  # a second head
    with pytest.raises(LedgerError, match="not one line"):
        read_revisions(tmp_path)
