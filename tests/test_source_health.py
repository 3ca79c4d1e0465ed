"""timing.source_health: the health class `ingest sources list` shows (and a desk would), from a
source's ledger row alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ingest.config import Settings
from ingest.ledger import SourceState
from ingest.timing import Health, SourceHealth, source_health

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
S = replace(Settings(), stale_after=4.0)
HOUR = 3600.0

POLLED = SourceState(
    id=1, name="lab", url="https://lab.example/feed", fetch_url="https://lab.example/feed", kind="feed",
    enabled=True, every_s=HOUR, etag=None, last_modified=None, body_hash=None, next_check_at=NOW,
    last_polled_at=NOW - timedelta(hours=1), last_success_at=NOW - timedelta(hours=1),
    last_new_at=NOW - timedelta(hours=2), publish_interval_s=None, last_error=None, last_error_code=None,
    consecutive_failures=0, backfilled=True, created_at=NOW - timedelta(days=30),
)


def test_a_source_polled_lately_with_something_new_is_ok():
    assert source_health(True, POLLED, S, NOW) == SourceHealth(Health.OK, "ok")


def test_disabled_comes_before_anything_the_ledger_says():
    failing = replace(POLLED, consecutive_failures=3, last_error="HTTP 404 Not Found")
    assert source_health(False, failing, S, NOW) == SourceHealth(Health.DISABLED, "disabled")


def test_a_failing_source_says_how_often_and_why():
    failing = replace(POLLED, consecutive_failures=2, last_error="HTTP 429 Too Many Requests")
    assert source_health(True, failing, S, NOW) == SourceHealth(Health.FAILING,
                                                                 "failing ×2: HTTP 429 Too Many Requests")


def test_a_source_never_polled_is_not_stale_yet():
    fresh = replace(POLLED, last_polled_at=None, last_new_at=None, created_at=NOW - timedelta(days=30))
    assert source_health(True, fresh, S, NOW) == SourceHealth(Health.NOT_POLLED, "not polled yet")


def test_nothing_new_for_stale_after_intervals_is_stale():
    quiet = replace(POLLED, last_new_at=NOW - timedelta(hours=5))  # more than 4 × the hourly `every`
    assert source_health(True, quiet, S, NOW) == SourceHealth(Health.STALE, "stale: nothing new for a long time")
    assert source_health(True, replace(POLLED, last_new_at=NOW - timedelta(hours=3)), S, NOW).health == Health.OK
