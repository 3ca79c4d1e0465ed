"""Servers and documents that misbehave on purpose, through the real Fetcher and the real commands.

The servers are raw sockets on 127.0.0.1 that send exactly the bytes a test gives them: a status
line and headers dripped a byte at a time, stacked compression, Location headers that no URL
parser should take. Nothing in httpx is mocked."""

from __future__ import annotations

import gzip
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import frontmatter
import pytest

from conftest import article, rss
from ingest.config import Settings
from ingest.errors import FetchError
from ingest.fetch import Fetcher

ROOT = Path(__file__).resolve().parents[1]
Answer = Callable[[socket.socket, threading.Event], None]  # writes one response; the event: the test is over


def settings(**changes) -> Settings:
    base = dict(allow_private_networks=True, timeout=5.0, deadline=10.0, retries=0, backoff=0.0)
    return replace(Settings(), **{**base, **changes})


class Raw:
    """TCP servers on 127.0.0.1: each request read up to its blank line is answered by an
    Answer; `keep_alive` serves further requests on the same connection."""

    def __init__(self):
        self.stop = threading.Event()
        self.listeners: list[socket.socket] = []
        self.connections = 0

    def serve(self, answer: Answer, *, keep_alive: bool = False) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.1)
        self.listeners.append(listener)

        def accept() -> None:
            while not self.stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:  # a timeout, or the listener closed at the end of the test
                    continue
                self.connections += 1
                threading.Thread(target=self._talk, args=(conn, answer, keep_alive), name="raw-talk",
                                 daemon=True).start()

        threading.Thread(target=accept, name="raw-accept", daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    def _talk(self, conn: socket.socket, answer: Answer, keep_alive: bool) -> None:
        buffer = b""
        with conn:
            conn.settimeout(5)
            try:
                while not self.stop.is_set():
                    while b"\r\n\r\n" not in buffer:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buffer += data
                    buffer = buffer.partition(b"\r\n\r\n")[2]
                    answer(conn, self.stop)
                    if not keep_alive:
                        return
            except OSError:  # the client gave up and hung up: what these servers are for
                return

    def close(self) -> None:
        self.stop.set()
        for listener in self.listeners:
            listener.close()


@pytest.fixture
def raw():
    servers = Raw()
    yield servers
    servers.close()


@pytest.fixture
def fetch():
    """fetch(url, **settings) -> FetchResult, each call with a Fetcher of its own."""

    def run(url: str, **changes):
        with Fetcher(settings(**changes)) as fetcher:
            return fetcher.fetch(url)

    return run


def fails(fetch, url: str, **changes) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, **changes)
    assert info.value.url == url
    assert "\n" not in info.value.message
    return info.value


def reply(head: bytes, body: bytes = b"") -> Answer:
    """An answer of fixed bytes: the head (status line and headers, without the blank line), then
    Content-Length and the body."""

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    return answer


def drip(head: bytes, every: float = 0.2) -> Answer:
    """Sends `head` one byte at a time, each well within any read timeout; never ends the headers."""

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        for byte in head:
            if stop.wait(every):
                return
            conn.sendall(bytes([byte]))

    return answer


# --- the deadline bounds the whole request ---------------------------------------------------------

def _after(first: bytes, then: Answer) -> Answer:
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(first)
        then(conn, stop)

    return answer


SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"a" * 20  # 12 s at 0.2 s a byte
DRIPPED = {
    "status-line": drip(SLOW_HEAD),
    "headers": _after(SLOW_HEAD[:17], drip(SLOW_HEAD[17:] + b"a" * 17)),
}


@pytest.mark.parametrize("answer", DRIPPED.values(), ids=DRIPPED.keys())
def test_a_response_head_dripped_byte_by_byte_ends_at_the_deadline(raw, fetch, answer):
    # each byte comes well within the 5 s read timeout: only the deadline can end the wait
    url = raw.serve(answer) + "/post"
    started = time.monotonic()
    error = fails(fetch, url, deadline=1.5, timeout=5.0)
    elapsed = time.monotonic() - started
    assert (error.code, error.transient) == ("deadline", True)
    assert error.message == "gave up after the 1.5s deadline waiting for the response"
    assert elapsed < 1.5 + 5  # generous; the old code waited for the whole head, 12 s here


def test_a_proxy_that_drips_its_answer_ends_at_the_deadline(raw, fetch, monkeypatch):
    # connections to a proxy come from other transports of the client: they keep the deadline too
    proxy = raw.serve(drip(SLOW_HEAD))
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    error = fails(fetch, "http://example.test/post", deadline=1.0, timeout=5.0)
    assert error.code == "deadline"


