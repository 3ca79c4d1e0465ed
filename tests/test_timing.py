"""The pure timing rules: adaptive intervals, what servers ask, back-off, staleness."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ingest.config import Settings
from ingest.timing import failure_delay, is_stale, item_retry_delay, next_interval, publish_interval, server_asked

NOW = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
S = replace(Settings(), min_interval=300.0, max_interval=86400.0, stale_after=4.0)
HOUR, DAY = 3600.0, 86400.0


def test_publish_interval_is_the_median_gap():
    times = [NOW - timedelta(hours=h) for h in (0, 2, 4, 6, 30)]
    assert publish_interval(times) == 2 * HOUR
    assert publish_interval([NOW, NOW - timedelta(hours=1)]) is None  # one gap says too little
    assert publish_interval([]) is None


def test_next_interval_follows_publishing_within_bounds():
    assert next_interval(6 * HOUR, S, publishes_every=None) == 6 * HOUR
    assert next_interval(6 * HOUR, S, publishes_every=2 * HOUR) == HOUR  # twice per usual gap
    assert next_interval(6 * HOUR, S, publishes_every=30 * DAY) == 6 * HOUR  # never beyond `every`
    assert next_interval(6 * HOUR, S, publishes_every=60.0) == 300.0  # never below min_interval


def test_next_interval_never_sooner_than_the_server_asks_within_max_interval():
    assert next_interval(HOUR, S, publishes_every=None, asked=3 * HOUR) == 3 * HOUR
    assert next_interval(HOUR, S, publishes_every=None, asked=30 * DAY) == DAY


def test_server_asked_reads_cache_control_expires_and_ttl():
    assert server_asked({"cache-control": "public, max-age=7200"}, NOW) == 7200
    expires = "Sat, 10 Jan 2026 15:00:00 GMT"
    assert server_asked({"expires": expires}, NOW) == 3 * HOUR
    assert server_asked({}, NOW, ttl=HOUR) == HOUR
    assert server_asked({"cache-control": "max-age=60"}, NOW, ttl=HOUR) == HOUR
    assert server_asked({"expires": "garbage"}, NOW) == 0


def test_failure_delay_backs_off_exponentially_and_is_capped():
    delays = [failure_delay(HOUR, n, S) for n in (1, 2, 3, 4, 10)]
    assert delays == [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, DAY]
    assert failure_delay(HOUR, 1, S, retry_after=5 * HOUR) == 5 * HOUR  # Retry-After wins
    assert failure_delay(HOUR, 1, S, retry_after=99 * DAY) == DAY


def test_item_retry_delay_grows():
    assert [item_retry_delay(n, S).total_seconds() for n in (1, 2, 3)] == [900, 3600, 14400]


def test_stale_after_several_usual_intervals_without_news():
    since = NOW - timedelta(days=30)
    assert not is_stale(NOW - timedelta(days=1), since, 6 * HOUR, DAY, S, NOW)
    assert is_stale(NOW - timedelta(days=5), since, 6 * HOUR, DAY, S, NOW)
    assert is_stale(None, since, 6 * HOUR, None, S, NOW)  # never produced anything in a month
    assert not is_stale(None, NOW - timedelta(hours=2), 6 * HOUR, None, S, NOW)
