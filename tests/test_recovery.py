"""End to end: the state a `kill -9` leaves at each point of a run, then one more command.

A killed process is simulated by what it leaves behind: a temporary file named after a pid that
has exited, a ledger row claimed by `host:that-pid`, entries recorded but their items never run.
A live worker is this very process (the CLI runs in it, so its pid is os.getpid())."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import frontmatter
import pytest
from conftest import article, rss, wait_until
from conftest import ledger_sql as sql

from ingest.claim_owner import host
from ingest.strays import TRACKER, WORKER, find_strays
from ingest.urls import url_key

FEED_TIME = datetime(2025, 3, 1, 12, tzinfo=UTC)


def dead(pid: int) -> str:
    return f"{host()}:{pid}"


def now_text() -> str:
    """A timestamp as the ledger stores it (UTC, naive)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def publish_feed(site, numbers, **headers) -> None:
    """Articles `numbers`, a feed of them, and the sources file naming it."""
    for n in numbers:
        site.put(f"/posts/{n}", article(n))
    site.put("/feed.xml", rss(site.base, [(n, FEED_TIME) for n in numbers]), "application/rss+xml", **headers)
    site.sources(f'[[source]]\nname = "lab"\nurl = "{site.base}/feed.xml"\nkind = "feed"\nevery = "1h"\n')


# -- (a) temporary files of killed writers -------------------------------------------------------


@pytest.mark.parametrize("command", ["url", "poll"])
def test_leftover_temp_files_of_dead_writers_are_removed_and_live_ones_kept(cli, site, dead_pid, command):
    seeds = cli.root / "seeds"
    seeds.mkdir()
    of_dead = seeds / f".ingest-tmp-{dead_pid}@{host()}-k1ll3d.md"
    of_live = seeds / f".ingest-tmp-{os.getpid()}@{host()}-wr1t1ng.md"
    old_format_old = seeds / ".ingest-tmp-abc.md"
    old_format_new = seeds / ".ingest-tmp-xyz.md"
    for path in (of_dead, of_live, old_format_old, old_format_new):
        path.write_text("---\ntype: source\n---\nhalf a no")
    two_hours_ago = time.time() - 7200
    os.utime(old_format_old, (two_hours_ago, two_hours_ago))

    if command == "url":
        result = cli("url", site.put("/posts/1", article(1)))
    else:
        publish_feed(site, [1])
        result = cli("poll")
    assert result.exit_code == 0, result.output

    assert not of_dead.exists() and not old_format_old.exists()
    assert of_live.exists(), "a temporary file of a process still running is its write in progress"
    assert old_format_new.exists(), "an unattributable temporary file younger than an hour may be in use"
    recovered = [line for line in result.stderr.splitlines() if line.startswith("recovered: ")]
    assert sorted(recovered) == sorted(f"recovered: removed the leftover {p}" for p in (of_dead, old_format_old))
    assert len([p for p in cli.notes() if not p.name.startswith(".")]) == 1  # the run's own work was done too
    # nothing else in the folder: the run's own temporary file is gone
    assert sorted(p.name for p in seeds.iterdir() if p.name.startswith(".")) == sorted([of_live.name, old_format_new.name])


# -- (b) killed between writing the note and recording it ----------------------------------------


def test_url_killed_after_the_write_adopts_the_note_without_fetching_again(cli, site, dead_pid):
    url = site.put("/posts/1", article(1))
    assert cli("url", url).exit_code == 0
    [note] = cli.notes()
    sql(cli.root, "UPDATE items SET outcome = 'pending', note_path = NULL, claimed_by = ?", dead(dead_pid))

    again = cli("url", url)
    assert again.exit_code == 0, again.output
    assert "recovered: queued again 1 item(s) a stopped worker had claimed" in again.stderr
    assert again.stdout == f"duplicate {url} (archived as seeds/{note.name})\n"
    assert cli.notes() == [note], "no second note"
    assert site.hits("/posts/1") == 1, "the page was not fetched again"
    [(outcome, path, claimed_by)] = sql(cli.root, "SELECT outcome, note_path, claimed_by FROM items")
    assert (outcome, claimed_by) == ("created", None)
    assert os.path.samefile(path, note)
    # and from now on it is an ordinary known URL
    third = cli("url", url)
    assert third.stdout == f"duplicate {url} (archived as seeds/{note.name})\n" and "recovered" not in third.stderr


def test_url_killed_during_the_write_fetches_again_and_leaves_one_note(cli, site, dead_pid):
    url = site.put("/posts/1", article(1))
    cli("url", url)
    [note] = cli.notes()
    leftover = note.with_name(f".ingest-tmp-{dead_pid}@{host()}-h4lf.md")
    leftover.write_text(note.read_text()[:100])  # the bytes had not all reached the temporary file
    note.unlink()
    sql(cli.root, "UPDATE items SET outcome = 'pending', note_path = NULL, claimed_by = ?", dead(dead_pid))

    again = cli("url", url)
    assert again.exit_code == 0, again.output
    assert again.stdout == f"created seeds/{note.name}\n"
    assert f"recovered: removed the leftover {leftover}" in again.stderr
    assert cli.notes() == [note] and not leftover.exists()
    assert frontmatter.load(note)["url"] == url
    assert site.hits("/posts/1") == 2
    assert sql(cli.root, "SELECT outcome, note_path FROM items") == [("created", str(note.resolve()))]


