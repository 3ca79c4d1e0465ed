"""End to end: `ingest poll` over sources served on 127.0.0.1 whose feeds and pages change between polls."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import frontmatter
from werkzeug import Response

from conftest import article, requests_to, rss

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def notes(cli):
    return {frontmatter.load(p)["url"]: frontmatter.load(p) for p in cli.notes()}


def ledger(cli, sql):
    with sqlite3.connect(cli.root / "state" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def feed_source(site, name="lab", path="/feed.xml", extra=""):
    return f'[[source]]\nname = "{name}"\nurl = "{site.base}{path}"\nkind = "feed"\nevery = "1h"\n{extra}\n'


def test_new_entries_become_notes_and_old_ones_do_not(cli, site):
    for n in (1, 2):
        site.put(f"/posts/{n}", article(n))
    site.put("/feed.xml", rss(site.base, [(2, T0 + timedelta(days=1)), (1, T0)]), "application/rss+xml")
    site.sources(feed_source(site, extra='domain = "health"\nformat = "report"\ntags = ["lab-notes"]'))
    first = cli("poll")
    assert first.exit_code == 0, first.output
    assert "source lab: 2 new of 2" in first.output
    assert "polled 1 source(s): 2 new note(s)" in first.output
    assert set(notes(cli)) == {f"{site.base}/posts/1", f"{site.base}/posts/2"}
    note = notes(cli)[f"{site.base}/posts/1"]
    assert (note["domain"], note["format"]) == ("health", "report")  # the source's explicit values win
    assert note["tags"][0] == "lab-notes" and "interpretability" in note["tags"]  # feed categories feed tags

    site.put("/posts/3", article(3))
    site.put("/feed.xml", rss(site.base, [(3, T0 + timedelta(days=2)), (2, T0 + timedelta(days=1)), (1, T0)]),
             "application/rss+xml")
    second = cli("poll", "--all")
    assert "source lab: 1 new of 3" in second.output
    assert len(cli.notes()) == 3
    assert site.hits("/posts/1") == 1 and site.hits("/posts/3") == 1


def test_a_poll_of_an_unchanged_source_does_no_work(cli, site):
    site.put("/posts/1", article(1))
    body = rss(site.base, [(1, T0)])
    site.put("/feed.xml", body, "application/rss+xml", ETag='"v1"')
    site.put("/plain.xml", body, "application/rss+xml")  # no validators: the body hash decides
    site.sources(feed_source(site) + feed_source(site, "plain", "/plain.xml"))
    cli("poll")
    assert cli("poll").output.strip() == "polled 0 source(s): 0 new note(s), 0 duplicate(s), 0 failed item(s), 0 failed source(s)"
    again = cli("poll", "--all")
    assert "source lab: unchanged" in again.output and "source plain: unchanged" in again.output
    assert ledger(cli, "SELECT etag FROM sources WHERE name = 'lab'") == [('"v1"',)]
    assert site.hits("/posts/1") == 1
    assert len(cli.notes()) == 1


def test_first_poll_backfills_only_the_newest(cli, site):
    entries = [(n, T0 + timedelta(days=n)) for n in range(1, 11)]
    for n, _ in entries:
        site.put(f"/posts/{n}", article(n))
    site.put("/feed.xml", rss(site.base, entries), "application/rss+xml")  # oldest first on purpose
    site.sources(feed_source(site, extra="backfill = 2"))
    result = cli("poll")
    assert "source lab: 2 new of 10, 8 older left out (backfill)" in result.output
    assert set(notes(cli)) == {f"{site.base}/posts/10", f"{site.base}/posts/9"}
    assert ledger(cli, "SELECT count(*) FROM entries WHERE skipped") == [(8,)]
    site.put("/posts/11", article(11))
    site.put("/feed.xml", rss(site.base, entries + [(11, T0 + timedelta(days=11))]), "application/rss+xml")
    assert "source lab: 1 new of 11" in cli("poll", "--all").output
    assert site.hits("/posts/1") == 0


def test_page_source_finds_new_article_links_and_skips_navigation(cli, site):
    def listing(slugs):
        cards = "".join(f'<article><h2><a href="/research/{s}">Paper {s}</a></h2></article>' for s in slugs)
        return (f'<html><body><nav><a href="/">Home</a><a href="/about">About</a><a href="/research">Research</a>'
                f'</nav><main>{cards}<a href="/research?page=2">Next</a><a href="/tag/safety">safety</a></main>'
                f'<footer><a href="/privacy">Privacy</a></footer></body></html>').encode()

    for n in (1, 2, 3):
        site.put(f"/research/study-{n}", article(n))
    site.put("/research", listing(["study-2", "study-1"]))
    site.sources(f'[[source]]\nname = "lab-page"\nurl = "{site.base}/research"\nkind = "page"\nbackfill = 5\n')
    result = cli("poll")
    assert "source lab-page: 2 new of 2" in result.output, result.output
    site.put("/research", listing(["study-3", "study-2", "study-1"]))
    assert "source lab-page: 1 new of 3" in cli("poll", "--all").output
    assert set(notes(cli)) == {f"{site.base}/research/study-{n}" for n in (1, 2, 3)}
    assert site.hits("/about") == 0 and site.hits("/privacy") == 0 and site.hits("/tag/safety") == 0


def test_a_homepage_source_discovers_its_feed(cli, site):
    site.put("/posts/1", article(1))
    site.put("/feed.xml", rss(site.base, [(1, T0)]), "application/rss+xml")
    site.put("/", '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
                  "<body><p>Welcome</p></body></html>".encode())
    site.sources(f'[[source]]\nname = "home"\nurl = "{site.base}/"\n')
    assert "source home: 1 new of 1" in cli("poll").output
    assert ledger(cli, "SELECT kind, fetch_url FROM sources") == [("feed", f"{site.base}/feed.xml")]


def test_sitemap_source(cli, site):
    for n in (1, 2):
        site.put(f"/posts/{n}", article(n))
    site.put("/sitemap.xml", (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.base}/sitemap-posts.xml</loc></sitemap></sitemapindex>").encode(), "application/xml")
    site.put("/sitemap-posts.xml", (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base}/posts/1</loc><lastmod>2025-01-01</lastmod></url>"
        f"<url><loc>{site.base}/posts/2</loc><lastmod>2025-02-01</lastmod></url></urlset>").encode(), "application/xml")
    site.sources(f'[[source]]\nname = "map"\nurl = "{site.base}/sitemap.xml"\nkind = "sitemap"\nbackfill = 1\n')
    result = cli("poll")
    assert "source map: 1 new of 2, 1 older left out (backfill)" in result.output
    assert set(notes(cli)) == {f"{site.base}/posts/2"}


def test_a_broken_feed_records_its_error_and_the_others_go_on(cli, site):
    site.put("/posts/1", article(1))
    site.put("/feed.xml", rss(site.base, [(1, T0)]), "application/rss+xml")
    site.put("/broken.xml", b"<html><body>Moved to our new blog platform!</body></html>", "text/html")
    site.sources(feed_source(site, "broken", "/broken.xml") + feed_source(site))
    result = cli("poll")
    assert result.exit_code == 1
    assert "source broken failed: " in result.output
    assert "source lab: 1 new of 1" in result.output
    [(failures, code, next_check, polled)] = ledger(
        cli, "SELECT consecutive_failures, last_error_code, next_check_at, last_polled_at FROM sources WHERE name = 'broken'")
    assert failures == 1 and code == "feed_malformed" and next_check > polled
    assert len(cli.notes()) == 1


def test_robots_txt_disallow_is_honoured(cli, site):
    site.put("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain")
    site.put("/posts/1", article(1))
    site.put("/private/2", article(2))
    site.put("/feed.xml", rss(site.base, [(1, T0)]).replace(b"</channel>", (
        f"<item><title>Secret</title><link>{site.base}/private/2</link></item></channel>").encode()),
        "application/rss+xml")
    site.sources(feed_source(site))
    result = cli("poll")
    assert f"failed {site.base}/private/2: robots.txt of {site.base} disallows this URL" in result.output
    assert site.hits("/private/2") == 0
    assert set(notes(cli)) == {f"{site.base}/posts/1"}


def test_permanent_redirect_moves_the_source(cli, site, httpserver):
    site.put("/posts/1", article(1))
    site.put("/new-feed.xml", rss(site.base, [(1, T0)]), "application/rss+xml")
    site.put("/old-feed.xml", b"", Location="/new-feed.xml")
    site.sources("# our lab\n" + feed_source(site, path="/old-feed.xml"))
    redirect = [h for h in httpserver.handlers]  # the site's catch-all answers 200; make this path a 301
    httpserver.clear()
    httpserver.expect_request("/old-feed.xml").respond_with_data("", status=301, headers={"Location": "/new-feed.xml"})
    for handler in redirect:
        httpserver.handlers.append(handler)
    result = cli("poll")
    assert f"source lab moved permanently to {site.base}/new-feed.xml" in result.output
    text = (cli.root / "config" / "sources.toml").read_text()
    assert f'url = "{site.base}/new-feed.xml"' in text and text.startswith("# our lab\n")
    assert len(cli.notes()) == 1
    assert "source lab: unchanged" in cli("poll", "--all").output
    assert site.hits("/old-feed.xml") == 1


def test_transient_item_failures_are_retried_later_permanent_ones_not(cli, site, httpserver):
    site.put("/feed.xml", rss(site.base, [(1, T0), (2, T0 + timedelta(hours=1))]), "application/rss+xml")
    site.put("/posts/2", b"gone", "text/plain")  # a permanent failure: not an HTML page
    site.sources(feed_source(site))
    cfg = cli.root / "config" / "ingest.toml"
    cfg.write_text(cfg.read_text().replace("retries = 1", "retries = 0"))
    result = cli("poll")  # /posts/1 is a 404 for now
    assert result.exit_code == 1
    rows = dict(ledger(cli, "SELECT url, retry_at IS NOT NULL FROM items"))
    assert rows == {f"{site.base}/posts/1": 0, f"{site.base}/posts/2": 0}  # 404 and wrong type: both permanent

    # a 503 is transient: it gets a retry time, and a later poll takes it up once it is due
    site.put("/feed.xml", rss(site.base, [(3, T0 + timedelta(hours=2))]), "application/rss+xml")
    documents_503 = {"n": 0}

    def flaky(request):
        documents_503["n"] += 1
        if documents_503["n"] == 1:
            return Response("busy", status=503)
        return Response(article(3), content_type="text/html")

    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/posts/3").respond_with_handler(flaky)
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(site.base, [(3, T0 + timedelta(hours=2))]), content_type="application/rss+xml")
    assert "failed" in cli("poll", "--all").output
    [(retry_at,)] = ledger(cli, f"SELECT retry_at FROM items WHERE url = '{site.base}/posts/3'")
    assert retry_at is not None
    with sqlite3.connect(cli.root / "state" / "ledger.db") as db:  # let the retry come due
        db.execute("UPDATE items SET retry_at = '2000-01-01 00:00:00'")
    result = cli("poll")
    assert "created seeds/" in result.output
    assert f"{site.base}/posts/3" in notes(cli)
    assert requests_to(httpserver, "/posts/3") == 2


def test_feed_metadata_fills_what_the_page_lacks(cli, site):
    site.put("/posts/1", article(1, date=None))
    site.put("/feed.xml", rss(site.base, [(1, datetime(2024, 7, 9, tzinfo=timezone.utc))]), "application/rss+xml")
    site.sources(feed_source(site))
    cli("poll")
    note = notes(cli)[f"{site.base}/posts/1"]
    assert str(note["date"]) == "2024-07-09"
    assert note["author"] == "Ada Lovelace"
    assert ledger(cli, "SELECT date_is_fallback FROM items") == [(0,)]


def test_named_source_is_polled_due_or_not(cli, site):
    site.put("/posts/1", article(1))
    site.put("/feed.xml", rss(site.base, [(1, T0)]), "application/rss+xml")
    site.sources(feed_source(site) + feed_source(site, "other", "/feed.xml").replace('"other"', '"other"')
                 .replace(f"{site.base}/feed.xml", f"{site.base}/feed.xml?v=2"))
    assert cli("poll", "--source", "lab").output.startswith("source lab:")
    assert ledger(cli, "SELECT name FROM sources WHERE last_polled_at IS NOT NULL") == [("lab",)]
    assert cli("poll", "--source", "nope").exit_code == 2


def test_a_source_answering_429_waits_as_long_as_it_asks(cli, site, httpserver):
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/feed.xml").respond_with_data("slow down", status=429, headers={"Retry-After": "7200"})
    site.sources(feed_source(site))
    cfg = cli.root / "config" / "ingest.toml"
    cfg.write_text(cfg.read_text().replace("retries = 1", "retries = 0"))
    result = cli("poll")
    assert result.exit_code == 1 and "source lab failed: HTTP 429 Too Many Requests" in result.output
    [(polled, next_check)] = ledger(cli, "SELECT last_polled_at, next_check_at FROM sources")
    wait = datetime.fromisoformat(next_check) - datetime.fromisoformat(polled)
    assert wait == timedelta(hours=2)
    listed = cli("sources", "list", "--json").output
    assert '"health": "failing \\u00d71: HTTP 429 Too Many Requests"' in listed


def test_a_big_batch_is_prepared_in_worker_processes_with_the_same_notes(cli, site):
    from ingest.prepare import POOL_MIN_ITEMS

    count = POOL_MIN_ITEMS + 2
    entries = [(n, T0 + timedelta(hours=n)) for n in range(1, count + 1)]
    for n, _ in entries:
        site.put(f"/posts/{n}", article(n))
    site.put("/feed.xml", rss(site.base, entries), "application/rss+xml")
    site.sources(feed_source(site, extra=f'backfill = {count}\ndomain = "health"'))
    result = cli("poll")
    assert f"polled 1 source(s): {count} new note(s)" in result.output, result.output
    written = notes(cli)
    assert len(written) == count and all(n["domain"] == "health" for n in written.values())
    one = written[f"{site.base}/posts/3"]
    assert one["title"] == "Research note 3" and str(one["date"]) == "2025-03-04"


def test_prepare_in_a_worker_process_gives_what_it_gives_here():
    import os

    from ingest.config import Settings
    from ingest.learned_model import Model
    from ingest.prepare import POOL_MIN_ITEMS, PageInput, Preparer, _worker
    from ingest.render import load_template
    from ingest.taxonomy import Taxonomy

    html = article(5).decode()
    here = Preparer(Settings(), Taxonomy(), Model(), load_template())
    there = Preparer(Settings(), Taxonomy(), Model(), load_template())
    there.start_pool(POOL_MIN_ITEMS)
    try:
        assert there.pool is not None
        worker_pid = there.pool.submit(os.getpid).result()
        assert worker_pid != os.getpid()
        url = "https://lab.example/posts/5"
        page = PageInput(url, html=html)
        assert there(page, T0.date(), None, None) == here(page, T0.date(), None, None)
    finally:
        there.close()
    assert not _worker  # this process never became a worker


def test_entries_already_archived_are_counted_as_known_not_new(cli, site):
    # issue 15.13: "3 new of 8" then one item line and "1 duplicate(s)": the counts must say what happens
    for n in range(1, 9):
        site.put(f"/posts/{n}", article(n))
    site.put("/feed.xml", rss(site.base, [(n, T0 + timedelta(days=n)) for n in range(1, 9)]), "application/rss+xml")
    site.sources(feed_source(site, extra="backfill = 10") + feed_source(site, "mirror", "/mirror.xml"))
    site.put("/mirror.xml", rss(site.base, [(8, T0 + timedelta(days=8))]), "application/rss+xml")
    assert cli("url", f"{site.base}/posts/1", f"{site.base}/posts/2").exit_code == 0  # ingested already
    vault = cli.root / "vault"
    vault.mkdir()
    (vault / "by-hand.md").write_text(f"---\ntype: source\nurl: {site.base}/posts/3\n---\nMine.\n")  # archived
    config = cli.root / "config" / "ingest.toml"
    config.write_text(config.read_text() + 'archive_dir = "../vault"\n')

    check = cli("sources", "check", "lab")
    assert check.exit_code == 0, check.output
    assert check.output.splitlines()[0] == "source lab: 8 entries, 5 would be ingested, 3 already known"
    assert sorted(line.split()[1] for line in check.output.splitlines()[1:]) == [
        f"{site.base}/posts/{n}" for n in range(4, 9)]

    result = cli("poll")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # the same entry in two sources is new in one of them only: whichever the concurrent poll read first
    assert {line for line in lines if line.startswith("source lab")} <= {
        "source lab: 5 new of 8, 3 already known", "source lab: 4 new of 8, 4 already known"}
    assert {line for line in lines if line.startswith("source mirror")} <= {
        "source mirror: 1 new of 1", "source mirror: 0 new of 1, 1 already known"}
    news = sum(int(line.split(": ")[1].split()[0]) for line in lines if line.startswith("source "))
    assert news == 5
    assert sum(line.startswith("created ") for line in lines) == 5
    assert not any(line.startswith("duplicate ") for line in lines)
    assert lines[-1] == "polled 2 source(s): 5 new note(s), 0 duplicate(s), 0 failed item(s), 0 failed source(s)"
    assert all(site.hits(f"/posts/{n}") == 1 for n in range(1, 9) if n != 3) and site.hits("/posts/3") == 0
