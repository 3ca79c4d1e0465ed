"""A catalogue of bad inputs, each run end to end: `ingest url` or `ingest poll` with a real ledger
and output folder, against a real HTTP server on 127.0.0.1 (pytest-httpserver) or a raw socket
that misbehaves on purpose. The HTTP client is never mocked.

Every case shows three things:
  (a) what the user reads: one line that names the input and says what is wrong and what to do,
      or, for an input that is legitimately handled, a correct note;
  (b) the exit code: 1 when an item or a source failed, 2 when the command could not run at all;
  (c) that nothing was lost or written wrongly: no partial note or temporary file in the output
      folder, a `created` ledger row for exactly the notes that exist, and the curator's
      hand-edited note in the output folder untouched.

The tables (BAD_URLS, PRIVATE, REDIRECTED, BAD_SERVERS, ODD_PAGES, BAD_SETUPS, HOSTILE_FEEDS) are
the catalogue; the tests below each table only run it. A case marked `known(...)` is a bug in a
module this file's author could not change: a strict xfail that says what to fix.
"""

from __future__ import annotations

import gzip
import io
import re
import resource
import select
import socket
import sqlite3
import ssl
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Callable

import feedparser
import frontmatter
import pytest
import yaml
from werkzeug import Request, Response

from conftest import FIXTURES, requests_to, wait_until
from ingest.errors import SourceError
from ingest.feeds import parse_feed

SELF_SIGNED = FIXTURES / "bad" / "self-signed.pem"  # certificate and key for 127.0.0.1, valid until 2125
PUBLIC_IP = "93.184.215.14"  # a global address, only ever "reached" through the test's proxy on 127.0.0.1
TODAY = date.today().isoformat()


def catalogue(table: dict, known: dict[str, str] | None = None) -> list:
    """pytest params from an {id: case} table; `known` maps ids to the bug that makes them fail."""
    known = known or {}
    return [
        pytest.param(
            case, id=name, marks=[pytest.mark.xfail(strict=True, reason=known[name])] if name in known else []
        )
        for name, case in table.items()
    ]


# ---------------------------------------------------------------------------------------------
# The curator's note that every case must leave alone, and the checks every case ends with
# ---------------------------------------------------------------------------------------------

CURATOR = "2020-01-01-curator-kept-by-hand.md"
CURATOR_TEXT = (
    '---\ntype: source\ntitle: "Kept by hand"\nauthor: "Curator"\nurl: https://example.org/kept\n'
    "date: 2020-01-01\ndomain: ai-alignment\nsecondary_domains: []\nformat: essay\nstatus: processing\n"
    "priority: high\ntags: [kept]\n---\n\n## Content\n\nMy own notes, edited in place.\n"
)
FIELDS = [
    "type",
    "title",
    "author",
    "url",
    "date",
    "domain",
    "secondary_domains",
    "format",
    "status",
    "priority",
    "tags",
]
SAFE_NAME = re.compile(r"\d{4}-\d{2}-\d{2}-[a-z0-9]+-[a-z0-9]+(-[a-z0-9]+)*\.md")


def ledger(
    root: Path, sql: str = "SELECT url, outcome, note_path, error_code FROM items ORDER BY id"
) -> list:
    path = root / "state" / "ledger.db"
    if not path.exists():
        return []
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def intact(root: Path) -> list[Path]:
    """(c): the curator's note untouched, no stray file, and the ledger's `created` rows naming
    exactly the notes that exist, each of them a valid note. Returns the new notes."""
    seeds = root / "seeds"
    assert (seeds / CURATOR).read_text(encoding="utf-8") == CURATOR_TEXT, "the curator's note was changed"
    names = sorted(p.name for p in seeds.iterdir())
    assert all(n.endswith(".md") and not n.startswith(".") for n in names), f"stray files in seeds/: {names}"
    new = [seeds / n for n in names if n != CURATOR]
    rows = ledger(root, "SELECT outcome, note_path FROM items")
    claimed = sorted(str(Path(p).resolve()) for outcome, p in rows if outcome == "created")
    assert claimed == sorted(str(p.resolve()) for p in new), "ledger rows and notes disagree"
    for outcome, path in rows:
        assert outcome != "failed" or path is None, "a failed item claims a note"
        assert path is None or Path(path).is_file(), f"the ledger points at a missing note {path}"
    for note in new:
        check_note(note, seeds)
    return new


def check_note(path: Path, folder: Path) -> None:
    """A note as the spec says: a safe name inside the folder, frontmatter that both readers load."""
    assert path.resolve().parent == folder.resolve()
    assert path.name.isascii() and len(path.name) <= 120 and SAFE_NAME.fullmatch(path.name), path.name
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head = yaml.safe_load(text.split("---\n", 2)[1])
    assert list(head) == FIELDS and dict(frontmatter.loads(text).metadata) == head
    assert head["status"] == "unprocessed" and head["type"] == "source"
    assert isinstance(head["title"], str) and isinstance(head["author"], str)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(head["date"]))


def failed_line(result, url: str, says: str) -> str:
    """(a): exactly one line on stdout, naming the input and saying what went wrong. (A control
    character in the input, a line break or an escape, is shown percent-encoded, as a URL spells it.)"""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.output
    [line] = lines
    shown = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"%{ord(m.group()):02X}", url)  # control characters
    assert line.startswith(f"failed {shown}: "), line
    assert says in line, line
    return line


# ---------------------------------------------------------------------------------------------
# Pages and servers
# ---------------------------------------------------------------------------------------------

WORDS = (
    "Researchers measured how sparse features in transformer models respond to gradual changes "
    "of the prompt and report that most features stay stable while a few switch abruptly"
).split()
TEXT = " ".join(WORDS)


def article(
    title: str = "Sparse features in transformers",
    *,
    head: str = "",
    body: str = "",
    n: int = 0,
    charset: str = "utf-8",
) -> str:
    """An article page with enough text to be archived; `n` makes its text distinct."""
    body = body or "".join(
        f"<p>Part {k} of study {n}: {' '.join(WORDS[k:] + WORDS[:k])}.</p>" for k in range(3)
    )
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>{title}</title>{head}</head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    )


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
    b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
