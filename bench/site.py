"""A local web for the benchmarks: N feeds of M entries spread over 20 loopback hosts
(127.0.0.1 … 127.0.0.20, one listener each), article pages built from the real pages of
../shared/corpus/extraction/ (their real sizes, each copy made distinct), robots.txt, ETag and
Last-Modified, and a fixed latency per response to stand in for the network.

    python bench/site.py --feeds 100 --entries 10 --latency 0.05 --port 8800
Prints `ready <port>` once every host listens; serves until killed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "extraction"
HOSTS = 20
PARAGRAPH = re.compile(r"<p(?:\s[^>]*)?>([^<]{0,5000})", re.I)
STARTED = formatdate(time.time() - 86400, usegmt=True)


def load_pages(corpus: Path) -> list[str]:
    """Real article pages with a full reference body (so that they extract), as text."""
    pages = []
    for case in sorted(corpus.iterdir()):
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        if expected.get("body_kind") == "full" and len(expected.get("body") or "") > 1500:
            raw = (case / "page.html").read_bytes()
            pages.append(raw.decode("utf-8", "replace"))
    return pages


def host_of(feed: int) -> str:
    return f"127.0.0.{feed % HOSTS + 1}"


class Site:
    def __init__(self, feeds: int, entries: int, port: int, pages: list[str]):
        self.feeds, self.entries, self.port, self.pages = feeds, entries, port, pages
        self.requests = 0
        self.lock = threading.Lock()
        # inside the main text: at the start of every long paragraph (one of them is sure to be kept)
        self.anchors = [[m.start(1) for m in PARAGRAPH.finditer(p) if len(m.group(1)) >= 150] or [len(p)]
                        for p in pages]

    def feed(self, n: int) -> bytes:
        base = f"http://{host_of(n)}:{self.port}"
        items = "".join(
            f"<item><title>Bench article {n}-{k}</title><link>{base}/articles/{n}-{k}.html</link>"
            f"<guid>{base}/articles/{n}-{k}.html</guid>"
            f"<pubDate>{formatdate(1700000000 + n * 1000 + k * 3600, usegmt=True)}</pubDate></item>"
            for k in range(self.entries)
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench feed {n}</title>'
                f"<link>{base}/</link>{items}</channel></rss>").encode()

    def article(self, n: int, k: int) -> bytes:
        page = self.pages[(n * self.entries + k) % len(self.pages)]
        # a sentence of its own in the main text, so no copy is a duplicate of another
        unique = f"Benchmark copy {n}-{k} {hashlib.sha256(f'{n}-{k}'.encode()).hexdigest()[:16]}. "
        pieces, last = [], 0
        for at in self.anchors[(n * self.entries + k) % len(self.pages)]:
            pieces += [page[last:at], unique]
            last = at
        return ("".join(pieces) + page[last:]).encode("utf-8")


def make_handler(site: Site, latency: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/__stats":  # for the benchmark, not counted, no latency
                return self.send(json.dumps({"requests": site.requests}).encode(), "application/json")
            with site.lock:
                site.requests += 1
            time.sleep(latency)
            if path == "/robots.txt":
                return self.send(b"User-agent: *\nAllow: /\n", "text/plain")
            match = re.fullmatch(r"/feeds/(\d+)\.xml", path)
            if match and int(match.group(1)) < site.feeds:
                body = site.feed(int(match.group(1)))
                etag = '"' + hashlib.md5(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self.send(b"", None, status=304, etag=etag)
                return self.send(body, "application/rss+xml", etag=etag)
            match = re.fullmatch(r"/articles/(\d+)-(\d+)\.html", path)
            if match:
                return self.send(site.article(int(match.group(1)), int(match.group(2))), "text/html; charset=utf-8")
            return self.send(b"not found", "text/plain", status=404)

        def send(self, body: bytes, ctype: str | None, status: int = 200, etag: str | None = None):
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", STARTED)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    site = Site(args.feeds, args.entries, args.port, load_pages(args.corpus))
    handler = make_handler(site, args.latency)
    servers = []
    for i in range(1, HOSTS + 1):
        server = ThreadingHTTPServer((f"127.0.0.{i}", args.port), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    print(f"ready {args.port} pages={len(site.pages)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
