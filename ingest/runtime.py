"""What one command works with, built in one place: settings, ledger, fetcher, template, taxonomy and model.

The CLI, and anything else that ingests, opens a Run with `open_run` and gets a new Run from
`refresh_model` when the archive may have changed: a Run is never changed once built.
"""

from __future__ import annotations

import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

import jinja2

from .config import Settings
from .learned_model import Model
from .ledger import Known, Ledger, open_ledger
from .records import Guess, State
from .snapshots import SnapshotStore
from .taxonomy import Taxonomy, load_taxonomy

if TYPE_CHECKING:
    from .fetch import FetchClient
    from .learn import Learned
    from .prepare import Preparer


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True, eq=False)  # compared by identity: one command's run
class Run:
    """What one command invocation works with: settings, the ledger, the HTTP client, the template,
    and what the guesser knows (the taxonomy, and the model learned from the archive)."""

    settings: Settings
    ledger: Ledger
    fetcher: FetchClient
    template: jinja2.Template
    taxonomy: Taxonomy = field(default_factory=Taxonomy)  # what the guesser knows before learning
    model: Model = field(default_factory=Model)  # what it learned from the archive (refresh_model)
    dry_run: bool = False
    force: bool = False
    explain: bool = False  # keep each guess, with its reasons, in `guesses`
    clock: Callable[[], datetime] = utc_now
    # shared by the runs `with_model` makes from this one, as the same command's state:
    stop: threading.Event = field(default_factory=threading.Event)  # set: start no new item
    archived: dict[str, str] = field(default_factory=dict)  # dry runs: archive keys not persisted
    guesses: dict[str, Guess] = field(default_factory=dict)  # URL → guess, when explaining
    _locks: dict[str, threading.Lock] = field(default_factory=lambda: defaultdict(threading.Lock))
    _preparers: list[Preparer] = field(default_factory=list, repr=False)  # every one made, closed with the run

    def known(self, keys: list[str]) -> Known | None:
        found = self.ledger.lookup(keys)
        if found is None:
            path = next((self.archived[k] for k in keys if k in self.archived), None)
            found = Known(None, State.ARCHIVED, path) if path else None
        return found

    @cached_property
    def prepare(self) -> Preparer:
        """Extract, guess and render with this run's model: here, or in worker processes for a batch."""
        from .prepare import Preparer  # the extraction stack loads only when an item needs it

        preparer = Preparer(self.settings, self.taxonomy, self.model, self.template)
        self._preparers.append(preparer)
        return preparer

    @cached_property
    def snapshots(self) -> SnapshotStore:
        return SnapshotStore(self.settings.snapshots_path)

    def with_model(self, model: Model) -> Run:
        """This run guessing with `model`. A model learned from another archive gives a new Run
        whose Preparer uses it; this run's Preparer is closed, so worker processes started with the
        old model are started again when needed."""
        if _same_learning(model, self.model):  # loaded again each tick: keep the Preparer and its workers
            return self
        self._close_preparer()
        return replace(self, model=model)

    def close(self) -> None:
        for preparer in self._preparers:
            preparer.close()

    def _close_preparer(self) -> None:
        if "prepare" in self.__dict__:  # made (cached_property keeps it in the instance's dict)
            self.prepare.close()


def _same_learning(a: Model, b: Model) -> bool:
    """Learned from the same archive and taxonomy (the fingerprint), or both never learned."""
    if a is b:
        return True
    return a.fingerprint == b.fingerprint and bool(a.fingerprint or (a.empty and b.empty))


@contextmanager
def open_run(settings: Settings, *, dry_run: bool, force: bool, explain: bool = False) -> Iterator[Run]:
    """The Run for one command, closed afterwards. It guesses from the taxonomy alone until
    `refresh_model` gives it the learned model. A dry run creates no ledger and keeps no robots.txt."""
    from .politeness import polite_fetcher  # the HTTP client's libraries load when a run is opened
    from .render import check_template, load_template

    template = load_template(settings.template)
    check_template(template)  # a template that fails on any note: an error now, before any item is fetched
    taxonomy = load_taxonomy(settings.taxonomy_path)
    ledger = open_ledger(settings.ledger_url, create=not dry_run, wait=settings.ledger_wait)
    fetcher = polite_fetcher(settings, robots_store=None if dry_run else ledger)
    run = Run(settings=settings, ledger=ledger, fetcher=fetcher, template=template, taxonomy=taxonomy,
              dry_run=dry_run, force=force, explain=explain)
    try:
        yield run
    finally:
        run.close()
        fetcher.close()
        ledger.close()


@dataclass
class Interrupted:
    """The signal that stopped a run (None: none did)."""

    signum: int | None = None


@contextmanager
def stop_on_signals(run: Run) -> Iterator[Interrupted]:
    """While inside, SIGINT (Ctrl-C) and SIGTERM set `run.stop` instead of ending the process: no
    new item starts, the items in flight finish (each written whole, and reported). Yields what
    was received. Signal handlers belong to the main thread: elsewhere this does nothing."""
    got = Interrupted()
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def stop(signum: int, _frame) -> None:
        got.signum = got.signum or signum
        run.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def refresh_model(run: Run) -> tuple[Run, Learned]:
    """The run with the guesser's current model, learned again first when the archive or taxonomy
    changed (not saved in a dry run), and what was learned, for the caller to report."""
    from .learn import ensure_model

    learned = ensure_model(run.settings, run.taxonomy, save=not run.dry_run)
    return run.with_model(learned.model), learned