# text and no NUL byte in its first 4 KB: only its signature tells it from a page
PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n4 0 obj\n<< /Length 90 >>\nstream\n"
    b"BT /F1 12 Tf 72 700 Td (" + TEXT.encode() * 3 + b") Tj ET\nendstream\nendobj\n%%EOF\n"
)
_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """20 MB of spaces in about 20 KB of gzip."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b" " * 20_000_000, compresslevel=9))
    return _BOMB[0]


class Raw:
    """TCP servers on 127.0.0.1 that break HTTP on purpose; all closed when the test ends."""

    def __init__(self):
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()

    def _listen(self, backlog: int = 8) -> socket.socket:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(backlog)
        self.sockets.append(server)
        return server

    def replying(self, reply: bytes | None, *, tls: bool = False) -> int:
        """Reads each request, sends `reply` (None: nothing at all) and hangs up; with `tls`, over
        TLS with a self-signed certificate."""
        server = self._listen()
        server.settimeout(0.1)
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(SELF_SIGNED)

        def serve():
            while not self.stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:  # a timeout, or the socket closed at the end of the test
                    continue
                try:
                    conn.settimeout(2)
                    if context is not None:
                        conn = context.wrap_socket(conn, server_side=True)
                    conn.recv(65536)
                    if reply is not None:
                        conn.sendall(reply)
                except OSError:  # ssl.SSLError too: the client refused the certificate
                    pass
                finally:
                    conn.close()

        threading.Thread(target=serve, daemon=True).start()
        return server.getsockname()[1]

    def never_accepting(self) -> int:
        """A listening socket whose accept queue is full: the kernel ignores further SYNs, so a
        connection attempt hangs until the client's connect timeout."""
        server = self._listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        self.sockets += fillers
        # the queue is full once a filler's handshake completes (it turns writable)
        wait_until(lambda: select.select([], fillers, [], 0)[1], "a connection filling the accept queue")
        return port

    @staticmethod
    def closed_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def close(self):
        self.stop.set()
        for s in self.sockets:
            s.close()


@dataclass
class Site:
    """The test server at http://127.0.0.1:PORT, with helpers for the case tables."""

    httpserver: object
    raw: Raw

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpserver.port}"

    def page(
        self,
        path: str,
        body: str | bytes,
        content_type: str | None = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict | None = None,
    ) -> str:
        """Serve `body` at `path`; content_type None sends no Content-Type header at all."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        response = Response(data, status=status, headers=headers or {})
        if content_type is None:
            del response.headers["Content-Type"]
        else:
            response.headers["Content-Type"] = content_type
        self.httpserver.expect_request(path).respond_with_response(response)
        return self.base + path

    def handler(self, path: str, handle: Callable[[Request], Response]) -> str:
        self.httpserver.expect_request(path).respond_with_handler(handle)
        return self.base + path

    def redirect(self, path: str, location: str) -> str:
        return self.page(path, b"", status=302, headers={"Location": location})

    def hits(self, path: str) -> int:
        return requests_to(self.httpserver, path)


@pytest.fixture
def desk(cli, monkeypatch):
    """The workspace with the curator's note in the output folder and settings that fail fast."""
    (cli.root / "seeds").mkdir()
    (cli.root / "seeds" / CURATOR).write_text(CURATOR_TEXT, encoding="utf-8")
    for key, value in {"RETRIES": "0", "TIMEOUT": "1", "DEADLINE": "4"}.items():
        monkeypatch.setenv(f"INGEST_{key}", value)
    return cli


@pytest.fixture
def site(httpserver):
    raw = Raw()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    yield Site(httpserver, raw)
    raw.close()


def public_networks_only(cli) -> None:
    config = cli.root / "config" / "ingest.toml"
    config.write_text(config.read_text().replace("allow_private_networks = true\n", ""))


