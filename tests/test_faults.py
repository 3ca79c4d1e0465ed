"""The machine fails under ingest: the ledger locked, corrupted or from a newer version; the output
folder missing, read-only or full. Each gives a clear error that says what to do, and no work is
marked done that was not: after the fault is gone, the next run finishes the work."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import frontmatter
import pytest

from conftest import requests_to


def rows(root: Path, sql: str = "SELECT outcome, note_path IS NOT NULL FROM items ORDER BY id"):
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def set_output(root: Path, folder: Path) -> None:
    config = root / "config" / "ingest.toml"
    text = config.read_text(encoding="utf-8").replace('output_dir = "../seeds"', f'output_dir = "{folder}"')
    config.write_text(text, encoding="utf-8")


def mount_tmpfs(where: Path, options: str) -> None:
    """A small real file system of our own (root only): how a full or read-only disk is made."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {done.stderr.decode().strip()}")


def fill(folder: Path) -> Path:
    """Fill the file system under `folder` to the last block."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


@pytest.fixture
def mounts():
    made: list[Path] = []
    yield lambda where, options: (mount_tmpfs(where, options), made.append(where))
    for where in reversed(made):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


# -- the ledger -------------------------------------------------------------------------------

def test_a_locked_ledger_is_a_clear_error_and_writes_no_note(cli, serve, workspace):
    url = serve("/a", "v8-blog.html")
    cli("status")  # creates the ledger
    with open(workspace / "config" / "ingest.toml", "a", encoding="utf-8") as config:
        config.write("ledger_wait = 0.2\n")
    holder = sqlite3.connect(workspace / "state" / "ledger.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long write
    try:
        result = cli("url", url)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2
    assert "is locked by another process; wait for it to finish and retry" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert cli.notes() == []
    assert rows(workspace) == []
    again = cli("url", url)  # the lock is gone: the work is done, once
    assert again.exit_code == 0 and len(cli.notes()) == 1


def test_a_corrupted_ledger_is_a_clear_error_and_nothing_is_written(cli, serve, workspace, httpserver):
    url = serve("/a", "v8-blog.html")
    (workspace / "state").mkdir()
    (workspace / "state" / "ledger.db").write_bytes(b"this is not a database " * 300)
    result = cli("url", url)
    assert result.exit_code == 2
    assert "is corrupted" in result.output and "restore a backup" in result.output
    assert cli.notes() == []
    assert requests_to(httpserver, "/a") == 0


def test_a_ledger_from_a_newer_version_is_refused_untouched(cli, serve, workspace):
    url = serve("/a", "v8-blog.html")
    cli("status")
    with sqlite3.connect(workspace / "state" / "ledger.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    before = (workspace / "state" / "ledger.db").read_bytes()
    result = cli("url", url)
    assert result.exit_code == 2
    assert "written by a newer version of ingest (schema 9999); upgrade ingest" in result.output
    assert cli.notes() == []
    assert (workspace / "state" / "ledger.db").read_bytes() == before


# -- the output folder ------------------------------------------------------------------------

def test_a_missing_output_folder_is_made(cli, serve, workspace):
    set_output(workspace, workspace / "deep" / "new" / "inbox")
    result = cli("url", serve("/a", "v8-blog.html"))
    assert result.exit_code == 0, result.output
    assert len(list((workspace / "deep" / "new" / "inbox").glob("*.md"))) == 1


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(cli, serve, workspace):
    (workspace / "blocker").write_text("a file where a folder should be", encoding="utf-8")
    set_output(workspace, workspace / "blocker" / "inbox")
    url = serve("/a", "v8-blog.html")
    result = cli("url", url)
    assert result.exit_code == 1
    assert f"failed {url}: output folder" in result.output and "cannot be created" in result.output
    assert rows(workspace) == [("queued", 0)]  # not done: it waits for a folder that works


def test_a_read_only_output_folder_keeps_the_item_for_later(cli, serve, workspace, mounts):
    inbox = workspace / "inbox"
    mounts(inbox, "size=1m,ro")
    set_output(workspace, inbox)
    url = serve("/a", "v8-blog.html")
    result = cli("url", url)
    assert result.exit_code == 1
    assert f"failed {url}: " in result.output and "not writable" in result.output
    assert rows(workspace) == [("queued", 0)]
    subprocess.run(["mount", "-o", "remount,rw", str(inbox)], check=True)
    again = cli("url", url)
    assert again.exit_code == 0, again.output
    assert len(list(inbox.glob("*.md"))) == 1
    assert rows(workspace) == [("created", 1)]


def test_a_full_disk_leaves_no_partial_note_and_the_item_for_later(cli, serve, workspace, mounts):
    inbox = workspace / "inbox"
    mounts(inbox, "size=64k")
    set_output(workspace, inbox)
    filler = fill(inbox)
    url = serve("/a", "v8-blog.html")
    result = cli("url", url)
    assert result.exit_code == 1
    assert f"failed {url}: cannot write a note in {inbox} (the disk is full)" in result.output
    assert sorted(p.name for p in inbox.iterdir()) == ["filler.bin"]  # no partial note, no temporary file
    assert rows(workspace) == [("queued", 0)]
    filler.unlink()
    again = cli("url", url)
    assert again.exit_code == 0, again.output
    assert [p.suffix for p in inbox.iterdir()] == [".md"]


def test_a_poll_stops_writing_at_the_first_full_disk_error_and_loses_no_entry(cli, serve, workspace, mounts):
    inbox = workspace / "inbox"
    mounts(inbox, "size=64k")
    set_output(workspace, inbox)
    pages = ("v8-blog.html", "ebb-org.html", "zoll-tabaksteuer.html")
    links = [serve(f"/a{n}", page) for n, page in enumerate(pages)]
    items = "".join(f"<item><title>A{n}</title><link>{u}</link></item>" for n, u in enumerate(links))
    feed = serve("/feed.xml", f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode(),
                 content_type="application/rss+xml")
    (workspace / "config" / "sources.toml").write_text(f'[[source]]\nname = "f"\nurl = "{feed}"\nkind = "feed"\n')
    filler = fill(inbox)
    result = cli("poll", "--all")
    assert result.exit_code == 1
    assert "the disk is full" in result.output
    assert all(outcome == "queued" for outcome, _ in rows(workspace)) and len(rows(workspace)) == 3
    filler.unlink()
    again = cli("poll", "--all")
    assert again.exit_code == 0, again.output
    assert len(list(inbox.glob("*.md"))) == 3


# -- the note template ------------------------------------------------------------------------
# a template that cannot render is the configuration's fault, not the items': exit 2, and the items
# wait, queued, for a template that works (issue 15.6). One that fails on any note is refused before
# any work; these fail only on some notes (here: titles without a colon), so they fail mid-run.

GOOD_TEMPLATE = "---\ntitle: {{ title | yaml_quoted }}\nurl: {{ url | yaml_scalar }}\n---\n{{ content }}\n"
BROKEN_TEMPLATES = {
    "undefined": '---\ntitle: {{ title | yaml_quoted }}\nsubtitle: {{ title.split(": ")[1] | yaml_quoted }}\n---\n',
    "raising": "---\ntitle: {{ title | yaml_quoted }}\nparts: {{ 2 // title.count(':') }}\n---\n",
    "not YAML": "---\ntitle: {{ title | yaml_quoted }}\n{{ 'x: [' if ':' not in title else 'y: 1' }}\n---\n",
    "syntax": "---\ntitle: x\n---\n{% if %}\n",  # refused when loaded
}


def feed_with(site, name: str, numbers: range) -> str:
    from conftest import article, rss

    for n in numbers:
        site.put(f"/{name}/posts/{n}", article(n))
    entries = rss(site.base + f"/{name}", [(n, datetime(2025, 3, n, tzinfo=UTC)) for n in numbers])
    return site.put(f"/{name}/feed.xml", entries, "application/rss+xml")


def sources_toml(*sources: tuple[str, str, str | None]) -> str:
    return "".join(f'[[source]]\nname = "{name}"\nurl = "{url}"\nkind = "feed"\nbackfill = 10\n'
                   + (f'template = "{template}"\n' if template else "") for name, url, template in sources)


def use_template(root: Path, text: str) -> Path:
    template = root / "config" / "note.md.j2"
    template.write_text(text, encoding="utf-8")
    config = root / "config" / "ingest.toml"
    if "template = " not in config.read_text(encoding="utf-8"):
        with open(config, "a", encoding="utf-8") as out:
            out.write('template = "note.md.j2"\n')
    return template


@pytest.mark.parametrize("broken", ["undefined", "raising", "not YAML"])
def test_a_template_that_fails_during_a_poll_keeps_the_items_queued(cli, site, workspace, broken):
    template = use_template(workspace, BROKEN_TEMPLATES[broken])
    site.sources(sources_toml(("lab", feed_with(site, "lab", range(1, 4)), None)))
    result = cli("poll")
    assert result.exit_code == 2, result.output
    [error] = result.stderr.splitlines()
    assert error.startswith(f"ingest: {template}: note template ")
    assert error.endswith("; fix the template and run again (its items are not marked failed)")
    assert "Traceback" not in result.output and "failed item" not in result.output
    assert cli.notes() == []
    assert rows(workspace, "SELECT outcome FROM items") == [("queued",)] * 3
    # a template that fails on any note is refused before anything is fetched; the items still wait
    use_template(workspace, BROKEN_TEMPLATES["syntax"])
    before = sum(site.hits(f"/lab/posts/{n}") for n in range(1, 4))
    refused = cli("poll", "--all")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"ingest: {template}:") and "note template is broken" in refused.stderr
    assert sum(site.hits(f"/lab/posts/{n}") for n in range(1, 4)) == before
    assert rows(workspace, "SELECT outcome FROM items") == [("queued",)] * 3
    use_template(workspace, GOOD_TEMPLATE)
    again = cli("poll")
    assert again.exit_code == 0, again.output
    assert again.output.count("created seeds/") == 3
    assert rows(workspace, "SELECT outcome FROM items") == [("created",)] * 3


@pytest.mark.parametrize("broken", ["undefined", "syntax"])
def test_a_broken_source_template_keeps_its_items_queued_and_the_other_sources_go_on(cli, site, workspace, broken):
    template = workspace / "config" / "lab.md.j2"
    template.write_text(BROKEN_TEMPLATES[broken], encoding="utf-8")
    site.sources(sources_toml(("lab", feed_with(site, "lab", range(1, 3)), "lab.md.j2"),
                              ("other", feed_with(site, "other", range(4, 6)), None)))
    result = cli("poll")
    assert result.exit_code == 2, result.output
    assert str(template) in result.stderr and "fix the template" in result.stderr
    assert sorted(frontmatter.load(p)["url"] for p in cli.notes()) == [f"{site.base}/other/posts/{n}" for n in (4, 5)]
    assert rows(workspace, "SELECT url, outcome FROM items WHERE url LIKE '%/lab/%' ORDER BY url") == [
        (f"{site.base}/lab/posts/{n}", "queued") for n in (1, 2)]
    template.write_text(GOOD_TEMPLATE, encoding="utf-8")
    again = cli("poll")
    assert again.exit_code == 0, again.output
    assert again.output.count("created seeds/") == 2
    assert len(cli.notes()) == 4


def test_a_template_that_fails_for_given_urls_fails_none_of_them(cli, site, workspace):
    template = use_template(workspace, BROKEN_TEMPLATES["raising"])
    with open(workspace / "config" / "ingest.toml", "a", encoding="utf-8") as config:
        config.write("concurrency = 1\n")
    from conftest import article

    urls = [site.put(f"/p{n}", article(n)) for n in range(3)]
    result = cli("url", *urls)
    assert result.exit_code == 2, result.output
    assert str(template) in result.stderr and "fix the template" in result.stderr
    assert site.hits("/p1") == site.hits("/p2") == 0  # the same fault would hit each: not started
    assert rows(workspace, "SELECT outcome FROM items") == [("queued",)]  # nothing recorded as failed
    dry = cli("url", "--dry-run", urls[0])
    assert dry.exit_code == 2 and "fix the template" in dry.stderr
    use_template(workspace, GOOD_TEMPLATE)
    again = cli("url", *urls)
    assert again.exit_code == 0, again.output
    assert len(cli.notes()) == 3
