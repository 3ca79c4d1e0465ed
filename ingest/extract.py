"""HTML text + its URL → Document: main text as Markdown and the article's metadata (pure)."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from urllib.parse import urlsplit

from trafilatura import bare_extraction
from trafilatura.xml import xmltotxt
from trafilatura.utils import normalize_unicode

from .charset import decode_html
from .errors import ExtractError
from .metadata import best_authors, best_date, best_title, parse_html, read_meta
from .models import Document, FetchResult
from .urls import InvalidURLError, normalize_url, same_site

HTML_TYPES = ("text/html", "application/xhtml+xml")
MIN_WORDS = 20  # below this a "main text" is a cookie notice or a "please enable JavaScript"
MIN_CHARS = 120
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def page_html(result: FetchResult) -> str:
    """The fetched body as HTML text; refuses what is not an HTML page, whatever its label."""
    body = result.content
    if not body.strip():
        raise ExtractError("the server sent an empty page", url=result.url, code="empty_body")
    kind = result.content_type
    head = body[:1024].lstrip().lower()
    looks_html = head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--", b"<body"))
    if kind and kind not in HTML_TYPES and not (kind == "text/plain" and looks_html):
        raise ExtractError(
            f"content type {kind} is not an HTML page; only web pages are archived for now",
            url=result.url,
            code="unsupported_content_type",
        )
    if b"\x00" in body[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError("the body is binary data, not an HTML page", url=result.url, code="binary_body")
    return decode_html(body, result.charset)


def extract_document(html: str, url: str, *, today: date) -> Document:
    """Extract the article in `html`, fetched from `url` (the final URL after redirects)."""
    tree = parse_html(html)
    meta = read_meta(tree)  # before extraction, which prunes the tree
    if tree is not None:
        drop_hidden(tree)
    found = bare_extraction(
        tree if tree is not None else html,
        url=url,
        with_metadata=True,
        include_links=True,
        include_formatting=True,
        include_tables=True,
        include_images=False,
        include_comments=False,
        date_extraction_params={"extensive_search": True, "original_date": True, "max_date": today.isoformat()},
    )
    text = normalize_unicode(xmltotxt(found.body, include_formatting=True)).strip() if found else ""
    # scripts without spaces between words (Chinese, Japanese) are measured in characters
    if len(text.split()) < MIN_WORDS and len(text) < MIN_CHARS:
        raise ExtractError(
            "no main text found (the page may be empty, a login wall, or need JavaScript)",
            url=url,
            code="no_main_text",
        )
    sitename = _site_name(found.sitename, url) or meta.first("og:site_name")
    title = best_title(meta, sitename, url, _clean(found.title)) or _title_from_url(url)
    return Document(
        url=url,
        canonical_url=_canonical(found.url, url),
        title=title,
        text=text,
        author=best_authors(meta, found.author, sitename, url),
        date=best_date(meta, found.date, today),
        sitename=sitename,
        description=_clean(found.description),
        language=found.language,
        keywords=_keywords(found.categories, found.tags),
        page_types=meta.page_types,
    )


def drop_hidden(tree) -> None:
    """Remove what a reader never sees (hidden attribute, display:none, aria-hidden), which
    extraction would otherwise take for text."""
    for element in list(tree.iter()):
        if not isinstance(element.tag, str) or element.tag in ("html", "body") or element.getparent() is None:
            continue
        if (element.get("hidden") is not None or element.get("aria-hidden") == "true"
                or HIDDEN_STYLE.search(element.get("style") or "")):
            element.drop_tree()


def text_hash(text: str) -> str:
    """A fingerprint of main text that ignores case and spacing, for exact-duplicate detection."""
    words = " ".join(text.lower().split())
    return hashlib.sha256(words.encode("utf-8")).hexdigest()


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    return value or None


def _site_name(declared: str | None, url: str) -> str | None:
    """The site's name; when the page names none, trafilatura falls back to host[:port]."""
    name = _clean(declared)
    parts = urlsplit(url)
    if name and name.lower() in (parts.netloc.lower(), (parts.hostname or "")):
        return (parts.hostname or name).removeprefix("www.")
    return name


def _canonical(declared: str | None, fetched: str) -> str:
    """The page's own canonical URL when it is trustworthy; else the fetched URL."""
    for candidate in (declared, fetched):
        if not candidate:
            continue
        try:
            if candidate is fetched or (same_site(candidate, fetched) and not _points_up(candidate, fetched)):
                return normalize_url(candidate)
        except InvalidURLError:
            continue
    return fetched


def _points_up(canonical: str, fetched: str) -> bool:
    """A canonical link to the home page or a section above the article is a site template's
    mistake: believed, it would make every article a duplicate of the home page.
    (One level up stays allowed: /story/amp → /story.)"""
    up = [p for p in urlsplit(canonical).path.split("/") if p]
    down = [p for p in urlsplit(fetched).path.split("/") if p]
    if not up:
        return bool(down) or bool(urlsplit(fetched).query)
    return len(down) - len(up) >= 2 and down[: len(up)] == up


def _title_from_url(url: str) -> str:
    last = [part for part in url.split("?")[0].split("/") if part][-1]
    return re.sub(r"[-_]+", " ", re.sub(r"\.\w+$", "", last)).strip() or url


def _keywords(*groups: list[str] | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for word in group or ():
            if word.strip():
                seen.setdefault(" ".join(word.split()), None)
    return tuple(seen)
