"""Ctrl-C (SIGINT) and SIGTERM during `ingest url` and `ingest poll`, sent to a real process while
real requests are in flight: no new item starts, the items in flight finish and are reported, the
rest stay for the next run, and the exit code says the command was interrupted (issue 15.14)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import article, wait_until

pytestmark = pytest.mark.slow  # each test runs the command as a process for a few seconds


class HeldPages:
    """Article pages /p0, /p1 … served by threaded servers on several ports of 127.0.0.1 (a host
    each: one request at a time per host would otherwise keep every item but one waiting). Each
    request is held until the test releases it, so the test decides which items are in flight."""

    def __init__(self, ports: int):
        self.arrived: list[str] = []  # paths of article requests, in the order they came
        self.released: set[str] = set()
        self.everything = False
        self.changed = threading.Condition()
        self.feed: bytes = b""
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server name)
                if self.path == "/feed.xml":
                    return self.reply(200, pages.feed, "application/rss+xml")
                if not re.fullmatch(r"/p\d+", self.path):
                    return self.reply(404, b"not found", "text/plain")
                with pages.changed:
                    pages.arrived.append(self.path)
                    pages.changed.notify_all()
                    pages.changed.wait_for(lambda: pages.everything or self.path in pages.released, timeout=30)
                self.reply(200, article(int(self.path[2:])), "text/html; charset=utf-8")

            def reply(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(ports)]
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, n: int) -> str:
        """The URL of article n, each on the next port in turn."""
        return f"http://127.0.0.1:{self.servers[n % len(self.servers)].server_address[1]}/p{n}"

    def release(self, *paths: str, everything: bool = False) -> None:
        with self.changed:
            self.released.update(paths)
            self.everything = self.everything or everything
            self.changed.notify_all()

    def close(self) -> None:
        self.release(everything=True)
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def pages():
    made: list[HeldPages] = []
    yield lambda ports: made.append(HeldPages(ports)) or made[-1]
    for held in made:
        held.close()


class Command:
    """`python -m ingest.cli ARGS` in the workspace, its output in files read while it runs."""

    def __init__(self, root: Path, *args: str, stdin=subprocess.DEVNULL):
        self.root = root
        self.out, self.err = root / "command.out", root / "command.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", *args], cwd=root, env=env,
                                         stdout=out, stderr=err, stdin=stdin)

    @property
    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")

    def lines(self, start: str) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith(start)]

    def wait_for(self, condition, what: str):
        def met():
            if self.proc.poll() is not None:
                pytest.fail(f"exited ({self.proc.returncode}) while waiting for {what}:\n{self.stdout}\n{self.stderr}")
            return condition()
        return wait_until(met, what, timeout=30)

    def finish(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"did not stop within {timeout}s of the signal:\n{self.stdout}\n{self.stderr}")


@pytest.fixture
def command(workspace):
    started: list[Command] = []

    def start(*args: str, **options) -> Command:
        started.append(Command(workspace, *args, **options))
        return started[-1]

    yield start
    for c in started:  # a failed test must not leave a process behind
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()


def ledger(root: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def set_config(root: Path, text: str) -> None:
    """The workspace's settings with `text` added, and time enough for a request the test holds."""
    config = root / "config" / "ingest.toml"
    held = config.read_text(encoding="utf-8").replace("timeout = 2.0", "timeout = 30.0")
    config.write_text(held.replace("deadline = 5.0", "deadline = 60.0") + text, encoding="utf-8")


