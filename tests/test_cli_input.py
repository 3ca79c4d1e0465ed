"""What a person types at the command line: URLs without a scheme, `-i` files with comments, a
byte-order mark or a byte that is not UTF-8, numbers out of range, paths that cannot be used.
Each is either read as meant or refused with one line and exit 2, never a traceback."""

from __future__ import annotations

import os
import ssl
import tomllib
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from conftest import FIXTURES, article, requests_to
from ingest.cli.typed import read_url_lines, typed_url

SELF_SIGNED = FIXTURES / "bad" / "self-signed.pem"  # certificate and key for 127.0.0.1


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("ingest: "), line
    return line


# ---- a URL typed without its scheme is https:// ----------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("example.org/post", "https://example.org/post"),
        ("  www.example.org  ", "https://www.example.org"),
        ("example.org", "https://example.org"),
        ("Example.ORG/Post?id=3#part", "https://Example.ORG/Post?id=3#part"),
        ("example.org:8443/post", "https://example.org:8443/post"),
        ("127.0.0.1:8080/post", "https://127.0.0.1:8080/post"),
        ("localhost:8080", "https://localhost:8080"),
        ("[::1]:8080/post", "https://[::1]:8080/post"),
        ("bücher.example/post", "https://bücher.example/post"),
        # already a URL, or something else altogether: left for the URL check to accept or refuse
        ("http://example.org/post", "http://example.org/post"),
        ("https://example.org/post", "https://example.org/post"),
        ("doi:10.1000/xyz123", "doi:10.1000/xyz123"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("mailto:curator@example.org", "mailto:curator@example.org"),
        ("//example.org/post", "//example.org/post"),
        ("10.1000/xyz123", "10.1000/xyz123"),  # a DOI without its doi: is not a host
        ("posts/1", "posts/1"),
        ("user@example.org/post", "user@example.org/post"),
        ("example.org:port/post", "example.org:port/post"),
        ("exa mple.org/post", "exa mple.org/post"),
    ],
)
def test_typed_url(typed, meant):
    assert typed_url(typed) == meant


def test_url_without_a_scheme_is_fetched_as_https(cli, monkeypatch):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(SELF_SIGNED)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/post").respond_with_data(article(1), content_type="text/html; charset=utf-8")
    server.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(SELF_SIGNED))  # trust the test's certificate
    try:
        result = cli("url", f"127.0.0.1:{server.port}/post")
    finally:
        server.clear()
        server.stop()
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    assert result.output == f"created seeds/{note.name}\n"
    assert f"url: https://127.0.0.1:{server.port}/post\n" in note.read_text(encoding="utf-8")


def test_url_without_a_scheme_meets_the_item_already_archived(cli, serve, httpserver):
    url = serve("/post", article(2))
    assert cli("url", url).exit_code == 0
    typed = url.removeprefix("http://")
    again = cli("url", typed)
    assert again.exit_code == 0, again.output
    assert again.output.startswith(f"duplicate https://{typed} (archived as seeds/")
    assert requests_to(httpserver, "/post") == 1


def test_sources_add_takes_an_address_without_a_scheme(cli):
    result = cli("sources", "add", "example.org/feed.xml", "--kind", "feed", "--name", "example")
    assert result.exit_code == 0, result.output
    [source] = tomllib.loads((cli.root / "config" / "sources.toml").read_text())["source"]
    assert source["url"] == "https://example.org/feed.xml"


# ---- -i: comments, a byte-order mark, bytes that are not UTF-8 ----------------------------------------


def test_read_url_lines_drops_comments_but_keeps_fragments():
    lines = [
        "# my reading list",
        "   ",
        "https://example.org/a#section-2   # from the newsletter",
        "example.org/b\t# typed by hand",
        "  # indented comment",
        "https://example.org/c#",
        "https://example.org/d#frag#more",
    ]
    assert read_url_lines("\n".join(lines).encode(), "list.txt") == [
        "https://example.org/a#section-2",
        "https://example.org/b",
        "https://example.org/c#",
        "https://example.org/d#frag#more",
    ]


def test_input_file_lines_may_carry_a_comment(cli, serve, httpserver):
    a, b = serve("/a", article(3)), serve("/b", article(4))
    (cli.root / "list.txt").write_text(f"# to read\n{a}  # from the newsletter\n\n{b}\t# and this one\n")
    result = cli("url", "-i", "list.txt")
    assert result.exit_code == 0, result.output
    assert len(cli.notes()) == 2
    assert requests_to(httpserver, "/a") == requests_to(httpserver, "/b") == 1


def test_input_file_with_a_byte_order_mark(cli, serve):
    a, b = serve("/a", article(5)), serve("/b", article(6))
    (cli.root / "list.txt").write_bytes(b"\xef\xbb\xbf" + f"{a}\r\n{b}\r\n".encode())
    result = cli("url", "-i", "list.txt")
    assert result.exit_code == 0, result.output
    assert len(cli.notes()) == 2