def through_proxy(site: Site, monkeypatch) -> None:
    """Every request goes to the test server as an HTTP proxy (the standard HTTP_PROXY variable,
    which the real client honours): URLs on any host are served without leaving 127.0.0.1."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", site.base)


# ---------------------------------------------------------------------------------------------
# 1. URLs that are no fetchable address: refused before any request, no ledger row at all
# ---------------------------------------------------------------------------------------------

SCHEME = "only http:// and https:// pages are fetched"
BAD_URLS = {  # id: (the URL given, what the error says)
    "javascript-scheme": (
        "javascript:alert(document.cookie)",
        f"unsupported URL scheme 'javascript:'; {SCHEME}",
    ),
    "file-scheme": ("file:///etc/passwd", f"unsupported URL scheme 'file:'; {SCHEME}"),
    "ftp-scheme": ("ftp://ftp.example.org/pub/paper.pdf", f"unsupported URL scheme 'ftp:'; {SCHEME}"),
    "data-scheme": ("data:text/html,<h1>hi</h1>", f"unsupported URL scheme 'data:'; {SCHEME}"),
    "no-host": ("http:///posts/1", "URL has no host; give a full address like https://example.org/post"),
    "scheme-only": ("https://", "URL has no host; give a full address like https://example.org/post"),
    # a host without a scheme is https:// (tests/test_cli_input.py); a path alone is no address
    "no-host-no-scheme": ("posts/1", "not a URL; give an address starting with https:// or http://"),
    "scheme-relative": ("//example.org/posts/1", "not a URL; give an address starting with https://"),
    "space-in-host": (
        "http://exa mple.org/post",
        "URL contains spaces or line breaks; percent-encode a space",
    ),
    "space-in-path": ("https://example.org/my post", "URL contains spaces or line breaks"),
    "tab-in-path": ("https://example.org/a\tb", "URL contains spaces or line breaks"),
    "line-break-in-url": ("https://example.org/a\nb", "URL contains spaces or line breaks"),
    "unclosed-ipv6-bracket": ("http://[::1/post", "malformed URL (Invalid IPv6 URL); check the address"),
    "port-out-of-range": (
        "http://example.org:99999/post",
        "URL has an invalid port; a port is a number from 1",
    ),
    "port-not-a-number": ("http://example.org:https/post", "URL has an invalid port"),
    "credentials-in-url": (
        "https://alice:s3cret@example.org/post",
        "URL contains a user name or password; remove the part before '@'",
    ),
}
KNOWN_URL_BUGS: dict[str, str] = {}


@pytest.mark.parametrize("case", catalogue(BAD_URLS, KNOWN_URL_BUGS))
def test_unusable_url_is_refused_before_any_request(desk, site, case):
    url, says = case
    result = desk("url", url)
    assert result.exit_code == 1
    failed_line(result, url, says)
    assert ledger(desk.root) == []  # refused before the item was claimed
    assert len(site.httpserver.log) == 0
    assert intact(desk.root) == []


# ---------------------------------------------------------------------------------------------
# 2. Private addresses, allow_private_networks off (the default): direct, by name, by redirect
# ---------------------------------------------------------------------------------------------

PRIVATE = {  # id: (the URL given, what the error says); it always ends with the setting to change
    "loopback-address": ("http://127.0.0.1:{port}/post", "refused: 127.0.0.1 resolves to non-public address"),
    "private-10-network": (
        "http://10.0.0.1/admin",
        "refused: 10.0.0.1 resolves to non-public address 10.0.0.1",
    ),
    "ipv6-loopback": ("http://[::1]:{port}/post", "refused: ::1 resolves to non-public address ::1"),
    "cloud-metadata-address": (
        "http://169.254.169.254/latest/meta-data/",
        "refused: 169.254.169.254 resolves to non-public address 169.254.169.254",
    ),
    "localhost-by-name": (
        "http://localhost:{port}/post",
        "refused: localhost resolves to non-public address",
    ),
    "unspecified-address": ("http://0.0.0.0:{port}/post", "refused: 0.0.0.0 resolves to non-public address"),
    "loopback-as-decimal-number": (
        "http://2130706433:{port}/post",
        "refused: 2130706433 resolves to non-public address 127.0.0.1",
    ),
    "ipv4-mapped-ipv6-loopback": (
        "http://[::ffff:127.0.0.1]:{port}/post",
        "refused: ::ffff:127.0.0.1 resolves to non-public address",
    ),
}


@pytest.mark.parametrize("case", catalogue(PRIVATE))
def test_private_address_is_refused(desk, site, case):
    public_networks_only(desk)
    site.page("/post", article())
    url, says = case[0].format(port=site.httpserver.port), case[1]
    result = desk("url", url)
    assert result.exit_code == 1
    line = failed_line(result, url, says)
    assert line.endswith("(set allow_private_networks to fetch it)"), line
    assert len(site.httpserver.log) == 0, "a request reached the private address"
    assert ledger(desk.root) == [(url, "failed", None, "blocked_address")]
    assert intact(desk.root) == []


REDIRECTED = {  # id: (where a public page redirects, what the error says)
    "redirect-to-loopback": ("http://127.0.0.1:{port}/secret", "refused: 127.0.0.1 resolves to non-public"),
    "redirect-to-cloud-metadata": (
        "http://169.254.169.254/latest/meta-data/",
        "refused: 169.254.169.254 resolves to non-public address",
    ),
    "redirect-to-localhost": ("http://localhost:{port}/secret", "refused: localhost resolves to non-public"),
    "redirect-to-10-network": (
        "http://10.1.2.3/internal",
        "refused: 10.1.2.3 resolves to non-public address",
    ),
}


@pytest.mark.parametrize("case", catalogue(REDIRECTED))
def test_redirect_to_a_private_address_is_refused(desk, site, monkeypatch, case):
    public_networks_only(desk)
    through_proxy(site, monkeypatch)
    site.redirect("/start", case[0].format(port=site.httpserver.port))
    site.page("/secret", article())
    url = f"http://{PUBLIC_IP}/start"
    result = desk("url", url)
    assert result.exit_code == 1
    failed_line(result, url, case[1])
    assert site.hits("/start") == 1, "the public hop went through the test proxy"
    assert site.hits("/secret") == site.hits("/latest/meta-data/") == site.hits("/internal") == 0
    assert ledger(desk.root) == [(url, "failed", None, "blocked_address")]
    assert intact(desk.root) == []


def test_idn_host_that_does_not_resolve_fails_clearly(desk, site):
    public_networks_only(desk)  # the address check resolves the name; offline, nothing resolves
    url = "http://bücher.example/artikel"
    result = desk("url", url)
    assert result.exit_code == 1
    failed_line(result, url, "cannot resolve host xn--bcher-kva.example")
    assert ledger(desk.root) == [(url, "failed", None, "dns")]
    assert intact(desk.root) == []


def test_idn_host_is_fetched_and_archived(desk, site, monkeypatch):
    through_proxy(site, monkeypatch)
    site.page("/artikel", article("Bücher über spärliche Merkmale"))
    url = "http://bücher.example/artikel"
    result = desk("url", url)
    assert result.exit_code == 0, result.output
    [note] = intact(desk.root)
    assert result.stdout == f"created seeds/{note.name}\n"
    [request] = [r for r, _ in site.httpserver.log if r.path == "/artikel"]
    assert request.host == "xn--bcher-kva.example"  # IDNA on the wire
    post = frontmatter.load(note)
    assert post["url"] == url and post["title"] == "Bücher über spärliche Merkmale"


# ---------------------------------------------------------------------------------------------
# 3. Servers that answer badly: one line, exit 1, a `failed` ledger row, no note
# ---------------------------------------------------------------------------------------------


@dataclass
class Bad:
    """A server misbehaving one way: `serve(site)` sets it up and returns the URL to ingest."""

    serve: Callable[[Site], str]
    says: str  # in the error line; {port} is the test server's
    code: str  # the ledger's error_code
    env: dict = field(default_factory=dict)  # INGEST_* settings for this case


def _drip(request: Request) -> Response:
    def body():
        yield b"<html><body><p>"
        for _ in range(200):
            time.sleep(0.05)
            yield b"x"

    return Response(body(), content_type="text/html")


def _late(request: Request) -> Response:
    time.sleep(0.8)
    return Response(article(), content_type="text/html")


def _endless(request: Request) -> Response:  # chunked, no Content-Length
    return Response((b"<p>" + b"x" * 10_000 for _ in range(100)), content_type="text/html")


def _hops(site: Site) -> str:
    for n in range(15):
        site.redirect(f"/hop/{n}", f"/hop/{n + 1}")
    return site.base + "/hop/0"


def _loop(site: Site) -> str:
    site.redirect("/a", "/b")
    return site.redirect("/b", "/a")


def _raw(reply: bytes | None, tls: bool = False, scheme: str = "http") -> Callable[[Site], str]:
    return lambda site: f"{scheme}://127.0.0.1:{site.raw.replying(reply, tls=tls)}/post"


HTML = "text/html; charset=utf-8"
NOT_PAGE = "is not an HTML page; only web pages are archived for now"
PROTOCOL = "127.0.0.1 broke the HTTP protocol"
EMPTY = "the server sent an empty page"
BAD_SERVERS = {
    "redirect-loop": Bad(
        _loop,
        "redirect loop: http://127.0.0.1:{port}/a leads back to http://127.0.0.1:{port}/b",
        "redirect_loop",
    ),
    "redirect-to-itself": Bad(lambda s: s.redirect("/self", "/self"), "redirect loop", "redirect_loop"),
    "too-many-redirects": Bad(_hops, "more than 10 redirects", "too_many_redirects"),
    "redirect-without-location": Bad(
        lambda s: s.page("/moved", b"", status=302), "HTTP 302 Found without a Location header", "http_302"
    ),
    "redirect-to-file-scheme": Bad(
        lambda s: s.redirect("/r", "file:///etc/passwd"),
        "unsupported scheme 'file:'; only http and https URLs are fetched",
        "unsupported_scheme",
    ),
    "redirect-to-javascript": Bad(
        lambda s: s.redirect("/r", "javascript:alert(1)"),
        "the server redirected to an unusable URL",
        "invalid_redirect",
    ),
    "redirect-to-malformed-url": Bad(
        _raw(b"HTTP/1.1 302 Found\r\nLocation: http://[::1/x\r\nContent-Length: 0\r\n\r\n"),
        f"{PROTOCOL}: Invalid URL in location header",
        "protocol",
    ),
    "server-error": Bad(
        lambda s: s.page("/e", b"<h1>oops</h1>", status=500), "HTTP 500 Internal Server Error", "http_500"
    ),
    "read-timeout": Bad(
        lambda s: s.handler("/late", _late),
        "timed out after 0.3s reading the response",
        "read_timeout",
        {"TIMEOUT": "0.3"},
    ),
    "slow-drip-body": Bad(
        lambda s: s.handler("/drip", _drip),
        "gave up after the 1.2s deadline reading the body",
        "deadline",
        {"DEADLINE": "1.2"},
    ),
    "connect-timeout": Bad(
        lambda s: f"http://127.0.0.1:{s.raw.never_accepting()}/post",
        "timed out after 0.3s connecting to 127.0.0.1",
        "connect_timeout",
        {"TIMEOUT": "0.3"},
    ),
    "connection-refused": Bad(
        lambda s: f"http://127.0.0.1:{s.raw.closed_port()}/post", "could not connect to 127.0.0.1", "connect"
    ),
    "hangs-up-without-answer": Bad(
        _raw(None), f"{PROTOCOL}: Server disconnected without sending a response", "protocol"
    ),
    "answers-not-http": Bad(_raw(b"SSH-2.0-OpenSSH_9.6\r\n"), PROTOCOL, "protocol"),
    "truncated-body": Bad(
        _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n<p>cut"),
        f"{PROTOCOL}: peer closed connection without sending complete message body",
        "protocol",
    ),
    "tls-to-a-plain-http-port": Bad(
        lambda s: s.page("/post", article()).replace("http://", "https://"),
        "TLS handshake with 127.0.0.1 failed",
        "tls",
    ),
    "tls-self-signed-certificate": Bad(
        _raw(None, tls=True, scheme="https"),
        "TLS handshake with 127.0.0.1 failed: [SSL: CERTIFICATE_VERIFY_FAILED]",
        "tls",
    ),
    "oversized-declared-length": Bad(
        lambda s: s.page("/big", article() + "<!--" + "x" * 200_000 + "-->"),
        "body larger than 100000 bytes (Content-Length 20",
        "too_large",
        {"MAX_BYTES": "100000"},
    ),
    "oversized-streamed-body": Bad(
        lambda s: s.handler("/endless", _endless),
        "body larger than 100000 bytes",
        "too_large",
        {"MAX_BYTES": "100000"},
    ),
    "gzip-bomb": Bad(
        lambda s: s.page("/bomb", gzip_bomb(), headers={"Content-Encoding": "gzip"}),
        "body larger than 1000000 bytes",
        "too_large",
        {"MAX_BYTES": "1000000"},
    ),
    "corrupt-gzip": Bad(
        lambda s: s.page("/gz", article(), headers={"Content-Encoding": "gzip"}),
        "cannot decompress the response",
        "decoding",
    ),
    "json-content-type": Bad(
        lambda s: s.page("/api", b'{"title": "x"}', "application/json"),
        f"content type application/json {NOT_PAGE}",
        "unsupported_content_type",
    ),
    "damaged-pdf": Bad(  # PDFs are read (ingest/pdf.py); one that is broken says so
        lambda s: s.page("/paper.pdf", PDF, "application/pdf"),
        "PDF is damaged and cannot be opened (",
        "pdf_corrupt",
    ),
    "plain-text-content-type": Bad(
        lambda s: s.page("/notes.txt", TEXT * 5, "text/plain"),
        f"content type text/plain {NOT_PAGE}",
        "unsupported_content_type",
    ),
    "png-labelled-html": Bad(
        lambda s: s.page("/img", PNG, HTML),
        "the body is a PNG image, not an HTML page (served as text/html)",
        "binary_body",
    ),
    "damaged-pdf-labelled-html": Bad(  # the magic bytes, not the label, say it is a PDF
        lambda s: s.page("/doc", PDF, HTML),
        "PDF is damaged and cannot be opened (",
        "pdf_corrupt",
    ),
    "gzip-without-content-encoding": Bad(
        lambda s: s.page("/z", gzip.compress(article().encode()), HTML),
        "the body is gzip-compressed data, not an HTML page",
        "binary_body",
    ),
    "binary-without-content-type": Bad(
        lambda s: s.page("/blob", bytes(range(256)) * 8, None),
        "the body is binary data, not an HTML page",
        "binary_body",
    ),
    "empty-body": Bad(lambda s: s.page("/empty", b""), EMPTY, "empty_body"),
    "whitespace-body": Bad(lambda s: s.page("/blank", b"\n   \r\n\t\n"), EMPTY, "empty_body"),
    "no-content-204": Bad(lambda s: s.page("/none", b"", status=204), EMPTY, "empty_body"),
    "needs-javascript": Bad(
        lambda s: s.page(
            "/app",
            "<!DOCTYPE html><html><head><title>App</title>"
            '<script src="/static/main.js"></script></head><body><div id="root">'
            "</div><script>render()</script></body></html>",
        ),
        "no main text found (the page may be empty, a login wall, or need JavaScript)",
        "no_main_text",
    ),
}
KNOWN_SERVER_BUGS: dict[str, str] = {}


@pytest.mark.parametrize("case", catalogue(BAD_SERVERS, KNOWN_SERVER_BUGS))
def test_bad_answer_fails_cleanly(desk, site, monkeypatch, case):
    for key, value in case.env.items():
        monkeypatch.setenv(f"INGEST_{key}", value)
    url = case.serve(site)
    started = time.monotonic()
    result = desk("url", url)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    failed_line(result, url, case.says.format(port=site.httpserver.port))
    assert ledger(desk.root) == [(url, "failed", None, case.code)]
    assert intact(desk.root) == []


# ---------------------------------------------------------------------------------------------
# 4. Odd pages that are legitimately archived: the note must be right
# ---------------------------------------------------------------------------------------------


@dataclass
class Odd:
    """A page that is odd but archivable: its bytes, how it is served, what its note must say."""

    body: str | bytes
    content_type: str | None = "text/html; charset=utf-8"
    title: str | None = None  # the note's title, exactly
    author: str | None = None  # the note's author, exactly
    has: tuple[str, ...] = ()  # in the note's text
    lacks: tuple[str, ...] = ()  # nowhere in the note
    date: str | None = None  # the note's date
    fallback_date: bool | None = None  # the ledger says the date is the archive date (None: not checked)


UMLAUTS = "Grüße für Käufer: naïve Café-Besucher — „zitiert“"  # all of it in windows-1252 too
LATIN = article("Grüße und Käufer", body=f"<p>{UMLAUTS}. {TEXT}.</p>" * 3, charset="")
MOJIBAKE = ("Ã¼", "Ã¤", "â€", "\ufffd")
LONG_TITLE = " ".join(f"word{n}" for n in range(400))[:2000]


def _meta(name: str, content: str, attribute: str = "property") -> str:
    return f'<meta {attribute}="{name}" content="{content}">'


ODD_PAGES = {
    "charset-header-latin1-body-utf8": Odd(
        LATIN.encode(),
        "text/html; charset=iso-8859-1",
        title="Grüße und Käufer",
        has=(UMLAUTS,),
        lacks=MOJIBAKE,
    ),
    "charset-header-utf8-body-latin1": Odd(
        LATIN.encode("cp1252"),
        "text/html; charset=utf-8",
        title="Grüße und Käufer",
        has=(UMLAUTS,),
        lacks=MOJIBAKE,
    ),
    "charset-meta-latin1-body-utf8": Odd(
        LATIN.replace("<head>", '<head><meta charset="iso-8859-1">').encode(),
        "text/html",
        title="Grüße und Käufer",
        has=(UMLAUTS,),
        lacks=MOJIBAKE,
    ),
    "charset-meta-utf8-body-cp1252": Odd(
        LATIN.replace("<head>", '<head><meta charset="utf-8">').encode("cp1252"),
        "text/html",
        title="Grüße und Käufer",
        has=(UMLAUTS,),
        lacks=MOJIBAKE,
    ),
    "charset-unknown-label": Odd(
        LATIN.encode(), "text/html; charset=x-klingon", has=(UMLAUTS,), lacks=MOJIBAKE
    ),
    "charset-header-utf16-body-ascii": Odd(
        article("Plain ASCII page").encode(),
        "text/html; charset=utf-16",
        title="Plain ASCII page",
        has=("Part 1 of study 0",),
    ),
    "utf16-with-bom": Odd(
        b"\xff\xfe" + LATIN.encode("utf-16-le"),
        "text/html",
        title="Grüße und Käufer",
        has=(UMLAUTS,),
        lacks=MOJIBAKE,
    ),
    "missing-content-type": Odd(article("Served without a type"), None, title="Served without a type"),
    "html-labelled-plain-text": Odd(
        article("Labelled as plain text"), "text/plain", title="Labelled as plain text"
    ),
    "unclosed-tags": Odd(
        "<html><head><title>Unclosed tags everywhere</title><body><article><h1>Unclosed tags "
        f"everywhere<p><b>Bold start <i>{TEXT}<p>{TEXT}<div><span>tail text survives here",
        title="Unclosed tags everywhere",
        has=("tail text survives here",),
    ),
    "stray-html-end-tag-mid-page": Odd(
        article(
            "Stray end tag",
            body=f"<p>Before: {TEXT}.</p></body></html><p>After the stray end tag: {TEXT}.</p>",
        ),
        title="Stray end tag",
        has=("After the stray end tag",),
    ),
    "tag-soup-300-deep": Odd(
        article("Deep tag soup", body="<div>" * 300 + f"<p>Deep inside: {TEXT}.</p>" * 3),
        title="Deep tag soup",
        has=("Deep inside:",),
    ),
    "control-characters-in-page": Odd(
        article(
            "Bell\x07 and escape\x1b in the title",
            body=f"<p>Vertical\x0btab and bell\x07 in text: {TEXT}.</p>" * 3,
        ),
        title="Bell and escape in the title",
        has=("Verticaltab and bell in text",),
        lacks=("\x07", "\x1b", "\x0b"),
    ),
    "nul-byte-past-the-sniffed-start": Odd(
        article("A stray NUL", body=f"<p>{TEXT}.</p>" * 30 + "<p>a\x00b</p>"),
        title="A stray NUL",
        lacks=("\x00",),
    ),
    "invalid-declared-date": Odd(
        article(head=_meta("article:published_time", "2024-13-45")), date=TODAY, fallback_date=True
    ),
    "future-declared-date": Odd(
        article(head=_meta("article:published_time", "2099-01-01T00:00Z")), date=TODAY, fallback_date=True
    ),
    "author-with-quotes-and-newline": Odd(
        article(head=_meta("author", "Jane &quot;JD&quot;\nDoe", "name")), author='Jane "JD" Doe'
    ),
    "canonical-to-another-site": Odd(
        article(head='<link rel="canonical" href="https://evil.example/stolen">'), lacks=("evil.example",)
    ),
    "canonical-javascript": Odd(
        article(head='<link rel="canonical" href="javascript:alert(1)">'), lacks=("javascript:",)
    ),
    "title-missing": Odd(
        article("", body=f"<p>{TEXT} one.</p><p>{TEXT} two.</p><p>{TEXT} three.</p>"), title="title missing"
    ),  # from the URL's last segment
    "title-quotes-and-colon": Odd(
        article('Scaling "Laws": a second look'), title='Scaling "Laws": a second look'
    ),
    "title-with-newline": Odd(
        article("Line one\nLine two: the sequel"), title="Line one Line two: the sequel"
    ),
    "title-frontmatter-injection": Odd(
        article("---\nstatus: processed\n---"), title="--- status: processed ---"
    ),
    "title-yaml-lookalike": Odd(article("null"), title="null"),
    "title-yaml-syntax": Odd(
        article("- [x]: {y} &anchor *alias !tag # not a comment"),
        title="- [x]: {y} &anchor *alias !tag # not a comment",
    ),
    "title-escaped-markup": Odd(
        article("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), title="<script>alert(1)</script> & more"
    ),
    "title-path-characters": Odd(
        article("C:\\Windows\\..\\..\\etc/passwd and ../../up"),
        title="C:\\Windows\\..\\..\\etc/passwd and ../../up",
    ),
    "title-right-to-left": Odd(
        article("מחקר חדש על מודלים: نماذج اللغة الكبيرة"), title="מחקר חדש על מודלים: نماذج اللغة الكبيرة"
    ),
    "title-bidi-override": Odd(
        article("Report \u202egnp.exe\u202c final"), title="Report \u202egnp.exe\u202c final"
    ),
    "title-chinese": Odd(article("大型语言模型的稀疏特征研究"), title="大型语言模型的稀疏特征研究"),
    "title-cyrillic": Odd(
        article("Разреженные признаки: новое исследование"), title="Разреженные признаки: новое исследование"
    ),
    "title-2000-characters": Odd(article(LONG_TITLE), title=LONG_TITLE),
}


@pytest.mark.parametrize("case", catalogue(ODD_PAGES))
def test_odd_page_makes_a_correct_note(desk, site, case, request):
    url = site.page(f"/cases/{request.node.callspec.id}", case.body, case.content_type)
    result = desk("url", url)
    assert result.exit_code == 0, result.output
    [note] = intact(desk.root)
    assert result.stdout == f"created seeds/{note.name}\n"
    text = note.read_text(encoding="utf-8")
    post = frontmatter.loads(text)
    assert post["url"] == url  # no canonical link here may replace the fetched URL
    if case.title is not None:
        assert post["title"] == case.title
    if case.author is not None:
        assert post["author"] == case.author
    for snippet in case.has:
        assert snippet in post.content, snippet
    for snippet in case.lacks:
        assert snippet not in text, repr(snippet)
    if case.date is not None:
        assert str(post["date"]) == case.date
    if case.fallback_date is not None:
        assert ledger(desk.root, "SELECT date_is_fallback FROM items") == [(int(case.fallback_date),)]


# ---------------------------------------------------------------------------------------------
# 5. Several URLs at once, and names that collide
# ---------------------------------------------------------------------------------------------


def test_the_same_url_twice_in_one_command(desk, site):
    url = site.page("/post", article())
    result = desk("url", url, url)
    assert result.exit_code == 0
    [note] = intact(desk.root)
    assert result.stdout == f"created seeds/{note.name}\nduplicate {url} (archived as seeds/{note.name})\n"
    assert site.hits("/post") == 1


def test_the_same_url_three_times_spelled_differently(desk, site):
    url = site.page("/post", article())
    tracked, shouted = f"{url}?utm_source=mail#top", url.replace("http://", "HTTP://")
    result = desk("url", url, tracked, shouted)
    assert result.exit_code == 0
    [note] = intact(desk.root)
    assert result.stdout.splitlines()[1:] == [
        f"duplicate {tracked} (archived as seeds/{note.name})",
        f"duplicate {shouted} (archived as seeds/{note.name})",
    ]
    assert site.hits("/post") == 1


BYLINE = _meta("author", "Ada Lovelace", "name") + _meta("article:published_time", "2024-05-01")
SAME_NAME = "2024-05-01-adalovelace-sparse-features-in-transformers.md"


def test_two_articles_with_the_same_title_and_date(desk, site):
    one = site.page("/one", article(head=BYLINE, n=1))
    two = site.page("/two", article(head=BYLINE, n=2))
    result = desk("url", one, two)
    assert result.exit_code == 0, result.output
    notes = intact(desk.root)
    assert {n.name for n in notes} == {SAME_NAME, SAME_NAME.replace(".md", "-2.md")}
    by_url = {frontmatter.load(n)["url"]: n.read_text() for n in notes}
    assert set(by_url) == {one, two}
    assert "study 1" in by_url[one] and "study 2" in by_url[two]


def test_a_new_article_whose_name_a_curator_note_has(desk, site):
    theirs = desk.root / "seeds" / SAME_NAME
    their_text = CURATOR_TEXT.replace("https://example.org/kept", "https://example.org/other")
    theirs.write_text(their_text)
    url = site.page("/one", article(head=BYLINE, n=1))
    result = desk("url", url)
    assert result.stdout == f"created seeds/{SAME_NAME.replace('.md', '-2.md')}\n"
    assert theirs.read_text() == their_text
    theirs.unlink()  # so that intact() sees only what ingest wrote
    assert [n.name for n in intact(desk.root)] == [SAME_NAME.replace(".md", "-2.md")]


# ---------------------------------------------------------------------------------------------
# 6. Settings, template and output folder that cannot work
# ---------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """A broken set-up: `arrange(root)` breaks it and returns extra command arguments."""

    arrange: Callable[[Path], list]
    says: str  # on stderr (exit 2: the command cannot start) or in the item's line (exit 1)
    exit_code: int = 2


def _config(text: str | bytes) -> Callable[[Path], list]:
    def arrange(root: Path) -> list:
        config = root / "config" / "ingest.toml"
        config.write_bytes(config.read_bytes() + (text if isinstance(text, bytes) else text.encode()))
        return []

    return arrange


def _template(text: str) -> Callable[[Path], list]:
    def arrange(root: Path) -> list:
        (root / "config" / "note.md.j2").write_text(text)
        return _config('template = "note.md.j2"\n')(root)

    return arrange


def _setting(key: str, value: str) -> Callable[[Path], list]:
    """`key = value` in place of the workspace's own value of `key`."""

    def arrange(root: Path) -> list:
        config = root / "config" / "ingest.toml"
        lines = [line for line in config.read_text().splitlines(True) if not line.startswith(f"{key} =")]
        config.write_text("".join(lines) + f"{key} = {value}\n")
        return []

    return arrange


