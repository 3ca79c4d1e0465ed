"""Atomic file writes: a new file is written beside its final name, fsynced, then put in place at
once (renamed over the old file, or hard-linked where no file is yet), so a reader never sees half
of it; notes are never written over an existing file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from .claim_owner import dead_here, host
from .errors import WriteError

TEMP_PREFIX = ".ingest-tmp-"
# .ingest-tmp-<pid>@<host>-<random>.md: the writer's name tells a restart whether it is still alive
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(?:(\d+)@(.+)-)?[^-]*\.md")
LEFTOVER_AGE = 3600.0  # a temporary file this old is a leftover whoever wrote it; no write takes that long
MAX_SUFFIX = 1000


class TempFile:
    """A new file in `folder`, for content on its way to a final name in the same folder (a rename
    or a link never crosses file systems). Used as a context manager: on leaving, the temporary
    name is removed whatever happened, unless `replace` has moved it to its final name.

    `perms` are the new file's permissions before the umask: 0o600 keeps it private until `write`
    sets `mode`; 0o666 gives what any new file of this user gets.
    """

    def __init__(self, folder: Path, *, prefix: str, suffix: str = ".tmp", perms: int = 0o600):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for _ in range(100):
            path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"  # no hyphen: see TEMP_NAME
            try:
                self._fd: int | None = os.open(path, flags, perms)  # OSError: the folder is not writable
            except FileExistsError:
                continue
            self.path = path
            self._placed = False
            return
        raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
        if not self._placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def write(self, content: str | bytes, *, mode: int | None = None) -> None:
        """All of `content` (str as UTF-8, line ends as they are), flushed to the disk."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        fd, self._fd = self._fd, None
        assert fd is not None, "a TempFile is written once"
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(self.path, mode)

    def replace(self, target: Path) -> None:
        """Put the file in place of `target` (or create it) in one step."""
        os.replace(self.path, target)
        self._placed = True
        _fsync_dir(target.parent)

    def link(self, target: Path) -> None:
        """Give the file the name `target` too; FileExistsError, never a replacement, when it is taken."""
        os.link(self.path, target)
        _fsync_dir(target.parent)


def write_atomic(path: Path, content: str | bytes, *, mode: int | None = None, perms: int = 0o600,
                 create_folder: bool = True) -> None:
    """Replace (or create) `path` with `content` in one step: a reader sees the old file or the new
    one, never half of one, and a failure leaves no temporary file behind. OSError on failure,
    also when the folder is missing and not `create_folder`."""
    if create_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    with TempFile(path.parent, prefix=f".{path.name}.", perms=perms) as temp:
        temp.write(content, mode=mode)
        temp.replace(path)


def write_note(folder: Path, filename: str, text: str) -> Path:
    """Write `text` as `folder/filename`, or `stem-2.md`, `stem-3.md`… when the name is taken.

    The bytes go to a temporary file in the same folder, are fsynced, then hard-linked to the
    final name: a link fails instead of replacing, so a curator's file is never clobbered even
    when two processes race for one name.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError(f"output folder {folder} is a file, not a folder; give --output a folder or fix the "
                         "'output_dir' setting") from None
    except OSError as exc:
        raise WriteError(f"output folder {folder} cannot be created ({exc.strerror}); "
                         "check the 'output_dir' setting") from None
    if not _one_component(filename):  # render makes safe names; this guards every other caller
        raise WriteError(f"refused note file name {filename!r}: it must be one plain file name inside {folder}")
    stem = filename.removesuffix(".md")
    with _note_file(folder, text) as temp:
        for n in range(1, MAX_SUFFIX):
            target = folder / (filename if n == 1 else f"{stem}-{n}.md")
            try:
                temp.link(target)
            except FileExistsError:
                continue
            except OSError as exc:
                raise WriteError(f"cannot write {target} ({exc.strerror})") from None
            return target
        raise WriteError(f"{folder / filename}: {MAX_SUFFIX} notes already have this name")


def replace_note(path: Path, text: str) -> None:
    """Put `text` in place of the note at `path` at once (temporary file, fsync, rename): a
    reader sees the old note or the new one, never a mix. Only for notes ingest may rewrite."""
    with _note_file(path.parent, text) as temp:
        try:
            temp.replace(path)
        except OSError as exc:
            raise WriteError(f"cannot rewrite {path} ({exc.strerror})") from None


def _one_component(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not name.startswith(".") and not any(
        c in name for c in ("/", "\\", "\x00"))


@contextlib.contextmanager
def _note_file(folder: Path, text: str) -> Iterator[TempFile]:
    """A temporary file holding `text`, readable by all and named after its writer (see leftovers);
    gone when the block ends unless the block replaced a note with it."""
    try:
        temp = TempFile(folder, prefix=f"{TEMP_PREFIX}{os.getpid()}@{host()}-", suffix=".md")
    except OSError as exc:
        raise WriteError(f"output folder {folder} is not writable ({exc.strerror}); "
                         "fix its permissions or choose another with --output") from None
    with temp:
        try:
            temp.write(text, mode=0o644)
        except UnicodeEncodeError as exc:  # a lone surrogate in the text
            raise WriteError(f"cannot write a note in {folder}: its text is not valid Unicode ({exc.reason})") from None
        except OSError as exc:
            hint = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            raise WriteError(f"cannot write a note in {folder} ({hint})") from None
        yield temp


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def leftovers(folder: Path) -> list[Path]:
    """The temporary files in `folder` that killed writers left: their writer has gone from this
    machine, or they are too old for any write still in progress."""
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except OSError:  # a folder that is missing or unreadable has no leftovers to speak of
        return []
    now = time.time()
    found = []
    for path in candidates:
        match = TEMP_NAME.fullmatch(path.name)
        owner = f"{match[2]}:{match[1]}" if match and match[1] else None
        try:
            if dead_here(owner) or now - path.lstat().st_mtime > LEFTOVER_AGE:
                found.append(path)
        except FileNotFoundError:  # its writer finished meanwhile
            continue
    return found


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the leftovers in `folder`; return what went."""
    removed = []
    for path in leftovers(folder):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise WriteError(f"cannot remove the leftover {path} ({exc.strerror}); delete it by hand") from None
        removed.append(path)
    return removed
