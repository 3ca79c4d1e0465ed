"""`ingest forget`: the ledger forgets an article whose note a curator deleted on purpose, so that
its URL may be ingested again (`ItemStore.article` says which items make one article).

Nothing is forgotten while a note of the article is still on disk, in the output folder or in
the curators' archive: the URL is a duplicate of that note, and `ingest doctor` would record it
again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .config import Settings
from .doctor import current_archive
from .ledger import Ledger
from .urls import InvalidURLError, try_key, url_key


class Verdict(StrEnum):
    FORGOT = "forgot"
    WOULD_FORGET = "would forget"  # a dry run
    NOT_KNOWN = "not known"
    KEPT = "kept"  # a note of it is still on disk
    FAILED = "failed"  # not a URL


@dataclass(frozen=True)
class Forgetting:
    url: str
    verdict: Verdict
    note_path: str | None = None  # the note it had (forgot), or the one still on disk (kept)
    others: int = 0  # other URLs of the same article, forgotten with it
    error: str | None = None


def forget(settings: Settings, ledger: Ledger, urls: list[str], *, dry_run: bool) -> Iterator[Forgetting]:
    """Forget the article of each URL, unless a note of it is on disk; a dry run changes nothing."""
    _, archived = current_archive(settings, ledger, refresh=not dry_run)
    for url in urls:
        try:
            key = url_key(url)
        except InvalidURLError as exc:
            yield Forgetting(url, Verdict.FAILED, error=exc.message)
            continue
        article = ledger.article([key])
        keys = set(article.keys) if article else {key}
        notes = [*(article.note_paths if article else ()), *(path for path, k in archived if k in keys)]
        on_disk = next((path for path in notes if Path(path).exists()), None)
        if on_disk is not None:
            yield Forgetting(url, Verdict.KEPT, note_path=on_disk)
            continue
        if article is None:
            yield Forgetting(url, Verdict.NOT_KNOWN)
            continue
        if not dry_run:
            ledger.forget(list(article.item_ids))
        others = len({try_key(u) or u for u in article.urls} - {key})
        yield Forgetting(url, Verdict.WOULD_FORGET if dry_run else Verdict.FORGOT, note_path=article.note_path,
                         others=others)
