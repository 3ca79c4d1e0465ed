"""End to end: `ingest url` against pages served on 127.0.0.1, a real SQLite ledger, real files."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import frontmatter
import yaml
from werkzeug import Response

from conftest import GOLDEN, portless, requests_to


def ledger_rows(root, sql="SELECT url, outcome, note_path, error_code FROM items ORDER BY id"):
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def test_golden_note_for_a_fixture_page(cli, serve, update_golden):
    url = serve("/blog/emscripten-standalone-wasm", "v8-blog.html")
    result = cli("url", url)
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    assert result.output == f"created seeds/{note.name}\n"
    assert note.name == "2019-11-21-localhost-outside-the-web-standalone-webassembly-binaries.md"
    golden = GOLDEN / "v8-blog.md"
    text = portless(note.read_text(encoding="utf-8"))
    if update_golden:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_note_frontmatter_is_the_spec_layout(cli, serve):
    url = serve("/blog/post", "v8-blog.html")
    cli("url", url)
    [note] = cli.notes()
    text = note.read_text(encoding="utf-8")
    keys = [line.split(":")[0] for line in text.split("---\n")[1].splitlines()]
    assert keys == ["type", "title", "author", "url", "date", "domain", "secondary_domains",
                    "format", "status", "priority", "tags"]
    post = frontmatter.loads(text)
    assert post["status"] == "unprocessed" and post["type"] == "source"
    assert str(post["date"]) == "2019-11-21"
    assert post["url"] == url
    assert "## Content" in text and "## Curator Notes (structured handoff for extractor)" in text
    assert re.search(r"^## Using standalone mode in Emscripten", post.content, re.M), "headings kept"
    assert "[WASI](https://github.com/WebAssembly/WASI)" in post.content, "links kept"


def test_second_ingest_of_the_same_url_is_a_duplicate_without_a_fetch(cli, serve, httpserver):
    url = serve("/a", "v8-blog.html")
    first = cli("url", url)
    [note] = cli.notes()
    second = cli("url", url + "?utm_source=newsletter#intro")
    assert second.exit_code == 0
    assert second.output == f"duplicate {url}?utm_source=newsletter#intro (archived as seeds/{note.name})\n"
    assert requests_to(httpserver, "/a") == 1
    assert len(cli.notes()) == 1
    assert first.exit_code == 0


def test_redirect_and_final_url_are_aliases(cli, serve, httpserver):
    target = serve("/posts/real", "v8-blog.html")
    serve("/old-link", b"", status=301, headers={"Location": "/posts/real"})
    assert cli("url", target).exit_code == 0
    old = httpserver.url_for("/old-link")
    result = cli("url", old)
    assert result.output.startswith(f"duplicate {old} (archived as seeds/")
    assert len(cli.notes()) == 1
    # now the old link is a known alias: no request at all the third time
    before = len(httpserver.log)
    assert cli("url", old).output.startswith("duplicate")
    assert len(httpserver.log) == before


def test_a_redirected_url_reached_first_makes_the_target_known(cli, serve, httpserver):
    serve("/posts/real", "v8-blog.html")
    serve("/short", b"", status=302, headers={"Location": "/posts/real"})
    assert cli("url", httpserver.url_for("/short")).output.startswith("created")
    before = len(httpserver.log)
    assert cli("url", httpserver.url_for("/posts/real")).output.startswith("duplicate")
    assert len(httpserver.log) == before


def test_rel_canonical_alias_is_a_duplicate(cli, serve, httpserver):
    page = (GOLDEN.parent / "fixtures" / "pages" / "v8-blog.html").read_text(encoding="utf-8")
    canonical = httpserver.url_for("/canonical-post")
    with_canonical = page.replace("<head>", f'<head><link rel="canonical" href="{canonical}">', 1)
    serve("/canonical-post", with_canonical.encode())
    serve("/amp/copy", with_canonical.encode())
    assert cli("url", canonical).exit_code == 0
    result = cli("url", httpserver.url_for("/amp/copy"))
    assert result.output.startswith("duplicate")
    assert len(cli.notes()) == 1
    assert frontmatter.load(cli.notes()[0])["url"] == canonical


def test_identical_text_under_a_new_url_is_a_duplicate(cli, serve, httpserver):
    serve("/one", "ebb-org.html")
    serve("/mirror/two", "ebb-org.html")
    assert cli("url", httpserver.url_for("/one")).output.startswith("created")
    assert cli("url", httpserver.url_for("/mirror/two")).output.startswith("duplicate")
    assert len(cli.notes()) == 1
    assert [row[1] for row in ledger_rows(cli.root)] == ["created", "duplicate"]


def test_a_hand_edited_note_is_never_overwritten(cli, serve):
    url = serve("/a", "v8-blog.html")
    cli("url", url)
    [note] = cli.notes()
    edited = note.read_text(encoding="utf-8").replace("status: unprocessed", "status: processing") + "\nMy notes.\n"
    note.write_text(edited, encoding="utf-8")
    result = cli("url", "--force", url)
    assert result.exit_code == 0
    assert note.read_text(encoding="utf-8") == edited
    twin = note.name.replace(".md", ".reextracted.md")  # beside it, for the curator: not new work
    assert {p.name for p in cli.notes()} == {note.name, twin}
    assert result.output.startswith(f"created seeds/{twin} (a second version of {note.name}")


def test_404_fails_with_exit_1_and_leaves_no_note(cli, serve):
    url = serve("/missing", b"gone", status=404, content_type="text/plain")
    result = cli("url", url)
    assert result.exit_code == 1
    assert result.output == f"failed {url}: HTTP 404 Not Found\n"
    assert cli.notes() == []
    assert ledger_rows(cli.root) == [(url, "failed", None, "http_404")]
    assert ledger_rows(cli.root, "SELECT status_code, error_code FROM fetches") == [(404, "http_404")]


def test_a_failed_url_is_fetched_again_next_time(cli, serve, httpserver):
    url = serve("/flaky", b"nope", status=404)
    assert cli("url", url).exit_code == 1
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    serve("/flaky", "v8-blog.html")
    assert cli("url", url).output.startswith("created")
    assert [row[1] for row in ledger_rows(cli.root)] == ["created"]


def test_timeout_fails_cleanly(cli, serve, httpserver):
    serve("/robots.txt", b"", status=404)

    def slow(request):
        time.sleep(1.5)
        return Response("<html>late</html>", content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    url = httpserver.url_for("/slow")
    (cli.root / "config" / "ingest.toml").write_text(
        (cli.root / "config" / "ingest.toml").read_text().replace("timeout = 2.0", "timeout = 0.5")
        .replace("retries = 1", "retries = 0")
    )
    result = cli("url", url)
    assert result.exit_code == 1
    assert result.output.startswith(f"failed {url}: ") and "timed out" in result.output
    assert cli.notes() == []
    assert ledger_rows(cli.root)[0][1:] == ("failed", None, "read_timeout")


def test_too_large_body_fails(cli, serve, monkeypatch):
    monkeypatch.setenv("INGEST_MAX_BYTES", "2000")
    url = serve("/big", "v8-blog.html")
    result = cli("url", url)
    assert result.exit_code == 1
    assert "larger than 2000 bytes" in result.output
    assert cli.notes() == []


def test_non_html_content_type_fails(cli, serve):
    url = serve("/data.json", b'{"a": 1}', content_type="application/json")
    result = cli("url", url)
    assert result.exit_code == 1
    assert result.output == f"failed {url}: content type application/json is not an HTML page; only web pages are archived for now\n"
    assert ledger_rows(cli.root)[0][3] == "unsupported_content_type"


def test_page_without_main_text_fails_and_writes_nothing(cli, serve):
    url = serve("/app", "made-needs-javascript.html")
    result = cli("url", url)
    assert result.exit_code == 1
    assert "no main text found" in result.output
    assert cli.notes() == []
    assert list((cli.root / "seeds").glob(".*")) == [] if (cli.root / "seeds").exists() else True


def test_windows_1252_page_without_charset_header(cli, serve):
    url = serve("/mini-suv", "auto-presse-cp1252.html", content_type="text/html")
    assert cli("url", url).exit_code == 0
    [note] = cli.notes()
    text = note.read_text(encoding="utf-8")
    assert "Käufer" in text and "übertrifft" in text
    assert "\ufffd" not in text and "Ã¼" not in text


def test_windows_1252_page_without_any_declaration_is_detected(cli, serve):
    raw = (GOLDEN.parent / "fixtures" / "pages" / "auto-presse-cp1252.html").read_bytes()
    undeclared = re.sub(rb"<meta[^>]*charset[^>]*>", b"", raw, flags=re.I)
    assert b"charset" not in undeclared.lower()
    url = serve("/undeclared", undeclared, content_type="text/html")
    assert cli("url", url).exit_code == 0
    text = cli.notes()[0].read_text(encoding="utf-8")
    assert "übertrifft" in text and "\ufffd" not in text


def test_title_with_quotes_colon_and_newline_round_trips(cli, serve):
    url = serve("/scaling", "made-tricky-title.html")
    assert cli("url", url).exit_code == 0
    [note] = cli.notes()
    text = note.read_text(encoding="utf-8")
    head = yaml.safe_load(text.split("---\n")[1])
    assert head["title"] == 'Scaling "Laws": a second look'
    assert head["author"] == 'Jane "JD" Doe'
    assert frontmatter.loads(text)["title"] == head["title"]
    assert note.name == "2024-03-05-janejddoe-scaling-laws-a-second-look.md"


def test_dry_run_prints_the_note_and_touches_nothing(cli, serve):
    url = serve("/a", "v8-blog.html")
    result = cli("url", "--dry-run", url)
    assert result.exit_code == 0
    assert result.stdout.startswith("---\ntype: source\n")
    assert "would create seeds/2019-11-21-" in result.stderr
    assert cli.notes() == []
    assert not (cli.root / "state" / "ledger.db").exists()
    # with an existing ledger: no row is added or changed
    cli("url", serve("/b", "ebb-org.html"))
    before = ledger_rows(cli.root, "SELECT * FROM items"), ledger_rows(cli.root, "SELECT * FROM fetches")
    assert cli("url", "--dry-run", url).exit_code == 0
    after = ledger_rows(cli.root, "SELECT * FROM items"), ledger_rows(cli.root, "SELECT * FROM fetches")
    assert before == after
    assert len(cli.notes()) == 1


def test_json_lines(cli, serve):
    good = serve("/a", "v8-blog.html")
    bad = serve("/gone", b"", status=410)
    result = cli("url", "--json", good, bad, good)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    name = cli.notes()[0].name
    assert lines == [
        {"url": good, "status": "created", "path": f"seeds/{name}", "error": None},
        {"url": bad, "status": "failed", "path": None, "error": "HTTP 410 Gone"},
        {"url": good, "status": "duplicate", "path": f"seeds/{name}", "error": None},
    ]
    assert result.exit_code == 1


def test_urls_from_a_file_and_from_stdin(cli, serve):
    a, b = serve("/a", "v8-blog.html"), serve("/b", "ebb-org.html")
    (cli.root / "urls.txt").write_text(f"# my reading list\n{a}\n\n{b}\n")
    result = cli("url", "-i", "urls.txt")
    assert result.exit_code == 0 and result.output.count("created") == 2
    from_stdin = cli("url", "-i", "-", input=f"{a}\n")
    assert from_stdin.output.startswith(f"duplicate {a}")


def test_output_option_overrides_output_dir(cli, serve):
    url = serve("/a", "v8-blog.html")
    result = cli("url", "--output", "elsewhere", url)
    assert result.exit_code == 0
    assert len(list((cli.root / "elsewhere").glob("*.md"))) == 1
    assert cli.notes() == []


def test_usage_and_config_errors_exit_2(cli, serve):
    assert cli("url").exit_code == 2
    (cli.root / "config" / "ingest.toml").write_text('output_dir = "x"\nshiny = true\n')
    result = cli("url", "https://example.org/a")
    assert result.exit_code == 2
    assert "ingest.toml: unknown key 'shiny'" in result.stderr
    (cli.root / "config" / "ingest.toml").write_text('output_dir = "x\n')
    result = cli("url", "https://example.org/a")
    assert result.exit_code == 2 and "not valid TOML" in result.stderr
    assert cli("--config", "nowhere.toml", "url", "https://example.org/a").exit_code == 2


def test_bad_urls_fail_one_by_one(cli, serve):
    good = serve("/a", "v8-blog.html")
    result = cli("url", "javascript:alert(1)", "file:///etc/passwd", "https://", good)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "failed javascript:alert(1): unsupported URL scheme 'javascript:'; only http:// and https:// pages are fetched"
    assert lines[1].startswith("failed file:///etc/passwd: unsupported URL scheme 'file:'")
    assert lines[2].startswith("failed https://: URL has no host")
    assert lines[3].startswith("created ")


def test_private_addresses_refused_by_default(cli, serve, httpserver):
    (cli.root / "config" / "ingest.toml").write_text('output_dir = "../seeds"\nledger = "../state/ledger.db"\n')
    url = serve("/a", "v8-blog.html")
    result = cli("url", url)
    assert result.exit_code == 1 and "allow_private_networks" in result.output
    assert len(httpserver.log) == 0


def test_status_lists_recent_items(cli, serve):
    good, bad = serve("/a", "v8-blog.html"), serve("/x", b"", status=404)
    cli("url", good, bad)
    out = sorted(cli("status").output.splitlines(), key=lambda line: " failed " in line)
    assert len(out) == 2
    assert " created " in out[0] and good in out[0] and "seeds/2019-11-21-" in out[0]
    assert " failed " in out[1] and bad in out[1] and "HTTP 404" in out[1]


def test_archive_notes_are_duplicates_without_fetch(cli, serve, httpserver):
    url = serve("/archived", "v8-blog.html")
    archive = cli.root / "vault"
    (archive / "sub").mkdir(parents=True)
    (archive / "sub" / "renamed-by-curator.md").write_text(f'---\ntype: evidence\nsource: "{url}"\ndate: 2026-00-00\n---\nBody\n')
    (archive / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    cfg = cli.root / "config" / "ingest.toml"
    cfg.write_text(cfg.read_text() + 'archive_dir = "../vault"\n')
    result = cli("url", url)
    assert result.exit_code == 0
    assert result.stdout == f"duplicate {url} (archived as vault/sub/renamed-by-curator.md)\n"
    assert "skipped malformed note" in result.stderr and "broken.md" in result.stderr
    assert len(httpserver.log) == 0
    # the curator moves the note: still a duplicate, found at its new place
    (archive / "sub" / "renamed-by-curator.md").rename(archive / "moved.md")
    assert cli("url", url).stdout == f"duplicate {url} (archived as vault/moved.md)\n"


def test_ledger_records_aliases_and_fetch_attempts(cli, serve, httpserver):
    serve("/target", "v8-blog.html")
    serve("/r", b"", status=301, headers={"Location": "/target"})
    cli("url", httpserver.url_for("/r") + "?utm_medium=email")
    [(url, outcome, path, _)] = ledger_rows(cli.root)
    assert outcome == "created" and path.endswith(".md")
    keys = {k for (k,) in ledger_rows(cli.root, "SELECT key FROM aliases")}
    assert {k.split("/", 1)[1] for k in keys} == {"r", "target"}
    [(final, canonical, content_hash)] = ledger_rows(cli.root, "SELECT final_url, canonical_url, content_hash FROM items")
    assert final == httpserver.url_for("/target") and len(content_hash) == 64


def test_identical_text_detection_can_be_turned_off(cli, serve, httpserver, monkeypatch):
    monkeypatch.setenv("INGEST_DEDUPE_TEXT", "false")
    serve("/one", "ebb-org.html")
    serve("/mirror/two", "ebb-org.html")
    assert cli("url", httpserver.url_for("/one")).output.startswith("created")
    assert cli("url", httpserver.url_for("/mirror/two")).output.startswith("created")
    assert len(cli.notes()) == 2


def unprocessed(notes) -> list[str]:
    """The notes that downstream jobs take as new work: `grep -l '^status: unprocessed'`."""
    return sorted(p.name for p in notes if re.search(r"^status: unprocessed$", p.read_text(encoding="utf-8"), re.M))


def test_a_forced_copy_of_a_known_note_is_written_beside_it_and_is_not_new_work(cli, serve):
    url = serve("/a", "v8-blog.html")
    cli("url", url)
    [note] = cli.notes()
    twin = note.with_name(note.name.removesuffix(".md") + ".reextracted.md")
    result = cli("url", "--force", url)
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"created seeds/{twin.name} (a second version of {note.name} to compare, "
                             "status: reextracted: not new work)\n")
    assert frontmatter.load(twin)["status"] == "reextracted"
    assert frontmatter.load(twin)["url"] == frontmatter.load(note)["url"] == url
    assert unprocessed(cli.notes()) == [note.name]
    # a second forced copy: beside it too, and no more new work
    again = cli("url", "--force", url + "?utm_source=x")
    assert again.stdout.startswith(f"created seeds/{twin.name.removesuffix('.md')}-2.md (a second version of")
    assert unprocessed(cli.notes()) == [note.name] and len(cli.notes()) == 3
    # and a dry run says the same
    dry = cli("url", "--force", "--dry-run", url)
    assert "status: reextracted" in dry.stdout and "status: unprocessed" not in dry.stdout
    assert cli("url", url).stdout == f"duplicate {url} (archived as seeds/{note.name})\n"


def test_a_forced_copy_reached_through_a_redirect_is_not_new_work_either(cli, serve, httpserver):
    serve("/posts/real", "v8-blog.html")
    serve("/short", b"", status=301, headers={"Location": "/posts/real"})
    cli("url", httpserver.url_for("/posts/real"))
    [note] = cli.notes()
    result = cli("url", "--force", httpserver.url_for("/short"))
    assert result.stdout.startswith(f"created seeds/{note.name.removesuffix('.md')}.reextracted.md")
    assert unprocessed(cli.notes()) == [note.name]


def test_a_forced_fetch_of_a_url_without_a_note_is_new_work(cli, serve):
    fresh = serve("/fresh", "v8-blog.html")
    result = cli("url", "--force", fresh)
    [note] = cli.notes()
    assert result.stdout == f"created seeds/{note.name}\n"
    assert unprocessed(cli.notes()) == [note.name]
    note.unlink()  # deleted: a forced fetch makes the note again, as new work
    restored = cli("url", "--force", fresh)
    assert restored.stdout == f"created seeds/{note.name}\n" and unprocessed(cli.notes()) == [note.name]


def test_a_duplicate_of_a_deleted_note_says_it_is_missing(cli, serve):
    url = serve("/a", "v8-blog.html")
    cli("url", url)
    [note] = cli.notes()
    note.unlink()
    result = cli("url", url)
    assert result.exit_code == 0
    assert result.stdout == (f"duplicate {url} (archived as seeds/{note.name}, now missing; "
                             f"`ingest forget {url}` to ingest it again)\n")
    [record] = [json.loads(line) for line in cli("url", "--json", url).stdout.splitlines()]
    assert record["status"] == "duplicate" and record["path"] == f"seeds/{note.name}"
    assert record["error"] == f"the note is missing; `ingest forget {url}` to ingest it again"


def test_a_dry_run_of_a_batch_works_like_a_dry_run_of_one_url(cli, serve, httpserver):
    # issue 15.9: the in-memory dry-run ledger was one per thread (empty), or refused other threads
    from conftest import article

    urls = [serve(f"/p{n}", article(n)) for n in range(10)]
    (cli.root / "urls.txt").write_text("\n".join(urls) + "\n")
    for args in (urls, ["-i", "urls.txt"]):
        result = cli("url", "--dry-run", *args)
        assert result.exit_code == 0, result.output
        assert result.stderr.count("dry run: would create seeds/") == 10, result.stderr
        assert result.stdout.count("---\ntype: source\n") == 10
        assert "cannot read" not in result.stderr
        assert cli.notes() == []
        assert not (cli.root / "state").exists()  # no ledger made
    # with an existing ledger: it is read, never changed
    cli("url", urls[0])
    before = (cli.root / "state" / "ledger.db").read_bytes()
    result = cli("url", "--dry-run", "-i", "urls.txt")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"duplicate {urls[0]}")
    assert result.stderr.count("dry run: would create seeds/") == 9
    assert (cli.root / "state" / "ledger.db").read_bytes() == before
    assert len(cli.notes()) == 1
