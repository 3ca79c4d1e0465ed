"""Processes a killed `ingest` left running: its extraction workers and multiprocessing's resource
tracker. Found through /proc (Linux); where there is no /proc there is nothing to find.

Before a process starts worker processes it writes its pid into OWNER_VARIABLE, which the workers
and the resource tracker inherit. While that process lives it is their parent; a marked process
whose owner is gone outlived the run it worked for (workers follow their parent within a second,
so a stray is one stuck where it could not notice, or left by a version without that).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

OWNER_VARIABLE = "_INGEST_POOL_OWNER"  # not INGEST_…: those are settings
PROC = Path("/proc")
WORKER, TRACKER = "extraction worker", "multiprocessing resource tracker"
ROLES = ((b"multiprocessing.spawn", WORKER), (b"multiprocessing.resource_tracker", TRACKER))
TRACKER_GRACE = 1.0  # seconds for a tracker to clean up once the workers holding its pipe are gone


@dataclass(frozen=True)
class Stray:
    pid: int
    owner: int  # the ingest process it worked for, now gone
    role: str
    resident_kib: int
    started: int  # clock ticks after boot: tells this process from a later one given the same pid

    @property
    def description(self) -> str:
        return (f"pid {self.pid}: {self.role} of ingest process {self.owner}, which is gone "
                f"({self.resident_kib // 1024} MB resident)")


def mark_owner() -> None:
    """Called before starting worker processes, so that they can be traced back to this process."""
    pid = str(os.getpid())
    if os.environ.get(OWNER_VARIABLE) != pid:  # set once: another thread may read the environment
        os.environ[OWNER_VARIABLE] = pid


def find_strays() -> list[Stray]:
    """The marked processes of this machine (readable by this user) whose owner is gone."""
    if not PROC.is_dir():
        return []
    found = (_stray(entry.name) for entry in PROC.iterdir() if entry.name.isdigit())
    return sorted((s for s in found if s is not None), key=lambda s: s.pid)


def stop_strays(strays: list[Stray] | None = None) -> int:
    """SIGKILL the strays (they ignore SIGTERM, like every worker: the parent decides when they stop);
    returns how many were stopped. Workers first: a tracker whose workers are gone cleans up the
    shared semaphores they held and exits on its own, and is killed only if it does not."""
    strays = find_strays() if strays is None else strays
    workers = [s for s in strays if s.role != TRACKER]
    trackers = [s for s in strays if s.role == TRACKER]
    stopped = sum(_kill(s) for s in workers)
    give_up_at = time.monotonic() + (TRACKER_GRACE if workers else 0.0)
    while trackers and time.monotonic() < give_up_at and any(_is(s) for s in trackers):
        time.sleep(0.02)
    return stopped + sum(1 if not _is(s) else _kill(s) for s in trackers)


def _stray(pid: str) -> Stray | None:
    entry = PROC / pid
    try:
        cmdline = (entry / "cmdline").read_bytes()
        role = next((name for module, name in ROLES if module in cmdline), None)
        if role is None:
            return None
        environ = (entry / "environ").read_bytes().split(b"\0")
        fields = _stat(int(pid))
    except OSError:  # ended meanwhile, or another user's
        return None
    marker = OWNER_VARIABLE.encode() + b"="
    owner = next((int(v[len(marker):]) for v in environ if v.startswith(marker) and v[len(marker):].isdigit()),
                 None)
    state, parent, started, pages = fields[0], int(fields[1]), int(fields[19]), int(fields[21])
    if owner is None or state == "Z" or parent == owner or _alive_since(owner, started):
        return None
    return Stray(int(pid), owner, role, pages * os.sysconf("SC_PAGE_SIZE") // 1024, started)


def _alive_since(pid: int, before: int) -> bool:
    """The process `pid` runs and was started no later than `before` (else the pid is another's now)."""
    try:
        return int(_stat(pid)[19]) <= before
    except (OSError, IndexError, ValueError):
        return False


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the process's name (which may hold spaces and
    parentheses): state, parent, …; index 19 is the start time in clock ticks after boot."""
    return (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()


def _is(stray: Stray) -> bool:
    """Still that very process, and still a stray."""
    now = _stray(str(stray.pid))
    return now is not None and now.started == stray.started


def _kill(stray: Stray) -> int:
    if not _is(stray):  # ended meanwhile: nothing to stop, and its pid may be another process's
        return 0
    try:
        os.kill(stray.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return 0
    return 1
