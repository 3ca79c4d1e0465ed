"""kill -9 at random moments during `ingest poll` (real processes, a real local site, a real
ledger), then a restart: every item has exactly one note, nothing is left half-done, curator
edits survive. bench/crash_trials.py runs the same with 20 kills and a few hundred items."""

from __future__ import annotations

import sys

import pytest
from conftest import bench_module

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGKILL")


@pytest.mark.slow
def test_random_kills_lose_nothing_and_write_nothing_twice(tmp_path):
    trials = bench_module("crash_trials")
    figures = trials.run_trials(4, items=40, feeds=2, latency=0.05, seed=7, root=tmp_path, max_delay=2.5,
                                log=lambda *_: None)
    assert figures["killed_mid_run"] >= 1, figures  # otherwise the test tested nothing
    assert figures["duplicate_notes"] == 0, figures
    assert figures["lost_notes"] == 0, figures
    assert figures["edits_overwritten"] == 0, figures
    assert figures["curator_edits"] >= 1, figures
    assert figures["leftover_temp_files"] == 0, figures
    assert figures["unfinished_items"] == 0, figures
    assert figures["ledger_file_disagreements"] == 0, figures
    assert figures["doctor_exit"] == 0, figures