def test_standard_input_with_a_byte_order_mark(cli, serve):
    a = serve("/a", article(7))
    result = cli("url", "-i", "-", input="\ufeff" + a + "  # piped\n")
    assert result.exit_code == 0, result.output
    assert len(cli.notes()) == 1


def test_input_file_that_is_not_utf8_names_the_file_and_the_line(cli, serve, httpserver):
    a = serve("/a", article(8))
    (cli.root / "list.txt").write_bytes(f"{a}\n# notes\n{a}/caf\xe9\n".encode("latin-1"))
    line = one_line_error(cli("url", "-i", "list.txt"))
    assert line == ("ingest: list.txt line 3: not UTF-8 text (byte 0xe9 at column "
                    f"{len(a) + 5}); save the file as UTF-8")
    assert len(httpserver.log) == 0
    assert cli.notes() == []


# ---- numbers and paths given on the command line ------------------------------------------------------


def test_status_limit_is_bounded(cli):
    result = cli("status", "-n", "99999999999999999999999")
    assert result.exit_code == 2
    assert "Invalid value for '-n' / '--limit'" in result.output
    assert "1<=x<=100000" in result.output
    assert cli("status", "-n", "0").exit_code == 2
    assert cli("status", "-n", "100000").exit_code == 0


def test_export_opml_to_a_folder_that_does_not_exist(cli, tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "x.opml"
    line = one_line_error(cli("sources", "export-opml", str(target)))
    assert line == f"ingest: {target}: cannot be written (No such file or directory); give a file in an existing folder"
    assert not target.parent.exists()


def test_export_opml_to_a_path_through_a_file(cli):
    (cli.root / "file.txt").write_text("a file\n")
    line = one_line_error(cli("sources", "export-opml", "file.txt/x.opml"))
    assert "file.txt/x.opml: cannot be written (Not a directory)" in line
    assert (cli.root / "file.txt").read_text() == "a file\n"


def test_export_opml_leaves_no_partial_file(cli):
    (cli.root / "out.opml").write_text("old export\n")
    result = cli("sources", "export-opml", "out.opml")
    assert result.exit_code == 0
    assert (cli.root / "out.opml").read_text().startswith("<?xml")
    assert [p.name for p in cli.root.iterdir() if p.name.startswith(".out.opml")] == []


LONG = "n" * 300  # longer than any file name may be: the system refuses to look, even for root


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["url", "-o", LONG, "http://127.0.0.1:9/x"],
         f"folder {{root}}/{LONG} cannot be opened (File name too long); check the 'output_dir' setting or --output"),
        (["--config", LONG, "status"], f"{LONG}: cannot be read (File name too long)"),
        (["learn", LONG], f"folder {LONG} cannot be opened (File name too long)"),
    ],
    ids=["output", "config", "learn"],
)
def test_a_path_the_system_will_not_look_at_is_one_line(cli, args, says):
    line = one_line_error(cli(*args))
    assert says.format(root=cli.root) in line, line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may list any folder: the permission cannot bite")
def test_output_folder_whose_parent_cannot_be_listed(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        line = one_line_error(cli("url", "-o", str(locked / "notes"), "http://127.0.0.1:9/x"))
    finally:
        locked.chmod(0o700)
    assert f"folder {locked / 'notes'} cannot be opened (Permission denied)" in line


def test_archive_folder_the_system_will_not_look_at(cli):
    config = cli.root / "config" / "ingest.toml"
    config.write_text(config.read_text() + f'archive_dir = "{Path(LONG)}"\n')
    line = one_line_error(cli("url", "http://127.0.0.1:9/x"))
    assert f"folder {cli.root / 'config' / LONG} cannot be opened (File name too long)" in line
    assert "check the 'archive_dir' setting" in line


def test_a_template_saved_with_a_byte_order_mark_makes_notes_without_one(cli, serve):
    template = (Path(__file__).resolve().parent.parent / "templates" / "source-note.md.j2").read_bytes()
    (cli.root / "config" / "note.md.j2").write_bytes(b"\xef\xbb\xbf" + template)
    config = cli.root / "config" / "ingest.toml"
    config.write_text(config.read_text() + 'template = "note.md.j2"\n')
    result = cli("url", serve("/a", article(9)))
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    assert note.read_bytes().startswith(b"---\ntype: source\n")


def test_forget_and_reextract_take_an_address_without_a_scheme(cli, serve):
    url = serve("/posts/1", article(1))
    typed = url.removeprefix("http://")
    assert cli("url", url).exit_code == 0
    [note] = cli.notes()
    again = cli("reextract", typed)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("unchanged seeds/"), again.output
    note.unlink()
    forgot = cli("forget", typed)
    assert forgot.exit_code == 0, forgot.output
    assert forgot.stdout == f"forgot https://{typed} (note seeds/{note.name})\n"
