"""PoliteFetcher against a real local server: robots.txt rules and crawl-delay, per-host spacing."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from ingest.config import Settings
from ingest.errors import FetchError
from ingest.fetch import Fetcher
from ingest.politeness import PoliteFetcher


class Clock:
    """A fake monotonic clock: sleeping advances it, so spacing is checked without waiting."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(round(seconds, 3))
            self.now += seconds


def polite(settings: Settings, clock: Clock) -> PoliteFetcher:
    return PoliteFetcher(Fetcher(settings), settings, clock=clock, sleep=clock.sleep)


@pytest.fixture
def settings():
    return replace(Settings(), allow_private_networks=True, retries=0, host_delay=2.0)


def test_requests_to_one_host_are_spaced_by_the_host_delay(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/a").respond_with_data("a")
    clock = Clock()
    with polite(settings, clock) as fetcher:
        fetcher.fetch(httpserver.url_for("/a"))
        fetcher.fetch(httpserver.url_for("/a"))
    # robots.txt, then /a two seconds later, then /a two seconds after that
    assert clock.sleeps == [2.0, 2.0]
    assert fetcher.requests == 3


def test_robots_txt_is_fetched_once_per_host_and_obeyed(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private\nCrawl-delay: 5\n", content_type="text/plain")
    httpserver.expect_request("/public").respond_with_data("ok")
    clock = Clock()
    with polite(settings, clock) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/public")).content == b"ok"
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(httpserver.url_for("/private/page"))
        fetcher.fetch(httpserver.url_for("/public"))
    assert caught.value.code == "robots_disallowed"
    assert sum(1 for r, _ in httpserver.log if r.path == "/robots.txt") == 1
    assert not any(r.path.startswith("/private") for r, _ in httpserver.log)
    assert clock.sleeps == [5.0, 5.0]  # Crawl-delay asks more than host_delay


def test_unreachable_robots_txt_means_wait_and_disallow(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503)
    httpserver.expect_request("/page").respond_with_data("ok")
    with polite(settings, Clock()) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(httpserver.url_for("/page"))
    assert caught.value.code == "robots_disallowed"


def test_robots_can_be_ignored_by_setting(httpserver, settings):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/page").respond_with_data("ok")
    with polite(replace(settings, obey_robots=False), Clock()) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/page")).content == b"ok"


def test_blocked_address_is_reported_as_itself(httpserver, settings):
    with polite(replace(settings, allow_private_networks=False), Clock()) as fetcher:
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(httpserver.url_for("/page"))
    assert caught.value.code == "blocked_address"
    assert len(httpserver.log) == 0


def test_one_request_at_a_time_per_host(httpserver, settings):
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(request):
        from werkzeug import Response

        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return Response("ok")

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/slow").respond_with_handler(slow)
    fetcher = PoliteFetcher(Fetcher(settings), replace(settings, host_delay=0.0))
    threads = [threading.Thread(target=fetcher.fetch, args=(httpserver.url_for("/slow"),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fetcher.close()
    assert peak[0] == 1
