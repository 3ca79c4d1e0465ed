"""Snapshots and `ingest reextract`, end to end: pages served on 127.0.0.1, a real ledger, real
snapshot files; reextract makes no request at all."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from pathlib import Path

import frontmatter
import pytest
from conftest import article, ledger_sql

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "source-note.md.j2"


@pytest.fixture
def template(workspace) -> Path:
    """A copy of the shipped template that the test can change, named in the settings."""
    copy = workspace / "config" / "note.md.j2"
    shutil.copy(TEMPLATE, copy)
    with open(workspace / "config" / "ingest.toml", "a", encoding="utf-8") as config:
        config.write('template = "note.md.j2"\n')
    return copy


def change_template(template: Path) -> None:
    template.write_text(template.read_text(encoding="utf-8").rstrip("\n") + "\n\n## Reading log\n",
                        encoding="utf-8")


def blobs(root: Path) -> list[Path]:
    return sorted((root / "state" / "snapshots").rglob("*.gz"))


def test_every_ingested_response_is_kept_compressed_and_content_addressed(cli, serve, workspace):
    body = article(1)
    url = serve("/posts/1", body, headers={"ETag": '"v1"'})
    assert cli("url", url).exit_code == 0
    [blob] = blobs(workspace)
    digest = hashlib.sha256(body).hexdigest()
    assert blob.name == f"{digest}.gz" and blob.parent.name == digest[2:4] and blob.parent.parent.name == digest[:2]
    assert gzip.decompress(blob.read_bytes()) == body
    assert blob.stat().st_size < len(body)
    [(item_url, final_url, status, headers, size)] = ledger_sql(
        workspace, "SELECT url, final_url, status, headers, size FROM snapshots")
    assert (item_url, final_url, status, size) == (url, url, 200, len(body))
    assert json.loads(headers)["etag"] == '"v1"'


def test_identical_bytes_are_stored_once(cli, serve, workspace):
    body = article(2)
    first, second = serve("/a", body), serve("/b", body)
    assert cli("url", first).exit_code == 0
    assert cli("url", "--force", second).exit_code == 0  # a deliberate second note of the same bytes
    assert len(cli.notes()) == 2
    assert len(blobs(workspace)) == 1
    assert ledger_sql(workspace, "SELECT COUNT(*), COUNT(DISTINCT body_sha256) FROM snapshots") == [(2, 1)]


def test_reextract_after_a_template_change_rewrites_untouched_notes_and_leaves_edited_ones(
        cli, serve, workspace, template, httpserver):
    urls = [serve(f"/posts/{n}", article(n)) for n in (1, 2, 3)]
    assert cli("url", *urls).exit_code == 0
    untouched, edited, taken_up = sorted(cli.notes(), key=lambda p: frontmatter.load(p)["url"])
    edited.write_text(edited.read_text(encoding="utf-8") + "\nMy own remark.\n", encoding="utf-8")
    taken_up.write_text(taken_up.read_text(encoding="utf-8").replace("status: unprocessed", "status: processing"),
                        encoding="utf-8")
    curator_text = {p: p.read_bytes() for p in (edited, taken_up)}
    requests_before = len(httpserver.log)
    change_template(template)

    result = cli("reextract")
    assert result.exit_code == 0, result.output
    assert len(httpserver.log) == requests_before  # not one request: everything came from snapshots
    assert f"rewrote seeds/{untouched.name}" in result.stdout
    assert "## Reading log" in untouched.read_text(encoding="utf-8")
    for note in (edited, taken_up):
        beside = note.with_name(note.name.removesuffix(".md") + ".reextracted.md")
        assert f"kept seeds/{note.name} (changed by a curator); new version: seeds/{beside.name}" in result.stdout
        assert note.read_bytes() == curator_text[note]
        assert "## Reading log" in beside.read_text(encoding="utf-8")
    assert result.stdout.strip().endswith("reextracted 3 note(s): 2 beside, 1 rewritten")

    again = cli("reextract")  # the rewritten note's new hash is in the ledger; the beside versions exist
    assert again.stdout.strip().endswith("reextracted 3 note(s): 3 unchanged")
    assert cli("doctor").exit_code == 0  # a version beside its note is not a second note


def test_a_rewritten_note_edited_afterwards_is_left_alone(cli, serve, template):
    assert cli("url", serve("/posts/1", article(1))).exit_code == 0
    [note] = cli.notes()
    change_template(template)
    assert "rewrote" in cli("reextract").stdout
    note.write_text(note.read_text(encoding="utf-8") + "\nRemark.\n", encoding="utf-8")
    edited = note.read_bytes()
    template.write_text(template.read_text(encoding="utf-8") + "\n## Second log\n", encoding="utf-8")
    result = cli("reextract")
    assert "kept" in result.stdout and note.read_bytes() == edited


def test_dry_run_prints_the_new_note_and_writes_nothing(cli, serve, workspace, template):
    assert cli("url", serve("/posts/1", article(1))).exit_code == 0
    [note] = cli.notes()
    before = note.read_bytes()
    rows = ledger_sql(workspace, "SELECT * FROM items")
    change_template(template)
    result = cli("reextract", "--dry-run")
    assert result.exit_code == 0
    assert "## Reading log" in result.stdout and f"dry run: would rewrite seeds/{note.name}" in result.output
    assert note.read_bytes() == before and cli.notes() == [note]
    assert ledger_sql(workspace, "SELECT * FROM items") == rows


def test_urls_and_since_choose_the_notes(cli, serve, template):
    one, two = serve("/posts/1", article(1)), serve("/posts/2", article(2))
    assert cli("url", one, two).exit_code == 0
    change_template(template)
    named = cli("reextract", one + "?utm_source=x")  # any spelling of the URL names the item
    assert named.stdout.strip().endswith("reextracted 1 note(s): 1 rewritten")
    assert cli("reextract", "--since", "2999-01-01").stdout.strip() == "reextracted 0 note(s): nothing to do"
    assert cli("reextract", "--since", "2000-01-01").stdout.strip().endswith("1 rewritten, 1 unchanged")
    unknown = cli("reextract", "http://unknown.example/x")
    assert "no note of ingest's has these URLs" in unknown.stdout and unknown.exit_code == 0
    bad = cli("reextract", "--since", "last week")
    assert bad.exit_code == 2 and "is not a date; give YYYY-MM-DD" in bad.output


def test_a_note_without_a_snapshot_says_how_to_get_one(cli, serve, workspace):
    url = serve("/posts/1", article(1))
    assert cli("url", url).exit_code == 0
    ledger_sql(workspace, "DELETE FROM snapshots")  # as an item ingested before snapshots were kept
    result = cli("reextract")
    assert f"no snapshot {url}: ingested before snapshots were kept; `ingest url --force {url}` fetches it again" \
        in result.stdout
    assert result.exit_code == 0


def test_a_damaged_snapshot_fails_clearly_and_leaves_the_note(cli, serve, workspace, template):
    url = serve("/posts/1", article(1))
    assert cli("url", url).exit_code == 0
    [note] = cli.notes()
    before = note.read_bytes()
    [blob] = blobs(workspace)
    blob.write_bytes(gzip.compress(b"<html>something else</html>"))
    change_template(template)
    result = cli("reextract")
    assert result.exit_code == 1
    assert f"failed {url}: snapshot " in result.stdout and "is damaged (its bytes do not match)" in result.stdout
    assert note.read_bytes() == before


def inbox(cli) -> list[str]:
    """What downstream jobs take as new work: the notes matching `grep -l '^status: unprocessed'`."""
    return sorted(p.name for p in cli.notes()
                  if re.search(r"^status: unprocessed$", p.read_text(encoding="utf-8"), re.M))


def test_a_version_beside_a_curators_note_is_not_new_work(cli, serve, template):
    assert cli("url", serve("/posts/1", article(1))).exit_code == 0
    [note] = cli.notes()
    note.write_text(note.read_text(encoding="utf-8") + "\nMy own remark.\n", encoding="utf-8")  # still unprocessed
    change_template(template)
    dry = cli("reextract", "--dry-run")
    assert "status: reextracted" in dry.stdout and "status: unprocessed" not in dry.stdout
    assert cli("reextract").exit_code == 0
    beside = note.with_name(note.name.removesuffix(".md") + ".reextracted.md")
    assert frontmatter.load(beside)["status"] == "reextracted"
    assert "## Reading log" in beside.read_text(encoding="utf-8")
    assert inbox(cli) == [note.name]  # the source is routed once
    assert cli("reextract").stdout.strip().endswith("reextracted 1 note(s): 1 unchanged")


def test_a_forced_copy_is_rewritten_as_a_copy(cli, serve, template):
    url = serve("/posts/1", article(1))
    assert cli("url", url).exit_code == 0
    assert cli("url", "--force", url).exit_code == 0
    [note, twin] = cli.notes()
    assert twin.name == note.name.removesuffix(".md") + ".reextracted.md"
    change_template(template)
    result = cli("reextract")
    assert result.exit_code == 0, result.output
    assert f"rewrote seeds/{note.name}" in result.stdout and f"rewrote seeds/{twin.name}" in result.stdout
    assert len(cli.notes()) == 2 and "## Reading log" in twin.read_text(encoding="utf-8")
    assert frontmatter.load(twin)["status"] == "reextracted" and inbox(cli) == [note.name]


def test_a_template_that_fails_on_a_note_stops_reextract_with_exit_2_and_the_note_kept(cli, serve, template):
    urls = [serve(f"/posts/{n}", article(n)) for n in (1, 2, 3)]
    assert cli("url", *urls).exit_code == 0
    [second] = [p for p in cli.notes() if "research-note-2" in p.name]
    before = second.read_bytes()
    # fails on one note only: the sample note a run checks at start passes
    template.write_text(template.read_text(encoding="utf-8")
                        + "{% if title.endswith('note 2') %}{{ 1 // 0 }}{% endif %}\n", encoding="utf-8")
    result = cli("reextract")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("ingest: ") and "note.md.j2: note template failed" in line, line
    assert "failed" not in result.stdout  # not reported as the note's failure
    assert second.read_bytes() == before and len(cli.notes()) == 3
