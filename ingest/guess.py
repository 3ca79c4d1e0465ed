"""Document → domain, format, priority and tags, each with the signals behind it (pure).

This is the one place classification plugs in. For now it uses the configured defaults, a few
URL rules for the format and the page's own keywords for tags; a learned guesser replaces it later.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from .config import Settings
from .models import Document, Guess, NoteDefaults

MAX_TAGS = 8
GENERIC_TAGS = frozenset(
    "article articles blog blogs post posts news home page uncategorized uncategorised general "
    "featured latest opinion misc other update updates story stories".split()
)
PAPER_HOSTS = ("arxiv.org", "doi.org", "dx.doi.org", "openreview.net", "biorxiv.org", "ssrn.com")
TWEET_HOSTS = ("x.com", "twitter.com", "mobile.twitter.com")
NEWSLETTER_HOSTS = ("substack.com", "buttondown.email", "beehiiv.com", "ghost.io")


def guess(document: Document, settings: Settings, source: NoteDefaults | None = None) -> Guess:
    """Guess the note's fields; a value the source sets explicitly always wins."""
    source = source or NoteDefaults()
    reasons: dict[str, list[str]] = {}
    fmt, why = _format(document, settings)
    domain, domain_why = settings.default_domain, f"configured default '{settings.default_domain}'"
    priority, priority_why = settings.default_priority, f"configured default '{settings.default_priority}'"
    if source.format:
        fmt, why = source.format, f"set by the source: '{source.format}'"
    if source.domain:
        domain, domain_why = source.domain, f"set by the source: '{source.domain}'"
    if source.priority:
        priority, priority_why = source.priority, f"set by the source: '{source.priority}'"
    reasons["format"], reasons["domain"], reasons["priority"] = [why], [domain_why], [priority_why]
    tags, reasons["tags"] = _tags(document, settings, source.tags)
    return Guess(
        domain=domain,
        format=fmt,
        priority=priority,
        tags=tags,
        secondary_domains=tuple(source.secondary_domains or ()),
        reasons=reasons,
    )


def tag_slug(phrase: str) -> str:
    """A lowercase kebab-case ASCII tag for a phrase ('Machine Learning' → 'machine-learning')."""
    ascii_text = unicodedata.normalize("NFKD", phrase).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _format(document: Document, settings: Settings) -> tuple[str, str]:
    parts = urlsplit(document.url)
    host = (parts.hostname or "").removeprefix("www.")
    rules = (
        ("paper", any(host == h or host.endswith("." + h) for h in PAPER_HOSTS), f"paper host {host}"),
        ("paper", parts.path.lower().endswith(".pdf"), "URL ends in .pdf"),
        ("tweet", host in TWEET_HOSTS, f"post on {host}"),
        ("newsletter", any(host.endswith(h) for h in NEWSLETTER_HOSTS), f"newsletter platform {host}"),
    )
    for fmt, matched, why in rules:
        if matched and fmt in settings.formats:
            return fmt, why
    return settings.default_format, f"configured default '{settings.default_format}'"


def _tags(document: Document, settings: Settings, source_tags: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    chosen: dict[str, str] = {}
    for tag in source_tags:
        chosen.setdefault(tag_slug(tag), "set by the source")
    for tag in settings.default_tags:
        chosen.setdefault(tag_slug(tag), "configured default")
    for keyword in document.keywords:
        slug = tag_slug(keyword)
        usable = slug and slug not in GENERIC_TAGS and not slug.isdigit() and slug.count("-") < 4
        if usable:
            chosen.setdefault(slug, f"page keyword '{keyword}'")
    picked = list(chosen)[:MAX_TAGS]
    return tuple(picked), [f"{t}: {chosen[t]}" for t in picked]
