"""One poll of the sources: which are due (the ledger says), fetch each with a conditional request,
read its entries, keep the new ones (backfill-limited on a first poll), then ingest them.

Reads like a feed reader's handler: claim source → conditional GET → not modified? stop →
unchanged body? stop → parse → new entries → record → ingest. A broken source records its error
and backs off; the others go on.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .errors import FetchError, IngestError, SourceError
from .charset import page_html
from .feeds import looks_like_feed, parse_feed
from .ledger import Entry, PollFailure, PollResult, QueuedItem, SourceRead, SourceState
from .records import FeedItem, FetchResult, Outcome, Source, SourceStatus, State
from .listings import discover_feed, find_article_links
from .pipeline import Job, hint_from_json, hint_json, ingest_many, spread_by_host
from .runtime import Run
from .sitemaps import parse_sitemap
from .timing import failure_delay, next_interval, publish_interval, server_asked
from .urls import try_key

MAX_CHILD_SITEMAPS = 20


@dataclass
class SourceReport:
    """What one source's poll found."""

    name: str
    status: SourceStatus
    found: int = 0  # entries in the document
    jobs: list[Job] = field(default_factory=list)  # new entries to ingest
    backfill_skipped: int = 0
    known: int = 0  # entries new to the source whose URL is archived, ingested or queued already
    error: str | None = None
    moved_to: str | None = None  # the source's new URL after a permanent redirect


@dataclass
class PollSummary:
    sources: list[SourceReport] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: State) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed_sources(self) -> list[SourceReport]:
        return [s for s in self.sources if s.status == SourceStatus.FAILED]


class NewKeys:
    """The entries one poll counts as new: an entry two sources show is new in one of them only."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        """True the first time a key is taken."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True


def fresh_state(source: Source, now: datetime) -> SourceState:
    """The state of a source the ledger has not met yet (for a dry run of it)."""
    return SourceState(
        id=-1, name=source.name, url=source.url, fetch_url=source.url, kind=source.kind, enabled=source.enabled,
        every_s=source.every, etag=None, last_modified=None, body_hash=None, next_check_at=now,
        last_polled_at=None, last_success_at=None, last_new_at=None, publish_interval_s=None, last_error=None,
        last_error_code=None, consecutive_failures=0, backfilled=False, created_at=now,
    )


def choose_sources(run: Run, configured: list[Source], *, names: list[str] | None = None,
                   every_source: bool = False) -> list[SourceState]:
    """The sources to poll now: the named ones, all enabled ones, or those the ledger says are due."""
    now = run.clock()
    if not run.dry_run:
        run.ledger.sync_sources(configured, now)
    if names:
        known = {s.name for s in configured}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SourceError(f"no source named {', '.join(unknown)}; see `ingest sources list`", code="unknown_source")
        return run.ledger.source_states(names=names) if not run.dry_run else []
    if every_source:
        return [s for s in run.ledger.source_states() if s.enabled]
    return run.ledger.due_sources(now)


def poll(run: Run, configured: list[Source], states: list[SourceState], *,
         on_source: Callable[[SourceReport], None] = lambda r: None,
         on_outcome: Callable[[Outcome], None] = lambda o: None,
         due_only: bool = True) -> PollSummary:
    """Poll `states` concurrently, then ingest what the ledger holds as due: the new entries
    (queued as each source was read) and items due for a retry."""
    by_name = {s.name: s for s in configured}
    summary = PollSummary()
    new_keys = NewKeys()
    if states:
        workers = min(run.settings.concurrency, len(states))
        with ThreadPoolExecutor(workers, thread_name_prefix="poll") as pool:
            for report in pool.map(lambda st: poll_source(run, st, by_name[st.name], due_only=due_only,
                                                          new_keys=new_keys), states):
                summary.sources.append(report)
                on_source(report)
    if run.dry_run:  # nothing was queued
        jobs = [job for report in summary.sources for job in report.jobs]
    else:
        jobs = _due_jobs(run, configured)
    for outcome in ingest_many(run, spread_by_host(jobs)):
        summary.outcomes.append(outcome)
        on_outcome(outcome)
    return summary