def _template_bytes(data: bytes) -> Callable[[Path], list]:
    def arrange(root: Path) -> list:
        (root / "config" / "note.md.j2").write_bytes(data)
        return _config('template = "note.md.j2"\n')(root)

    return arrange


def _taxonomy_bytes(data: bytes) -> Callable[[Path], list]:
    def arrange(root: Path) -> list:
        (root / "config" / "taxonomy.toml").write_bytes(data)
        return []

    return arrange


def _bom_then(arrange: Callable[[Path], list]) -> Callable[[Path], list]:
    """A byte-order mark (as Windows editors write) before the settings, then `arrange`."""

    def with_bom(root: Path) -> list:
        config = root / "config" / "ingest.toml"
        config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
        return arrange(root)

    return with_bom


def _output(option: str) -> Callable[[Path], list]:
    def arrange(root: Path) -> list:
        (root / "notes").write_text("not a folder\n")
        return ["--output", option]

    return arrange


TEMPLATE = (Path(__file__).resolve().parent.parent / "templates" / "source-note.md.j2").read_text()
TOML = "config/ingest.toml"
BAD_SETUPS = {
    "config-toml-syntax-error": Setup(
        _config('output_dir = "../seeds\n'), f"{TOML}: not valid TOML (Illegal character"
    ),
    "config-unknown-key": Setup(
        _config('colour = "blue"\n'),
        f"{TOML}: unknown key 'colour'; allowed keys are: allow_private_networks,",
    ),
    "config-duplicate-key": Setup(
        _config("timeout = 3.0\n"), f"{TOML}: not valid TOML (Cannot overwrite a value"
    ),
    "config-wrong-type": Setup(
        _config('max_redirects = "many"\n'),
        f"{TOML}: key 'max_redirects' must be a whole number from 0 to 100, got 'many'",
    ),
    "config-not-utf8": Setup(
        _config(b'user_agent = "caf\xe9"\n'), f"{TOML}: not UTF-8 text (byte 0xe9 at offset"
    ),
    "config-host-delay-overflow": Setup(
        _setting("host_delay", "1e308"),
        f"{TOML}: key 'host_delay' must be a number of seconds from 0 to 86400 (1 day), got 1e+308",
    ),
    "config-deadline-overflow": Setup(
        _setting("deadline", "1e308"), f"{TOML}: key 'deadline' must be a number of seconds, more than 0 and at most"
    ),
    "config-user-agent-not-ascii": Setup(
        _config('user_agent = "agent 中文"\n'),
        f"{TOML}: key 'user_agent' must be a string of printable ASCII characters",
    ),
    "config-user-agent-with-a-line-break": Setup(
        _config('user_agent = "agent\\r\\nX-Injected: 1"\n'),
        f"{TOML}: key 'user_agent' must be a string of printable ASCII characters",
    ),
    "config-contact-url-not-ascii": Setup(
        _config('contact_url = "https://例え.jp/"\n'),
        f"{TOML}: key 'contact_url' must be a string of printable ASCII characters",
    ),
    "config-path-with-nul": Setup(
        _config('archive_dir = "notes\\u0000"\n'),
        f"{TOML}: key 'archive_dir' must be a path",
    ),
    "config-with-a-byte-order-mark": Setup(  # read as meant: the run goes on to the bad output folder
        _bom_then(_output("notes/inbox")), "notes/inbox cannot be created (Not a directory)", 1
    ),
    "taxonomy-not-utf8": Setup(
        _taxonomy_bytes(b"# caf\xe9\n"), "config/taxonomy.toml: not UTF-8 text (byte 0xe9 at offset 5)"
    ),
    "template-not-utf8": Setup(
        _template_bytes(TEMPLATE.encode() + b"caf\xe9\n"),
        f"config/note.md.j2: not UTF-8 text (byte 0xe9 at offset {len(TEMPLATE.encode()) + 3}); "
        "save the file as UTF-8",
    ),
    "template-syntax-error": Setup(
        _template("---\ntitle: {{ title | yaml_quoted }\n---\n"),
        "config/note.md.j2:2: note template is broken: unexpected '}'",
    ),
    "template-missing": Setup(
        _config('template = "no-such.md.j2"\n'),
        "no-such.md.j2: note template cannot be read (No such file or directory); "
        "check the 'template' setting",
    ),
    "template-unknown-variable": Setup(
        _template(TEMPLATE.replace("{{ content }}", "{{ contents }}")),
        "note.md.j2: note template failed: 'contents' is undefined",
    ),
    "template-makes-bad-yaml": Setup(
        _template(TEMPLATE.replace("{{ title | yaml_quoted }}", "{{ title }}")),
        "note.md.j2: note template produced invalid YAML frontmatter (mapping "
        "values are not allowed here at line 2, column 15); quote the values",
    ),
    "output-folder-is-a-file": Setup(
        _output("notes"), "notes is a file, not a folder; give --output a folder", 1
    ),
    "output-folder-under-a-file": Setup(
        _output("notes/inbox"), "notes/inbox cannot be created (Not a directory)", 1
    ),
    "output-folder-name-too-long": Setup(
        lambda root: ["--output", "n" * 300],
        "cannot be opened (File name too long); check the 'output_dir' setting or --output",
    ),
    "archive-folder-name-too-long": Setup(
        _config(f'archive_dir = "{"n" * 300}"\n'),
        "cannot be opened (File name too long); check the 'archive_dir' setting",
    ),
}
KNOWN_SETUP_BUGS: dict[str, str] = {}