# -- (c) the same through a poll -----------------------------------------------------------------


def test_poll_killed_after_the_write_adopts_the_note_without_fetching_again(cli, site, dead_pid):
    publish_feed(site, [1])
    assert cli("poll").exit_code == 0
    [note] = cli.notes()
    sql(cli.root, "UPDATE items SET outcome = 'pending', note_path = NULL, claimed_by = ?", dead(dead_pid))

    again = cli("poll")
    assert again.exit_code == 0, again.output
    assert "recovered: queued again 1 item(s) a stopped worker had claimed" in again.stderr
    assert f"duplicate {site.base}/posts/1 (archived as seeds/{note.name})" in again.stdout
    assert "polled 0 source(s): 0 new note(s), 1 duplicate(s), 0 failed item(s)" in again.stdout
    assert cli.notes() == [note]
    assert site.hits("/posts/1") == 1 and site.hits("/feed.xml") == 1
    [(outcome, path)] = sql(cli.root, "SELECT outcome, note_path FROM items")
    assert outcome == "created" and os.path.samefile(path, note)


# -- (d) killed after the entries were recorded, before their items ran --------------------------


def test_queued_items_of_an_unchanged_feed_are_still_ingested(cli, site, httpserver):
    publish_feed(site, [1, 2], ETag='"v1"')
    assert cli("poll").exit_code == 0
    assert len(cli.notes()) == 2
    # the state of a poll killed right after add_entries: entries known, their items queued, no notes
    for note in cli.notes():
        note.unlink()
    sql(cli.root, "UPDATE items SET outcome = 'queued', note_path = NULL, claimed_by = NULL, "
                  "content_hash = NULL, final_url = NULL, canonical_url = NULL")

    again = cli("poll", "--all")
    assert again.exit_code == 0, again.output
    assert "source lab: unchanged" in again.stdout
    assert [response.status_code for r, response in httpserver.log if r.path == "/feed.xml"] == [200, 304]
    assert "polled 1 source(s): 2 new note(s), 0 duplicate(s)" in again.stdout
    assert {frontmatter.load(p)["url"] for p in cli.notes()} == {f"{site.base}/posts/1", f"{site.base}/posts/2"}
    assert sql(cli.root, "SELECT outcome, count(*) FROM items GROUP BY outcome") == [("created", 2)]
    assert site.hits("/posts/1") == 2 and site.hits("/posts/2") == 2


def test_a_queued_item_is_ingested_by_a_poll_with_no_source_due(cli, site):
    publish_feed(site, [1])
    cli("poll")
    [note] = cli.notes()
    note.unlink()
    sql(cli.root, "UPDATE items SET outcome = 'queued', note_path = NULL, content_hash = NULL")

    again = cli("poll")  # the source is not due for an hour
    assert again.exit_code == 0, again.output
    assert "polled 0 source(s): 1 new note(s)" in again.stdout
    assert site.hits("/feed.xml") == 1
    assert [p.name for p in cli.notes()] == [note.name]


# -- (e) sources claimed by a killed poll ---------------------------------------------------------


FUTURE = "2999-01-01 00:00:00.000000"


def test_a_source_claimed_by_a_dead_worker_is_released_and_polled(cli, site, dead_pid):
    publish_feed(site, [1])
    assert cli("sources", "list").exit_code == 0  # the source gets its ledger row; nothing fetched
    sql(cli.root, "UPDATE sources SET claimed_until = ?, claimed_by = ?", FUTURE, dead(dead_pid))

    result = cli("poll")
    assert result.exit_code == 0, result.output
    assert "recovered: released 1 source(s) a stopped worker had claimed" in result.stderr
    assert "polled 1 source(s): 1 new note(s)" in result.stdout
    assert site.hits("/feed.xml") == 1 and len(cli.notes()) == 1
    assert sql(cli.root, "SELECT claimed_until, claimed_by FROM sources") == [(None, None)]


def test_a_source_claimed_by_a_live_worker_is_left_to_it(cli, site):
    publish_feed(site, [1])
    cli("sources", "list")
    live = f"{host()}:{os.getpid()}"
    sql(cli.root, "UPDATE sources SET claimed_until = ?, claimed_by = ?", FUTURE, live)

    result = cli("poll")
    assert result.exit_code == 0, result.output
    assert "recovered" not in result.stderr
    assert "polled 0 source(s): 0 new note(s)" in result.stdout
    assert site.hits("/feed.xml") == 0 and cli.notes() == []
    assert sql(cli.root, "SELECT claimed_until, claimed_by FROM sources") == [(FUTURE, live)]
    # named explicitly, it is still another worker's: skipped, not polled twice at once
    named = cli("poll", "--source", "lab")
    assert "source lab skipped: being polled by another worker" in named.stdout
    assert site.hits("/feed.xml") == 0


