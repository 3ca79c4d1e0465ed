"""Plain data passed between the pipeline's stages: FetchResult → Document → Guess → Note → Outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    """Where an item stands: in the ledger's `outcome` column and in an Outcome's `status`.

    A StrEnum, so it is stored and printed as its plain value."""

    QUEUED = "queued"  # known, not started
    PENDING = "pending"  # claimed by a worker (claim_owner.owner_id)
    CREATED = "created"  # a note was written
    DUPLICATE = "duplicate"  # another item or archived note has it
    FAILED = "failed"
    SKIPPED = "skipped"  # not started (a stop came first, or another worker holds it); never in the ledger
    ARCHIVED = "archived"  # a note of the curators' archive; never in the ledger


DONE = (State.CREATED, State.DUPLICATE, State.ARCHIVED)  # never fetch these again


class SourceStatus(StrEnum):
    """What one poll of a source came to."""

    NEW = "new"  # entries not seen before
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"  # another worker has it, or it is no longer due


@dataclass(frozen=True)
class FetchResult:
    """One completed HTTP exchange: the body as received (decompressed) and where it came from."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    content: bytes
    fetched_at: datetime
    elapsed: float  # seconds, all attempts and redirects included
    redirects: tuple[str, ...] = ()  # every URL visited before final_url
    moved_permanently: bool = False  # every redirect was a 301 or 308: the old URL is gone for good

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case; '' when the server sent none."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def is_pdf(self) -> bool:
        # servers label PDFs application/octet-stream, or even text/html: the magic bytes decide
        return self.content_type == "application/pdf" or self.content.lstrip()[:5] == b"%PDF-"

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if any."""
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'").lower()
        return None


@dataclass(frozen=True)
class Document:
    """What extraction found in one page: the article's text as Markdown and its metadata."""

    url: str  # the final URL it was fetched from
    canonical_url: str  # the page's own canonical URL when trustworthy, else `url`
    title: str
    text: str  # Markdown
    author: str | None = None
    date: str | None = None  # YYYY-MM-DD publication date; None when the page gives none
    sitename: str | None = None
    description: str | None = None
    language: str | None = None
    keywords: tuple[str, ...] = ()  # the page's own keywords, categories and tags
    # what the page says it is: og:type, JSON-LD @type, "citation" (citation_* tags or a declared DOI)
    page_types: tuple[str, ...] = ()
    # a paper's own identifiers and parts, when the page is one (None elsewhere)
    abstract: str | None = None
    doi: str | None = None  # as declared, e.g. 10.1000/xyz (compare without case)
    arxiv_id: str | None = None  # without version: 2401.01234, hep-th/9901001
    pdf_url: str | None = None  # the full text as PDF


@dataclass(frozen=True)
class Guess:
    """The classification fields of a note, and for each field the signals behind it."""

    domain: str
    format: str
    priority: str
    tags: tuple[str, ...]
    secondary_domains: tuple[str, ...] = ()
    reasons: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """A rendered source note, not yet written."""

    filename: str
    text: str
    date: str  # the date in its frontmatter
    date_is_fallback: bool  # True when no publication date was found and the archive date stands in


@dataclass(frozen=True)
class Outcome:
    """What happened to one URL: created, duplicate or failed."""

    url: str
    status: State  # created | duplicate | failed | skipped
    path: str | None = None
    error: str | None = None
    code: str | None = None
    note_text: str | None = None  # the rendered note, for --dry-run

    def as_json(self) -> dict:
        return {"url": self.url, "status": self.status, "path": self.path, "error": self.error}


SOURCE_KINDS = ("feed", "page", "sitemap")


@dataclass(frozen=True)
class NoteDefaults:
    """Note fields a source sets explicitly; a value given here always wins over a guess."""

    domain: str | None = None
    secondary_domains: tuple[str, ...] | None = None
    format: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    author: str | None = None


@dataclass(frozen=True)
class Source:
    """A configured place to poll: a feed, a listing page without a feed, or a sitemap."""

    name: str
    url: str
    kind: str | None = None  # "feed" | "page" | "sitemap"; None: discover on first poll
    every: float = 6 * 3600.0  # seconds between polls at most (the configured interval)
    include: tuple[str, ...] = ()  # regular expressions; an article URL must match one (if any given)
    exclude: tuple[str, ...] = ()  # regular expressions; an article URL matching one is skipped
    defaults: NoteDefaults = NoteDefaults()
    template: str | None = None  # path of its own note template
    backfill: int = 3  # on the first poll, ingest only this many newest entries
    enabled: bool = True


@dataclass(frozen=True)
class FeedItem:
    """One entry discovered from a source, with what the source says about it."""

    url: str
    entry_id: str | None = None
    title: str | None = None
    published: datetime | None = None  # timezone-aware UTC
    author: str | None = None
    categories: tuple[str, ...] = ()
    summary: str | None = None


@dataclass(frozen=True)
class Feed:
    """A parsed feed document."""

    title: str | None
    link: str | None
    items: tuple[FeedItem, ...]
    ttl: float | None = None  # seconds the feed asks us to wait (<ttl>, sy:updatePeriod)
