"""Wires the stages for one item: known? → claim → fetch → extract → guess → render → write → record.

Every failure of one item becomes an Outcome (and a ledger row saying so); nothing here lets
one broken URL stop a run. `ingest_many` runs items concurrently; politeness is the fetcher's job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import scholarly
from .archive import note_folders, scan_archive
from .errors import ConfigError, FetchError, IngestError, LedgerError, WriteError
from .fingerprint import NEAR_DISTANCE, bands, distance
from .ledger import Known
from .records import DONE, Document, FeedItem, FetchResult, Outcome, Source, State
from .render import twin_filename, twin_text
from .runtime import Run
from .strays import stop_strays
from .timing import item_retry_delay
from .urls import InvalidURLError, try_key, url_key
from .writer import remove_leftovers, write_note

STOPPED = "stopped"  # the code of an Outcome that was not started because the run was stopped

if TYPE_CHECKING:
    from .prepare import Prepared


def all_known(run: Run, urls: list[str]) -> bool:
    """True when every URL is already archived (so nothing will be extracted or guessed)."""
    for url in urls:
        key = try_key(url)
        known = run.known([key]) if key else None
        if known is None or known.outcome not in DONE:
            return False
    return True


def recover(run: Run) -> list[str]:
    """Take back what killed processes left: temporary note files, claims on items and sources
    (queued and due again), and worker processes still running. Returns what was done, for the
    user to read."""
    if run.dry_run:
        return []
    done = [f"removed the leftover {p}" for p in remove_leftovers(run.settings.output_dir)]
    released_items, released_sources = run.ledger.release_claims(run.clock())
    if released_items:
        done.append(f"queued again {released_items} item(s) a stopped worker had claimed")
    if released_sources:
        done.append(f"released {released_sources} source(s) a stopped worker had claimed")
    if stopped := stop_strays():
        done.append(f"stopped {stopped} stray worker process(es) a killed run left running")
    return done


def sync_archive(run: Run) -> list[str]:
    """Learn the URLs of the curators' notes (archive_dir and output_dir); return problems found."""
    scan = scan_archive(note_folders(run.settings.archive_dir, run.settings.output_dir), run.ledger.archive_state())
    if run.dry_run:
        run.archived.update({c.url_key: c.path for c in scan.changed if c.url_key})
    else:
        run.ledger.update_archive(scan.changed, scan.removed)
    if run.settings.archive_dir and not run.settings.archive_dir.is_dir():
        scan.problems.insert(0, f"archive_dir {run.settings.archive_dir} does not exist; check the setting")
    return scan.problems


@dataclass(frozen=True)
class Job:
    """One item to ingest, with what its source said of it."""

    url: str
    hint: FeedItem | None = None
    source: Source | None = None
    source_id: int | None = None


def ingest_many(run: Run, jobs: list[Job], *, workers: int | None = None,
                on_done: Callable[[Outcome], None] = lambda o: None) -> Iterator[Outcome]:
    """Ingest jobs concurrently; yields outcomes in the jobs' order, and calls `on_done` as each
    finishes in that order. Once `run.stop` is set, jobs not yet started are skipped."""
    for outcome in _ingest_many(run, jobs, workers):
        on_done(outcome)
        yield outcome


def _ingest_many(run: Run, jobs: list[Job], workers: int | None) -> Iterator[Outcome]:
    if not jobs:
        return
    workers = max(1, min(workers or run.settings.concurrency, len(jobs)))
    if workers > 1:
        run.prepare.start_pool(len(jobs))

    unwritable = threading.Event()  # the output folder failed: every later note would fail alike
    broken: dict[str | None, ConfigError] = {}  # template (None: the settings') → how it failed

    def one(job: Job) -> Outcome:
        if run.stop.is_set():  # a source's item stays queued in the ledger for the next run
            return Outcome(job.url, State.SKIPPED, error="stopped before it started", code=STOPPED)
        if unwritable.is_set():
            return Outcome(job.url, State.SKIPPED, error="not started: the output folder cannot be written")
        template = job.source.template if job.source else None
        if template in broken:  # every note it renders would fail alike
            return Outcome(job.url, State.SKIPPED, error="not started: the note template fails",
                           code=broken[template].code)
        # the same URL twice in one batch: the second waits for the first and is its duplicate
        with run._locks[try_key(job.url) or job.url]:
            try:
                outcome = ingest_url(job.url, run, hint=job.hint, source=job.source, source_id=job.source_id)
            except ConfigError as exc:
                broken.setdefault(template, exc)
                return Outcome(job.url, State.SKIPPED, error="not written: the note template fails", code=exc.code)
        if outcome.code == WriteError.code:
            unwritable.set()
        return outcome

    if workers == 1:
        yield from map(one, jobs)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
            futures = [pool.submit(one, job) for job in jobs]
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
    if broken:  # the whole command's error, once the items in flight are done and reported
        fault = next(iter(broken.values()))
        raise ConfigError(f"{fault.message}; fix the template and run again (its items are not marked failed)",
                          code=fault.code)


