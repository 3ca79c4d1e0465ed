"""End to end: `ingest sources …` and `ingest poll` against feeds and pages served on 127.0.0.1,
a real sources file, a real SQLite ledger."""

from __future__ import annotations

import json
import socket
import sqlite3
import tomllib
from pathlib import Path

import pytest

from conftest import FIXTURES, requests_to

OPML = FIXTURES / "opml" / "inoreader-research.opml"
LISTING = FIXTURES / "listing"

# the feed names the Inoreader export gives, in its order (see tests/test_opml.py for why)
OPML_SOURCES = [
    ("ai-alignment-forum", "https://www.alignmentforum.org/feed.xml"),
    ("redwood-research-blog", "https://blog.redwoodresearch.org/feed"),
    ("google-deepmind-blog", "https://deepmind.google/blog/rss.xml"),
    ("openai-news", "https://openai.com/news/rss.xml"),
    ("cs-ai-updates-on-arxiv-org", "https://rss.arxiv.org/rss/cs.AI"),
    ("distill", "https://distill.pub/rss.xml"),
    ("import-ai", "https://importai.substack.com/feed"),
    ("the-gradient", "https://thegradient.pub/rss/"),
    ("bair-berkeley-blog", "https://bair.berkeley.edu/blog/feed.xml"),
]


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS 2.0 document; items are (title, link, RFC 822 date)."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid><pubDate>{date}</pubDate></item>"
        for title, link, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Lab notes</title>'
        f"<link>http://example.org/</link><description>Test feed</description>{body}</channel></rss>"
    ).encode()


FEED_TYPE = "application/rss+xml"


@pytest.fixture
def ws(workspace) -> Path:
    """The workspace, without the 1 s per-host delay and the 5 min floor between polls."""
    config = workspace / "config" / "ingest.toml"
    settings = tomllib.loads(config.read_text())
    config.write_text(config.read_text() + "".join(
        f"{key} = 0.0\n" for key in ("host_delay", "min_interval") if key not in settings
    ))
    return workspace


@pytest.fixture
def sources_file(ws) -> Path:
    return ws / "config" / "sources.toml"


def configured(path: Path) -> list[dict]:
    return tomllib.loads(path.read_text(encoding="utf-8")).get("source", [])