@pytest.mark.parametrize("case", catalogue(BAD_SETUPS, KNOWN_SETUP_BUGS))
def test_broken_setup_fails_clearly(desk, site, case):
    url = site.page("/post", article('A title: with "quotes"'))
    result = desk("url", *case.arrange(desk.root), url)
    assert result.exit_code == case.exit_code, result.output
    if case.exit_code == 2:  # the command could not start: one line on stderr, nothing fetched or recorded
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("ingest: ") and case.says in line, line
        assert len(site.httpserver.log) == 0
        assert ledger(desk.root) == []
    else:  # the item failed and says why; never `created` ("queued" waits for a usable output folder)
        failed_line(result, url, case.says)
        [(_, outcome, note_path, _)] = ledger(desk.root)
        assert outcome in ("failed", "queued") and note_path is None
    assert intact(desk.root) == []
    if (desk.root / "notes").exists():
        assert (desk.root / "notes").read_text() == "not a folder\n"


# ---------------------------------------------------------------------------------------------
# 7. Feeds: hostile XML, ill-formed documents, a huge feed (through `ingest poll`)
# ---------------------------------------------------------------------------------------------


def rss(items: str, prolog: str = "", title: str = "Lab") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{prolog}<rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://127.0.0.1/</link>{items}</channel></rss>"
    ).encode()


