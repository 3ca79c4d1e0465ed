"""Run forever: APScheduler wakes the poller every `tick` seconds, and the ledger decides what is due.

The scheduler holds no state of its own: a source's next-check time lives in the ledger, so several
schedulers on several machines can share one ledger. SIGINT/SIGTERM stop new work; what is in
flight finishes (each item is written whole or not at all), then the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .errors import IngestError
from .records import Source
from .poll import PollSummary, choose_sources, poll
from .pipeline import Run, recover, sync_archive

log = logging.getLogger("ingest.schedule")


def run_forever(run: Run, load_sources: Callable[[], list[Source]], *,
                on_tick: Callable[[PollSummary | None, str | None], None], **callbacks) -> None:
    """Poll due sources every `run.settings.tick` seconds until SIGINT or SIGTERM."""
    tick_seconds = run.settings.tick
    scheduler = BlockingScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": max(1, int(tick_seconds * 2))}
    )
    busy = threading.Lock()  # held while a tick runs, so shutdown can wait for it

    def tick() -> None:
        if run.stop.is_set():
            return
        with busy:
            try:
                configured = load_sources()  # re-read each time: edits apply without a restart
                recover(run)  # claims of a worker killed elsewhere on this machine
                sync_archive(run)  # notes curators archived meanwhile count as known (one stat each)
                states = choose_sources(run, configured)
                on_tick(poll(run, configured, states, **callbacks), None)
            except IngestError as exc:  # a broken sources file or ledger hiccup: say so, try next tick
                on_tick(None, exc.message)

    def stop(signum, _frame) -> None:
        run.stop.set()
        if scheduler.running:  # a second signal while the tick in flight finishes: already stopping
            scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    scheduler.add_job(tick, IntervalTrigger(seconds=tick_seconds, jitter=min(5.0, tick_seconds / 10)),
                      id="poll", next_run_time=_now())
    if run.stop.is_set():  # a signal came before the scheduler started
        return
    try:
        scheduler.start()
    finally:
        with busy:  # let the tick in flight finish its current items
            pass
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
