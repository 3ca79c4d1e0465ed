"""When to poll a source next, how to back off, when a source is stale, how healthy it is (pure: `now`
is a parameter)."""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from .config import Settings

if TYPE_CHECKING:
    from .ledger import SourceState


def publish_interval(times: list[datetime]) -> float | None:
    """The source's usual time between posts: the median gap of its recent publication times."""
    ordered = sorted({t for t in times if t is not None}, reverse=True)
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(ordered)]
    gaps = [g for g in gaps if g > 0]
    return statistics.median(gaps) if len(gaps) >= 2 else None


def server_asked(headers: dict[str, str], now: datetime, ttl: float | None = None) -> float:
    """Seconds the server asks us to wait: Cache-Control max-age, Expires, a feed's <ttl>."""
    asked = [ttl or 0.0]
    control = headers.get("cache-control", "")
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*(\d+)", control)
    if match:
        asked.append(float(match.group(1)))
    elif headers.get("expires"):
        try:
            expires = parsedate_to_datetime(headers["expires"])
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            asked.append((expires - now).total_seconds())
        except (TypeError, ValueError):
            pass
    return max(asked)


def next_interval(every: float, settings: Settings, *, publishes_every: float | None, asked: float = 0.0) -> float:
    """Poll about twice per usual publishing gap, between min_interval and the configured `every`;
    never sooner than the server asked (within max_interval)."""
    interval = every
    if publishes_every:
        interval = min(every, max(settings.min_interval, publishes_every / 2))
    interval = max(interval, settings.min_interval)
    return max(interval, min(asked, settings.max_interval))


def failure_delay(every: float, failures: int, settings: Settings, retry_after: float | None = None) -> float:
    """Exponential back-off for a failing source, capped; a Retry-After longer than that wins."""
    delay = min(max(every, settings.min_interval) * 2 ** max(failures - 1, 0), settings.max_interval)
    return max(delay, min(retry_after or 0.0, settings.max_interval))


def item_retry_delay(attempts: int, settings: Settings) -> timedelta:
    """A transiently failed item is tried again after 15 min, 1 h, 4 h, …"""
    return timedelta(seconds=min(900 * 4 ** max(attempts - 1, 0), settings.max_interval))


def is_stale(last_new_at: datetime | None, since: datetime, every: float, publishes_every: float | None,
             settings: Settings, now: datetime) -> bool:
    """Nothing new for `stale_after` usual publishing intervals: a feed that quietly stopped."""
    usual = max(publishes_every or every, every)
    quiet_since = last_new_at or since
    return (now - quiet_since).total_seconds() > settings.stale_after * usual


class Health(StrEnum):
    """A source's health class, as `sources list` shows it before any detail."""

    DISABLED = "disabled"
    FAILING = "failing"
    NOT_POLLED = "not polled yet"
    STALE = "stale"
    OK = "ok"


@dataclass(frozen=True)
class SourceHealth:
    health: Health
    text: str  # the class with its detail: "failing ×2: HTTP 404 Not Found"


def source_health(enabled: bool, state: SourceState, settings: Settings, now: datetime) -> SourceHealth:
    """How a source is doing: disabled, failing (how often, and why), not polled yet, stale, or ok."""
    if not enabled:
        return SourceHealth(Health.DISABLED, Health.DISABLED.value)
    if state.consecutive_failures:
        return SourceHealth(Health.FAILING, f"failing ×{state.consecutive_failures}: {state.last_error}")
    if state.last_polled_at is None:
        return SourceHealth(Health.NOT_POLLED, Health.NOT_POLLED.value)
    if is_stale(state.last_new_at, state.created_at, state.every_s, state.publish_interval_s, settings, now):
        return SourceHealth(Health.STALE, "stale: nothing new for a long time")
    return SourceHealth(Health.OK, Health.OK.value)
