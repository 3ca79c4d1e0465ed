"""End to end: `ingest schedule` as a real process polling feeds served on 127.0.0.1, stopped by a
real SIGTERM; a real sources file edited while it runs, a real SQLite ledger."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import frontmatter
import pytest
from click.testing import CliRunner
from werkzeug import Response

from conftest import PAGES
from ingest.cli import main

# every test runs the scheduler as a process for a few seconds
pytestmark = pytest.mark.slow
FEED_TYPE = "application/rss+xml"


def rss(*items: tuple[str, str]) -> bytes:
    """An RSS 2.0 document; items are (title, link)."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        "<pubDate>Thu, 21 Nov 2019 10:00:00 GMT</pubDate></item>"
        for title, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Lab</title>'
        f"<link>http://example.org/</link><description>Test feed</description>{body}</channel></rss>"
    ).encode()


def source_toml(name: str, url: str) -> str:
    return f'[[source]]\nname = "{name}"\nurl = "{url}"\nkind = "feed"\n\n'


def write_atomically(path: Path, text: str) -> None:
    """As an editor saving the file would: the scheduler never reads half of it."""
    tmp = path.with_name(".sources.toml.edit")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Scheduler:
    """`python -m ingest.cli schedule` in the workspace, its output in files we can read as it runs."""

    def __init__(self, root: Path):
        self.root = root
        self.out, self.err = root / "schedule.out", root / "schedule.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
        env |= {"INGEST_TICK": "0.3", "INGEST_MIN_INTERVAL": "0", "INGEST_HOST_DELAY": "0"}
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "schedule"], cwd=root, env=env,
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    @property
    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")

    def ticks(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("tick: ")]

    def notes(self) -> list[Path]:
        return sorted((self.root / "seeds").glob("*.md"))

    def wait_for(self, condition, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"scheduler exited ({self.proc.returncode}) while waiting for {what}:\n"
                            f"{self.stdout}\n{self.stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 15.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"scheduler did not stop within {timeout}s of SIGTERM:\n{self.stdout}\n{self.stderr}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def scheduler(workspace):
    started: list[Scheduler] = []

    def start() -> Scheduler:
        started.append(Scheduler(workspace))
        return started[-1]

    yield start
    for s in started:  # a failed test must not leave a process behind
        s.kill()


@pytest.fixture
def sources_file(workspace) -> Path:
    return workspace / "config" / "sources.toml"


def ledger(root: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def test_schedule_polls_ticks_and_stops_cleanly_on_sigterm(scheduler, serve, httpserver, sources_file, workspace):
    article = serve("/posts/wasm", "v8-blog.html")
    feed = serve("/feed.xml", rss(("Standalone Wasm", article)), content_type=FEED_TYPE)
    sources_file.write_text("# watched by the scheduler\n" + source_toml("lab", feed))

    s = scheduler()
    s.wait_for(lambda: len(s.ticks()) >= 2 and s.notes(), "two ticks and a note")
    [note] = s.notes()
    assert frontmatter.load(note)["url"] == article
    assert s.ticks()[0] == "tick: 1 source(s), 1 new note(s)"
    assert "tick: nothing due" in s.ticks()[1:], "the source is not due again within its interval"

    assert s.terminate() == 0, s.stderr
    assert "stopped" in s.stderr.splitlines()
    assert s.stderr.startswith(f"scheduling sources from {sources_file.resolve()} every 0.3s; Ctrl-C stops\n")
    assert f"created seeds/{note.name}" in s.stdout.splitlines()
    assert list((workspace / "seeds").glob(".ingest-tmp-*")) == []
    assert ledger(workspace, "SELECT name, claimed_until FROM sources") == [("lab", None)]
    assert ledger(workspace, "SELECT outcome FROM items") == [("created",)]
    assert ledger(workspace, "SELECT count(*) FROM items WHERE outcome = 'pending'") == [(0,)]
    # polled once, not once per tick
    assert sum(1 for request, _ in httpserver.log if request.path == "/feed.xml") == 1


def test_edits_to_the_sources_file_apply_without_a_restart(scheduler, serve, httpserver, sources_file, workspace):
    first = serve("/posts/wasm", "v8-blog.html")
    second = serve("/other/ebb", "ebb-org.html")
    feed_a = serve("/a.xml", rss(("Standalone Wasm", first)), content_type=FEED_TYPE)
    feed_b = serve("/b.xml", rss(("Ebb", second)), content_type=FEED_TYPE)
    sources_file.write_text(source_toml("lab-a", feed_a))

    s = scheduler()
    s.wait_for(lambda: len(s.notes()) == 1, "the first feed's note")

    # a broken edit is a warning, and the scheduler goes on
    write_atomically(sources_file, source_toml("lab-a", feed_a) + "[[source]]\nname = \"lab-b\"\n")
    s.wait_for(lambda: "key 'url' is required" in s.stderr, "a warning about the broken file")
    assert s.proc.poll() is None
    [warning] = [line for line in s.stderr.splitlines() if line.startswith("warning: ")][:1]
    assert "sources.toml: source 'lab-b': key 'url' is required" in warning

    write_atomically(sources_file, source_toml("lab-a", feed_a) + source_toml("lab-b", feed_b))
    s.wait_for(lambda: len(s.notes()) == 2, "the added feed's note")
    assert {frontmatter.load(n)["url"] for n in s.notes()} == {first, second}

    assert s.terminate() == 0, s.stderr
    assert "stopped" in s.stderr.splitlines()
    assert ledger(workspace, "SELECT name, claimed_until FROM sources ORDER BY name") == [("lab-a", None), ("lab-b", None)]
    assert list((workspace / "seeds").glob(".ingest-tmp-*")) == []


def test_a_broken_sources_file_at_start_is_exit_2(scheduler, sources_file, httpserver):
    sources_file.write_text(f'[[source]]\nname = "lab"\nurl = "{httpserver.url_for("/f")}"\nevery = "1m"\n')
    s = scheduler()
    assert s.proc.wait(10) == 2
    assert s.stdout == ""
    assert s.stderr.count("\n") == 1, s.stderr
    assert s.stderr.startswith(f"ingest: {sources_file.resolve()}: source 'lab': key 'every' must be at least 5 minutes")
    assert len(httpserver.log) == 0


def slow(httpserver, path: str, body: bytes, content_type: str, seconds: float = 1.0) -> threading.Event:
    """Serve `path` slowly; the event is set when the request has arrived."""
    arrived = threading.Event()

    def handler(request):
        arrived.set()
        time.sleep(seconds)
        return Response(body, content_type=content_type)

    httpserver.expect_request(path).respond_with_handler(handler)
    return arrived


def test_sigterm_during_an_article_fetch_lets_it_finish(scheduler, serve, httpserver, sources_file, workspace):
    serve("/robots.txt", b"", status=404)
    article = httpserver.url_for("/posts/wasm")
    arrived = slow(httpserver, "/posts/wasm", (PAGES / "v8-blog.html").read_bytes(), "text/html; charset=utf-8")
    feed = serve("/feed.xml", rss(("Standalone Wasm", article)), content_type=FEED_TYPE)
    sources_file.write_text(source_toml("lab", feed))

    s = scheduler()
    assert arrived.wait(10), s.stderr
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)  # impatient: a second signal while the item finishes
    assert s.terminate() == 0, s.stderr
    assert "Traceback" not in s.stderr
    assert s.stderr.splitlines()[-1] == "stopped"
    [note] = s.notes()
    assert frontmatter.load(note)["url"] == article
    assert list((workspace / "seeds").glob(".ingest-tmp-*")) == []
    assert ledger(workspace, "SELECT outcome FROM items") == [("created",)]
    assert ledger(workspace, "SELECT name, claimed_until FROM sources") == [("lab", None)]


def stop_during_the_feed_fetch(scheduler, serve, httpserver, sources_file) -> str:
    """SIGTERM while the feed is read: its new entry is found but not started."""
    serve("/robots.txt", b"", status=404)
    article = serve("/posts/wasm", "v8-blog.html")
    arrived = slow(httpserver, "/feed.xml", rss(("Standalone Wasm", article)), FEED_TYPE)
    sources_file.write_text(source_toml("lab", httpserver.url_for("/feed.xml")))
    s = scheduler()
    assert arrived.wait(10), s.stderr
    assert s.terminate() == 0, s.stderr
    assert s.stderr.splitlines()[-1] == "stopped"
    assert f"skipped {article}: stopped before it started" in s.stdout.splitlines()
    assert s.notes() == []
    return article


def test_sigterm_during_the_feed_fetch_starts_no_new_item(scheduler, serve, httpserver, sources_file, workspace):
    stop_during_the_feed_fetch(scheduler, serve, httpserver, sources_file)
    assert ledger(workspace, "SELECT name, claimed_until FROM sources") == [("lab", None)]
    # the entry the stop kept from running stays queued in the ledger, not lost
    assert ledger(workspace, "SELECT outcome, retry_at IS NOT NULL FROM items") == [("queued", 1)]


def test_an_entry_skipped_by_a_stop_is_ingested_next_time(scheduler, serve, httpserver, sources_file, workspace,
                                                          monkeypatch):
    article = stop_during_the_feed_fetch(scheduler, serve, httpserver, sources_file)
    monkeypatch.setenv("INGEST_HOST_DELAY", "0")
    result = CliRunner().invoke(main, ["poll", "--source", "lab"], catch_exceptions=False)
    assert "created seeds/" in result.output, result.output
    assert [frontmatter.load(n)["url"] for n in (workspace / "seeds").glob("*.md")] == [article]
