"""ingest.writer: notes with exact bytes, -2/-3 suffixes, never clobbered; the sources file, the model
and snapshots replaced whole or not at all; no temporary file left, whatever fails."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError, WriteError
from ingest.learn import save_model
from ingest.learned_model import Model
from ingest.records import Source
from ingest.render import note_filename
from ingest.snapshots import SnapshotStore
from ingest.sources import add_source, set_source_url
from ingest.writer import MAX_SUFFIX, TEMP_PREFIX, write_atomic, write_note

NAME = "2025-05-29-anthropic-open-sourcing-circuit-tracing-tools.md"
TEXT = '---\ntype: source\ntitle: "Ünïcödé — 日本語"\n---\n\n## Content\n\nline one\nline two\n'

needs_permissions = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions"
)


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def test_creates_file_with_exact_content(tmp_path):
    path = write_note(tmp_path, NAME, TEXT)
    assert path == tmp_path / NAME
    assert path.read_bytes() == TEXT.encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_newlines_are_written_as_is(tmp_path):
    text = "a\nb\n\nc"
    path = write_note(tmp_path, "x.md", text)
    assert path.read_bytes() == b"a\nb\n\nc"


def test_taken_names_get_numbered_suffixes(tmp_path):
    first = write_note(tmp_path, NAME, "one\n")
    second = write_note(tmp_path, NAME, "two\n")
    third = write_note(tmp_path, NAME, "three\n")
    stem = NAME.removesuffix(".md")
    assert [first.name, second.name, third.name] == [NAME, f"{stem}-2.md", f"{stem}-3.md"]
    assert first.read_text() == "one\n"
    assert second.read_text() == "two\n"
    assert third.read_text() == "three\n"
    assert _temps(tmp_path) == []


def test_existing_file_is_never_changed(tmp_path):
    curated = tmp_path / NAME
    original = b"---\nstatus: processing\n---\ncurator's edits \xe2\x9c\x8d\n"
    curated.write_bytes(original)
    os.utime(curated, ns=(1_000_000_000, 1_000_000_000))
    before = curated.stat()
    path = write_note(tmp_path, NAME, TEXT)
    assert path != curated
    assert path.name.endswith("-2.md")
    assert curated.read_bytes() == original
    after = curated.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)
    assert path.read_text(encoding="utf-8") == TEXT


def test_gap_in_suffixes_is_filled_without_touching_others(tmp_path):
    stem = NAME.removesuffix(".md")
    (tmp_path / NAME).write_text("first")
    (tmp_path / f"{stem}-3.md").write_text("third")
    path = write_note(tmp_path, NAME, "new")
    assert path.name == f"{stem}-2.md"
    assert (tmp_path / NAME).read_text() == "first"
    assert (tmp_path / f"{stem}-3.md").read_text() == "third"


def test_a_symlink_at_the_name_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / NAME).symlink_to(target)
    path = write_note(tmp_path / "out", NAME, TEXT)
    assert path.name.endswith("-2.md")
    assert target.read_text() == "keep me"


def test_missing_output_folder_is_created(tmp_path):
    folder = tmp_path / "vault" / "inbox" / "seeds"
    path = write_note(folder, NAME, TEXT)
    assert folder.is_dir()
    assert path.read_text(encoding="utf-8") == TEXT


def test_no_temp_file_left_after_success(tmp_path):
    for _ in range(5):
        write_note(tmp_path, NAME, TEXT)
    assert _temps(tmp_path) == []
    assert len(list(tmp_path.iterdir())) == 5


def test_no_temp_file_left_when_every_name_is_taken(tmp_path):
    stem = "x"
    (tmp_path / "x.md").write_text("0")
    for n in range(2, MAX_SUFFIX):
        (tmp_path / f"{stem}-{n}.md").write_text(str(n))
    with pytest.raises(WriteError, match="already have this name") as info:
        write_note(tmp_path, "x.md", "new")
    assert str(tmp_path / "x.md") in str(info.value)
    assert _temps(tmp_path) == []
    assert (tmp_path / "x.md").read_text() == "0"


def test_no_temp_file_left_when_link_fails(tmp_path):
    # a name longer than the file system allows: the link fails after the temp is written
    with pytest.raises(WriteError, match="cannot write"):
        write_note(tmp_path, "x" * 300 + ".md", TEXT)
    assert _temps(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_unencodable_text_is_a_write_error_and_leaves_nothing(tmp_path):
    # a lone surrogate cannot be encoded as UTF-8
    with pytest.raises(WriteError, match="not valid Unicode"):
        write_note(tmp_path, NAME, "bad \udc80 text")
    assert list(tmp_path.iterdir()) == []


@needs_permissions
def test_read_only_folder_is_a_clear_write_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(WriteError) as info:
            write_note(folder, NAME, TEXT)
        message = str(info.value)
        assert str(folder) in message
        assert "not writable" in message
        assert "permission" in message.lower()
        assert info.value.code == "write"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


@needs_permissions
def test_output_folder_that_cannot_be_created_is_a_clear_write_error(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="cannot be created") as info:
            write_note(parent / "seeds", NAME, TEXT)
        assert str(parent / "seeds") in str(info.value)
        assert "output_dir" in str(info.value)
    finally:
        parent.chmod(0o700)


def test_many_threads_writing_one_name_get_distinct_files(tmp_path):
    workers = 24
    barrier = threading.Barrier(workers)
    results: dict[int, object] = {}

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = write_note(tmp_path, NAME, f"writer {i}\n")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    errors = [r for r in results.values() if isinstance(r, BaseException)]
    assert errors == []
    paths = list(results.values())
    assert len(paths) == workers
    assert len(set(paths)) == workers
    stem = NAME.removesuffix(".md")
    assert {p.name for p in paths} == {NAME} | {f"{stem}-{n}.md" for n in range(2, workers + 1)}
    # each file holds exactly what its own writer wrote
    for i, path in results.items():
        assert path.read_text() == f"writer {i}\n"
    assert _temps(tmp_path) == []


# -- properties: any title, author and date → one file, inside the folder, never over another --

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
# hostile names, and a handful of plain ones so that notes collide on one file name
_FIELD = st.one_of(
    st.sampled_from(["", "Jane Doe", "Hello", "../..", "/etc/passwd", "..\\..\\x", "\x00", "a\x1fb", ".hidden",
                     "שלום עולם", "\u202eevil.exe", "x" * 600, "日本語"]),
    _TEXT,
    st.lists(st.sampled_from(["/", "\\", "..", ".", "\x00", "\n", "\u202e", "مرحبا", "a", " "]), max_size=10).map("".join),
)  # fmt: skip
_DAY = st.one_of(st.sampled_from(["2025-05-29", "2025-05-29", "", "..", "2025/05/29", "../x", "\x00"]), _TEXT)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().parent == folder.resolve()


@settings(max_examples=60, deadline=None)
@given(day=_DAY, author=_FIELD, title=_FIELD, url=st.one_of(st.just(""), _TEXT))
def test_any_note_is_written_as_one_file_inside_the_folder(day, author, title, url):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seeds"
        name = note_filename(day, author, title, url)
        path = write_note(folder, name, TEXT)
        assert path.name == name
        assert _inside(path, folder)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["seeds"]  # nothing beside the folder
        assert [p.name for p in folder.iterdir()] == [name]
        assert path.read_bytes() == TEXT.encode("utf-8")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_DAY, _FIELD, _FIELD), min_size=2, max_size=12))
def test_colliding_names_never_overwrite_a_note(notes):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = {}
        for i, (day, author, title) in enumerate(notes):
            text = f"note {i}: {title!r}\n"
            path = write_note(folder, note_filename(day, author, title), text)
            assert _inside(path, folder)
            assert path not in written
            written[path] = text
        assert len(written) == len(notes)  # all distinct files
        assert sorted(folder.iterdir()) == sorted(written)  # and nothing else, no temp file
        for path, text in written.items():
            assert path.read_text(encoding="utf-8") == text  # each with its own content


@pytest.mark.parametrize("name", ["../escape.md", "../seeds/../escape.md", "", ".", "..", "x\x00.md", "ABS"])
def test_a_name_that_is_not_one_path_component_is_refused(tmp_path, name):
    folder = tmp_path / "seeds"
    folder.mkdir()
    if name == "ABS":
        name = str(tmp_path / "escape.md")
    with pytest.raises(WriteError):
        write_note(folder, name, TEXT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seeds"]
    assert list(folder.iterdir()) == []


# ---- the one atomic writer, used by notes, the sources file, the model and snapshots --------------


def _fail(name: str):
    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, f"{name}: No space left on device")

    return fail


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failing_model_save_leaves_the_old_model_and_no_temporary_file(tmp_path, monkeypatch, step):
    path = tmp_path / "model.json"
    save_model(Model(), path)
    before = path.read_bytes()
    monkeypatch.setattr(os, step, _fail(step))
    with pytest.raises(OSError):
        save_model(Model(source="another archive"), path)
    monkeypatch.undo()
    assert sorted(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == before


def test_a_model_that_cannot_replace_a_folder_leaves_no_temporary_file(tmp_path):
    (tmp_path / "model.json").mkdir()
    with pytest.raises(OSError):
        save_model(Model(), tmp_path / "model.json")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_the_model_gets_the_permissions_of_any_new_file(tmp_path):
    save_model(Model(), tmp_path / "model.json")
    (tmp_path / "plain").write_text("")
    assert (tmp_path / "model.json").stat().st_mode == (tmp_path / "plain").stat().st_mode


SOURCES = '# my sources\n[[source]]\nname = "a"\nurl = "https://a.org/feed"   # first\n'


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_the_sources_file_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch, step):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    monkeypatch.setattr(os, step, _fail(step))
    with pytest.raises(ConfigError, match="sources.toml: cannot be written"):  # one line, not a traceback
        add_source(path, Source(name="b", url="https://b.org/feed"))
    with pytest.raises(ConfigError, match="sources.toml: cannot be written"):
        set_source_url(path, "a", "https://a.org/rss")
    monkeypatch.undo()
    assert sorted(tmp_path.iterdir()) == [path]
    assert path.read_text() == SOURCES


def test_an_edited_sources_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    path.chmod(0o640)
    add_source(path, Source(name="b", url="https://b.org/feed"))
    assert path.stat().st_mode & 0o7777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["sources.toml"]


def test_a_failing_snapshot_leaves_no_temporary_file(tmp_path, monkeypatch):
    store = SnapshotStore(tmp_path / "snapshots")
    monkeypatch.setattr(os, "fsync", _fail("fsync"))
    with pytest.raises(WriteError, match="cannot keep a snapshot"):
        store.put(b"<html>body</html>")
    monkeypatch.undo()
    assert [p for p in (tmp_path / "snapshots").rglob("*") if p.is_file()] == []
    digest = store.put(b"<html>body</html>")
    assert store.get(digest) == b"<html>body</html>"


def test_write_atomic_replaces_and_creates(tmp_path):
    path = tmp_path / "deep" / "file.txt"
    write_atomic(path, "one\r\n")
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]