def ledger(root: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("ingest: "), result.stderr
    return result.stderr


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


def served_feed(serve, httpserver, path="/feed.xml") -> str:
    """A feed of two entries whose articles (two different pages) are served too."""
    a, b = httpserver.url_for("/posts/wasm"), httpserver.url_for("/posts/ebb")
    serve("/posts/wasm", "v8-blog.html")
    serve("/posts/ebb", "ebb-org.html")
    return serve(path, rss(("Standalone Wasm", a, "Thu, 21 Nov 2019 10:00:00 GMT"),
                           ("Ebb", b, "Fri, 22 Nov 2019 10:00:00 GMT")), content_type=FEED_TYPE)


# ---- add -----------------------------------------------------------------------------------------


def test_add_a_feed_url_is_a_feed_source_and_keeps_the_comments(cli, serve, httpserver, sources_file):
    sources_file.write_text("# my curated sources\n# (hand-written)\n")
    url = serve("/feed.xml", rss(("A", httpserver.url_for("/a"), "Thu, 21 Nov 2019 10:00:00 GMT")),
                content_type=FEED_TYPE)
    result = cli("sources", "add", url, "--name", "lab-feed", "--every", "2h", "--domain", "ai-alignment")
    assert result.exit_code == 0, result.output
    assert result.output == f"added lab-feed: feed {url} (every 2h)\n"
    text = sources_file.read_text()
    assert text.startswith("# my curated sources\n# (hand-written)\n")
    assert configured(sources_file) == [
        {"name": "lab-feed", "url": url, "kind": "feed", "every": "2h", "domain": "ai-alignment"}
    ]
    assert requests_to(httpserver, "/a") == 0, "adding reads the feed, not its articles"


def test_add_a_homepage_finds_the_feed_it_links(cli, serve, httpserver, sources_file):
    page = serve("/research/", (LISTING / "lab-research.html").read_bytes())
    feed = serve("/research/feed.xml", rss(("A", httpserver.url_for("/a"), "Thu, 21 Nov 2019 10:00:00 GMT")),
                 content_type=FEED_TYPE)
    result = cli("sources", "add", page)
    assert result.exit_code == 0, result.output
    [source] = configured(sources_file)
    assert source["kind"] == "feed"
    assert source["url"] == feed, "the feed's address is stored, not the homepage's"
    assert "every" not in source, "the default interval is not written"
    assert result.output == f"added {source['name']}: feed {feed} (every 6h)\n"


def test_add_a_listing_page_without_a_feed_is_a_page_source(cli, serve, sources_file):
    page = serve("/news", (LISTING / "ai-news.html").read_bytes())
    result = cli("sources", "add", page, "--name", "ai-news")
    assert result.exit_code == 0, result.output
    assert configured(sources_file) == [{"name": "ai-news", "url": page, "kind": "page"}]


def test_add_the_same_url_twice_is_refused(cli, serve, httpserver, sources_file):
    url = serve("/feed.xml", rss(("A", httpserver.url_for("/a"), "Thu, 21 Nov 2019 10:00:00 GMT")),
                content_type=FEED_TYPE)
    assert cli("sources", "add", url, "--name", "lab").exit_code == 0
    before = sources_file.read_bytes()
    error = one_line_error(cli("sources", "add", url))
    assert "already configured as source 'lab'" in error
    error = one_line_error(cli("sources", "add", url + "?utm_source=x", "--name", "other", "--kind", "feed"))
    assert "already configured as source 'lab'" in error
    error = one_line_error(cli("sources", "add", httpserver.url_for("/elsewhere"), "--name", "lab", "--kind", "page"))
    assert "'name' is taken already" in error
    assert sources_file.read_bytes() == before


def test_add_an_unreachable_url_asks_for_kind(cli, sources_file):
    url = closed_port_url()
    error = one_line_error(cli("sources", "add", url))
    assert error.startswith(f"ingest: cannot add {url}: could not connect")
    assert "give --kind to add it without checking" in error
    assert not sources_file.exists()
    result = cli("sources", "add", url, "--kind", "feed", "--name", "offline")
    assert result.exit_code == 0, result.output
    assert configured(sources_file) == [{"name": "offline", "url": url, "kind": "feed"}]


def test_add_with_kind_does_not_fetch(cli, httpserver, sources_file):
    url = httpserver.url_for("/feed.xml")
    assert cli("sources", "add", url, "--kind", "sitemap", "--name", "map").exit_code == 0
    assert len(httpserver.log) == 0
    assert configured(sources_file)[0]["kind"] == "sitemap"


def test_add_refuses_a_bad_interval(cli, httpserver, sources_file):
    error = one_line_error(cli("sources", "add", httpserver.url_for("/f"), "--kind", "feed", "--every", "soon"))
    assert "option --every" in error
    assert not sources_file.exists()


# ---- list ----------------------------------------------------------------------------------------


def test_list_shows_health_before_and_after_polls(cli, serve, httpserver, sources_file):
    good = served_feed(serve, httpserver)
    bad = serve("/broken.xml", b"oops", status=500, content_type="text/plain")
    sources_file.write_text(
        "# watched\n"
        f'[[source]]\nname = "good"\nurl = "{good}"\nkind = "feed"\nevery = "2h"\n\n'
        f'[[source]]\nname = "bad"\nurl = "{bad}"\n\n'
        f'[[source]]\nname = "off"\nurl = "{httpserver.url_for("/off.xml")}"\nkind = "feed"\nenabled = false\n'
    )
    rows = {r["name"]: r for r in map(json.loads, cli("sources", "list", "--json").output.splitlines())}
    assert list(rows) == ["good", "bad", "off"]
    assert set(rows["good"]) == {"name", "kind", "every", "last_poll", "next_poll", "health", "url"}
    assert (rows["good"]["kind"], rows["good"]["every"], rows["good"]["health"]) == ("feed", "2h", "not polled yet")
    assert (rows["bad"]["kind"], rows["bad"]["every"], rows["bad"]["health"]) == ("?", "6h", "not polled yet")
    assert rows["off"]["health"] == "disabled" and rows["off"]["next_poll"] == "-"
    assert rows["good"]["last_poll"] == "-" and rows["good"]["url"] == good

    table = cli("sources", "list")
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["name", "kind", "every", "last", "poll", "next", "poll", "health"]
    assert "not polled yet" in lines[1] and lines[1].split()[:3] == ["good", "feed", "2h"]
    assert "disabled" in lines[3] and lines[3].split()[0] == "off"

    poll = cli("poll")
    assert poll.exit_code == 1, poll.output  # one source failed
    assert "source good: 2 new of 2" in poll.output
    assert "source bad failed: HTTP 500 Internal Server Error" in poll.output
    assert len(cli.notes()) == 2
    assert requests_to(httpserver, "/off.xml") == 0

    rows = {r["name"]: r for r in map(json.loads, cli("sources", "list", "--json").output.splitlines())}
    assert rows["good"]["health"] == "ok" and rows["good"]["last_poll"] != "-"
    assert rows["bad"]["health"] == "failing ×1: HTTP 500 Internal Server Error"
    assert rows["off"]["health"] == "disabled"
    table = cli("sources", "list").output
    assert "failing ×1: HTTP 500" in table and " ok" in table


def test_list_without_sources_says_how_to_add_one(cli, ws):
    result = cli("sources", "list")
    assert result.exit_code == 0
    assert result.output.startswith("no sources in ") and "ingest sources add URL" in result.output
    assert cli("sources", "list", "--json").output == ""


# ---- check ---------------------------------------------------------------------------------------


def test_check_shows_the_backfill_and_writes_nothing(cli, serve, httpserver, sources_file):
    items = [(f"Post {n}", httpserver.url_for(f"/posts/{n}"), f"Mon, 0{n} Jun 2025 10:00:00 GMT") for n in range(1, 6)]
    feed = serve("/feed.xml", rss(*items), content_type=FEED_TYPE)
    sources_file.write_text(f'[[source]]\nname = "lab"\nurl = "{feed}"\n')

    # without a ledger: none is made
    result = cli("sources", "check", "lab")
    assert result.exit_code == 0, result.output
    assert not (cli.root / "state" / "ledger.db").exists()
    assert result.output.splitlines() == [
        "source lab: 5 entries, 3 would be ingested, 2 older left out (backfill)",
        f"  2025-06-05  {items[4][1]}  Post 5",
        f"  2025-06-04  {items[3][1]}  Post 4",
        f"  2025-06-03  {items[2][1]}  Post 3",
    ]

    # with a ledger that knows the source: nothing recorded
    assert cli("sources", "list").exit_code == 0
    before = ledger(cli.root, "SELECT * FROM sources")
    again = cli("sources", "check", "lab")
    assert again.output == result.output
    assert cli.notes() == [] and not (cli.root / "seeds").exists()
    assert ledger(cli.root, "SELECT count(*) FROM items") == [(0,)]
    assert ledger(cli.root, "SELECT count(*) FROM entries") == [(0,)]
    assert ledger(cli.root, "SELECT count(*) FROM fetches") == [(0,)]
    assert ledger(cli.root, "SELECT * FROM sources") == before
    assert all(requests_to(httpserver, f"/posts/{n}") == 0 for n in range(1, 6))

    # a real poll afterwards still backfills: the check consumed nothing
    serve("/posts/5", "v8-blog.html")
    serve("/posts/4", "ebb-org.html")
    serve("/posts/3", b"gone", status=404)
    assert "source lab: 3 new of 5, 2 older left out (backfill)" in cli("poll").output


def test_check_an_unknown_or_failing_source(cli, serve, sources_file):
    bad = serve("/broken.xml", b"", status=503)
    sources_file.write_text(f'[[source]]\nname = "bad"\nurl = "{bad}"\n')
    error = one_line_error(cli("sources", "check", "nope"))
    assert "no source named nope" in error
    result = cli("sources", "check", "bad")
    assert result.exit_code == 1
    assert result.output == "source bad failed: HTTP 503 Service Unavailable\n"


# ---- OPML ----------------------------------------------------------------------------------------


def test_import_opml_adds_the_feeds(cli, sources_file):
    sources_file.write_text("# imported from Inoreader below\n")
    result = cli("sources", "import-opml", str(OPML))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "imported 9 of 9 source(s)"
    assert lines[:-1] == [f"added {name}: feed {url}" for name, url in OPML_SOURCES]
    assert [(s["name"], s["url"], s["kind"]) for s in configured(sources_file)] == [
        (name, url, "feed") for name, url in OPML_SOURCES
    ]
    assert sources_file.read_text().startswith("# imported from Inoreader below\n")
    # importing again skips every known feed, without error
    again = cli("sources", "import-opml", str(OPML))
    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == "imported 0 of 9 source(s)"
    assert all(line.startswith("skipped ") and "already configured" in line for line in again.output.splitlines()[:-1])
    assert len(configured(sources_file)) == 9


def test_export_opml_round_trips_through_the_cli(cli, httpserver, sources_file):
    assert cli("sources", "import-opml", str(OPML)).exit_code == 0
    assert cli("sources", "add", httpserver.url_for("/news"), "--kind", "page", "--name", "lab-news").exit_code == 0
    assert cli("sources", "add", httpserver.url_for("/sitemap.xml"), "--kind", "sitemap", "--name", "map").exit_code == 0
    sources_file.write_text(sources_file.read_text()
                            + f'\n[[source]]\nname = "unknown-kind"\nurl = "{httpserver.url_for("/x")}"\n')
    before = [(s["name"], s["url"], s.get("kind")) for s in configured(sources_file)]

    to_stdout = cli("sources", "export-opml")
    assert to_stdout.exit_code == 0 and to_stdout.output.startswith("<?xml")
    result = cli("sources", "export-opml", "export.opml")
    assert result.exit_code == 0
    assert (cli.root / "export.opml").read_text() == to_stdout.output

    sources_file.unlink()
    imported = cli("sources", "import-opml", "export.opml")
    assert imported.exit_code == 0, imported.output
    assert imported.output.splitlines()[-1] == f"imported {len(before)} of {len(before)} source(s)"
    assert [(s["name"], s["url"], s.get("kind")) for s in configured(sources_file)] == before
    assert len(httpserver.log) == 0


def test_import_of_a_broken_opml_file_is_one_line(cli, ws, sources_file):
    (ws / "bad.opml").write_text("<opml><body><outline")
    error = one_line_error(cli("sources", "import-opml", "bad.opml"))
    assert "not a valid OPML file" in error
    assert not sources_file.exists()


# ---- remove --------------------------------------------------------------------------------------


def test_remove_keeps_the_comments(cli, sources_file, httpserver):
    a, b = httpserver.url_for("/a.xml"), httpserver.url_for("/b.xml")
    sources_file.write_text(
        "# my sources\n\n"
        f'# the first one\n[[source]]\nname = "first"\nurl = "{a}"  # moved in 2024\nkind = "feed"\n\n'
        f'# the second one\n[[source]]\nname = "second"\nurl = "{b}"\n\n'
        "# [[source]]\n# name = \"someday\"\n"
    )
    result = cli("sources", "remove", "first")
    assert result.exit_code == 0 and result.output == "removed first\n"
    text = sources_file.read_text()
    assert [s["name"] for s in configured(sources_file)] == ["second"]
    for comment in ("# my sources", "# the second one", '# name = "someday"'):
        assert comment in text
    assert "moved in 2024" not in text, "the removed table's own lines go"
    assert [json.loads(r)["name"] for r in cli("sources", "list", "--json").output.splitlines()] == ["second"]

    error = one_line_error(cli("sources", "remove", "first"))
    assert "no source named 'first'" in error and "second" in error


# ---- a broken sources file -----------------------------------------------------------------------


def test_poll_with_a_broken_sources_file_is_one_line(cli, sources_file, httpserver):
    sources_file.write_text(f'[[source]]\nname = "lab"\nurl = "{httpserver.url_for("/f")}"\nevry = "2h"\n')
    error = one_line_error(cli("poll"))
    assert str(sources_file.resolve()) in error
    assert "unknown key 'evry'" in error and "did you mean 'every'" in error
    assert len(httpserver.log) == 0
    for command in (("sources", "list"), ("sources", "add", httpserver.url_for("/g"), "--kind", "feed")):
        assert "unknown key 'evry'" in one_line_error(cli(*command))


# ---- values checked on the way in (issue 15) -----------------------------------------------------------

BEFORE = '# my sources\n[[source]]\nname = "kept"\nurl = "https://kept.example/feed"\n'


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--domain", "nope"], "option --domain: key 'domain' must be one of the configured domains: ai-alignment, "),
        (["--format", "nope"], "option --format: key 'format' must be one of the configured formats: paper, "),
        (["--every", "99999999999999999999w"],
         "option --every: key 'every' must be at least 5 minutes (\"5m\") and at most 365 days (\"365d\")"),
        (["--every", "1e308"], "option --every: key 'every' must be a duration like \"30m\", \"2h\", \"1d\""),
        (["--every", "2m"], "option --every: key 'every' must be at least 5 minutes"),
        (["--tag", "Machine Learning"], "option --tag: key 'tags' holds 'Machine Learning', which is not lowercase"),
        (["--include", "[unclosed"], "option --include: key 'include' holds '[unclosed', which is not a valid"),
        (["--exclude", "(?P<x"], "option --exclude: key 'exclude' holds '(?P<x', which is not a valid"),
        (["--backfill", "-1"], "option --backfill: key 'backfill' must be a whole number from 0 to 100000, got -1"),
        (["--backfill", "99999999999999999999"], "option --backfill: key 'backfill' must be a whole number from 0"),
        (["--name", "Lab Blog"], "option --name: key 'name' must be lowercase kebab-case"),
    ],
    ids=["domain", "format", "every-huge", "every-1e308", "every-short", "tag", "include", "exclude", "backfill-negative",
         "backfill-huge", "name"],
)
def test_add_refuses_what_the_sources_file_would_refuse(cli, httpserver, sources_file, option, says):
    sources_file.write_text(BEFORE)
    error = one_line_error(cli("sources", "add", httpserver.url_for("/f"), "--kind", "feed", *option))
    assert error.startswith(f"ingest: {says}"), error
    assert sources_file.read_text() == BEFORE
    assert len(httpserver.log) == 0
    # and nothing a later command trips on
    assert cli("sources", "list").exit_code == 0


