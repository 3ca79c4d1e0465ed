"""HTML text + its URL → Document: main text as Markdown and the article's metadata (pure)."""

from __future__ import annotations

import hashlib
import re
from copy import deepcopy
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, cast
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from trafilatura import bare_extraction
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.metadata import extract_metainfo
from trafilatura.utils import normalize_unicode
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

if TYPE_CHECKING:
    from trafilatura.settings import Document as Extraction

from . import scholarly
from .errors import ExtractError
from .features import url_host
from .metadata import (
    best_authors,
    best_date,
    best_title,
    chrome_dates,
    declared_arxiv_id,
    declared_canonical,
    declared_doi,
    declared_pdf,
    declared_site_name,
    description,
    keywords,
    labelled_date,
    paper_abstract,
    parse_day,
    parse_html,
    read_meta,
)
from .records import Document
from .urls import InvalidURLError, normalize_url, same_site

MIN_WORDS = 20  # below this a "main text" is a cookie notice or a "please enable JavaScript"
MIN_CHARS = 120
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def extract_document(html: str, url: str, *, today: date) -> Document:
    """Extract the article in `html`, fetched from `url` (the final URL after redirects). The text
    may be empty: `require_text` decides whether there is enough of it for a note."""
    tree = parse_html(html)
    meta = read_meta(tree)  # before extraction, which prunes the tree
    if tree is not None:
        drop_hidden(tree)
    declared_day = best_date(meta, None, today)
    if declared_day is None and tree is not None:
        declared_day = labelled_date(tree, today)
    if declared_day is None and tree is not None:  # htmldate's heuristics, on the unpruned page
        for element in chrome_dates(tree):  # a clock in the menu bar would be read as the date
            element.drop_tree()
        found_day = parse_day(find_date(tree, extensive_search=True, original_date=True, url=url,
                                        max_date=today.isoformat()), today)
        declared_day = found_day if found_day and _written(found_day, html, url) else None
    # trafilatura's own metadata is not asked for: metadata.py reads the page once for all fields
    # as_dict is left False: a trafilatura Document (or None), never the dict its signature allows
    found = cast("Extraction | None", bare_extraction(
        tree if tree is not None else html,
        url=url,
        with_metadata=False,
        include_links=True,
        include_formatting=True,
        include_tables=True,
        include_images=False,
        include_comments=False,
    ))
    # found.text is the body as Markdown (formatting kept), already rendered by trafilatura
    text = normalize_unicode(found.text or "").strip() if found else ""
    sitename = declared_site_name(meta) or url_host(url)
    title = best_title(meta, sitename, url, None) or _title_from_url(url)
    canonical = _canonical(declared_canonical(meta), url)
    on_arxiv = scholarly.arxiv_id(canonical)
    if on_arxiv:  # an arXiv page of any version or format: the paper's page, as curators cite it
        canonical = scholarly.arxiv_abs_url(on_arxiv)
    arxiv_id = declared_arxiv_id(meta) or on_arxiv or scholarly.arxiv_id(url)
    doi = declared_doi(meta)
    paper = bool(doi or arxiv_id or {"citation", "scholarlyarticle"} & {t.lower() for t in meta.page_types})
    return Document(
        url=url,
        canonical_url=canonical,
        title=title,
        text=text,
        author=best_authors(meta, lambda: visible_byline(tree) if tree is not None else None, sitename, url, text),
        date=declared_day,
        sitename=sitename,
        description=description(meta),
        language=meta.language,
        keywords=keywords(meta),
        page_types=meta.page_types,
        abstract=paper_abstract(meta) if paper else None,
        doi=doi,
        arxiv_id=arxiv_id,
        pdf_url=_pdf_url(declared_pdf(meta), url, arxiv_id),
    )


def require_text(document: Document) -> Document:
    """The document, if it has a main text to make a note of. The metadata of a page without one
    is still read (extract_document returns it), but no note is written from a title alone."""
    text = document.text
    # scripts without spaces between words (Chinese, Japanese) are measured in characters
    if len(text.split()) < MIN_WORDS and len(text) < MIN_CHARS:
        raise ExtractError(
            "no main text found (the page may be empty, a login wall, or need JavaScript)",
            url=document.url,
            code="no_main_text",
        )
    return document


