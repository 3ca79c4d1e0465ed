"""The curators' existing notes: which URLs they already archive, read from note frontmatter.

Older notes name their URL `source:` instead of `url:`; both count. Only notes whose size or
modification time changed since the last scan are read again, so a scan of an unchanged vault
costs one `stat` per file. Malformed notes are reported and skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from .urls import try_key
from .validation import is_folder

URL_FIELDS = ("url", "source", "source_url", "link")
_YAML = frontmatter.YAMLHandler()
_STRINGS_ONLY = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


@dataclass(frozen=True)
class ArchiveNote:
    """A note as the ledger's archive index keeps it: its stat, and the URL key it names."""

    path: str
    mtime_ns: int
    size: int
    url_key: str | None  # None: the note names no URL, or could not be read
    error: str | None  # why the note could not be read, if it could not


@dataclass
class ArchiveScan:
    changed: list[ArchiveNote] = field(default_factory=list)  # notes new or changed since the last scan
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per malformed note


def note_folders(archive_dir: Path | None, output_dir: Path) -> list[Path]:
    """Where notes that count as archived live: the curators' archive and the output folder,
    those that exist."""
    return [p for p, key in ((archive_dir, "archive_dir"), (output_dir, "output_dir")) if p and is_folder(p, key)]


def scan_archive(folders: list[Path], known: dict[str, tuple[int, int]]) -> ArchiveScan:
    """Compare the notes under `folders` with `known` (path → (mtime_ns, size)) and read the new ones."""
    scan = ArchiveScan()
    seen: set[str] = set()
    for folder in folders:
        for path in _markdown_files(folder):
            try:
                stat = path.stat()
            except OSError:
                continue
            key = str(path)
            seen.add(key)
            if known.get(key) == (stat.st_mtime_ns, stat.st_size):
                continue
            url, problem = read_note_url(path)
            if problem:
                scan.problems.append(f"skipped malformed note {path}: {problem}")
            scan.changed.append(ArchiveNote(key, stat.st_mtime_ns, stat.st_size, try_key(url), problem))
    scan.removed = [p for p in known if p not in seen]
    return scan


def read_frontmatter(path: Path) -> tuple[dict | None, str, str | None]:
    """(fields as strings, the body, None), (None, "", a problem), or (None, "", None) for a page
    without frontmatter (an index, a README: nothing to learn)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, "", exc.strerror
    return frontmatter_of(data)


def frontmatter_of(data: bytes) -> tuple[dict | None, str, str | None]:
    """read_frontmatter for a note's bytes already read."""
    try:
        text = data.decode("utf-8-sig")  # -sig: a BOM from a Windows editor hides the "---"
    except UnicodeDecodeError:
        return None, "", "not UTF-8 text"
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as read_text's universal newlines did
    if not text.startswith("---"):
        return None, "", None
    try:
        head, body = _YAML.split(text)
        # BaseLoader keeps every value a string: hand-written dates like 2026-00-00 must not fail
        meta = yaml.load(head, Loader=_STRINGS_ONLY)
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, "", f"frontmatter is not valid YAML ({first})"
    if not isinstance(meta, dict):
        return None, "", "frontmatter is not a mapping of fields"
    return meta, body, None


def read_note_url(path: Path) -> tuple[str | None, str | None]:
    """(the note's source URL or None, a problem description or None)."""
    meta, _, problem = read_frontmatter(path)
    for name in URL_FIELDS:
        value = (meta or {}).get(name)
        if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
            return value.strip(), None
    return None, problem


def _markdown_files(folder: Path):
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(".md") and not name.startswith("."):
                yield Path(root) / name
