"""`ingest doctor`: check that the ledger and the note files agree, and repair what is safe.

Safe means nothing a curator wrote is touched: leftover temporary files are deleted, claims of
dead workers are given back, worker processes a killed run left running are stopped, a moved note
is followed, and a note on disk that the ledger never recorded (its writer died between the write
and the record) is recorded. A note the ledger
expects but nobody can find, or two notes for one URL that would both be routed as new work, is
a problem for a person to decide. Second versions waiting beside their note (`status:
reextracted`) and other notes that share a URL are listed as warnings for the curator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .archive import frontmatter_of, note_folders, read_note_url, scan_archive
from .config import Settings
from .ledger import Ledger
from .records import State
from .strays import find_strays, stop_strays
from .render import NEW_STATUS, TWIN_STATUS, twin_original
from .writer import leftovers, remove_leftovers

# a look at a note's bytes, cheaper than reading its frontmatter, for a status of a second version
_TWIN_STATUS_LINE = re.compile(rb"^status:[ \t]*[\"']?" + TWIN_STATUS.encode() + rb"\b", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    text: str
    repaired: bool  # False: a problem left for a person (or, in a check-only run, one to repair)
    repairable: bool = True
    warning: bool = False  # for the curator to look at; the ledger and the notes agree


def _warning(text: str) -> Finding:
    return Finding(text, False, False, warning=True)


def examine(settings: Settings, ledger: Ledger, now: datetime, *, repair: bool) -> list[Finding]:
    """Every disagreement between the ledger and the files, repaired where safe when `repair`."""
    problems = ledger.integrity_problems()
    if problems:  # repairs written into a damaged database would only spread the damage
        # SQLite starts its first report with a "*** in database main ***" line: one finding, one line
        problems = [" ".join(line for line in p.splitlines() if line.strip() and not line.startswith("*** "))
                    for p in problems[:10]]
        return [Finding(f"ledger {ledger.url} is damaged: {p}; move it aside and restore a backup", False, False)
                for p in problems]
    findings = _leftovers(settings.output_dir, repair) + _claims(ledger, now, repair) + _strays(repair)
    problems, archived = current_archive(settings, ledger, refresh=repair)
    findings += [Finding(problem, False, False) for problem in problems]
    statuses = _statuses(archived)
    copies, twins, undecided = _copies(archived, statuses)
    findings += _notes(settings.output_dir, ledger, archived, now, repair, twins=twins, undecided=undecided)
    return findings + copies


def current_archive(settings: Settings, ledger: Ledger, *,
                    refresh: bool) -> tuple[list[str], list[tuple[str, str | None]]]:
    """(the malformed notes, (path, URL key) of every note of the archive and output folders) as
    they are on disk now. The ledger's cache of them is refreshed when `refresh` (always safe: it is
    only a cache of the files); otherwise nothing changes and the scan is laid over it in memory."""
    scan = scan_archive(note_folders(settings.archive_dir, settings.output_dir), ledger.archive_state())
    if refresh:
        ledger.update_archive(scan.changed, scan.removed)
        return scan.problems, ledger.archived_notes()
    cached = dict(ledger.archived_notes())
    for path in scan.removed:
        cached.pop(path, None)
    cached.update((c.path, c.url_key) for c in scan.changed)
    return scan.problems, list(cached.items())


def _leftovers(folder: Path, repair: bool) -> list[Finding]:
    if repair:
        return [Finding(f"removed the leftover temporary file {p}", True) for p in remove_leftovers(folder)]
    return [Finding(f"leftover temporary file {p}", False) for p in leftovers(folder)]


def _claims(ledger: Ledger, now: datetime, repair: bool) -> list[Finding]:
    lost_items, lost_sources = ledger.lost_claims(now)
    if not (lost_items or lost_sources):
        return []
    if repair:
        lost = ledger.release_claims(now)
        return [Finding(f"queued again {lost[0]} item(s) and released {lost[1]} source(s) "
                        "that a stopped worker had claimed", True)]
    return [Finding(f"{len(lost_items)} item(s) and {len(lost_sources)} source(s) claimed by a stopped worker",
                    False)]


def _strays(repair: bool) -> list[Finding]:
    """Worker processes a killed run left running (strays.py): stopped, or listed."""
    found = find_strays()
    if not found:
        return []
    if repair:
        return [Finding(f"stopped {stop_strays(found)} stray worker process(es) a killed run left running", True)]
    return [Finding(f"stray process {stray.description}", False) for stray in found]


def _statuses(archived: list[tuple[str, str | None]]) -> dict[str, str | None]:
    """The `status:` of each note that says reextracted or shares its URL with another note, or
    has the file name of a second version; every other note is left unread."""
    counts: dict[str, int] = {}
    for _, key in archived:
        if key:
            counts[key] = counts.get(key, 0) + 1
    statuses: dict[str, str | None] = {}
    for path, key in archived:
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue  # gone meanwhile: no status to say
        if not (key and counts[key] > 1) and twin_original(Path(path).name) is None \
                and not _TWIN_STATUS_LINE.search(data):
            continue
        meta, _, _ = frontmatter_of(data)
        status = (meta or {}).get("status")
        statuses[path] = status if isinstance(status, str) else None
    return statuses


def _copies(archived: list[tuple[str, str | None]],
            statuses: dict[str, str | None]) -> tuple[list[Finding], set[str], set[str]]:
    """Second versions and notes that share a URL, as findings; the second versions; and all of
    those notes, which are not recorded as their URL's note (a person chooses which one stays)."""
    by_key: dict[str | None, list[str]] = {}
    for path, key in archived:
        by_key.setdefault(key, []).append(path)
    findings, all_twins, undecided = [], set(), set()
    for key, paths in by_key.items():
        twins = sorted(p for p in paths if statuses.get(p) == TWIN_STATUS or twin_original(Path(p).name))
        notes = sorted(p for p in paths if p not in twins) if key else []
        all_twins.update(twins)
        undecided.update(twins + (notes if len(notes) > 1 else []))
        for twin in twins:
            findings.append(_twin(twin, statuses.get(twin), notes))
        if len(notes) < 2:
            continue
        count = "two" if len(notes) == 2 else str(len(notes))
        new = sum(statuses.get(p) == NEW_STATUS for p in notes)
        if new > 1:
            which = "both" if new == len(notes) == 2 else f"{new} of them"
            findings.append(Finding(f"{count} notes for one URL, {which} status: {NEW_STATUS} (its source would be "
                                    f"routed {'twice' if new == 2 else f'{new} times'}): {' and '.join(notes)}; "
                                    "keep one", False, False))
        else:
            listed = " and ".join(f"{p} (status: {statuses.get(p) or 'none'})" for p in notes)
            findings.append(_warning(f"{count} notes for one URL: {listed}; keep one"))
    return findings, all_twins, undecided


