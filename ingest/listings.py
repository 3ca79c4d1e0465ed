"""Listing pages without a feed: HTML → the article links it lists, and the feed it may advertise (pure)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.etree
import lxml.html

from .errors import SourceError
from .records import FeedItem
from .urls import InvalidURLError, normalize_url, same_site, try_key, url_key

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")

# Page chrome: landmarks always, header/footer only when they are the page's and not an article's own.
CHROME_TAGS = {"nav", "aside"}
PAGE_ONLY_TAGS = {"header", "footer"}
CHROME_ROLES = {"navigation", "menu", "menubar", "banner", "contentinfo", "complementary", "search"}
# One word of a class or id (split on space, - and _): "site-nav", "Footer_root__x1", "share-bar".
CHROME_WORD = re.compile(
    r"(nav|navbar|navigation|menu|breadcrumbs?|footer|sidebar|pagination|pager|share|sharing|social|cookies?)"
)
# "has-sidebar", "no-menu", "is-nav-open": a state of the element, not what it is.
STATE_PREFIX = ("has-", "no-", "is-", "with-")

# Whole path segments, so a slug such as /posts/learning-from-noisy-tags/ is not mistaken for /tags/.
LISTING_SEGMENT = re.compile(
    r"(tags?|category|categories|topics?|authors?|archives?|search|login|signin|sign-in|signup|sign-up|"
    r"register|subscribe|feed|rss|atom|people|team|about(-us)?|contact(-us)?|privacy(-policy)?|"
    r"terms(-of-(use|service))?|legal|imprint|careers|jobs|cookies?(-policy)?)(\.[a-z]{2,5})?",
    re.IGNORECASE,
)
PAGINATION = re.compile(r"/page/\d+/?$", re.IGNORECASE)
PAGINATION_PARAMS = {"page", "paged"}
ROOT_PATH = re.compile(r"/((index|default|home)(\.[a-z]{3,5})?)?/?", re.IGNORECASE)
ASSET_SUFFIXES = (
    ".jpg", ".jpeg", ".png", ".gif", ".svg", ".webp", ".avif", ".ico", ".css", ".js", ".json", ".xml",
    ".woff", ".woff2", ".ttf", ".mp3", ".mp4", ".webm", ".mov", ".zip", ".gz", ".tar",
)
NAV_RELS = {"tag", "author", "next", "prev", "alternate", "license"}
# Anchor texts that say nothing about the article; never chosen as its title.
GENERIC_TEXT = re.compile(
    r"((read|learn|see|view)( the)?|continue)( (more|reading|post|article|paper|story))?|more|details"
)
DECORATION = " .…:›>→»"


def discover_feed(html: str, page_url: str) -> str | None:
    """The absolute URL of the first RSS, Atom or JSON feed the page links with rel="alternate",
    skipping comment feeds; None when it advertises none."""
    tree = _parse(html)
    if tree is None:
        return None
    base = _base_url(tree, page_url)
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        title = (link.get("title") or "").lower()
        is_feed = kind in FEED_TYPES or (kind == "application/json" and "feed" in title)
        if "alternate" in rels and href and is_feed and "comments" not in f"{href.lower()} {title}":
            url = _join(base, href)
            if url is not None and try_key(url) is not None:  # an http(s) URL the fetcher can reach
                return url
    return None


def find_article_links(
    html: str, page_url: str, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
) -> list[FeedItem]:
    """The article links of a listing page in document order, one FeedItem per article: same
    site, not page chrome, not a tag/author/pagination/legal page, filtered by include/exclude."""
    includes, excludes = _compile(include), _compile(exclude)
    tree = _parse(html)
    if tree is None:
        return []
    base = _base_url(tree, page_url)
    page_key, above = url_key(page_url), _sections_above(page_url)
    titles: dict[str, list[str]] = {}  # url_key → link texts, in first-seen order
    urls: dict[str, str] = {}
    for anchor in tree.iter("a"):
        if _is_chrome(anchor) or NAV_RELS & set((anchor.get("rel") or "").lower().split()):
            continue
        joined = _join(base, (anchor.get("href") or "").strip())
        url = _article_url(joined, page_url) if joined is not None else None
        if url is None or _is_section(key := url_key(url), page_key, above):
            continue
        if (includes and not any(p.search(url) for p in includes)) or any(p.search(url) for p in excludes):
            continue
        urls.setdefault(key, url)
        titles.setdefault(key, []).append(_link_text(anchor))
    return [FeedItem(url=url, title=_best_title(titles[key])) for key, url in urls.items()]


def _parse(html: str) -> lxml.html.HtmlElement | None:
    """The parsed document, or None for an empty one. Encoded first: lxml refuses a str that
    carries an XML encoding declaration."""
    if not html.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        return lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except lxml.etree.ParserError:
        return None


def _base_url(tree: lxml.html.HtmlElement, page_url: str) -> str:
    """What relative links resolve against: the first <base href>, itself relative to the page."""
    for base in tree.iter("base"):
        if base.get("href", "").strip():
            return _join(page_url, base.get("href").strip()) or page_url
    return page_url


def _join(base: str, href: str) -> str | None:
    """`href` made absolute against `base`; None when it cannot be parsed ("http://[::1/x")."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def _compile(patterns: tuple[str, ...]) -> list[re.Pattern]:
    """The include/exclude regular expressions; a broken one is the source's configuration error."""
    try:
        return [re.compile(p) for p in patterns]
    except re.error as exc:
        raise SourceError(f"bad include/exclude pattern {exc.pattern!r}: {exc}", code="bad_pattern") from None


