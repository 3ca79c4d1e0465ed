"""End to end: `ingest doctor` on workspaces where the ledger and the note files disagree.

The disagreements are made the way they happen: a writer killed mid-write or mid-item (its
temporary file and claim left), a note written but never recorded, and a curator who renames,
deletes or copies notes."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from conftest import article
from conftest import ledger_sql as sql

from ingest.claim_owner import host


def ledger_path(root: Path) -> Path:
    return root / "state" / "ledger.db"


def snapshot(root: Path) -> tuple[dict, dict]:
    """Every file of the output folder (name → bytes) and every row of every ledger table."""
    files = {p.name: p.read_bytes() for p in sorted((root / "seeds").iterdir())}
    db = sqlite3.connect(ledger_path(root))
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        db.close()
    return files, rows


def lines(result, label: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(label)]


def note_of(cli, url: str, before: set[Path]) -> Path:
    result = cli("url", url)
    assert result.exit_code == 0, result.output
    [note] = set(cli.notes()) - before
    return note


def test_a_clean_workspace_is_ok(cli, serve):
    fresh = cli("doctor")
    assert fresh.exit_code == 0, fresh.output
    assert fresh.stdout == "ok: the ledger state/ledger.db and the notes in seeds agree\n"
    assert cli("url", serve("/posts/1", article(1))).exit_code == 0
    after = cli("doctor")
    assert after.exit_code == 0, after.output
    assert after.stdout == "ok: the ledger state/ledger.db and the notes in seeds agree\n"
    assert cli("doctor", "--dry-run").stdout == after.stdout


def test_doctor_reports_repairs_what_is_safe_and_leaves_the_rest_to_a_person(cli, serve, dead_pid):
    seeds = cli.root / "seeds"
    urls = {name: serve(f"/posts/{name}", article(n)) for n, name in enumerate(("kept", "moved", "gone", "twin"), 1)}
    notes: dict[str, Path] = {}
    for name, url in urls.items():
        notes[name] = note_of(cli, url, set(cli.notes()))
    stopped = serve("/posts/stopped", b"gone", status=404)
    assert cli("url", stopped).exit_code == 1  # an item the ledger knows, without a note

    # a worker killed mid-item: its claim and its temporary file stay behind
    sql(cli.root, "UPDATE items SET outcome = 'pending', claimed_by = ? WHERE url = ?", f"{host()}:{dead_pid}", stopped)
    leftover = seeds / f".ingest-tmp-{dead_pid}@{host()}-d34d.md"
    leftover.write_text("---\ntype: source\ntitle: half")
    in_progress = seeds / f".ingest-tmp-{os.getpid()}@{host()}-l1v3.md"  # a live writer's: not a leftover
    in_progress.write_text("---\ntype: source\n")
    # a poll killed while it held a source
    (cli.root / "config" / "sources.toml").write_text(
        f'[[source]]\nname = "lab"\nurl = "{urls["kept"]}/feed.xml"\nkind = "feed"\nevery = "1h"\n')
    assert cli("sources", "list").exit_code == 0
    sql(cli.root, "UPDATE sources SET claimed_until = '2999-01-01 00:00:00.000000', claimed_by = ?",
        f"{host()}:{dead_pid}")
    # a note written by a writer killed before it recorded it
    unrecorded_url = urls["kept"].replace("/posts/kept", "/posts/unrecorded")
    unrecorded = seeds / "2025-03-09-localhost-unrecorded.md"
    unrecorded.write_text(notes["kept"].read_text().replace(f"url: {urls['kept']}", f"url: {unrecorded_url}"))
    assert f"url: {unrecorded_url}" in unrecorded.read_text()
    # the curators: one note renamed, one deleted, one copied
    moved = notes["moved"].rename(seeds / "renamed-by-a-curator.md")
    notes["gone"].unlink()
    twin = seeds / "copy-of-a-note.md"
    shutil.copy(notes["twin"], twin)

    # --dry-run: everything reported, nothing changed
    before = snapshot(cli.root)
    check = cli("doctor", "--dry-run")
    assert check.exit_code == 1, check.output
    after = snapshot(cli.root)
    assert after[0] == before[0], "a dry run changed the output folder"
    for table, rows in before[1].items():
        assert after[1][table] == rows, f"a dry run changed the ledger's {table} table"
    assert sorted(lines(check, "would repair: ")) == sorted([
        f"would repair: leftover temporary file {leftover}",
        "would repair: 1 item(s) and 1 source(s) claimed by a stopped worker",
        f"would repair: the note of {urls['moved']} moved to {moved}",
        f"would repair: note {unrecorded} is not in the ledger",
    ])
    problems = sorted(lines(check, "problem: "))
    assert len(problems) == 2, check.stdout
    assert problems[0].startswith(f"problem: missing note for {urls['gone']}: {notes['gone'].resolve()} is gone;")
    assert f"`ingest url --force {urls['gone']}`" in problems[0]
    assert f"if it was deleted on purpose, `ingest forget {urls['gone']}` forgets it" in problems[0]
    assert problems[1] == ("problem: two notes for one URL, both status: unprocessed (its source would be routed "
                           f"twice): {notes['twin']} and {twin}; keep one")
    assert check.stdout.splitlines()[-1] == "0 repaired, 6 left for you"
    assert len(check.stdout.splitlines()) == 7

    # a real run repairs the safe ones
    fix = cli("doctor")
    assert fix.exit_code == 1, fix.output
    assert sorted(lines(fix, "repaired: ")) == sorted([
        f"repaired: removed the leftover temporary file {leftover}",
        "repaired: queued again 1 item(s) and released 1 source(s) that a stopped worker had claimed",
        f"repaired: followed the note of {urls['moved']} to {moved}",
        f"repaired: recorded {unrecorded}, a note the ledger had not heard of",
    ])
    assert sorted(lines(fix, "problem: ")) == problems
    assert lines(fix, "would repair") == []
    assert fix.stdout.splitlines()[-1] == "4 repaired, 2 left for you"
    assert not leftover.exists()
    assert sql(cli.root, "SELECT outcome, claimed_by FROM items WHERE url = ?", stopped) == [("queued", None)]
    assert sql(cli.root, "SELECT claimed_until, claimed_by FROM sources") == [(None, None)]
    assert sql(cli.root, "SELECT outcome, note_path FROM items WHERE url = ?", urls["moved"]) == [
        ("created", str(moved.resolve()))]
    assert sql(cli.root, "SELECT outcome, note_path FROM items WHERE url = ?", unrecorded_url) == [
        ("created", str(unrecorded.resolve()))]
    assert sorted(p.name for p in seeds.iterdir()) == sorted(
        [notes["kept"].name, moved.name, notes["twin"].name, twin.name, unrecorded.name, in_progress.name])

    # the repaired state is known to every command now: no fetch for the adopted note's URL
    assert cli("url", unrecorded_url).stdout == f"duplicate {unrecorded_url} (archived as seeds/{unrecorded.name})\n"

    # what is left is a person's to decide, and is said again
    again = cli("doctor")
    assert again.exit_code == 1
    assert sorted(again.stdout.splitlines()[:-1]) == problems
    assert again.stdout.splitlines()[-1] == "0 repaired, 2 left for you"

    # the curator decides: one twin goes, the deleted note is fetched again
    twin.unlink()
    restored = cli("url", "--force", urls["gone"])
    assert restored.exit_code == 0, restored.output
    assert restored.stdout == f"created seeds/{notes['gone'].name}\n"
    done = cli("doctor")
    assert done.exit_code == 0, done.output
    assert done.stdout == "ok: the ledger state/ledger.db and the notes in seeds agree\n"


def test_a_corrupted_ledger_is_one_line_and_exit_2(cli):
    assert cli("doctor").exit_code == 0
    for suffix in ("-wal", "-shm"):
        Path(f"{ledger_path(cli.root)}{suffix}").unlink(missing_ok=True)
    ledger_path(cli.root).write_bytes(b"\x00junk, not SQLite\xff" * 512)
    for args in (("doctor",), ("doctor", "--dry-run")):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith(f"ingest: ledger sqlite:///{ledger_path(cli.root).resolve()} is corrupted ("), line
        assert line.endswith("; move it aside and restore a backup")
        assert "Traceback" not in result.output


def test_a_damaged_page_is_a_problem_on_one_line_and_nothing_is_repaired(cli, dead_pid):
    assert cli("doctor").exit_code == 0
    leftover = cli.root / "seeds" / f".ingest-tmp-{dead_pid}@{host()}-d34d.md"
    leftover.parent.mkdir()
    leftover.write_text("half")
    db = sqlite3.connect(ledger_path(cli.root))
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        [(page,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_items_content_hash'").fetchall()
    finally:
        db.close()
    with open(ledger_path(cli.root), "r+b") as handle:  # an index's page, not the header: the file still opens
        handle.seek((page - 1) * page_size)
        handle.write(b"\xff" * 64)

    result = cli("doctor")
    assert result.exit_code == 1, result.output
    [problem, summary] = result.stdout.splitlines()
    assert problem.startswith(f"problem: ledger sqlite:///{ledger_path(cli.root).resolve()} is damaged: ")
    assert problem.endswith("; move it aside and restore a backup") and "***" not in problem
    assert summary == "0 repaired, 1 left for you"
    assert leftover.exists(), "no repair is made beside a damaged ledger"


def write_note(path: Path, url: str, status: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntype: source\ntitle: \"A note\"\nurl: {url}\nstatus: {status}\n---\n\nBody\n")
    return path


def test_twins_and_two_notes_for_one_url_are_listed_for_the_curator(cli, serve):
    """A second version waiting beside its note, and a URL with notes in both folders, are the
    curator's to look at (warnings); a copy that would be routed as new work is a problem."""
    seeds, vault = cli.root / "seeds", cli.root / "vault"
    config = cli.root / "config" / "ingest.toml"
    config.write_text(config.read_text() + 'archive_dir = "../vault"\n')
    forced_url = serve("/posts/1", article(1))
    note = note_of(cli, forced_url, set())
    assert cli("url", "--force", forced_url).exit_code == 0
    forced = seeds / note.name.replace(".md", ".reextracted.md")
    assert forced.is_file()
    # the curators' archive: one URL archived twice (processed there, waiting here); a twin whose note
    # was deleted; a hand-set reextracted status
    base = forced_url.removesuffix("/posts/1")
    archived = write_note(vault / "old.md", f"{base}/posts/2", "processed")
    waiting = write_note(seeds / "2025-03-02-x-waiting.md", f"{base}/posts/2", "unprocessed")
    orphan = write_note(seeds / "2025-03-03-x-orphan.reextracted.md", f"{base}/posts/3", "reextracted")
    hand_set = write_note(vault / "hand-set.md", f"{base}/posts/4", "reextracted")

    only_warnings = cli("doctor")
    assert only_warnings.exit_code == 0, only_warnings.output
    assert sorted(lines(only_warnings, "warning: ")) == sorted([
        f"warning: {forced} (status: reextracted) is a second version of {note}: compare them, keep one and "
        "delete the other",
        f"warning: two notes for one URL: {waiting} (status: unprocessed) and {archived} (status: processed); "
        "keep one",
        f"warning: {orphan} (status: reextracted) is a second version of a note that is gone: set its status to "
        "unprocessed to have it routed, or delete it",
        f"warning: {hand_set} (status: reextracted) is a second version of a note that is gone: set its status to "
        "unprocessed to have it routed, or delete it",
    ])
    assert only_warnings.stdout.splitlines()[-1] == (
        "ok: the ledger state/ledger.db and the notes in seeds agree; 4 warning(s) above for the curator")
    assert cli("doctor", "--dry-run").stdout == only_warnings.stdout
    assert orphan.is_file() and hand_set.is_file() and forced.is_file()  # nothing is deleted
    assert sql(cli.root, "SELECT COUNT(*) FROM items WHERE note_path LIKE '%orphan%'") == [(0,)]  # nor adopted

    # what an older ingest wrote: a twin still unprocessed, and a forced copy as a second note
    old_twin = write_note(seeds / "2025-03-05-x-older.reextracted.md", f"{base}/posts/5", "unprocessed")
    old_note = write_note(seeds / "2025-03-05-x-older.md", f"{base}/posts/5", "unprocessed")
    first = write_note(seeds / "2025-03-06-x-forced.md", f"{base}/posts/6", "unprocessed")
    second = write_note(seeds / "2025-03-06-x-forced-2.md", f"{base}/posts/6", "unprocessed")
    check = cli("doctor", "--dry-run")
    assert check.exit_code == 1
    assert sorted(lines(check, "problem: ")) == sorted([
        f"problem: {old_twin} is a second version of {old_note} but says status: unprocessed (its source would be "
        "routed twice); set it to status: reextracted, or delete one",
        "problem: two notes for one URL, both status: unprocessed (its source would be routed twice): "
        f"{second} and {first}; keep one",
    ])
    assert lines(check, "would repair: ") == [f"would repair: note {old_note} is not in the ledger"]
    assert check.stdout.splitlines()[-1] == "0 repaired, 3 left for you; 4 warning(s)"


def test_a_second_version_is_never_taken_for_its_deleted_note(cli, serve):
    url = serve("/posts/1", article(1))
    note = note_of(cli, url, set())
    forced = cli("url", "--force", url)
    assert forced.exit_code == 0, forced.output
    note.unlink()  # the curator deletes the note; its second version stays
    result = cli("doctor")
    assert result.exit_code == 1
    assert lines(result, "repaired: ") == []  # not "followed the note of URL to NAME.reextracted.md"
    [problem] = lines(result, "problem: ")
    assert problem.startswith(f"problem: missing note for {url}: {note.resolve()} is gone;")
    assert sql(cli.root, "SELECT note_path FROM items WHERE note_path LIKE '%.reextracted.md'") == [
        (str(note.with_name(note.name.replace(".md", ".reextracted.md")).resolve()),)]
