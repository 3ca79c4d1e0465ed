"""Feed bytes → Feed: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed through json (pure:
no network, no files, no clock)."""

from __future__ import annotations

import html
import io
import json
import re
import xml.sax
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import cast
from urllib.parse import urljoin, urlsplit

import feedparser

from .errors import SourceError
from .records import Feed, FeedItem

SUMMARY_CHARS = 500
SNIFF_BYTES = 4096
JSON_TYPES = ("application/feed+json", "application/json")
# trusted only when the root element is not within the first SNIFF_BYTES
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
DAY = 86400
SY_PERIODS = {"hourly": 3600, "daily": DAY, "weekly": 7 * DAY, "monthly": 30 * DAY, "yearly": 365 * DAY}
NOT_PAGES = ("enclosure", "license", "self", "edit", "replies")  # link relations that never name the article
PROLOG = r"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)*"  # declarations, comments, doctype
ROOT = re.compile(PROLOG + r"<([A-Za-z_][\w:.-]*)", re.S | re.I)
JSONFEED_VERSION = re.compile(r'"version"\s*:\s*"https?://jsonfeed\.org/version/')
# linear on hostile input: an unclosed <script> hides the rest (as in a browser); no tag spans a "<"
HIDDEN = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.S | re.I)
INLINE = "a|abbr|b|cite|code|em|font|i|mark|q|s|small|span|strong|sub|sup|u"  # no word break around these
INLINE_TAG = re.compile(rf"</?(?:{INLINE})\b[^<>]*>", re.I)
TAG = re.compile(r"<[^<>]*>")
EMAIL = re.compile(r"\S+@\S+")
# feedparser drops nested and external entity declarations, but keeps any entity whose value has
# no "&" and expands it in both its parsers: one 100 KB entity referenced 30,000 times in a 190 KB
# feed took two minutes and 8 GB ("quadratic blowup"). So a feed that declares entities is refused.
ENTITY_OR_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>|<!ENTITY\s*(%\s*)?([^\s>\[\]]*)([^>]*)", re.S | re.I)
EBCDIC_XML = b"\x4c\x6f\xa7\x94"  # "<?xm", which feedparser decodes as cp037


def parse_feed(content: bytes, url: str, content_type: str = "", charset: str | None = None) -> Feed:
    """Parse a fetched feed; `url` is where it came from, the base for relative links."""
    head = _head(content)
    if content_type.split(";")[0].strip().lower() in JSON_TYPES or head.lstrip().startswith("{"):
        return _json_feed(content, url)
    root = _root(head)
    if root in ("html", "head", "body"):
        raise _malformed("looks like an HTML page", url)
    _refuse_entities(content, url)
    # a file-like object, because feedparser first tries plain bytes as a file name
    parsed = feedparser.parse(io.BytesIO(content), response_headers=_headers(url, content_type, charset))
    if not parsed.entries and not parsed.get("version"):
        raise _malformed(_problem(parsed.get("bozo_exception"), head, root), url)
    info = parsed.feed
    return Feed(title=_detail(info.get("title_detail")), link=_link([info.get("link")], url),
                items=_unique_urls(_item(entry, url) for entry in parsed.entries), ttl=_ttl(info))


def looks_like_feed(content: bytes, content_type: str = "") -> bool:
    """A cheap guess from the first few KB: is this an RSS, Atom or JSON Feed document?"""
    head = _head(content).lstrip()
    media = content_type.split(";")[0].strip().lower()
    if head.startswith("{"):
        return bool(JSONFEED_VERSION.search(head)) or media == "application/feed+json"
    root = _root(head)
    if root is None:
        return media in FEED_TYPES
    local = root.rpartition(":")[2]
    rss_rdf = local == "rdf" and ("purl.org/rss/" in head or "netscape.com/rdf" in head)
    return local in ("rss", "feed") or rss_rdf


def _head(content: bytes) -> str:
    # without NULs the markup of UTF-16/32 documents reads as ASCII, whatever the byte order
    return content[:SNIFF_BYTES].replace(b"\x00", b"").decode("latin-1").lstrip("\xef\xbb\xbf\xfe\xff")