def spread_by_host(jobs: Iterable[Job]) -> list[Job]:
    """Interleave hosts (a, b, c, a, b, …) so that workers are not all queued behind one host."""
    by_host: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_host[urlsplit(job.url).netloc].append(job)
    queues = list(by_host.values())
    spread: list[Job] = []
    while queues:
        spread.extend(q.pop(0) for q in queues)
        queues = [q for q in queues if q]
    return spread


def ingest_url(url: str, run: Run, *, hint: FeedItem | None = None, source: Source | None = None,
               source_id: int | None = None) -> Outcome:
    """Archive one article URL: a new note, a known duplicate, or a failure with its reason."""
    url = url.strip()
    try:
        key = url_key(url)
    except InvalidURLError as exc:
        return Outcome(url, State.FAILED, error=exc.message, code=exc.code)
    if not run.force:
        known = run.known([key])
        if known and known.outcome in DONE:
            if known.outcome == State.ARCHIVED and known.item_id is not None and known.note_path and not run.dry_run:
                _adopt(run, known.item_id, known.note_path)
            return Outcome(url, State.DUPLICATE, path=known.note_path)
    now = run.clock()
    item_id = None
    if not run.dry_run:
        item_id = run.ledger.claim(url, key, now, force=run.force, source_id=source_id, hint=hint_json(hint))
        if item_id is None:
            known = run.known([key])
            if known and known.outcome == State.PENDING:
                return Outcome(url, State.SKIPPED, error="another worker is ingesting this URL right now",
                               code="claimed")
            return Outcome(url, State.DUPLICATE, path=known.note_path if known else None)
    try:
        return _fetch_and_write(url, item_id, run, now, hint, source)
    except WriteError as exc:  # the folder's fault, not the item's: it waits, queued, for a folder that works
        _requeue(run, item_id, exc)
        return Outcome(url, State.FAILED, error=exc.message, code=exc.code)
    except ConfigError as exc:  # a note template that fails: the whole command's fault; the item waits too
        _requeue(run, item_id, exc)
        raise
    except IngestError as exc:
        if item_id is not None:
            with contextlib.suppress(LedgerError):
                _record_failure(run, item_id, exc)
        return Outcome(url, State.FAILED, error=exc.message, code=exc.code)
    except BaseException:  # Ctrl-C: release the claim so the next run need not wait for it to go stale
        if item_id is not None:
            with contextlib.suppress(LedgerError):
                run.ledger.finish_failed(item_id, run.clock(), error="interrupted", error_code="interrupted",
                                         retry_at=run.clock())
        raise


def _requeue(run: Run, item_id: int | None, exc: IngestError) -> None:
    if item_id is not None:
        with contextlib.suppress(LedgerError):
            run.ledger.requeue(item_id, run.clock(), retry_at=run.clock(), error=exc.message, error_code=exc.code)


def _adopt(run: Run, item_id: int, note_path: str) -> None:
    """An unfinished item whose note is already on disk (written just before a crash, or by a
    curator): the item is done, with that note."""
    written_here = Path(note_path).resolve().parent == run.settings.output_dir.resolve()
    with contextlib.suppress(LedgerError):
        run.ledger.finish_with_note(item_id, State.CREATED if written_here else State.DUPLICATE, run.clock(),
                                    note_path)


def _record_failure(run: Run, item_id: int, exc: IngestError) -> None:
    """Transient failures (timeouts, 5xx, 429) are tried again later, a bounded number of times."""
    now = run.clock()
    retry_at = None
    if isinstance(exc, FetchError) and exc.transient:
        attempts = run.ledger.item_attempts(item_id)
        if attempts < run.settings.item_retries:
            retry_at = now + item_retry_delay(attempts, run.settings)
    run.ledger.finish_failed(item_id, now, error=exc.message, error_code=exc.code, retry_at=retry_at)


