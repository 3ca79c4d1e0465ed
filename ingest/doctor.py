"""`ingest doctor`: check that the ledger and the note files agree, and repair what is safe.

Safe means nothing a curator wrote is touched: leftover temporary files are deleted, claims of
dead workers are given back, a moved note is followed, and a note on disk that the ledger never
recorded (its writer died between the write and the record) is recorded. A note the ledger
expects but nobody can find, or two notes for one URL, is reported for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .archive import note_folders, read_note_url, scan_archive
from .config import Settings
from .ledger import Ledger
from .records import State
from .reextract import BESIDE_SUFFIX
from .writer import leftovers, remove_leftovers


@dataclass(frozen=True)
class Finding:
    text: str
    repaired: bool  # False: a problem left for a person (or, in a check-only run, one to repair)
    repairable: bool = True


def examine(settings: Settings, ledger: Ledger, now: datetime, *, repair: bool) -> list[Finding]:
    """Every disagreement between the ledger and the files, repaired where safe when `repair`."""
    problems = ledger.integrity_problems()
    if problems:  # repairs written into a damaged database would only spread the damage
        # SQLite starts its first report with a "*** in database main ***" line: one finding, one line
        problems = [" ".join(line for line in p.splitlines() if line.strip() and not line.startswith("*** "))
                    for p in problems[:10]]
        return [Finding(f"ledger {ledger.url} is damaged: {p}; move it aside and restore a backup", False, False)
                for p in problems]
    findings = _leftovers(settings.output_dir, repair) + _claims(ledger, now, repair)
    scan = scan_archive(note_folders(settings.archive_dir, settings.output_dir), ledger.archive_state())
    if repair:
        ledger.update_archive(scan.changed, scan.removed)  # a cache of the files: always safe to refresh
        archived = ledger.archived_notes()
    else:  # a check changes nothing, not even that cache: the scan is laid over it in memory
        cached = dict(ledger.archived_notes())
        for path in scan.removed:
            cached.pop(path, None)
        cached.update((c.path, c.url_key) for c in scan.changed)
        archived = list(cached.items())
    findings += [Finding(problem, False, False) for problem in scan.problems]
    findings += _notes(settings.output_dir, ledger, archived, now, repair)
    return findings


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


def _notes(output_dir: Path, ledger: Ledger, archived: list[tuple[str, str | None]], now: datetime,
           repair: bool) -> list[Finding]:
    findings = []
    by_key: dict[str, list[str]] = {}
    for path, key in archived:
        if key:
            by_key.setdefault(key, []).append(path)
    recorded: set[Path] = set()
    # notes the ledger wrote: still there, moved (follow it), or gone (a person must say why)
    for item_id, url, note_path, keys in ledger.created_notes():
        if Path(note_path).exists():
            recorded.add(Path(note_path).resolve())
            continue
        moved = next((p for k in keys for p in by_key.get(k, [])), None)
        if moved is None:
            findings.append(Finding(f"missing note for {url}: {note_path} is gone; if it was not deleted on "
                                    f"purpose, `ingest url --force {url}` fetches it again", False, False))
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
        if resolved in recorded or resolved.parent != inside or key is None or path.endswith(BESIDE_SUFFIX):
            continue  # a reextracted version waits beside its note for the curator: not a second note
        known = ledger.lookup([key])
        if known is not None and known.outcome in (State.CREATED, State.DUPLICATE) and known.note_path:
            if Path(known.note_path).resolve() != resolved and Path(known.note_path).exists():
                findings.append(Finding(f"two notes for one URL: {path} and {known.note_path}; keep one", False, False))
            continue
        note_url, _ = read_note_url(Path(path))
        if repair and note_url:
            ledger.adopt_note(note_url, key, str(resolved), now)
            findings.append(Finding(f"recorded {path}, a note the ledger had not heard of", True))
        else:
            findings.append(Finding(f"note {path} is not in the ledger", False))
    return findings
