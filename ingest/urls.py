"""URL normalization and the keys that decide whether two URLs name the same item (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import courlan

from .errors import IngestError

SCHEMES = ("http", "https")


class InvalidURLError(IngestError, ValueError):
    code = "invalid_url"


def normalize_url(url: str) -> str:
    """The URL as it should be stored and shown: scheme and host lower case, default port,
    fragment and tracking parameters (utm_*, fbclid, gclid, …) removed, query sorted."""
    raw = url.strip()
    parts = urlsplit(raw)
    if not parts.scheme:
        raise InvalidURLError("not a URL; give an address starting with https:// or http://", url=url)
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidURLError(
            f"unsupported URL scheme '{parts.scheme}:'; only http:// and https:// pages are fetched",
            url=url,
        )
    if not parts.hostname:
        raise InvalidURLError("URL has no host; give a full address like https://example.org/post", url=url)
    if any(c.isspace() for c in raw):
        raise InvalidURLError("URL contains spaces; percent-encode them as %20", url=url)
    try:
        # a SplitResult, not the string: courlan HTML-unescapes strings, turning "&lt=0" into "<=0"
        normalized = courlan.normalize_url(parts)
    except (ValueError, UnicodeError) as exc:
        raise InvalidURLError(f"malformed URL ({exc})", url=url) from None
    return urlunsplit(urlsplit(normalized)._replace(fragment=""))


def url_key(url: str) -> str:
    """The identity of an item: its normalized URL without scheme, `www.` and trailing slash,
    so http/https and www/bare variants of one article meet on one key."""
    parts = urlsplit(normalize_url(url))
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def same_site(a: str, b: str) -> bool:
    """True when two URLs belong to one registered domain (blog.example.org ~ example.org)."""
    da, db = courlan.extract_domain(a), courlan.extract_domain(b)
    if da or db:
        return da == db
    # no registered domain (localhost, an IP address): the hosts themselves must agree
    ha, hb = urlsplit(a).hostname, urlsplit(b).hostname
    return bool(ha) and ha == hb


def try_key(url: str | None) -> str | None:
    """url_key, or None for a missing or unusable URL (a page's odd canonical link, say)."""
    if not url:
        return None
    try:
        return url_key(url)
    except InvalidURLError:
        return None