def _root(head: str) -> str | None:
    match = ROOT.match(head)
    return match.group(1).lower() if match else None


def _headers(url: str, content_type: str, charset: str | None) -> dict[str, str]:
    # given headers without a Content-Type, feedparser would assume ISO-8859-1 where XML says UTF-8
    value = content_type.strip() or "application/xml"
    if charset:
        value = f"{value.split(';')[0].strip()}; charset={charset}"
    return {"content-type": value, "content-location": url} if url else {"content-type": value}


def _problem(exc: Exception | None, head: str, root: str | None) -> str:
    if not head.strip():
        return "empty document"
    if isinstance(exc, xml.sax.SAXParseException):
        # feedparser puts an XML declaration in front of a document that lacks one: one line more
        line = cast(int, exc.getLineNumber()) - (0 if head.startswith("<?xml") else 1)  # set for parse errors
        return f"{exc.getMessage()} at line {line}"
    return f"<{root}> is not an RSS, Atom or RDF root element" if root else "no RSS, Atom or RDF root element"


def _refuse_entities(content: bytes, url: str) -> None:
    """Refuse a feed that declares XML entities, as defusedxml would: an internal entity can expand
    a small feed into gigabytes, an external one can read a local file or make a request. The whole
    document is searched (outside CDATA), so a comment in the DTD cannot hide a declaration."""
    if content.startswith(EBCDIC_XML):
        text = content.decode("cp037", "replace")
    else:  # without NULs, the markup of UTF-16/32 reads as ASCII
        text = content.replace(b"\x00", b"").decode("latin-1")
    for match in ENTITY_OR_CDATA.finditer(text):
        if match.group().startswith("<![CDATA["):
            continue  # a post about XXE may quote a declaration
        parameter, name, rest = match.groups()
        kind = "external " if re.search(r"\b(SYSTEM|PUBLIC)\b", rest) else ""
        raise SourceError(
            f"refused: the feed declares the {kind}XML entity '{(parameter or '') + name}', which could "
            "expand without limit or read other files; ask the publisher for a feed without <!ENTITY> "
            "declarations",
            code="feed_entities", url=url,
        )


def _malformed(problem: str, url: str) -> SourceError:
    return SourceError(f"not a feed: {problem}", code="feed_malformed", url=url)


def _item(entry: dict, base: str) -> FeedItem | None:
    links = sorted(entry.get("links", []), key=lambda link: link.get("rel", "alternate") != "alternate")
    hrefs = [link.get("href") for link in links if link.get("rel") not in NOT_PAGES]
    url = _link([entry.get("link"), *hrefs], base, entry.get("id"))
    if url is None:
        return None
    return FeedItem(
        url=url,
        entry_id=entry.get("id") or None,
        title=_detail(entry.get("title_detail")),
        # dict.get: feedparser's get would answer a missing updated_parsed with published_parsed, and warn
        published=_utc(entry.get("published_parsed") or dict.get(entry, "updated_parsed")),
        author=_authors(entry.get("authors", []), entry.get("author")),
        categories=_unique_words(tag.get("term") or tag.get("label") for tag in entry.get("tags", [])),
        summary=_trim(_detail(entry.get("summary_detail") or (entry.get("content") or [None])[0])),
    )


def _json_feed(content: bytes, url: str) -> Feed:
    try:
        doc = json.loads(content)  # from bytes json finds UTF-8/16/32 itself, as RFC 8259 asks
    except (ValueError, RecursionError) as exc:
        raise _malformed(f"invalid JSON ({exc})", url) from None
    if not isinstance(doc, dict) or "jsonfeed.org/version/" not in str(doc.get("version", "")):
        raise _malformed("JSON without a jsonfeed.org version", url)
    home = _link([doc.get("home_page_url")], url)
    base = home or _link([doc.get("feed_url")], url) or url
    items = doc["items"] if isinstance(doc.get("items"), list) else []
    return Feed(title=_plain(_str(doc.get("title"))), link=home,
                items=_unique_urls(_json_item(item, base) for item in items if isinstance(item, dict)))


