"""Snapshots: the bytes of every ingested response, compressed and content-addressed on disk.

A body is stored once under its SHA-256 (`ab/cd/abcd….gz`), however many items share it; the
ledger's `snapshots` table links each item to its body with the headers, final URL and time, so
`ingest reextract` can rebuild a note without fetching the web again.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from .errors import SnapshotError, WriteError
from .writer import write_atomic

SUFFIX = ".gz"


class SnapshotStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, digest: str) -> Path:
        return self.folder / digest[:2] / digest[2:4] / f"{digest}{SUFFIX}"

    def put(self, body: bytes) -> str:
        """Store `body` (once) and return its SHA-256 hex digest."""
        digest = hashlib.sha256(body).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        try:
            # level 6: most of level 9's saving at a third of its time. Replacing a file a
            # concurrent writer has just put there is harmless: same bytes under the same name
            write_atomic(target, gzip.compress(body, compresslevel=6, mtime=0))
        except OSError as exc:
            raise WriteError(f"cannot keep a snapshot in {self.folder} ({exc.strerror}); "
                             "check the 'snapshots' setting") from None
        return digest

    def get(self, digest: str) -> bytes:
        try:
            body = gzip.decompress(self.path(digest).read_bytes())
        except FileNotFoundError:
            raise SnapshotError(f"snapshot {digest[:12]}… is missing from {self.folder}") from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise SnapshotError(f"snapshot {digest[:12]}… in {self.folder} cannot be read ({exc})") from None
        if hashlib.sha256(body).hexdigest() != digest:
            raise SnapshotError(f"snapshot {digest[:12]}… in {self.folder} is damaged (its bytes do not match)")
        return body
