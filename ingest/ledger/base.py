"""What every part of the ledger shares: its engine, driver errors turned into one LedgerError,
and writes tried again when another process races them to the same new rows."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import overload

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from ..errors import LedgerError

BATCH = 500  # keys per IN (...): SQLite's bound-parameter limit


class LedgerBase:
    """The engine and the error handling each store of the ledger builds on."""

    def __init__(self, engine: sa.Engine, url: str):
        self.engine = engine
        self.url = url
        # an in-memory database is one connection, which threads must use one at a time (reentrant:
        # a thread may read again while it holds it)
        self._turn: contextlib.AbstractContextManager = (
            threading.RLock() if in_memory(url) else contextlib.nullcontext())

    def close(self) -> None:
        self.engine.dispose()

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
        return _LedgerErrors(self.url, what, self._turn)


def in_memory(url: str) -> bool:
    return url == "sqlite://" or url.endswith(":memory:")


class _LedgerErrors:
    """Turn driver errors into one clear LedgerError that says what to do; hold the ledger's turn
    (in-memory ledgers only) while the work is done."""

    def __init__(self, url: str, what: str, turn: contextlib.AbstractContextManager):
        self.url, self.what, self.turn = url, what, turn

    def __enter__(self):
        self.turn.__enter__()
        return self

    def __exit__(self, kind, exc, tb):
        self.turn.__exit__(kind, exc, tb)
        if exc is None or not isinstance(exc, DatabaseError) or isinstance(exc, IntegrityError):
            return False
        text = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        if isinstance(exc, OperationalError) and "locked" in text:
            raise LedgerError(f"ledger {self.url} is locked by another process; wait for it to finish and retry",
                              code="ledger_locked") from None
        if "not a database" in text or "malformed" in text:
            raise LedgerError(f"ledger {self.url} is corrupted ({text}); move it aside and restore a backup",
                              code="ledger_corrupt") from None
        if "readonly" in text or "read-only" in text:
            raise LedgerError(f"ledger {self.url} is read-only; fix its permissions", code="ledger_readonly") from None
        raise LedgerError(f"ledger {self.url}: cannot {self.what} ({text})") from None


def batches(values: list) -> list[list]:
    return [values[start:start + BATCH] for start in range(0, len(values), BATCH)]


@overload
def aware(value: datetime) -> datetime: ...


@overload
def aware(value: None) -> None: ...


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything in ingest is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def inserted_id(result: sa.CursorResult) -> int:
    """The id of the one row an INSERT added."""
    key = result.inserted_primary_key
    assert key is not None  # always set for a single-row INSERT
    return int(key[0])