def _twin(path: str, status: str | None, notes: list[str]) -> Finding:
    """A second version: waiting beside its note (the one its name names, else one of its URL)."""
    name = twin_original(Path(path).name)
    beside = str(Path(path).with_name(name)) if name else None
    original = beside if beside and Path(beside).exists() else (notes[0] if notes else None)
    if status == TWIN_STATUS:
        if original is None:
            return _warning(f"{path} (status: {status}) is a second version of a note that is gone: set its status "
                            f"to {NEW_STATUS} to have it routed, or delete it")
        return _warning(f"{path} (status: {status}) is a second version of {original}: compare them, keep one and "
                        "delete the other")
    if status == NEW_STATUS and original:  # what an older ingest wrote
        return Finding(f"{path} is a second version of {original} but says status: {status} (its source would be "
                       f"routed twice); set it to status: {TWIN_STATUS}, or delete one", False, False)
    if status == NEW_STATUS:
        return _warning(f"{path} is a second version of a note that is gone, and says status: {status}; delete it "
                        "if its source was processed already")
    # a curator has taken it up
    return _warning(f"{path} (status: {status or 'none'}) is a second version of "
                    + (f"{original}; keep one" if original else "a note that is gone"))


def _notes(output_dir: Path, ledger: Ledger, archived: list[tuple[str, str | None]], now: datetime,
           repair: bool, twins: set[str], undecided: set[str]) -> list[Finding]:
    findings = []
    by_key: dict[str, list[str]] = {}
    for path, key in archived:
        if key and path not in twins:  # a second version is never taken for its note, moved
            by_key.setdefault(key, []).append(path)
    recorded: set[Path] = set()
    # notes the ledger wrote: still there, moved (follow it), or gone (a person must say why)
    for item_id, url, note_path, keys in ledger.created_notes():
        if Path(note_path).exists():
            recorded.add(Path(note_path).resolve())
            continue
        moved = next((p for k in keys for p in by_key.get(k, [])), None)
        if moved is None:
            findings.append(Finding(f"missing note for {url}: {note_path} is gone; if it was deleted on purpose, "
                                    f"`ingest forget {url}` forgets it; if not, `ingest url --force {url}` "
                                    "fetches it again", False, False))
        elif repair:
            ledger.note_moved(item_id, now, str(Path(moved).resolve()))
            recorded.add(Path(moved).resolve())
            findings.append(Finding(f"followed the note of {url} to {moved}", True))
        else:
            findings.append(Finding(f"the note of {url} moved to {moved}", False))
    # notes in the output folder the ledger does not know
    inside = output_dir.resolve()
    for path, key in archived:
        resolved = Path(path).resolve()
        if resolved in recorded or resolved.parent != inside or key is None or path in undecided:
            continue  # a second version, or a note sharing its URL: a person chooses first (see _copies)
        known = ledger.lookup([key])
        if known is not None and known.outcome in (State.CREATED, State.DUPLICATE) and known.note_path:
            if Path(known.note_path).resolve() != resolved and Path(known.note_path).exists():  # by another URL of it
                findings.append(Finding(f"two notes for one URL: {path} and {known.note_path}; keep one", False, False))
            continue
        note_url, _ = read_note_url(Path(path))
        if repair and note_url:
            ledger.adopt_note(note_url, key, str(resolved), now)
            findings.append(Finding(f"recorded {path}, a note the ledger had not heard of", True))
        else:
            findings.append(Finding(f"note {path} is not in the ledger", False))
    return findings