def interrupt_with_two_in_flight(pages: HeldPages, c: Command, signum: int) -> None:
    """Let the first item to arrive finish, wait until the next two are in flight, then send the
    signal and let those two finish. (The first one's line may wait for the other: lines come in
    the items' order.)"""
    c.wait_for(lambda: len(pages.arrived) == 2, "two items in flight")
    pages.release(pages.arrived[0])
    c.wait_for(lambda: len(pages.arrived) == 3, "the next item in flight")
    c.proc.send_signal(signum)
    time.sleep(0.3)  # time enough to start another item, were the command to do so
    pages.release(everything=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_url_batch_finishes_and_reports_what_was_in_flight_and_starts_nothing(
        workspace, pages, command, cli, signum):
    held = pages(4)
    set_config(workspace, "concurrency = 2\n")
    urls = [held.url(n) for n in range(8)]
    (workspace / "urls.txt").write_text("\n".join(urls) + "\n")
    c = command("url", "-i", "urls.txt")
    interrupt_with_two_in_flight(held, c, signum)
    assert c.finish() == 128 + signum
    assert len(held.arrived) == 3  # nothing started after the signal
    assert "Aborted!" not in c.stderr and "Traceback" not in c.stderr
    assert c.stderr.splitlines()[-1] == "ingest: interrupted: 5 item(s) not started; run the command again for them"
    notes = sorted(p.name for p in (workspace / "seeds").glob("*.md"))
    assert len(notes) == 3
    assert sorted(line.removeprefix("created seeds/") for line in c.lines("created ")) == notes  # each reported
    assert c.lines("skipped ") == [f"skipped {u}: stopped before it started" for u in urls[3:]]
    assert ledger(workspace, "SELECT outcome, count(*) FROM items GROUP BY outcome") == [("created", 3)]
    again = cli("url", "-i", "urls.txt")  # the next run does the rest
    assert again.exit_code == 0, again.output
    assert again.output.count("duplicate ") == 3 and again.output.count("created ") == 5


@pytest.fixture
def site_feed(workspace):
    def make(held: HeldPages, entries: int) -> list[str]:
        urls = [held.url(n) for n in range(entries)]
        items = "".join(f"<item><title>Research note {n}</title><link>{u}</link>"
                        f"<pubDate>{format_datetime(datetime(2025, 3, 1 + n, tzinfo=UTC))}</pubDate></item>"
                        for n, u in enumerate(urls))
        held.feed = f'<rss version="2.0"><channel><title>Lab</title>{items}</channel></rss>'.encode()
        feed = f"http://127.0.0.1:{held.servers[0].server_address[1]}/feed.xml"
        (workspace / "config" / "sources.toml").write_text(
            f'[[source]]\nname = "lab"\nurl = "{feed}"\nkind = "feed"\nbackfill = {entries}\n')
        return urls

    return make


def test_an_interrupted_poll_leaves_the_items_not_started_queued(workspace, pages, command, cli, site_feed):
    held = pages(4)
    set_config(workspace, "concurrency = 2\nmin_interval = 0.0\n")
    urls = site_feed(held, 8)
    c = command("poll")
    interrupt_with_two_in_flight(held, c, signal.SIGINT)
    assert c.finish() == 130
    assert len(held.arrived) == 3
    assert "Aborted!" not in c.stderr and "Traceback" not in c.stderr
    assert c.stdout.splitlines()[-1] == ("polled 1 source(s): 3 new note(s), 0 duplicate(s), 0 failed item(s), "
                                         "0 failed source(s)")
    assert len(c.lines("created ")) == len(list((workspace / "seeds").glob("*.md"))) == 3
    assert ledger(workspace, "SELECT outcome, count(*) FROM items GROUP BY outcome") == [("created", 3), ("queued", 5)]
    assert ledger(workspace, "SELECT count(*) FROM sources WHERE claimed_until IS NOT NULL") == [(0,)]
    again = cli("poll")  # the queued items are done by the next poll, though the source is not due
    assert again.exit_code == 0, again.output
    assert again.output.count("created ") == 5
    assert sorted(urls) == sorted(r[0] for r in ledger(workspace, "SELECT url FROM items WHERE outcome = 'created'"))


def waiting_for_more(c, typed: bytes) -> None:
    """Type `typed` on the command's stdin, then wait until it waits for more."""
    assert c.proc.stdin is not None
    c.proc.stdin.write(typed)
    c.proc.stdin.flush()
    wchan = Path(f"/proc/{c.proc.pid}/wchan")
    if not wchan.exists():
        pytest.skip("needs Linux's /proc to see the command wait for input")
    c.wait_for(lambda: "pipe" in wchan.read_text(), "the command waiting for more input")


def test_ctrl_c_while_no_item_is_in_flight_ends_the_command_at_once(workspace, command, pages):
    held = pages(1)
    c = command("url", "-i", "-", stdin=subprocess.PIPE)  # the user is still typing URLs
    waiting_for_more(c, f"{held.url(0)}\n".encode())
    c.proc.send_signal(signal.SIGINT)
    assert c.finish() == 130
    c.proc.stdin.close()
    assert c.stderr == "ingest: interrupted\n"
    assert held.arrived == [] and c.stdout == ""


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(workspace, command):
    c = command("sources", "import-opml", "-", stdin=subprocess.PIPE)  # the OPML is still being pasted
    waiting_for_more(c, b"<opml version='2.0'>\n")
    c.proc.send_signal(signal.SIGINT)
    assert c.finish() == 130
    c.proc.stdin.close()
    assert c.stderr == "ingest: interrupted\n" and c.stdout == ""
