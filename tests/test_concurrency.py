"""Two `ingest poll` processes at once on one ledger (real processes, a real local site): each
item gets exactly one note, neither process fails on the other's locks."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import bench_module


@pytest.mark.slow
def test_two_polls_at_once_never_write_a_note_twice(tmp_path):
    trials = bench_module("crash_trials")
    site = trials.LocalSite(items=80, feeds=2, latency=0.02)
    try:
        trials.workspace(tmp_path, site)
        first, second = trials.ingest(tmp_path, "poll", "--all"), trials.ingest(tmp_path, "poll", "--all")
        outputs = [b"\n".join(p.communicate(timeout=120)).decode() for p in (first, second)]
        codes = [first.returncode, second.returncode]
        notes = trials.notes_by_url(tmp_path)
    finally:
        site.close()
    assert codes == [0, 0], "\n=====\n".join(outputs)
    assert set(notes) == site.urls()
    assert all(len(paths) == 1 for paths in notes.values()), {u: p for u, p in notes.items() if len(p) > 1}
    summaries = [next(line for line in o.splitlines() if line.startswith("polled")) for o in outputs]
    created = sum(int(line.split(": ", 1)[1].split(" new note")[0]) for line in summaries)
    assert created == 80, summaries  # together they wrote each note once
    db = sqlite3.connect(tmp_path / "state" / "ledger.db")
    outcomes = db.execute("SELECT outcome, COUNT(*) FROM items GROUP BY outcome").fetchall()
    db.close()
    assert outcomes == [("created", 80)]