def _fetch_and_write(url: str, item_id: int | None, run: Run, now: datetime,
                     hint: FeedItem | None, source: Source | None) -> Outcome:
    from .prepare import page_of  # with the extraction stack, which only a fetched page needs

    result = _fetch(scholarly.fetch_url(url), item_id, run)
    prepared = run.prepare(page_of(result), now.date(), hint, source)
    full_text = _full_text(prepared.document, item_id, run)
    if full_text is not None:  # an arXiv paper: its abstract page again, now with the paper's text
        prepared = run.prepare(page_of(result, full_text), now.date(), hint, source)
    document, note, content_hash = prepared.document, prepared.note, prepared.content_hash
    if not run.force:
        duplicate = _known_elsewhere(result, document, prepared, item_id, run)
        if duplicate is not None:
            if item_id is not None:
                run.ledger.finish_duplicate(
                    item_id, run.clock(), duplicate_of=duplicate.item_id, note_path=duplicate.note_path,
                    final_url=result.final_url, canonical_url=document.canonical_url,
                    content_hash=content_hash, title=document.title,
                )
            return Outcome(url, State.DUPLICATE, path=duplicate.note_path)
    if run.explain:
        run.guesses[url] = prepared.guess
    folder, filename, text = run.settings.output_dir, note.filename, note.text
    if run.force and (known_note := _note_on_disk(run, [url, result.final_url, document.canonical_url])):
        # a deliberate second note: beside the first, for a curator to compare, never new work
        folder, filename, text = known_note.parent, twin_filename(known_note.name), twin_text(note.text)
    if run.dry_run:
        return Outcome(url, State.CREATED, path=str(folder / filename), note_text=text)
    assert item_id is not None  # not a dry run: the item was claimed
    # the snapshots first: a crash after them leaves only spare blobs
    kept = [(role, fetched, run.snapshots.put(fetched.content))
            for role, fetched in (("page", result), ("full_text", full_text)) if fetched is not None]
    path = write_note(folder, filename, text)
    try:
        for role, fetched, body_sha256 in kept:
            run.ledger.record_snapshot(item_id, fetched.url, fetched.final_url, fetched.status, fetched.headers,
                                       body_sha256, len(fetched.content), fetched.fetched_at, role)
        run.ledger.finish_created(
            item_id, run.clock(), note_path=str(path.resolve()), final_url=result.final_url,
            canonical_url=document.canonical_url, content_hash=content_hash, title=document.title,
            date_is_fallback=note.date_is_fallback, note_sha256=note_digest(text),
        )
        if prepared.simhash is not None:
            run.ledger.record_simhash(item_id, prepared.simhash, bands(prepared.simhash))
    except LedgerError:
        os.unlink(path)  # a note the ledger does not know would be ingested again: take it back
        raise
    return Outcome(url, State.CREATED, path=str(path))


def _note_on_disk(run: Run, urls: list[str]) -> Path | None:
    """The note that one of these URLs already has, if it is still there."""
    known = run.known([k for k in map(try_key, urls) if k])
    if known is None or known.outcome not in DONE or not known.note_path:
        return None
    return Path(known.note_path) if Path(known.note_path).is_file() else None


def note_digest(text: str) -> str:
    """The hash of a note's bytes as written, to tell later whether anyone has changed the file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hint_json(hint: FeedItem | None) -> str | None:
    if hint is None:
        return None
    return json.dumps({
        "title": hint.title, "author": hint.author, "categories": list(hint.categories),
        "published": hint.published.isoformat() if hint.published else None, "entry_id": hint.entry_id,
    })


def hint_from_json(url: str, text: str | None) -> FeedItem | None:
    if not text:
        return None
    data = json.loads(text)
    published = datetime.fromisoformat(data["published"]) if data.get("published") else None
    return FeedItem(url=url, entry_id=data.get("entry_id"), title=data.get("title"), published=published,
                    author=data.get("author"), categories=tuple(data.get("categories") or ()))


def _full_text(document: Document, item_id: int | None, run: Run) -> FetchResult | None:
    """The PDF an arXiv abstract page links as the paper; None when there is none or it cannot be
    had (the note then holds the abstract alone: no reason to fail the item)."""
    if not (document.arxiv_id and document.abstract and document.pdf_url) or "pdf" in document.page_types:
        return None
    try:
        fetched = _fetch(document.pdf_url, item_id, run)
    except FetchError:
        return None
    return fetched if fetched.is_pdf else None


def _fetch(url: str, item_id: int | None, run: Run) -> FetchResult:
    started, clock = run.clock(), time.monotonic()
    try:
        result = run.fetcher.fetch(url)
    except FetchError as exc:
        if not run.dry_run:
            run.ledger.record_fetch(item_id, url, started, time.monotonic() - clock, exc.status, exc.code, exc.message)
        raise
    if not run.dry_run:
        run.ledger.record_fetch(item_id, url, started, time.monotonic() - clock, result.status)
    return result


def _known_elsewhere(result: FetchResult, document: Document, prepared: Prepared,
                     item_id: int | None, run: Run) -> Known | None:
    """The same article reached another way: by its final URL, its canonical URL, its exact text,
    or nearly its text (a syndicated copy with other boilerplate: the SimHash within NEAR_DISTANCE)."""
    keys = [k for k in (try_key(result.final_url), try_key(document.canonical_url)) if k]
    if run.dry_run or item_id is None:  # a dry run claims nothing
        known = run.known(keys)
    else:
        known = run.ledger.add_aliases(item_id, keys)
    if known and (known.outcome in DONE or (known.outcome == State.PENDING and not run.dry_run)):
        return known
    if not run.settings.dedupe_text:
        return None
    same = run.ledger.lookup_hash(prepared.content_hash, exclude=item_id)
    if same is not None or prepared.simhash is None:
        return same
    for other, simhash in run.ledger.near_candidates(bands(prepared.simhash), exclude=item_id):
        if distance(simhash, prepared.simhash) <= NEAR_DISTANCE:
            return run.ledger.known_item(other)
    return None
