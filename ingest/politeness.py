"""Polite fetching: robots.txt (protego, cached per host), a delay between requests to one host,
one request at a time per host and a global limit on requests in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, Self
from urllib.parse import urlsplit

from protego import Protego

from .config import Settings
from .errors import FetchError
from .fetch import FetchClient, Fetcher
from .records import FetchResult

ROBOTS_TTL = 24 * 3600.0
ROBOTS_RETRY = 600.0  # an unreachable robots.txt is asked again after this long
MAX_CRAWL_DELAY = 30.0
AGENT_TOKEN = "ingest"


@dataclass
class _Host:
    gate: threading.Lock = field(default_factory=threading.Lock)  # one request at a time
    next_at: float = 0.0  # monotonic time before which no request may start
    robots: Protego | None = None
    robots_until: float = 0.0
    robots_lock: threading.Lock = field(default_factory=threading.Lock)


class PoliteFetcher:
    """The Fetcher's interface with manners; safe to share between threads."""

    def __init__(self, fetcher: FetchClient, settings: Settings, *, store: RobotsStore | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.fetcher = fetcher
        self.settings = settings
        self.store = store  # the ledger: robots.txt kept for a day across runs
        self._clock, self._sleep = clock, sleep
        self._slots = threading.BoundedSemaphore(settings.concurrency)
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()
        self.requests = 0  # counted for summaries and benchmarks

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        origin = _origin(url)
        host = self._host(origin)
        if self.settings.obey_robots and origin:
            robots = self._robots(origin, host)
            if robots is not None and not robots.can_fetch(url, AGENT_TOKEN):
                raise FetchError(f"robots.txt of {origin} disallows this URL", url=url, code="robots_disallowed")
        return self._paced(url, headers, host)

    def close(self) -> None:
        self.fetcher.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _paced(self, url: str, headers: dict[str, str] | None, host: _Host) -> FetchResult:
        with host.gate:
            wait = host.next_at - self._clock()
            if wait > 0:
                self._sleep(wait)
            with self._slots:
                try:
                    self.requests += 1
                    return self.fetcher.fetch(url, headers)
                finally:
                    host.next_at = self._clock() + self._delay(host)

    def _delay(self, host: _Host) -> float:
        asked = host.robots.crawl_delay(AGENT_TOKEN) if host.robots is not None else None
        return max(self.settings.host_delay, min(float(asked or 0), MAX_CRAWL_DELAY))

    def _host(self, origin: str) -> _Host:
        with self._lock:
            return self._hosts.setdefault(origin, _Host())

    def _robots(self, origin: str, host: _Host) -> Protego | None:
        """The host's rules; None means everything is allowed. Fetched once a day per host."""
        with host.robots_lock:
            if self._clock() < host.robots_until:
                return host.robots
            now = datetime.now(UTC)
            if self.store is not None:
                known, body = self.store.robots_txt(origin, now - timedelta(seconds=ROBOTS_TTL))
                if known:
                    host.robots = Protego.parse(body) if body is not None else None
                    host.robots_until = self._clock() + ROBOTS_TTL
                    return host.robots
            try:
                result = self._paced(origin + "/robots.txt", None, host)
                body = result.content.decode("utf-8", "replace")
                host.robots = Protego.parse(body)
                host.robots_until = self._clock() + ROBOTS_TTL
                host.next_at = self._clock() + self._delay(host)  # its Crawl-delay counts from now
                self._keep(origin, body, now)
            except FetchError as exc:
                client_error = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
                if client_error or exc.code == "too_large":
                    host.robots = None  # no (usable) robots.txt: everything allowed (RFC 9309)
                    host.robots_until = self._clock() + ROBOTS_TTL
                    self._keep(origin, None, now)
                elif not exc.transient or exc.status is None:
                    raise  # unreachable host, blocked address, DNS, TLS: the page would fail the same way
                else:  # a 5xx or 429: assume nothing is allowed for now, ask again soon (RFC 9309)
                    host.robots = Protego.parse("User-agent: *\nDisallow: /")
                    host.robots_until = self._clock() + ROBOTS_RETRY
            return host.robots


    def _keep(self, origin: str, body: str | None, now: datetime) -> None:
        if self.store is not None:
            self.store.store_robots_txt(origin, body, now)


def polite_fetcher(settings: Settings, *, robots_store: RobotsStore | None = None) -> PoliteFetcher:
    """The HTTP client a run fetches with: one connection pool, robots.txt and pacing (robots.txt
    kept for a day in `robots_store`, the ledger, when given)."""
    return PoliteFetcher(Fetcher(settings), settings, store=robots_store)


class RobotsStore(Protocol):
    def robots_txt(self, origin: str, fresh_since: datetime) -> tuple[bool, str | None]: ...

    def store_robots_txt(self, origin: str, body: str | None, now: datetime) -> None: ...


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.lower()}"
