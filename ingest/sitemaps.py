"""Sitemap bytes (urlset, sitemapindex, gzipped or plain text) → page URLs and child sitemaps (pure)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias
from urllib.parse import urljoin

import lxml.etree

from .errors import SourceError
from .records import FeedItem
from .urls import InvalidURLError, normalize_url, url_key

Element: TypeAlias = lxml.etree._Element
GZIP_MAGIC = b"\x1f\x8b"
SCHEME_PREFIXES = ("http://", "https://")
MALFORMED = "sitemap_malformed"
# W3C datetime forms that datetime.fromisoformat does not read: a year, or a year and month.
YEAR_MONTH = re.compile(r"(\d{4})(?:-(\d{2}))?")


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: the pages it lists, or (for an index) the sitemaps it points to."""

    items: tuple[FeedItem, ...]  # <urlset> entries: url + published=lastmod (aware UTC datetime or None)
    sitemaps: tuple[str, ...]  # <sitemapindex> children, absolute URLs


def parse_sitemap(content: bytes, url: str, max_bytes: int = 50_000_000) -> Sitemap:
    """Read a sitemap document fetched from `url`; raise SourceError when it is none, is
    malformed, or decompresses to more than `max_bytes`."""
    if content.startswith(GZIP_MAGIC):
        content = _gunzip(content, max_bytes, url)
    elif len(content) > max_bytes:
        raise SourceError(f"sitemap is larger than {max_bytes} bytes", url=url, code="too_large")
    content = content.removeprefix(b"\xef\xbb\xbf").lstrip()
    if content.startswith(b"<"):
        return _parse_xml(content, url)
    return Sitemap(items=_first_per_url(FeedItem(url=u) for u in _text_urls(content, url)), sitemaps=())


def _gunzip(content: bytes, max_bytes: int, url: str) -> bytes:
    """Decompress gzip bytes with bounded output steps, stopping as soon as the output passes
    max_bytes, so a gzip bomb costs at most max_bytes of memory."""
    out = bytearray()
    pending = content
    while pending:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            while not inflater.eof:
                chunk = inflater.decompress(pending, max_bytes + 1 - len(out))
                out += chunk
                if len(out) > max_bytes:
                    raise SourceError(
                        f"sitemap decompresses to more than {max_bytes} bytes", url=url, code="too_large"
                    )
                pending = inflater.unconsumed_tail
                if not chunk and not pending:
                    raise SourceError("sitemap gzip stream is truncated", url=url, code=MALFORMED)
        except zlib.error as exc:
            raise SourceError(f"sitemap is not valid gzip: {exc}", url=url, code=MALFORMED) from None
        # Concatenated gzip members make one stream; other bytes after the end are ignored.
        pending = inflater.unused_data if inflater.unused_data.startswith(GZIP_MAGIC) else b""
    return bytes(out)


def _parse_xml(content: bytes, url: str) -> Sitemap:
    """A <urlset> or <sitemapindex> document, in any namespace or none."""
    try:
        # Sitemaps never need a DTD: entities stay unexpanded, nothing is read from disk or network.
        # A parser per call: lxml parsers must not be shared between threads.
        parser = lxml.etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
        )
        root = lxml.etree.fromstring(content, parser)
    except lxml.etree.XMLSyntaxError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise SourceError(f"sitemap is not well-formed XML: {message}", url=url, code=MALFORMED) from None
    name = lxml.etree.QName(root)
    # Sitemaps 0.9, Google's old 0.84 or none; only children in the root's own namespace count,
    # so <image:loc> and <xhtml:link> extensions are never read as pages.
    ns = f"{{{name.namespace}}}" if name.namespace else ""
    if name.localname == "urlset":
        entries = _locs(root, ns + "url", ns, url)
        items = _first_per_url(FeedItem(url=loc, published=_lastmod(entry, ns)) for entry, loc in entries)
        return Sitemap(items=items, sitemaps=())
    if name.localname == "sitemapindex":
        children = dict.fromkeys(loc for _, loc in _locs(root, ns + "sitemap", ns, url))
        return Sitemap(items=(), sitemaps=tuple(children))
    raise SourceError(
        f"not a sitemap: the root element is <{name.localname}>, not <urlset> or <sitemapindex>",
        url=url,
        code="not_a_sitemap",
    )


def _locs(root: Element, tag: str, ns: str, base: str) -> Iterator[tuple[Element, str]]:
    """(element, absolute normalized <loc>) for each `tag` child with a usable <loc>, in order."""
    for entry in root.iterchildren(tag):
        if (loc := _absolute(_plain_text(entry, ns + "loc"), base)) is not None:
            yield entry, loc


def _plain_text(entry: Element, tag: str) -> str | None:
    """The text of the child `tag`, None when it holds anything else: an unexpanded entity
    would otherwise cut https://site/&x; down to https://site/."""
    child = entry.find(tag)
    return None if child is None or len(child) else child.text


def _absolute(loc: str | None, base: str) -> str | None:
    """The normalized absolute http(s) URL, or None for a missing or unusable one."""
    if not loc or not loc.strip():
        return None
    try:
        return normalize_url(urljoin(base, loc.strip()))
    except (InvalidURLError, ValueError):  # ValueError: urljoin cannot parse it ("http://[::1/x")
        return None


def _lastmod(entry: Element, ns: str) -> datetime | None:
    """<lastmod> as an aware UTC datetime; a date alone is midnight UTC, a missing zone is UTC."""
    text = (_plain_text(entry, ns + "lastmod") or "").strip()
    if not text:
        return None
    match = YEAR_MONTH.fullmatch(text)
    try:
        when = datetime(int(match[1]), int(match[2] or 1), 1) if match else datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _text_urls(content: bytes, url: str) -> list[str]:
    """A text sitemap: one absolute URL per line; other lines are skipped, but a body with no
    URL at all is not a sitemap."""
    lines = content.decode("utf-8", "replace").splitlines()
    urls = [_absolute(line, url) for line in lines if line.strip().lower().startswith(SCHEME_PREFIXES)]
    if any(line.strip() for line in lines) and not any(urls):
        raise SourceError("not a sitemap: neither XML nor a list of URLs", url=url, code="not_a_sitemap")
    return [u for u in urls if u is not None]


def _first_per_url(items: Iterable[FeedItem]) -> tuple[FeedItem, ...]:
    """The items in order, each URL (by url_key) kept at its first occurrence."""
    first: dict[str, FeedItem] = {}
    for item in items:
        first.setdefault(url_key(item.url), item)
    return tuple(first.values())