def _due_jobs(run: Run, configured: list[Source]) -> list[Job]:
    by_id: dict[int | None, SourceState] = {s.id: s for s in run.ledger.source_states()}  # None: no source
    by_name = {s.name: s for s in configured}
    jobs = []
    for item in run.ledger.due_items(run.clock(), run.settings.item_retries):
        state = by_id.get(item.source_id)
        source = by_name.get(state.name) if state else None
        jobs.append(Job(item.url, hint_from_json(item.url, item.hint), source, item.source_id))
    return jobs


def poll_source(run: Run, state: SourceState, source: Source, *, due_only: bool = True,
                new_keys: NewKeys | None = None) -> SourceReport:
    """Fetch one source and find its new entries; the ledger records how it went."""
    now = run.clock()
    if run.stop.is_set():  # it stays due for the next poll
        return SourceReport(state.name, SourceStatus.SKIPPED, error="stopped before it started")
    if not run.dry_run and not run.ledger.claim_source(state.id, now, due_only=due_only):
        return SourceReport(state.name, SourceStatus.SKIPPED, error="being polled by another worker, or no longer due")
    try:
        report = _read_source(run, state, source, now, new_keys or NewKeys())
    except IngestError as exc:
        failures = state.consecutive_failures + 1
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        delay = failure_delay(state.every_s, failures, run.settings, retry_after)
        if not run.dry_run:
            run.ledger.finish_source(state.id, PollFailure(
                polled_at=now, error=exc.message, error_code=exc.code, failures=failures,
                next_check_at=now + timedelta(seconds=delay),
            ))
        return SourceReport(state.name, SourceStatus.FAILED, error=exc.message)
    except BaseException:
        if not run.dry_run:
            run.ledger.finish_source(state.id)  # release the claim; the source stays due
        raise
    return report


def _read_source(run: Run, state: SourceState, source: Source, now: datetime, new_keys: NewKeys) -> SourceReport:
    headers = _conditional_headers(state) if state.kind else {}
    result = run.fetcher.fetch(state.fetch_url, headers)
    moved_to = result.final_url if result.moved_permanently and result.final_url != state.fetch_url else None
    body_hash = hashlib.sha256(result.content).hexdigest() if result.status != 304 else state.body_hash
    if result.status == 304 or (body_hash == state.body_hash and state.kind is not None):
        # nothing changed: no parsing at all
        interval = next_interval(state.every_s, run.settings, publishes_every=state.publish_interval_s,
                                 asked=server_asked(result.headers, now))
        if not run.dry_run:
            run.ledger.finish_source(state.id, _polled(result, now, interval, moved_to))
        return SourceReport(state.name, SourceStatus.UNCHANGED, moved_to=moved_to)

    kind, fetch_url, items, ttl = _entries(run, result, state.kind)
    items = [i for i in items if _wanted(i.url, source)]
    keyed = {}
    for item in items:
        key = try_key(item.url)
        if key and key not in keyed:
            keyed[key] = item
    seen = run.ledger.seen_entries(state.id, list(keyed))
    new = [(k, i) for k, i in keyed.items() if k not in seen]
    to_ingest, skipped = new, []
    if not state.backfilled:
        newest_first = sorted(new, key=lambda ki: _sort_key(ki[1]), reverse=True)
        to_ingest, skipped = newest_first[: source.backfill], newest_first[source.backfill:]
    fresh = [(k, i) for k, i in to_ingest if _unknown(run, k) and new_keys.take(k)]
    if not run.dry_run:
        run.ledger.add_entries(state.id, [_entry(k, i, False) for k, i in to_ingest]
                               + [_entry(k, i, True) for k, i in skipped], now,
                               queue=[QueuedItem(i.url, k, hint_json(i)) for k, i in fresh])
    publishes_every = publish_interval(run.ledger.recent_publish_times(state.id) if not run.dry_run
                                       else [i.published for i in items if i.published])
    interval = next_interval(state.every_s, run.settings, publishes_every=publishes_every,
                             asked=server_asked(result.headers, now, ttl))
    if not run.dry_run:
        run.ledger.finish_source(state.id, _polled(
            result, now, interval, fetch_url if fetch_url != state.fetch_url else moved_to,
            read=SourceRead(kind, body_hash, publishes_every), found_new=bool(new),
        ))
    jobs = [Job(i.url, i, source, state.id) for _, i in fresh]
    return SourceReport(state.name, SourceStatus.NEW if jobs else SourceStatus.UNCHANGED, found=len(items), jobs=jobs,
                        backfill_skipped=len(skipped), known=len(to_ingest) - len(fresh), moved_to=moved_to)


