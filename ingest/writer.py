"""Atomic note writes: never a partial file, never over an existing one."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from pathlib import Path

from .errors import WriteError
from .claim_owner import dead_here, host

TEMP_PREFIX = ".ingest-tmp-"
# .ingest-tmp-<pid>@<host>-<random>.md: the writer's name tells a restart whether it is still alive
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(?:(\d+)@(.+)-)?[^-]*\.md")
LEFTOVER_AGE = 3600.0  # a temporary file this old is a leftover whoever wrote it; no write takes that long
MAX_SUFFIX = 1000


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
        raise WriteError(f"output folder {folder} cannot be created ({exc.strerror}); check the 'output_dir' setting") from None
    if not _one_component(filename):  # render makes safe names; this guards every other caller
        raise WriteError(f"refused note file name {filename!r}: it must be one plain file name inside {folder}")
    stem = filename.removesuffix(".md")
    tmp = _write_temp(folder, text)
    try:
        for n in range(1, MAX_SUFFIX):
            target = folder / (filename if n == 1 else f"{stem}-{n}.md")
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            except OSError as exc:
                raise WriteError(f"cannot write {target} ({exc.strerror})") from None
            _fsync_dir(folder)
            return target
        raise WriteError(f"{folder / filename}: {MAX_SUFFIX} notes already have this name")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _one_component(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not name.startswith(".") and not any(
        c in name for c in ("/", "\\", "\x00"))


def _write_temp(folder: Path, text: str) -> str:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}@{host()}-", suffix=".md", dir=folder)
    except OSError as exc:
        raise WriteError(f"output folder {folder} is not writable ({exc.strerror}); fix its permissions or choose another with --output") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
    except (OSError, UnicodeError) as exc:  # UnicodeEncodeError: a lone surrogate in the text
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, UnicodeError):
            raise WriteError(f"cannot write a note in {folder}: its text is not valid Unicode ({exc.reason})") from None
        hint = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
        raise WriteError(f"cannot write a note in {folder} ({hint})") from None
    return tmp


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


def replace_note(path: Path, text: str) -> None:
    """Put `text` in place of the note at `path` at once (temporary file, fsync, rename): a
    reader sees the old note or the new one, never a mix. Only for notes ingest may rewrite."""
    tmp = _write_temp(path.parent, text)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise WriteError(f"cannot rewrite {path} ({exc.strerror})") from None
    _fsync_dir(path.parent)
