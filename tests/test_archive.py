"""ingest.archive.scan_archive over real folders of notes: which URLs the curators already archive."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ingest.archive import read_note_url, scan_archive
from ingest.urls import url_key

FIXTURES = Path(__file__).parent / "fixtures" / "archive"


def _note(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _state(scan) -> dict[str, tuple[int, int]]:
    return {row.path: (row.mtime_ns, row.size) for row in scan.changed}


def _keys(scan) -> dict[str, str | None]:
    return {Path(row.path).name: row.url_key for row in scan.changed}


@pytest.fixture
def vault(tmp_path) -> Path:
    folder = tmp_path / "archive"
    _note(folder, "url-field.md",
          '---\ntype: source\ntitle: "A"\nurl: https://www.example.org/posts/a?utm_source=x\ndate: 2025-05-29\n---\n\nbody\n')
    _note(folder, "source-field.md",
          '---\ntype: evidence\nsource: "https://x.com/someone/status/123"\ndate: 2026-02-25\n---\n\nbody\n')
    _note(folder, "source-not-url.md",
          "---\ntype: source\nsource: Noahopinion (Substack)\ndate: 2026-03-06\n---\n\nbody\n")
    _note(folder, "odd-dates.md",
          "---\ntitle: Old book\nurl: https://en.wikipedia.org/wiki/Bowling_Alone\ndate: 2026-00-00\n"
          "date_published: 1999-13-45\nprocessed_date: 2026-02-30\n---\n\nbody\n")
    _note(folder, "malformed.md",
          '---\ntitle: "unclosed\nurl: https://example.org/broken\ntags: [a, b\n---\n\nbody\n')
    _note(folder, "latin1.md", "---\nurl: https://example.org/caf\xe9\ntitle: caf\xe9\n---\n".encode("latin-1"))
    _note(folder, "README.md", "# Archive\n\nNotes by hand. See https://example.org/not-a-note\n")
    _note(folder, "sub/dir/nested.md", "---\nlink: https://blog.example.net/nested/\n---\n")
    return folder


def test_first_scan_reads_every_note(vault):
    scan = scan_archive([vault], {})
    assert scan.removed == []
    assert _keys(scan) == {
        "url-field.md": "example.org/posts/a",
        "source-field.md": "x.com/someone/status/123",
        "source-not-url.md": None,
        "odd-dates.md": "en.wikipedia.org/wiki/Bowling_Alone",
        "malformed.md": None,
        "latin1.md": None,
        "README.md": None,
        "nested.md": "blog.example.net/nested",
    }
    for row in scan.changed:
        path = Path(row.path)
        assert path.is_absolute() and path.is_file()
        stat = path.stat()
        assert (row.mtime_ns, row.size) == (stat.st_mtime_ns, stat.st_size)


def test_keys_match_the_keys_of_later_urls(vault):
    keys = set(_keys(scan_archive([vault], {})).values())
    assert url_key("http://example.org/posts/a/#comments") in keys
    assert url_key("https://en.wikipedia.org/wiki/Bowling_Alone") in keys


def test_problems_are_reported_not_fatal(vault):
    scan = scan_archive([vault], {})
    errors = {Path(row.path).name: row.error for row in scan.changed}
    assert errors["malformed.md"] and "not valid YAML" in errors["malformed.md"]
    assert errors["latin1.md"] == "not UTF-8 text"
    assert {name for name, err in errors.items() if err} == {"malformed.md", "latin1.md"}
    assert len(scan.problems) == 2
    assert any(str(vault / "malformed.md") in p for p in scan.problems)
    assert any(str(vault / "latin1.md") in p and "UTF-8" in p for p in scan.problems)
    assert all(p.startswith("skipped malformed note ") for p in scan.problems)


def test_second_scan_with_state_reads_nothing(vault):
    first = scan_archive([vault], {})
    second = scan_archive([vault], _state(first))
    assert second.changed == []
    assert second.removed == []
    assert second.problems == []  # unchanged malformed notes are not re-reported


def test_changed_note_is_read_again(vault):
    first = scan_archive([vault], {})
    note = vault / "source-not-url.md"
    note.write_text("---\nsource: https://www.noahpinion.blog/p/ai-weapons\n---\n\nnow with a URL\n")
    os.utime(note, ns=(1, 1))
    second = scan_archive([vault], _state(first))
    assert [Path(r.path).name for r in second.changed] == ["source-not-url.md"]
    assert second.changed[0].url_key == "noahpinion.blog/p/ai-weapons"
    assert second.removed == []


def test_removed_note_is_reported(vault):
    state = _state(scan_archive([vault], {}))
    (vault / "url-field.md").unlink()
    scan = scan_archive([vault], state)
    assert scan.removed == [str(vault / "url-field.md")]
    assert scan.changed == []


def test_renamed_note_is_seen_under_its_new_path(vault):
    state = _state(scan_archive([vault], {}))
    old, new = vault / "url-field.md", vault / "2025-05-29-example-a.md"
    old.rename(new)
    scan = scan_archive([vault], state)
    assert scan.removed == [str(old)]
    assert [(r.path, r.url_key) for r in scan.changed] == [(str(new), "example.org/posts/a")]


def test_hidden_folders_dotfiles_and_other_extensions_are_skipped(tmp_path):
    folder = tmp_path / "vault"
    _note(folder, ".obsidian/plugin.md", "---\nurl: https://hidden.example/a\n---\n")
    _note(folder, ".ingest-tmp-abc.md", "---\nurl: https://tmp.example/a\n---\n")
    _note(folder, "note.txt", "---\nurl: https://txt.example/a\n---\n")
    _note(folder, "real.md", "---\nurl: https://real.example/a\n---\n")
    scan = scan_archive([folder], {})
    assert [(Path(r.path).name, r.url_key) for r in scan.changed] == [("real.md", "real.example/a")]


def test_several_folders_and_a_missing_one(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _note(a, "one.md", "---\nurl: https://one.example/x\n---\n")
    _note(b, "two.md", "---\nsource: https://two.example/y\n---\n")
    scan = scan_archive([a, b, tmp_path / "missing"], {})
    assert sorted(r.url_key for r in scan.changed) == ["one.example/x", "two.example/y"]
    # the state of one folder does not make the other's notes look removed... but a folder
    # dropped from the list does
    again = scan_archive([a], _state(scan))
    assert again.removed == [str(b / "two.md")]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("---\nurl: https://a.example/x\n---\n", "https://a.example/x"),
        ("---\nurl: '  https://a.example/x  '\n---\n", "https://a.example/x"),
        ("---\nURL: https://a.example/x\n---\n", None),  # field names are case-sensitive
        ("---\nsource: TIME\nurl: https://time.com/7380854/x/\n---\n", "https://time.com/7380854/x/"),
        ("---\nsource:\n---\n", None),
        ("---\nsource_url: http://a.example/y\n---\n", "http://a.example/y"),
        ("---\nurl: ftp://a.example/x\n---\n", None),
        ("---\nurl: [https://a.example/x]\n---\n", None),
        ("---\r\nurl: https://crlf.example/x\r\ntitle: t\r\n---\r\nbody\r\n", "https://crlf.example/x"),
        ("no frontmatter\n", None),
        ("\ufeff---\nurl: https://bom.example/x\n---\n", "https://bom.example/x"),  # saved with a BOM
    ],
)
def test_read_note_url(tmp_path, text, url):
    path = _note(tmp_path, "n.md", text)
    found, problem = read_note_url(path)
    assert found == url
    assert problem is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("---\n- a\n- b\n---\n", "not a mapping"),
        ("---\nurl: https://a.example/x\n", "not valid YAML"),  # never closed
        ("---\nurl: [a\n---\n", "not valid YAML"),
    ],
)
def test_read_note_url_problems(tmp_path, text, why):
    found, problem = read_note_url(_note(tmp_path, "n.md", text))
    assert found is None
    assert why in problem


def test_real_archive_notes(tmp_path):
    """Three notes from the real kb-archive, one with the older `source:` field."""
    folder = tmp_path / "kb"
    shutil.copytree(FIXTURES, folder)
    scan = scan_archive([folder], {})
    assert scan.problems == []
    assert _keys(scan) == {
        "2012-00-00-kahan-identity-protective-cognition.md": "doi.org/10.1038/nclimate1547",
        "2025-03-05-futardio-proposal-proposal-3.md": "futard.io/proposal/HCHkdhiPh2q9LTyvUpfyfuybPHW7qg1T2vGtiJzGPrsG",
        "2026-02-25-oxranga-solomon-lab-notes-05.md": "x.com/oxranga/status/2026473749193658738",
    }
    assert scan_archive([folder], _state(scan)).changed == []