def _is_chrome(anchor: lxml.html.HtmlElement) -> bool:
    """True when the link sits in navigation, a header or footer, a sidebar, a share bar …"""
    in_article = any(el.tag == "article" for el in anchor.iterancestors())
    for el in anchor.iterancestors():
        if el.tag in ("body", "html", "main"):
            break
        if el.tag in CHROME_TAGS or (el.tag in PAGE_ONLY_TAGS and not in_article):
            return True
        if (el.get("role") or "").lower() in CHROME_ROLES:
            return True
        tokens = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
        words = (w for t in tokens if not t.startswith(STATE_PREFIX) for w in re.split(r"[-_]+", t))
        if any(CHROME_WORD.fullmatch(w) for w in words):
            return True
    return False


def _article_url(url: str, page_url: str) -> str | None:
    """The normalized URL when it can be an article of this site, else None."""
    try:
        url = normalize_url(url)
    except InvalidURLError:
        return None
    parts = urlsplit(url)
    path = parts.path
    if not same_site(url, page_url) or (ROOT_PATH.fullmatch(path) and not parts.query):
        return None
    if any(LISTING_SEGMENT.fullmatch(s) for s in path.split("/")) or PAGINATION.search(path):
        return None
    if PAGINATION_PARAMS & {k.lower() for k, _ in parse_qsl(parts.query)}:
        return None
    return None if path.lower().endswith(ASSET_SUFFIXES) else url


def _sections_above(page_url: str) -> set[str]:
    """The url_keys of the sections above a listing page: x.org/research/ml/ → {x.org/, x.org/research}."""
    host, _, path = url_key(page_url).partition("?")[0].partition("/")
    segments = [s for s in path.split("/") if s]
    return {f"{host}/" + "/".join(segments[:i]) for i in range(len(segments))}


def _is_section(key: str, page_key: str, above: set[str]) -> bool:
    """True for the listing page itself under any query (filters, sorting) and for the sections
    above it; a query on a section above (/?p=123) may name an article."""
    bare, _, query = key.partition("?")
    return bare == page_key.partition("?")[0] or (not query and bare in above)


def _link_text(anchor: lxml.html.HtmlElement) -> str:
    """The anchor's text, whitespace collapsed; its heading's text when it wraps a whole card."""
    heading = next((el for el in anchor.iter("h1", "h2", "h3", "h4", "h5", "h6")), None)
    return " ".join((heading if heading is not None else anchor).text_content().split())


def _best_title(texts: list[str]) -> str | None:
    """The longest text among the links to one article, "Read more" and the like left out."""
    useful = [t for t in texts if (bare := t.strip(DECORATION)) and not GENERIC_TEXT.fullmatch(bare.lower())]
    return max(useful, key=len, default=None)
