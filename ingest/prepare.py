"""The pure, CPU-heavy part of one item: page HTML → Document → Guess → Note.

It runs in the calling thread for a few items, or in worker processes for a batch, so both
cores work while threads wait on the network and the ledger (threads alone share one core:
trafilatura's work holds Python's lock). A worker gets the settings, taxonomy and model once,
when it starts; templates are loaded in the worker by path.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2

from .charset import page_html
from .config import Settings
from .extract import extract_document, extract_pdf, paper_text, require_text, text_hash
from .fingerprint import fingerprint
from .guess import guess
from .learned_model import Model
from .records import Document, FeedItem, FetchResult, Guess, Note, Source
from .render import load_template, render_note
from .strays import mark_owner
from .taxonomy import Taxonomy

POOL_MIN_ITEMS = 24  # below this, starting worker processes costs more than it saves
TASKS_PER_WORKER = 250  # then a fresh worker: lxml trees of big pages leave a worker's heap fragmented


@dataclass(frozen=True)
class PageInput:
    """What one item's extraction reads: a web page's HTML, a PDF's bytes, or both (a paper's
    abstract page and its full text)."""

    url: str  # where the page (or the PDF, when there is no page) was fetched from, after redirects
    html: str | None = None
    pdf: bytes | None = None
    pdf_url: str | None = None


def page_of(result: FetchResult, full_text: FetchResult | None = None) -> PageInput:
    if result.is_pdf:
        return PageInput(result.final_url, pdf=result.content, pdf_url=result.final_url)
    if full_text is not None:
        return PageInput(result.final_url, html=page_html(result), pdf=full_text.content, pdf_url=full_text.final_url)
    return PageInput(result.final_url, html=page_html(result))


def extract_page(page: PageInput, today: date) -> Document:
    if page.html is None:
        return extract_pdf(page.pdf or b"", page.url, today=today)
    # an arXiv page whose own text is short still makes a note from its abstract
    return require_text(paper_text(extract_document(page.html, page.url, today=today), page.pdf, page.pdf_url))


@dataclass(frozen=True)
class Prepared:
    document: Document
    guess: Guess
    note: Note
    content_hash: str
    simhash: int | None  # fingerprint.fingerprint of the main text; None for a short text


def prepare(page: PageInput, today: date, hint: FeedItem | None, source: Source | None, *,
            settings: Settings, taxonomy: Taxonomy, model: Model, template: jinja2.Template) -> Prepared:
    document = with_fallbacks(extract_page(page, today), hint, source, today=today)
    choice = guess(document, settings, source.defaults if source else None, taxonomy=taxonomy, model=model)
    note = render_note(document, choice, template, archived_on=today.isoformat())
    return Prepared(document, choice, note, text_hash(document.text), fingerprint(document.text))


def with_fallbacks(document: Document, hint: FeedItem | None, source: Source | None, *, today: date) -> Document:
    """Fill what the page lacks from what the feed entry and the source say: date, author, keywords."""
    changes: dict[str, Any] = {}
    if hint is not None:
        if document.date is None and hint.published is not None and hint.published.date() <= today:
            changes["date"] = hint.published.date().isoformat()
        if document.author is None and hint.author:
            changes["author"] = hint.author
        if hint.categories:
            changes["keywords"] = tuple(dict.fromkeys(document.keywords + hint.categories))
    if document.author is None and "author" not in changes and source is not None and source.defaults.author:
        changes["author"] = source.defaults.author
    return replace(document, **changes) if changes else document


class Preparer:
    """prepare() here, or in a pool of worker processes once `start_pool` was called."""

    def __init__(self, settings: Settings, taxonomy: Taxonomy, model: Model, template: jinja2.Template):
        self.settings, self.taxonomy, self.model, self.template = settings, taxonomy, model, template
        self.pool: ProcessPoolExecutor | None = None
        self._templates: dict[str, jinja2.Template] = {}

    def start_pool(self, items: int) -> None:
        if self.pool is None and items >= POOL_MIN_ITEMS and (os.cpu_count() or 1) > 1:
            mark_owner()  # workers that outlive this process can be found: strays.py
            # spawn, not fork: this process has threads (HTTP pool, scheduler) that fork would copy mid-flight
            self.pool = ProcessPoolExecutor(
                max_workers=os.cpu_count(), mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=TASKS_PER_WORKER,
                initializer=_start_worker, initargs=(self.settings, self.taxonomy, self.model),
            )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __call__(self, page: PageInput, today: date, hint: FeedItem | None, source: Source | None) -> Prepared:
        if self.pool is not None:
            return self.pool.submit(_prepare_in_worker, page, today, hint, source).result()
        template_path = source.template if source and source.template else None
        return prepare(page, today, hint, source, settings=self.settings, taxonomy=self.taxonomy,
                       model=self.model, template=self.template_for(template_path))

    def template_for(self, path: str | None) -> jinja2.Template:
        if path is None:
            return self.template
        if path not in self._templates:
            self._templates[path] = load_template(Path(path))
        return self._templates[path]


_worker: dict = {}  # the worker process's own Preparer (without a pool): prepares in this process


def _start_worker(settings: Settings, taxonomy: Taxonomy, model: Model) -> None:
    _follow_parent()
    # Ctrl-C reaches the whole process group: the main process decides how to stop, and shuts the
    # pool down after the items in flight, so a worker must not die under them
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker["preparer"] = Preparer(settings, taxonomy, model, load_template(settings.template))


def _follow_parent() -> None:
    """A worker ends when the process it works for ends, even by SIGKILL, which gives that process
    no chance to stop it. Not PR_SET_PDEATHSIG: that fires when the *thread* that started the worker
    ends, and workers are started from whichever thread submits first, or replaces one."""
    # the report on stdout is the parent's alone; and a supervisor reading it to its end must not
    # wait for a worker busy in C code after the parent is gone
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), name="follow-parent", daemon=True).start()


def _exit_with_parent(sentinel: int) -> None:
    # multiprocessing keeps the other end of this pipe open in the parent for as long as this
    # worker runs, so end of file comes only when the parent is gone
    while os.read(sentinel, 512):
        pass
    os._exit(1)  # at once: no one is left to take results, or to wait for a clean shutdown


def _prepare_in_worker(page: PageInput, today: date, hint: FeedItem | None, source: Source | None) -> Prepared:
    return _worker["preparer"](page, today, hint, source)