T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def entry(base: str, n: int, title: str | None = None) -> str:
    return (
        f"<item><title>{title or f'Entry {n}'}</title><link>{base}/posts/{n}</link>"
        f"<pubDate>{format_datetime(T0 + timedelta(minutes=n))}</pubDate></item>"
    )


LAUGHS = (
    '<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{k} "{("&lol" + str(k - 1 or "") + ";") * 10}">\n' for k in range(1, 10))
    + "]>\n"
)
BLOWUP = '<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 100_000 + '">\n]>\n'  # 30,000 × &a; → 3 GB


@dataclass
class FeedCase:
    document: Callable[[str], bytes]  # the feed, given the site's base URL
    says: str  # after "source lab failed: "
    code: str = "feed_entities"


REFUSED = "refused: the feed declares the"
HOSTILE_FEEDS = {
    "billion-laughs": FeedCase(
        lambda b: rss(entry(b, 1, "&lol9;"), LAUGHS),
        f"{REFUSED} XML entity 'lol', which could expand without limit or read other "
        "files; ask the publisher for a feed without <!ENTITY> declarations",
    ),
    "quadratic-blowup": FeedCase(
        lambda b: rss(
            f"<item><title>Blow</title><link>{b}/posts/1</link><description>"
            + "&a;" * 30_000
            + "</description></item>",
            BLOWUP,
        ),
        f"{REFUSED} XML entity 'a'",
    ),
    "external-entity-file": FeedCase(
        lambda b: rss(entry(b, 1, "&xxe;"), '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'),
        f"{REFUSED} external XML entity 'xxe'",
    ),
    "external-entity-http": FeedCase(
        lambda b: rss(entry(b, 1, "&xxe;"), f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{b}/leak">]>\n'),
        f"{REFUSED} external XML entity 'xxe'",
    ),
    "external-parameter-entity": FeedCase(
        lambda b: rss(entry(b, 1), f'<!DOCTYPE rss [<!ENTITY % dtd SYSTEM "{b}/leak"> %dtd;]>\n'),
        f"{REFUSED} external XML entity '% dtd'",
    ),
    "entity-behind-a-comment": FeedCase(
        lambda b: rss(entry(b, 1, "&a;"), '<!DOCTYPE rss [<!-- <b> --><!ENTITY a "AAAA">]>\n'),
        f"{REFUSED} XML entity 'a'",
    ),
    "html-page-as-feed": FeedCase(
        lambda b: article().encode(), "not a feed: looks like an HTML page", "feed_malformed"
    ),
    "not-xml-at-all": FeedCase(
        lambda b: b"Our feed has moved; see the homepage.",
        "not a feed: syntax error at line 1",
        "feed_malformed",
    ),
    "empty-feed-document": FeedCase(lambda b: b"", "not a feed: empty document", "feed_malformed"),
    "wrong-root-element": FeedCase(
        lambda b: b'<?xml version="1.0"?><catalog><book>x</book></catalog>',
        "not a feed: <catalog> is not an RSS, Atom or RDF root element",
        "feed_malformed",
    ),
}


@pytest.fixture
def feed_site(desk, site):
    config = desk.root / "config"
    config.joinpath("ingest.toml").write_text(
        config.joinpath("ingest.toml").read_text() + "min_interval = 0.0\n"
    )

    def sources(backfill: int = 3) -> None:
        config.joinpath("sources.toml").write_text(
            f'[[source]]\nname = "lab"\nurl = "{site.base}/feed.xml"\nkind = "feed"\nbackfill = {backfill}\n'
        )

    site.sources = sources
    return site


@pytest.mark.parametrize("case", catalogue(HOSTILE_FEEDS))
def test_hostile_or_broken_feed_is_refused(desk, feed_site, case):
    site = feed_site
    site.page("/posts/1", article())
    site.page("/leak", b"LEAKED-SECRET", "text/plain")
    site.page("/feed.xml", case.document(site.base), "application/rss+xml")
    site.sources()
    started = time.monotonic()
    result = desk("poll")
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(f"source lab failed: {case.says}"), result.stdout
    assert site.hits("/leak") == 0, "the parser fetched an external entity"
    assert site.hits("/posts/1") == 0
    assert ledger(desk.root, "SELECT last_error_code FROM sources") == [(case.code,)]
    everything = result.output + "\n".join(map(str, ledger(desk.root, "SELECT * FROM sources")))
    assert "root:" not in everything and "LEAKED-SECRET" not in everything
    assert intact(desk.root) == []


def test_what_feedparser_does_with_entities_by_itself():
    """The finding behind feeds._refuse_entities: feedparser drops nested (billion laughs) and
    external declarations, but keeps and expands a plain one, however often it is referenced."""

    def title(prolog: str, text: str) -> str:
        return feedparser.parse(io.BytesIO(rss("", prolog, title=text))).feed.get("title", "")

    assert "lollol" not in title(LAUGHS, "&lol9;")
    assert "root:" not in title('<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n', "&x;")
    plain = '<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 1000 + '">\n]>\n'
    assert title(plain, "&a;" * 100) == "A" * 100_000  # 1.3 KB in, 100 KB out: the quadratic blowup
    with pytest.raises(SourceError, match="^refused: the feed declares the XML entity 'a'"):
        parse_feed(rss("", plain, title="&a;" * 100), "https://example.org/feed.xml")


def test_ill_formed_feed_yields_its_complete_entries(desk, feed_site):
    """Cut off mid-entry, with a bare ampersand: the loose parser still finds both whole entries."""
    site = feed_site
    for n in (1, 2):
        site.page(f"/posts/{n}", article(f"Entry {n}", n=n))
    document = rss(entry(site.base, 1, "Q&A about features") + entry(site.base, 2))
    site.page("/feed.xml", document.replace(b"</channel></rss>", b"<item><title>cut"), "application/rss+xml")
    site.sources()
    result = desk("poll")
    assert result.exit_code == 0, result.output
    assert "source lab: 2 new of 2" in result.stdout
    assert len(intact(desk.root)) == 2


def test_feed_entries_with_unusable_links_are_skipped(desk, feed_site):
    site = feed_site
    site.page("/posts/1", article())
    links = ["javascript:alert(1)", "file:///etc/passwd", "http://[::1/x", "", "mailto:a@example.org"]
    items = entry(site.base, 1) + "".join(
        f"<item><title>Bad</title><link>{link}</link></item>" for link in links
    )
    site.page("/feed.xml", rss(items), "application/rss+xml")
    site.sources()
    result = desk("poll")
    assert result.exit_code == 0, result.output
    assert "source lab: 1 new of 1" in result.stdout
    assert len(intact(desk.root)) == 1


@pytest.mark.slow
def test_feed_with_10000_entries_keeps_to_the_backfill(desk, feed_site):
    site = feed_site
    site.httpserver.expect_request(re.compile(r"/posts/\d+")).respond_with_handler(
        lambda request: Response(article(n=int(request.path.rsplit("/", 1)[1])), content_type="text/html")
    )
    site.page("/feed.xml", rss("".join(entry(site.base, n) for n in range(10_000))), "application/rss+xml")
    site.sources(backfill=2)
    started, peak = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = desk("poll")
    assert time.monotonic() - started < 15
    # the process's high-water mark (KiB on Linux): a 1.5 MB feed must not cost hundreds of MB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000
    assert result.exit_code == 0, result.output
    assert "source lab: 2 new of 10000, 9998 older left out (backfill)" in result.stdout
    assert {frontmatter.load(n)["url"] for n in intact(desk.root)} == {
        f"{site.base}/posts/{n}" for n in (9998, 9999)
    }
    assert sorted(r.path for r, _ in site.httpserver.log if r.path.startswith("/posts/")) == [
        "/posts/9998",
        "/posts/9999",
    ]
    assert ledger(desk.root, "SELECT count(*) FROM entries WHERE skipped") == [(9998,)]
