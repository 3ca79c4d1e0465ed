"""What the terminal shows of outcomes: plain lines, JSON lines or a progress bar, and the signals
behind each guess (--explain)."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path

import click

from ..records import SourceStatus, State


class Report:
    """Prints outcomes as they come: plain lines, JSON lines, or a rich progress bar on a terminal."""

    def __init__(self, as_json: bool = False, dry_run: bool = False, total: int | None = None, *,
                 guesses: dict | None = None):
        self.as_json, self.dry_run, self.total = as_json, dry_run, total
        self.progress = None
        self.guesses = guesses  # given: explain each outcome's guess (the run's `guesses`)

    def __enter__(self):
        if sys.stdout.isatty() and not self.as_json and not self.dry_run:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("ingesting", total=self.total)
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False

    def echo(self, line: str, err: bool = False) -> None:
        if self.progress is not None and not err:
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(line, err=err)

    def outcome(self, outcome) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)
        choice = self.guesses.get(outcome.url) if self.guesses is not None else None
        if self.as_json:
            record = outcome.as_json() | {"path": display_path(outcome.path) or None}
            if self.dry_run:
                record |= {"dry_run": True, "note": outcome.note_text}
            if self.guesses is not None:
                record |= {"explain": _explanation(choice) if choice else None}
            if outcome.status == State.DUPLICATE and note_missing(outcome.path):
                record["error"] = f"the note is missing; {forget_hint(outcome.url)}"
            click.echo(json.dumps(record, ensure_ascii=False))
        elif self.dry_run and outcome.note_text is not None:
            click.echo(outcome.note_text, nl=False)
            click.echo(f"dry run: would create {display_path(outcome.path)}", err=True)
        elif outcome.status == State.CREATED:
            from ..render import twin_original  # jinja2 and yaml: not for every command's start

            original = twin_original(Path(outcome.path or "").name)
            self.echo(f"created {display_path(outcome.path)}" + (
                f" (a second version of {original} to compare, status: reextracted: not new work)" if original else ""))
        elif outcome.status == State.DUPLICATE:
            gone = f", now missing; {forget_hint(outcome.url)}" if note_missing(outcome.path) else ""
            where = f" (archived as {display_path(outcome.path)}{gone})" if outcome.path else ""
            self.echo(f"duplicate {one_line(outcome.url)}{where}")
        elif outcome.status == State.SKIPPED:
            self.echo(f"skipped {one_line(outcome.url)}: {outcome.error}")
        else:
            self.echo(f"failed {one_line(outcome.url)}: {outcome.error}")
        if choice is not None and not self.as_json:
            for line in _explain_lines(choice):
                self.echo(line, err=True)

    def source(self, report) -> None:
        if self.progress is not None and report.jobs:
            total = (self.progress.tasks[0].total or 0) + len(report.jobs)
            self.progress.update(self.task, total=total)
        if self.as_json:
            click.echo(json.dumps({"source": report.name, "status": report.status, "found": report.found,
                                   "new": len(report.jobs), "known": report.known, "error": report.error}))
            return
        if report.status == SourceStatus.FAILED:
            self.echo(f"source {report.name} failed: {report.error}")
        elif report.status == SourceStatus.SKIPPED:
            self.echo(f"source {report.name} skipped: {report.error}")
        elif report.status == SourceStatus.UNCHANGED and not report.found:
            self.echo(f"source {report.name}: unchanged")
        else:
            self.echo(f"source {report.name}: {len(report.jobs)} new of {report.found}{left_out(report)}")
        if report.moved_to:
            self.echo(f"source {report.name} moved permanently to {report.moved_to}; sources file updated")


def left_out(report) -> str:
    """What a source's poll found but does not ingest: known already, or older than the backfill."""
    return ((f", {report.known} already known" if report.known else "")
            + (f", {report.backfill_skipped} older left out (backfill)" if report.backfill_skipped else ""))


EXPLAINED = ("domain", "secondary_domains", "format", "priority", "tags")


def note_missing(path: str | None) -> bool:
    """A note the ledger names that is no longer on disk (a curator deleted it, or moved it)."""
    return bool(path and not Path(path).exists())


def forget_hint(url: str) -> str:
    return f"`ingest forget {one_line(url)}` to ingest it again"


def one_line(url: str) -> str:
    """A URL as given, its control characters and undecodable bytes (lone surrogates, as Python
    reads them from argv) percent-encoded: one outcome, one line that any terminal can print."""
    return re.sub(r"[\x00-\x1f\x7f\ud800-\udfff]", _percent, url)


def _percent(match: re.Match) -> str:
    char = match.group()
    data = char.encode("utf-8", "surrogateescape" if "\udc80" <= char <= "\udcff" else "surrogatepass")
    return "".join(f"%{b:02X}" for b in data)


def _explanation(choice) -> dict:
    """Each guessed field: its value and the signals behind it, strongest first."""
    return {name: {"value": list(v) if isinstance(v := getattr(choice, name), tuple) else v,
                   "signals": choice.reasons.get(name, [])} for name in EXPLAINED}


def _explain_lines(choice) -> list[str]:
    lines = []
    for name, field in _explanation(choice).items():
        value = field["value"]
        text = "[" + ", ".join(value) + "]" if isinstance(value, list) else value
        lines.append(f"  {name}: {text}")
        lines += [f"    {signal}" for signal in field["signals"]]
    return lines


def report_learned(run, learned) -> None:
    """On stderr: the guesser learned again, and where its model could not be saved (the problems
    with single notes were already reported by sync_archive)."""
    if learned.relearned:
        saved = not (run.dry_run or learned.save_problems)
        click.echo(f"learned the guesser from {learned.notes} archived note(s) in {learned.seconds:.1f}s"
                   + (f"; saved {shown(run.settings.model_path)}" if saved else ""), err=True)
    for problem in learned.save_problems:
        click.echo(f"warning: {problem}", err=True)


def shown(path) -> str:
    """A settings path (a model, an archive folder) as display_path shows it."""
    return display_path(str(path))


def display_path(path: str | None) -> str:
    """A note path as the user would type it: relative to the current folder when inside it."""
    if not path:
        return ""
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    return path
