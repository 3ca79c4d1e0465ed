"""kill -9 at random moments during `ingest poll` (real processes, a real local site, a real
ledger), then a restart: every item has exactly one note, nothing is left half-done, curator
edits survive. bench/crash_trials.py runs the same with 20 kills and a few hundred items.
A killed run's worker processes end with it and leave its stdout."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from conftest import bench_module, wait_until

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
    assert figures["outputs_held_open"] == 0, figures  # the parent alone was killed: its workers followed
    assert figures["stray_processes"] == 0, figures


def children(pid: int) -> dict[int, str]:
    """The live multiprocessing children of `pid` (workers and the resource tracker): pid → cmdline."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if int(fields[1]) == pid and fields[0] != "Z" and "multiprocessing" in cmdline:
                found[int(entry.name)] = cmdline
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's corpse waits for init to reap it)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_workers_end_with_a_parent_killed_by_sigkill_and_release_its_stdout(tmp_path):
    trials = bench_module("crash_trials")
    site = trials.LocalSite(items=80, feeds=1, latency=0.3)
    try:
        root = trials.workspace(tmp_path, site)
        (root / "urls.txt").write_text("\n".join(sorted(site.urls())) + "\n")
        run = trials.ingest(root, "url", "-i", "urls.txt")  # in its own session: stray or not, found below
        try:
            # mid-run: the pool is up and has prepared a note, items are still being fetched
            wait_until(lambda: trials.note_count(root) > 0 or run.poll() is not None, "a first note", timeout=120)
            workers = children(run.pid)
            assert any("spawn_main" in cmdline for cmdline in workers.values()), workers
            os.kill(run.pid, signal.SIGKILL)  # the ingest process alone, as the OOM killer or a supervisor would

            # a supervisor reading the run's output must see it end, though workers had inherited it
            outputs: list = []
            reader = threading.Thread(target=lambda: outputs.append(run.communicate()), daemon=True)
            reader.start()
            wait_until(lambda: not reader.is_alive(), "end of file on the killed run's stdout and stderr")
            assert run.returncode == -signal.SIGKILL
            assert trials.note_count(root) < 80  # killed mid-run: otherwise nothing was tested
            wait_until(lambda: not any(running(pid) for pid in workers), f"the workers {sorted(workers)} to end")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)  # a failed test must not leave its strays behind
    finally:
        site.close()
