"""The ledger: what is known, claimed and done, in a database several workers can share.

Everything that decides whether an item is fetched lives here, never only in a process's memory.
The package is split by what it stores: `schema` (tables, migrations), `item_store` (items,
aliases, outcomes, forgetting), `claims` (the work queue and its claims), `source_store` (sources and their
entries), `caches` (robots.txt, the archive's index) and `history` (fetches, snapshots); `rows`
holds the dataclasses that go in and come out. `Ledger` is all of them over one engine.
"""

from __future__ import annotations

from .base import BATCH
from .caches import CacheStore
from .claims import SOURCE_LEASE, STALE_CLAIM, ClaimStore
from .history import HistoryStore
from .item_store import KNOWN_COLUMNS, Article, ItemStore
from .rows import (
    Entry,
    Known,
    PollFailure,
    PollResult,
    QueuedItem,
    RetryItem,
    Snapshot,
    SourceRead,
    SourceState,
)
from .schema import (
    HEAD,
    KNOWN_REVISIONS,
    MIGRATIONS,
    SchemaStore,
    aliases,
    archive_notes,
    entries,
    fetches,
    items,
    make_engine,
    metadata,
    robots,
    simhash_bands,
    snapshots,
    sources,
    usable_url,
)
from .source_store import SourceStore

__all__ = [
    "BATCH", "HEAD", "KNOWN_COLUMNS", "KNOWN_REVISIONS", "MIGRATIONS", "SOURCE_LEASE", "STALE_CLAIM",
    "Article", "Entry", "Known", "Ledger", "PollFailure", "PollResult", "QueuedItem", "RetryItem", "Snapshot",
    "SourceRead", "SourceState", "aliases", "archive_notes", "entries", "fetches", "items", "metadata", "open_ledger",
    "robots", "simhash_bands", "snapshots", "sources",
]


class Ledger(SchemaStore, ItemStore, ClaimStore, SourceStore, CacheStore, HistoryStore):
    """One ledger database, with the queries of every store."""


def open_ledger(url: str, *, create: bool = True, wait: float = 30.0) -> Ledger:
    """Open (and create or upgrade) the ledger at a SQLAlchemy database URL; a write waits up to
    `wait` seconds for another process's, then fails as locked."""
    url = usable_url(url, create)
    ledger = Ledger(make_engine(url, wait), url)
    ledger.upgrade(allowed=create or url == "sqlite://")
    return ledger