def _unknown(run: Run, key: str) -> bool:
    """Not archived, ingested nor waiting in the ledger: an entry to ingest (a URL that failed for
    good is queued again when a source shows it anew)."""
    known = run.known([key])
    return known is None or known.outcome == State.FAILED


def discover_kind(result: FetchResult) -> tuple[str, str]:
    """What a fetched source URL is: ("feed", url), ("sitemap", url), ("feed", the feed a page
    links with <link rel="alternate">), or ("page", url) for a listing page to watch."""
    url = result.final_url
    if looks_like_feed(result.content, result.content_type):
        return "feed", url
    if _looks_like_sitemap(result.content):
        return "sitemap", url
    feed_url = discover_feed(page_html(result), url)
    return ("feed", feed_url) if feed_url else ("page", url)


def _entries(run: Run, result: FetchResult, kind: str | None) -> tuple[str, str, list[FeedItem], float | None]:
    """(kind, URL to fetch next time, entries, ttl) of a fetched source document; a source of
    unknown kind is discovered first."""
    if kind is None:
        kind, found_url = discover_kind(result)
        if found_url != result.final_url:  # a page that links its feed: read the feed
            result = run.fetcher.fetch(found_url)
    url = result.final_url
    if kind == "feed":
        feed = parse_feed(result.content, url, result.content_type, result.charset)
        return "feed", url, list(feed.items), feed.ttl
    if kind == "sitemap":
        return "sitemap", url, _sitemap_items(run, result), None
    html = page_html(result)
    return "page", url, find_article_links(html, url), None


def _sitemap_items(run: Run, result: FetchResult) -> list[FeedItem]:
    sitemap = parse_sitemap(result.content, result.final_url, run.settings.max_bytes)
    items = list(sitemap.items)
    for child in sitemap.sitemaps[:MAX_CHILD_SITEMAPS]:
        fetched = run.fetcher.fetch(child)
        items += parse_sitemap(fetched.content, fetched.final_url, run.settings.max_bytes).items
    return items


def _looks_like_sitemap(content: bytes) -> bool:
    head = content[:2048].lower()
    return content[:2] == b"\x1f\x8b" or b"<urlset" in head or b"<sitemapindex" in head


def _wanted(url: str, source: Source) -> bool:
    if source.include and not any(re.search(p, url) for p in source.include):
        return False
    return not any(re.search(p, url) for p in source.exclude)


def _sort_key(item: FeedItem):
    # undated entries (listing pages) keep their document order, which puts the newest first
    return item.published.timestamp() if item.published else float("-inf")


def _entry(key: str, item: FeedItem, skipped: bool) -> Entry:
    return Entry(url_key=key, url=item.url, published_at=item.published, skipped=skipped)


def _conditional_headers(state: SourceState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _polled(result: FetchResult, now: datetime, interval: float, fetch_url: str | None,
            read: SourceRead | None = None, found_new: bool = False) -> PollResult:
    """A poll that worked: next due after `interval` seconds, with the validators the response gave."""
    return PollResult(polled_at=now, next_check_at=now + timedelta(seconds=interval), not_modified=result.status == 304,
                      etag=result.headers.get("etag"), last_modified=result.headers.get("last-modified"),
                      fetch_url=fetch_url, read=read, found_new=found_new)