def test_a_source_claimed_by_another_machine_is_not_judged_here(cli, site):
    publish_feed(site, [1])
    cli("sources", "list")
    sql(cli.root, "UPDATE sources SET claimed_until = ?, claimed_by = ?", FUTURE, f"not-{host()}:1")
    result = cli("poll")
    assert "recovered" not in result.stderr and site.hits("/feed.xml") == 0


# -- (f) an item a live worker is ingesting -------------------------------------------------------


def claim_for_this_process(root, url: str) -> None:
    """The item as a live worker on this machine holds it mid-ingest (this process is alive)."""
    stamp = now_text()
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        item = db.execute(
            "INSERT INTO items (url, url_key, outcome, date_is_fallback, attempts, claimed_by, created_at, updated_at)"
            " VALUES (?, ?, 'pending', 0, 1, ?, ?, ?)", (url, url_key(url), f"{host()}:{os.getpid()}", stamp, stamp),
        ).lastrowid
        db.execute("INSERT INTO aliases (key, item_id) VALUES (?, ?)", (url_key(url), item))
    db.close()


def test_an_item_pending_for_a_live_worker_is_skipped_not_failed(cli, site):
    url = site.put("/posts/1", article(1))
    assert cli("doctor").exit_code == 0  # a fresh ledger
    claim_for_this_process(cli.root, url)

    result = cli("url", url)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"skipped {url}: another worker is ingesting this URL right now\n"
    assert "recovered" not in result.stderr
    assert site.hits("/posts/1") == 0 and cli.notes() == []
    assert sql(cli.root, "SELECT outcome, claimed_by FROM items") == [("pending", f"{host()}:{os.getpid()}")]


def test_a_poll_leaves_an_item_a_live_worker_holds(cli, site):
    publish_feed(site, [1])
    cli("sources", "list")
    url = f"{site.base}/posts/1"
    claim_for_this_process(cli.root, url)

    result = cli("poll")
    assert result.exit_code == 0, result.output
    assert "source lab: 0 new of 1, 1 already known" in result.stdout  # another worker is ingesting it
    assert "0 failed item(s)" in result.stdout
    assert site.hits("/posts/1") == 0 and cli.notes() == []
    assert sql(cli.root, "SELECT outcome FROM items") == [("pending",)]



# -- (e) worker processes a killed run left running ------------------------------------------------

# what a run's pool leaves when its worker cannot notice the run is gone: a marked multiprocessing
# child (it sleeps instead of following its parent) and the resource tracker they share
ORPHAN_MAKER = """
import multiprocessing, time
from ingest.strays import mark_owner
mark_owner()
worker = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(120,))
worker.start()
print(worker.pid, flush=True)
time.sleep(120)
"""


def running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def orphans():
    """A killed run's marked worker and resource tracker, reparented and running: (owner pid, worker pid)."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("finds processes through /proc")
    checkout = str(Path(__file__).resolve().parents[1])
    maker = subprocess.Popen([sys.executable, "-c", ORPHAN_MAKER], stdout=subprocess.PIPE, start_new_session=True,
                             env=os.environ | {"PYTHONPATH": checkout})
    try:
        worker = int(maker.stdout.readline())
        os.kill(maker.pid, signal.SIGKILL)
        maker.wait()
        wait_until(lambda: len(strays_of(maker.pid)) == 2, "the orphans to be reparented")
        yield maker.pid, worker
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(maker.pid, signal.SIGKILL)


def strays_of(owner: int) -> list:
    return [s for s in find_strays() if s.owner == owner]


def test_worker_processes_a_killed_run_left_running_are_found_and_stopped(cli, site, orphans):
    owner, worker = orphans
    strays = strays_of(owner)
    assert sorted(s.role for s in strays) == sorted([WORKER, TRACKER])
    assert worker in {s.pid for s in strays}
    assert all(f"of ingest process {owner}, which is gone" in s.description for s in strays)

    result = cli("url", site.put("/posts/1", article(1)))
    assert result.exit_code == 0, result.output
    assert "recovered: stopped 2 stray worker process(es) a killed run left running" in result.stderr
    assert strays_of(owner) == [] and not running(worker)
    assert len(cli.notes()) == 1
    again = cli("url", site.put("/posts/2", article(2)))
    assert "stray" not in again.stderr


def test_doctor_lists_stray_workers_and_stops_them(cli, orphans):
    owner, worker = orphans
    checked = cli("doctor", "--dry-run")
    assert checked.exit_code == 1, checked.output
    assert f"would repair: stray process pid {worker}: extraction worker of ingest process {owner}, which is gone" \
        in checked.stdout
    assert running(worker), "a dry run stops nothing"

    repaired = cli("doctor")
    assert "repaired: stopped 2 stray worker process(es) a killed run left running" in repaired.stdout
    assert repaired.exit_code == 0, repaired.output
    assert strays_of(owner) == [] and not running(worker)
