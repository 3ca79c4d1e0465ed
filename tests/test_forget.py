"""End to end: a curator deletes a note on purpose, and `ingest forget` lets the ledger forget it.

Until then every place that reports the note says it is missing (and how to forget it); after,
the URL (and every other URL of the same article) may be ingested again, and `doctor` is clean."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from conftest import article, ledger_sql, requests_to, rss

FORGET_HINT = "now missing; `ingest forget {url}` to ingest it again"


def ingest(cli, url: str):
    before = set(cli.notes())
    result = cli("url", url)
    assert result.exit_code == 0, result.output
    [note] = set(cli.notes()) - before
    return note


def ledger_tables(root) -> dict[str, list]:
    return {t: sorted(ledger_sql(root, f'SELECT * FROM "{t}"'), key=repr)
            for t in ("items", "aliases", "fetches", "snapshots", "simhash_bands", "entries")}


def test_a_deleted_note_says_so_everywhere_until_it_is_forgotten_then_the_url_is_ingested_again(
        cli, serve, httpserver):
    url = serve("/posts/1", article(1))
    note = ingest(cli, url)
    note.unlink()  # the curator deletes it on purpose

    again = cli("url", url)
    assert again.exit_code == 0
    assert again.stdout == f"duplicate {url} (archived as seeds/{note.name}, {FORGET_HINT.format(url=url)})\n"
    assert requests_to(httpserver, "/posts/1") == 1
    status = cli("status")
    assert f"created    {url}  seeds/{note.name} ({FORGET_HINT.format(url=url)})" in status.stdout
    doctor = cli("doctor")
    assert doctor.exit_code == 1
    assert f"if it was deleted on purpose, `ingest forget {url}` forgets it" in doctor.stdout

    forgot = cli("forget", url)
    assert forgot.exit_code == 0, forgot.output
    assert forgot.stdout == f"forgot {url} (note seeds/{note.name})\n"
    assert ledger_sql(cli.root, "SELECT COUNT(*) FROM items") == [(0,)]
    for table in ("aliases", "fetches", "snapshots", "simhash_bands"):
        assert ledger_sql(cli.root, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    assert cli("doctor").exit_code == 0

    fetched = cli("url", url)
    assert fetched.stdout == f"created seeds/{note.name}\n"
    assert requests_to(httpserver, "/posts/1") == 2


def test_unknown_urls_are_said_and_exit_1_while_the_known_ones_are_forgotten(cli, serve):
    url = serve("/posts/1", article(1))
    note = ingest(cli, url)
    note.unlink()
    result = cli("forget", "http://never.example/seen", url, "javascript:alert(1)")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == ["not known: http://never.example/seen", f"forgot {url} (note seeds/{note.name})"]
    assert lines[2].startswith("failed javascript:alert(1): unsupported URL scheme")
    assert len(lines) == 3
    assert ledger_sql(cli.root, "SELECT COUNT(*) FROM items") == [(0,)]
    assert cli("forget", url).stdout == f"not known: {url}\n"


def test_a_note_still_on_disk_is_not_forgotten(cli, serve):
    url = serve("/posts/1", article(1))
    note = ingest(cli, url)
    before = ledger_tables(cli.root)
    result = cli("forget", url)
    assert result.exit_code == 1
    assert result.stdout == (f"kept {url}: its note seeds/{note.name} is still there; delete the note first "
                             "(while it is there, the URL is a duplicate of it)\n")
    assert ledger_tables(cli.root) == before
    # a curator's own note in the archive folder counts too
    archive = cli.root / "vault"
    archive.mkdir()
    other = serve("/posts/2", article(2))
    (archive / "mine.md").write_text(f"---\ntype: source\nurl: {other}\nstatus: processed\n---\nBody\n")
    config = cli.root / "config" / "ingest.toml"
    config.write_text(config.read_text() + 'archive_dir = "../vault"\n')
    assert cli("url", other).stdout == f"duplicate {other} (archived as vault/mine.md)\n"
    kept = cli("forget", other)
    assert kept.exit_code == 1 and kept.stdout.startswith(f"kept {other}: its note vault/mine.md is still there")


def test_dry_run_says_what_it_would_forget_and_changes_nothing(cli, serve):
    url = serve("/posts/1", article(1))
    note = ingest(cli, url)
    note.unlink()
    before = ledger_tables(cli.root)
    result = cli("forget", "--dry-run", url)
    assert result.exit_code == 0
    assert result.stdout == f"would forget {url} (note seeds/{note.name})\n"
    assert ledger_tables(cli.root) == before


def test_every_url_of_the_article_is_forgotten_with_it(cli, serve, httpserver):
    """Its redirects, its aliases and the items that were its duplicates: else `ingest url` of any
    of them would still answer 'duplicate' of a note that is gone."""
    target = serve("/posts/real", article(1))
    serve("/short", b"", status=301, headers={"Location": "/posts/real"})
    serve("/mirror", article(1))  # the same text at another address: a duplicate item
    short, mirror = httpserver.url_for("/short"), httpserver.url_for("/mirror")
    note = ingest(cli, short)
    assert cli("url", mirror).stdout.startswith(f"duplicate {mirror} (archived as seeds/{note.name})")
    note.unlink()
    result = cli("forget", mirror)
    assert result.exit_code == 0
    assert result.stdout == f"forgot {mirror} (note seeds/{note.name}; and 1 other URL of the same note)\n"
    assert ledger_sql(cli.root, "SELECT COUNT(*) FROM items") == [(0,)]
    assert cli("url", target).stdout == f"created seeds/{note.name}\n"


def test_a_failed_item_is_forgotten_too(cli, serve):
    url = serve("/gone", b"gone", status=404)
    assert cli("url", url).exit_code == 1
    result = cli("forget", url)
    assert result.exit_code == 0 and result.stdout == f"forgot {url} (no note)\n"
    assert ledger_sql(cli.root, "SELECT COUNT(*) FROM items") == [(0,)]


def test_a_poll_does_not_bring_a_forgotten_note_back(cli, site):
    """The source has shown the entry already: only `ingest url` ingests it again."""
    site.put("/posts/1", article(1))
    site.put("/feed.xml", rss(site.base, [(1, datetime(2025, 3, 1, tzinfo=timezone.utc))]), "application/rss+xml")
    site.sources(f'[[source]]\nname = "lab"\nurl = "{site.base}/feed.xml"\nkind = "feed"\nevery = "1h"\n')
    assert cli("poll").exit_code == 0
    [note] = cli.notes()
    note.unlink()
    assert cli("forget", f"{site.base}/posts/1").exit_code == 0
    site.put("/feed.xml", rss(site.base, [(1, datetime(2025, 3, 1, tzinfo=timezone.utc) + timedelta(hours=1))]),
             "application/rss+xml")
    again = cli("poll", "--all")
    assert again.exit_code == 0, again.output
    assert cli.notes() == [] and site.hits("/posts/1") == 1