@pytest.mark.parametrize(("option", "value"), [("--priority", "urgent"), ("--kind", "atom")])
def test_add_refuses_a_choice_not_offered(cli, httpserver, sources_file, option, value):
    sources_file.write_text(BEFORE)
    result = cli("sources", "add", httpserver.url_for("/f"), option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': '{value}' is not one of" in result.stderr
    assert sources_file.read_text() == BEFORE
    assert len(httpserver.log) == 0


def test_add_with_every_option_the_file_accepts(cli, httpserver, sources_file):
    result = cli("sources", "add", httpserver.url_for("/f"), "--kind", "feed", "--name", "lab", "--every", "365d",
                 "--domain", "health", "--format", "paper", "--tag", "lab", "--include", "/posts/", "--backfill", "0")
    assert result.exit_code == 0, result.output
    [source] = configured(sources_file)
    assert source == {"name": "lab", "url": httpserver.url_for("/f"), "kind": "feed", "every": "365d",
                      "include": ["/posts/"], "domain": "health", "format": "paper", "tags": ["lab"], "backfill": 0}


@pytest.mark.parametrize("every", ["1e308", '"99999999999999999999w"'])
def test_poll_and_list_with_an_interval_too_long_are_one_line(cli, sources_file, httpserver, every):
    sources_file.write_text(f'[[source]]\nname = "lab"\nurl = "{httpserver.url_for("/f")}"\nevery = {every}\n')
    for command in (("poll",), ("sources", "list"), ("schedule",)):
        error = one_line_error(cli(*command))
        assert f"{sources_file.resolve()}: source 'lab': key 'every' must be at least 5 minutes" in error
    assert len(httpserver.log) == 0


# ---- OPML: one bad outline, folders as tags ------------------------------------------------------------

PARTLY_BAD = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>mixed</title></head><body>
  <outline text="Alignment &amp; Safety">
    <outline text="Good one" type="rss" xmlUrl="https://good.example/feed.xml"/>
    <outline text="Evil" type="rss" xmlUrl="javascript:alert(1)"/>
    <outline text="Labs">
      <outline text="Deep lab" type="rss" xmlUrl="https://lab.example/rss"/>
    </outline>
  </outline>
  <outline text="No port" type="rss" xmlUrl="https://bad.example:99999/feed"/>
  <outline text="Loose" type="rss" xmlUrl="https://loose.example/atom"/>
</body></opml>
"""


def test_import_opml_goes_on_past_a_bad_outline(cli, ws, sources_file):
    (ws / "mixed.opml").write_bytes(PARTLY_BAD)
    result = cli("sources", "import-opml", "mixed.opml")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "failed OPML outline 'Evil': xmlUrl must be an http:// or https:// address: unsupported URL scheme "
        "'javascript:'; only http:// and https:// pages are fetched, got 'javascript:alert(1)'",
        "failed OPML outline 'No port': xmlUrl must be an http:// or https:// address: URL has an invalid port; "
        "a port is a number from 1 to 65535, got 'https://bad.example:99999/feed'",
        "added good-one: feed https://good.example/feed.xml",
        "added deep-lab: feed https://lab.example/rss",
        "added loose: feed https://loose.example/atom",
        "imported 3 of 3 source(s); 2 outline(s) failed",
    ]
    assert [(s["name"], s.get("tags")) for s in configured(sources_file)] == [
        ("good-one", ["alignment-safety"]), ("deep-lab", ["alignment-safety", "labs"]), ("loose", None),
    ]


def test_import_opml_keeps_the_folders_as_tags(cli, sources_file):
    assert cli("sources", "import-opml", str(OPML)).exit_code == 0
    tags = {s["name"]: s.get("tags") for s in configured(sources_file)}
    assert tags["ai-alignment-forum"] == ["ai-safety"]
    assert tags["google-deepmind-blog"] == ["ai-safety", "labs"]
    assert tags["distill"] == ["papers"]
    assert tags["import-ai"] == ["newsletters-essays"]