def extract_pdf(content: bytes, url: str, *, today: date) -> Document:
    """A PDF → Document: its text, and title, authors and date from its metadata or first page."""
    from .pdf import read_pdf  # the PDF library loads only when a PDF comes

    pdf = read_pdf(content, url)
    arxiv_id = scholarly.arxiv_id(url)
    return Document(
        url=url,
        canonical_url=scholarly.arxiv_abs_url(arxiv_id) if arxiv_id else url,
        title=pdf.title or _title_from_url(url),
        text=pdf.text,
        author=", ".join(pdf.authors) or None,
        date=pdf.date.isoformat() if pdf.date and pdf.date <= today else None,
        sitename=url_host(url),
        page_types=("pdf",),
        doi=scholarly.doi(url),
        arxiv_id=arxiv_id,
        pdf_url=url,
    )


def paper_text(document: Document, pdf: bytes | None, pdf_url: str | None) -> Document:
    """An arXiv abstract page: its Content is the abstract, then the paper's text from its PDF when
    that could be fetched and read (the page around the abstract is navigation)."""
    if not (document.arxiv_id and document.abstract):
        return document
    text = f"### Abstract\n\n{document.abstract}"
    if pdf is not None:
        from .pdf import read_pdf

        try:
            text += f"\n\n### Full text\n\n{read_pdf(pdf, pdf_url or document.url).text}"
        except ExtractError:  # a PDF without a text layer: the abstract still makes the note
            pass
    return replace(document, text=text)


def _pdf_url(declared: str | None, url: str, arxiv_id: str | None) -> str | None:
    """The declared PDF, made absolute; for an arXiv paper that declares none, arXiv's."""
    if declared:
        try:
            return normalize_url(urljoin(url, declared))
        except (InvalidURLError, ValueError):  # ValueError: urljoin cannot parse it ("http://[::1/x")
            pass
    return scholarly.arxiv_pdf_url(arxiv_id) if arxiv_id else None


MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
               "october", "november", "december")


def _written(day: str, html: str, url: str) -> bool:
    """False for a date htmldate completed from a year or a month alone ("2024" → 2024-01-01,
    "2024-13-45" → 2024-01-01): the spec forbids inventing a date. Only the 1st of a month can be
    such a completion, so other days pass unchecked."""
    year, month, dom = (int(part) for part in day.split("-"))
    if dom != 1:
        return True
    name = MONTH_NAMES[month - 1]
    m, d = rf"0?{month}", r"0?1"
    written = (
        rf"(?<!\d){year}(?P<s>[-/._]?){m}(?P=s){d}(?!\d)",  # 2024-03-01, 2024/3/1, 20240301
        rf"(?<!\d){d}(?P<s>[-/.])\s?{m}(?P=s)\s?{year}(?!\d)",  # 01.03.2024, 1/3/2024
        rf"(?<![\d.]){m}(?P<s>[-/.]){d}(?P=s){year}(?!\d)",  # 3/1/2024 (US)
        rf"\b{d}(st)?\.?\s+(of\s+)?{name[:3]}[a-z]*\.?,?\s+{year}\b",  # 1 March 2024, 1st of Mar. 2024
        rf"\b{name[:3]}[a-z]*\.?\s+{d}(st)?,?\s+{year}\b",  # March 1, 2024
    )
    return any(re.search(pattern, text, re.I) for pattern in written for text in (html, url))


def visible_byline(tree) -> str | None:
    """The byline printed on the page (trafilatura's author XPaths), raw: metadata.py cleans it,
    keeping the initials' dots that trafilatura's own normalization drops."""
    return extract_metainfo(prune_unwanted_nodes(deepcopy(tree), AUTHOR_DISCARD_XPATHS), AUTHOR_XPATHS, len_limit=120)


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
