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
from typing import TYPE_CHECKING

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .errors import IngestError
from .pipeline import recover, sync_archive
from .poll import PollSummary, choose_sources, poll
from .records import Source
from .runtime import Run, refresh_model, utc_now

if TYPE_CHECKING:
    from .learn import Learned

log = logging.getLogger("ingest.schedule")


def run_forever(run: Run, load_sources: Callable[[], list[Source]], *,
                on_tick: Callable[[PollSummary | None, str | None], None],
                on_learned: Callable[[Learned], None] = lambda learned: None, **callbacks) -> None:
    """Poll due sources every `run.settings.tick` seconds until SIGINT or SIGTERM. Each tick first
    takes the model learned again if the archive changed (`on_learned` hears of it), then reads
    the sources again."""
    tick_seconds = run.settings.tick
    current = run  # this run, or the one refresh_model made from it with a newer model
    scheduler = BlockingScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": max(1, int(tick_seconds * 2))}
    )
    busy = threading.Lock()  # held while a tick runs, so shutdown can wait for it

    def tick() -> None:
        nonlocal current
        if run.stop.is_set():
            return
        with busy:
            try:
                current, learned = refresh_model(current)  # the archive may have changed since the last tick
                on_learned(learned)
                configured = load_sources()  # re-read each time: edits apply without a restart
                recover(current)  # claims of a worker killed elsewhere on this machine
                sync_archive(current)  # notes curators archived meanwhile count as known (one stat each)
                states = choose_sources(current, configured)
                on_tick(poll(current, configured, states, **callbacks), None)
            except IngestError as exc:  # a broken sources file or ledger hiccup: say so, try next tick
                on_tick(None, exc.message)

    def stop(signum, _frame) -> None:
        run.stop.set()
        if scheduler.running:  # a second signal while the tick in flight finishes: already stopping
            scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    scheduler.add_job(tick, IntervalTrigger(seconds=tick_seconds, jitter=min(5.0, tick_seconds / 10)),
                      id="poll", next_run_time=utc_now())
    if run.stop.is_set():  # a signal came before the scheduler started
        return
    try:
        scheduler.start()
    finally:
        with busy:  # let the tick in flight finish its current items
            pass
        for sig, handler in previous.items():
            signal.signal(sig, handler)

