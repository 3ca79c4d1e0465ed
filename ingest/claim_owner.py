"""Who this process is, and whether a process named in the ledger or in a temporary file's name
is still alive: what lets a restart take back the work of a process that was killed."""

from __future__ import annotations

import os
import socket


def host() -> str:
    # a name fit for file names: no separators, whatever the machine calls itself
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in socket.gethostname()) or "host"


def owner_id() -> str:
    """`host:pid`, written beside every claim this process takes."""
    return f"{host()}:{os.getpid()}"


def is_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def dead_here(owner: str | None) -> bool:
    """True for a `host:pid` of this machine whose process has gone; another machine's owner is
    never judged here (its claim expires by age instead)."""
    if not owner or ":" not in owner:
        return False
    name, _, pid = owner.rpartition(":")
    return name == host() and pid.isdigit() and not is_alive(int(pid))