def _json_item(item: dict, base: str) -> FeedItem | None:
    ident = str(item["id"]) if isinstance(item.get("id"), (str, int)) else None
    url = _link([item.get("url"), item.get("external_url")], base, ident)
    if url is None:
        return None
    authors, tags = item.get("authors"), item.get("tags")
    people = authors if isinstance(authors, list) else [item.get("author")]
    tags = tags if isinstance(tags, list) else []
    summary = _plain(_str(item.get("summary")) or _str(item.get("content_text")))
    return FeedItem(
        url=url,
        entry_id=ident or None,
        title=_plain(_str(item.get("title"))),
        published=_iso_utc(_str(item.get("date_published")) or _str(item.get("date_modified"))),
        author=_authors([person for person in people if isinstance(person, dict)]),
        categories=_unique_words(_str(tag) for tag in tags),
        summary=_trim(summary or _plain(_str(item.get("content_html")), is_html=True)),
    )


def _link(candidates: list, base: str, ident: str | None = None) -> str | None:
    """The first candidate that resolves to an http(s) URL, else the id when it is one; the id is
    never resolved, since a relative id ("1234") names the entry, not a page."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip() and (url := _http(candidate, base)):
            return url
    return _http(ident, "") if isinstance(ident, str) else None


def _http(link: str, base: str) -> str | None:
    try:
        url = urljoin(base, link.strip())
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc and not re.search(r"\s", url) else None


def _unique_urls(items) -> tuple[FeedItem, ...]:
    first: dict[str, FeedItem] = {}
    for item in items:
        if item is not None:
            first.setdefault(item.url, item)
    return tuple(first.values())


def _unique_words(words) -> tuple[str, ...]:
    first: dict[str, str] = {}
    for word in map(_plain, words):
        if word:
            first.setdefault(word.casefold(), word)
    return tuple(first.values())


def _authors(people: list, fallback: str | None = None) -> str | None:
    names = [name for name in (_person(person.get("name")) for person in people) if name]
    return ", ".join(dict.fromkeys(names)) or _person(fallback)


def _person(name) -> str | None:
    name = _plain(_str(name))
    return None if name and EMAIL.fullmatch(name) else name  # an address alone is no name


def _detail(detail: dict | None) -> str | None:
    """Text from one of feedparser's {value, type} details."""
    return _plain(detail.get("value"), is_html="html" in detail.get("type", "")) if detail else None


def _plain(value: str | None, is_html: bool = False) -> str | None:
    """One line of plain text: tags gone (from HTML), character references decoded, spaces collapsed."""
    if not value:
        return None
    if is_html:
        value = TAG.sub(" ", INLINE_TAG.sub("", HIDDEN.sub(" ", value)))
    return " ".join(html.unescape(value).split()) or None


def _trim(text: str | None) -> str | None:
    if text is None or len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _utc(struct) -> datetime | None:
    # feedparser's *_parsed are UTC struct_times; a leap second (tm_sec 60) makes no datetime
    try:
        return datetime(*struct[:6]).replace(tzinfo=timezone.utc) if struct else None
    except (ValueError, TypeError, OverflowError):
        return None


def _iso_utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        try:  # JSON Feed asks for RFC 3339, but RSS-style RFC 822 dates turn up
            when = parsedate_to_datetime(value)
        except (ValueError, TypeError, IndexError):
            return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _ttl(info: dict) -> float | None:
    """Seconds from RSS <ttl> (minutes), else sy:updatePeriod divided by sy:updateFrequency."""
    try:
        minutes = int(info.get("ttl") or 0)
        period = SY_PERIODS.get(str(info.get("sy_updateperiod", "")).strip().lower(), 0)
        frequency = int(info.get("sy_updatefrequency") or 1)
    except ValueError:
        return None
    if minutes > 0:
        return minutes * 60.0
    return period / frequency if period and frequency > 0 else None