def test_a_body_dripped_byte_by_byte_ends_at_the_deadline(raw, fetch):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n"
    error = fails(fetch, raw.serve(_after(head, drip(b"x" * 100))) + "/post", deadline=1.0, timeout=5.0)
    assert error.message == "gave up after the 1s deadline reading the body"


def test_the_deadline_starts_no_thread_and_keeps_connections_pooled(raw):
    body = article(1)
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html", body), keep_alive=True)
    ours = lambda: {t for t in threading.enumerate() if not t.name.startswith("raw-")}  # noqa: E731
    before = ours()
    with Fetcher(settings(deadline=2.0)) as fetcher:
        for n in range(3):
            assert fetcher.fetch(f"{url}/post/{n}").content == body
        assert ours() == before
    assert raw.connections == 1  # one connection for the three requests


# --- stacked Content-Encoding is undone layer by layer, each counted ---------------------------------


@pytest.fixture(scope="module")
def zeros_gz() -> bytes:
    """200 MB of zeros as 190 KB of gzip; a second gzip layer makes it 2.5 KB, a third 750 bytes."""
    return gzip.compress(bytes(200_000_000), compresslevel=9)


def refused_with_peak(fetch, url: str, **settings):
    """The error fetching `url` fails with, and the most memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        error = fails(fetch, url, **settings)
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layers", [2, 3])
def test_a_stacked_gzip_bomb_is_stopped_with_little_memory(raw, fetch, zeros_gz, layers):
    body = zeros_gz
    for _ in range(layers - 1):
        body = gzip.compress(body, compresslevel=9)
    encoding = ", ".join(["gzip"] * layers).encode()
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: " + encoding, body))
    error, peak = refused_with_peak(fetch, url + "/bomb", max_bytes=1_000_000)
    assert (error.code, error.message) == ("too_large", "body larger than 1000000 bytes")
    # httpx inflated each layer's whole chunk at once: 200 MB here, 8 GB from a 6.8 KB body
    assert peak < 20_000_000, f"{peak:,} bytes allocated to refuse it"


def test_a_middle_layer_larger_than_the_limit_is_refused(raw, fetch):
    # 3 MB of noise compresses to nothing: the middle layer alone is over the limit
    noise = os.urandom(3_000_000)
    body = gzip.compress(gzip.compress(noise, compresslevel=1) + bytes(1))
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip", body))
    assert fails(fetch, url + "/x", max_bytes=2_000_000).code == "too_large"


def _raw_deflate(data: bytes) -> bytes:
    machine = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return machine.compress(data) + machine.flush()


PAGE = article(7)
ENCODED = {  # id: (Content-Encoding, body): each must decode to PAGE
    "gzip": ("gzip", gzip.compress(PAGE)),
    "x-gzip": ("x-gzip", gzip.compress(PAGE)),
    "deflate-zlib": ("deflate", zlib.compress(PAGE)),
    "deflate-raw": ("deflate", _raw_deflate(PAGE)),
    "gzip-then-deflate": ("gzip, deflate", zlib.compress(gzip.compress(PAGE))),
    "deflate-then-gzip": ("Deflate,GZIP", gzip.compress(zlib.compress(PAGE))),
    "identity-among-them": ("identity, gzip", gzip.compress(PAGE)),
    "two-gzip-members": ("gzip", gzip.compress(PAGE[:100]) + gzip.compress(PAGE[100:])),
    "three-layers": ("gzip, gzip, gzip", gzip.compress(gzip.compress(gzip.compress(PAGE)))),
}


@pytest.mark.parametrize("case", ENCODED.values(), ids=ENCODED.keys())
def test_content_encodings_are_decoded(raw, fetch, case):
    coding, body = case
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: " + coding.encode(), body))
    result = fetch(url + "/page")
    assert result.content == PAGE
    assert result.headers["content-encoding"] == coding  # as sent: what the ledger's snapshot records


@pytest.mark.parametrize("coding", ["compress", "zstd", "gzip, snappy"])
def test_an_encoding_that_cannot_be_decoded_is_a_clear_error(raw, fetch, coding):
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Encoding: " + coding.encode(), b"\x1f\x9d\x90abc"))
    error = fails(fetch, url + "/x")
    assert (error.code, error.transient) == ("unsupported_encoding", False)
    assert error.message.startswith(f"the server sent the body as Content-Encoding '{coding}', which this client")


def test_a_layer_that_is_not_what_it_says_is_a_decoding_error(raw, fetch):
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip", gzip.compress(PAGE)))
    error = fails(fetch, url + "/x")
    assert error.code == "decoding"
    assert error.message.startswith("cannot decompress the response: not valid gzip data")


# --- Location headers no URL parser should take ------------------------------------------------------

UNUSABLE = "the server redirected to an unusable URL ("
UNPARSABLE = "127.0.0.1 broke the HTTP protocol: Invalid URL in location header"  # httpx's own word, as for http://[::1
BAD_LOCATIONS = {  # id: (the Location header's bytes, the error's code, how its message starts)
    "invalid-punycode": (b"http://xn--127-0.0.0.1/x", "invalid_redirect", UNUSABLE),
    "a-label-ending-in-hyphen": (b"http://xn--zz-/y", "invalid_redirect", UNUSABLE),
    "protocol-relative": (b"//xn--zz-/y", "invalid_redirect", UNUSABLE),
    "bad-label-after-a-good-one": (b"http://xn--p1ai.a_b.example/y", "invalid_redirect", UNUSABLE),
    "label-of-64-characters": (b"http://" + b"a" * 64 + b".example/x", "invalid_redirect", UNUSABLE),
    "empty-label": (b"http://ex..ample/x", "invalid_redirect", UNUSABLE),
    "port-out-of-range": (b"http://127.0.0.1:99999999/x", "invalid_redirect", UNUSABLE),  # would reach 57599
    "control-byte-in-host": (b"http://\x80.example/a", "protocol", UNPARSABLE),  # Latin-1 to httpx: a C1 control
    "utf-8-snowman": ("http://☃.net/".encode(), "protocol", UNPARSABLE),  # Latin-1 to httpx: no IDNA name
}


@pytest.mark.parametrize("case", BAD_LOCATIONS.values(), ids=BAD_LOCATIONS.keys())
def test_a_redirect_to_an_unusable_url_is_refused(raw, fetch, case):
    location, code, says = case
    url = raw.serve(reply(b"HTTP/1.1 302 Found\r\nLocation: " + location)) + "/start"
    error = fails(fetch, url, retries=0)
    assert (error.code, error.transient) == (code, code == "protocol")
    assert error.message.startswith(says)
    assert raw.connections == 1  # no hop to the unusable URL


# --- end to end: one line, the right exit code, no ledger row for work not done --------------------


def ledger(root: Path, sql: str = "SELECT url, outcome, error_code FROM items ORDER BY id") -> list:
    path = root / "state" / "ledger.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


INVALID_HOSTS = ["http://xn--127-0.0.0.1/x", "http://xn--zz-/y", "http://" + "a" * 64 + ".example/x"]


@pytest.mark.parametrize("url", INVALID_HOSTS)
def test_url_with_an_invalid_host_is_one_line_and_no_ledger_row(cli, url):
    result = cli("url", url)
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"failed {url}: invalid host: ") and line.endswith("; check the address")
    assert ledger(cli.root) == [] and cli.notes() == []


def test_url_given_as_undecodable_bytes_is_refused_before_the_ledger(workspace, serve):
    # as a shell passes $'http://\xff\xfe.example/a': Python decodes argv with surrogateescape
    good = serve("/post", article(3))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "ingest.cli", "url", b"http://\xff\xfe.example/a", good],
                          cwd=workspace, env=env, capture_output=True, timeout=60)
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    assert done.returncode == 1
    bad, created = done.stdout.decode().splitlines()  # the run went on with the good URL
    assert bad == "failed http://%FF%FE.example/a: URL is not valid UTF-8 text (undecodable bytes); " \
                  "percent-encode them, as %FF"
    assert created.startswith("created seeds/")
    assert ledger(workspace) == [(good, "created", None)]


@pytest.mark.parametrize("url", [*INVALID_HOSTS, "http://\udcff\udcfe.example/feed"])
def test_sources_add_with_an_invalid_host_is_a_usage_error(cli, url):
    result = cli("sources", "add", url, "--kind", "feed")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("ingest: ") and ("invalid host: " in line or "not valid UTF-8 text" in line)
    assert not (cli.root / "config" / "sources.toml").exists()


T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", ["http://xn--zz-/y", "http://xn--127-0.0.0.1/x", "http://" + "b" * 64 + ".org/p"])
def test_a_feed_link_with_an_invalid_host_does_not_stop_the_poll(cli, site, bad):
    for n in (1, 2):
        site.put(f"/posts/{n}", article(n))
    bad_item = f"<item><title>Bad</title><link>{bad}</link><guid>bad</guid></item>"
    site.put("/feed.xml", rss(site.base, [(2, T0 + timedelta(days=1)), (1, T0)], extra=bad_item),
             "application/rss+xml")
    site.sources(f'[[source]]\nname = "lab"\nurl = "{site.base}/feed.xml"\nkind = "feed"\nevery = "1h"\n')
    for _ in range(2):  # it killed three runs in a row
        result = cli("poll", "--all")
        assert result.exit_code == 0, result.output
    assert {frontmatter.load(p)["url"] for p in cli.notes()} == {f"{site.base}/posts/1", f"{site.base}/posts/2"}
    assert sorted(ledger(cli.root)) == [(f"{site.base}/posts/{n}", "created", None) for n in (1, 2)]


# --- documents whose links no URL parser takes: the link is skipped, the rest goes on ----------------

UNPARSABLE_LINKS = ["http://[::1/x", "http://xn--zz-/x", "http://" + "c" * 64 + ".example/x"]


@pytest.mark.parametrize("bad", UNPARSABLE_LINKS)
def test_a_page_declaring_an_unusable_pdf_link_is_still_archived(cli, serve, bad):
    page = article(4).replace(b"</head>", f'<meta name="citation_pdf_url" content="{bad}"></head>'.encode())
    result = cli("url", serve("/paper", page))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created seeds/")


@pytest.mark.parametrize("bad", UNPARSABLE_LINKS)
def test_a_homepage_advertising_an_unusable_feed_is_added_as_a_page(cli, serve, bad):
    link = f'<link rel="alternate" type="application/rss+xml" href="{bad}">'
    home = article(5).replace(b"</head>", link.encode() + b"</head>")
    url = serve("/", home)
    result = cli("sources", "add", url, "--name", "lab")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"added lab: page {url} (every 6h)\n"


@pytest.mark.parametrize("bad", UNPARSABLE_LINKS)
def test_a_listing_page_with_an_unusable_link_yields_its_other_articles(cli, site, bad):
    for n in (1, 2):
        site.put(f"/posts/{n}", article(n))
    links = "".join(f'<li><a href="{href}">Research note {n}</a></li>'
                    for n, href in ((0, bad), (1, "/posts/1"), (2, "/posts/2")))
    site.put("/blog/", f"<html><body><main><ul>{links}</ul></main></body></html>".encode())
    site.sources(f'[[source]]\nname = "blog"\nurl = "{site.base}/blog/"\nkind = "page"\nevery = "1h"\n')
    result = cli("poll")
    assert result.exit_code == 0, result.output
    assert {frontmatter.load(p)["url"] for p in cli.notes()} == {f"{site.base}/posts/1", f"{site.base}/posts/2"}


@pytest.mark.parametrize("bad", UNPARSABLE_LINKS)
def test_a_sitemap_with_an_unusable_loc_yields_its_other_urls(cli, site, bad):
    site.put("/posts/1", article(1))
    locs = "".join(f"<url><loc>{loc}</loc></url>" for loc in (bad, f"{site.base}/posts/1"))
    site.put("/sitemap.xml", f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             f"{locs}</urlset>".encode(), "application/xml")
    site.sources(f'[[source]]\nname = "map"\nurl = "{site.base}/sitemap.xml"\nkind = "sitemap"\nevery = "1h"\n')
    result = cli("poll")
    assert result.exit_code == 0, result.output
    assert [frontmatter.load(p)["url"] for p in cli.notes()] == [f"{site.base}/posts/1"]


def test_brotli_is_decoded_and_its_bomb_stopped_when_installed(raw, fetch):
    brotli = pytest.importorskip("brotli")
    if not hasattr(brotli.Decompressor(), "can_accept_more_data"):
        pytest.skip("brotli before 1.2 cannot bound its output, so br is neither asked for nor read")
    page = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br", brotli.compress(PAGE)))
    assert fetch(page + "/page").content == PAGE
    bomb = gzip.compress(brotli.compress(bytes(200_000_000)))
    url = raw.serve(reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br, gzip", bomb))
    error, peak = refused_with_peak(fetch, url + "/bomb", max_bytes=1_000_000)
    assert error.code == "too_large"
    assert peak < 40_000_000, f"{peak:,} bytes allocated to refuse it"
