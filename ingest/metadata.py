"""The article's title, authors, publication date and site name, and a paper's DOI, arXiv ID,
abstract and PDF, reconciled from everything the page declares: JSON-LD, Open Graph, citation_*
(Highwire), Dublin Core, <meta>, <title>, <h1> (pure).

General rules only: each field takes the most specific declaration that exists, cleaned of
what sites glue onto it (site names on titles, "By" and dates on bylines, times on dates). How a
byline becomes names is names.py's rule, how a date is read dates.py's: PDFs use them too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from lxml import html as lxml_html

from . import scholarly
from .dates import labelled_day, local_day, parse_day
from .features import url_host
from .names import clean_authors, declared_people, printed_byline
from .text import clean

ARTICLE_TYPES = ("article", "newsarticle", "blogposting", "scholarlyarticle", "report", "techarticle",
                 "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle", "posting",
                 "socialmediaposting", "liveblogposting", "webpage", "creativework", "medicalscholarlyarticle")
TITLE_SEPARATORS = re.compile(r"\s+[|\-–—·•:»›/\\]\s+|\s*\|\s*")
DATE_META = (  # most specific first: a declared publication date beats a generic "date"
    "article:published_time", "og:article:published_time", "citation_publication_date", "citation_date",
    "citation_online_date", "dcterms.issued", "dc.date.issued", "prism.publicationdate", "originalpublicationdate",
    "publication_date", "publish-date", "publishdate", "pubdate", "parsely-pub-date", "datepublished",
    "og:published_time", "dcterms.created", "dc.date.created", "dcterms.date", "dc.date", "date",
)
AUTHOR_META = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author",
               "cxenseparse:author", "byl", "twitter:creator")
# one person a tag, often written "Last, First" (Highwire's citation_author, Dublin Core's creator)
CITATION_AUTHOR_META = ("citation_author", "bepress_citation_author")
# Dublin Core as RDFa properties (dc:creator) before the older name="DC.creator" form
DC_AUTHOR_META = (("dc:creator", "dcterms:creator"), ("dc.creator", "dcterms.creator", "dc.creator.personalname"))
DOI_META = ("citation_doi", "bepress_citation_doi", "prism.doi", "dc.identifier.doi", "dc.identifier",
            "dcterms.identifier", "doi")
ABSTRACT_META = ("citation_abstract", "dcterms.abstract", "dc.description.abstract", "eprints.abstract")
PDF_META = ("citation_pdf_url", "bepress_citation_pdf_url", "eprints.document_url")
# "Abstract:" glued on the text; "Abstract reasoning …" and "Abstractive …" stay
ABSTRACT_LABEL = re.compile(r"^abstract\s*(?:[:.—–]|-\s)\s*", re.IGNORECASE)
LABEL_ONLY = re.compile(r"\s*abstract\s*:?\s*", re.IGNORECASE)
ABSTRACT_BLOCK = ("//*[self::blockquote or self::div or self::section or self::p]"
                  "[contains(concat(' ', normalize-space(@class), ' '), ' abstract ') or @id='abstract']")
TAGS = re.compile(r"</?\s*([a-z0-9]*)[^>]*>", re.IGNORECASE)
BLOCK_TAGS = frozenset(["p", "div", "section", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "br",
                        "blockquote", "table", "tr"])
END_OF_PAGE = re.compile(r"</(?:html|body)\s*>", re.IGNORECASE)
# not text: what XML 1.0 forbids (C0 controls but tab, newline and CR; U+FFFE and U+FFFF;
# surrogates) and Unicode's other noncharacters (U+FDD0-U+FDEF, the last two of every plane)
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufdd0-\ufdef"
                      + "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
                      + "]")
# the navigation, menus and sidebars (not a footer: WordPress prints "Posted on" in the entry's)
PAGE_CHROME = re.compile(r"(?<![a-z0-9])(nav|navbar|navigation|navtop|topnav|menu|sidebar|widget)(?![a-z])",
                         re.IGNORECASE)
KICKER = re.compile(r"(?<![a-z0-9])(kicker|subtitle|sub-title|overline|dachzeile|topline|roofline|eyebrow|"
                    r"supertitle|super-title|pretitle|pre-title|spitzmarke)(?![a-z])", re.IGNORECASE)


@dataclass
class PageMeta:
    """Every declaration of the page that the reconciling rules look at."""

    meta: dict[str, list[str]] = field(default_factory=dict)  # lower-case name/property/itemprop → contents
    jsonld: list[dict] = field(default_factory=list)  # every JSON-LD object, @graph flattened
    title_tag: str | None = None
    h1: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)  # <time> elements: datetime attribute or text
    canonical: str | None = None  # <link rel="canonical">
    language: str | None = None  # <html lang>
    abstract_block: str | None = None  # the text of the page's visible abstract (class="abstract")

    def first(self, *names: str) -> str | None:
        for name in names:
            for value in self.meta.get(name, ()):
                if value.strip():
                    return clean(value)
        return None

    def article(self) -> dict | None:
        """The JSON-LD object that describes the article (not the site, the breadcrumb or the logo)."""
        for wanted in (ARTICLE_TYPES[:-2], ARTICLE_TYPES):
            for obj in self.jsonld:
                if any(t.lower() in wanted for t in _types(obj)) and (obj.get("headline") or obj.get("name")):
                    return obj
        return None

    @property
    def page_types(self) -> tuple[str, ...]:
        found = [self.first("og:type")] + [t for obj in self.jsonld for t in _types(obj)]
        # a page that declares a DOI (Dublin Core, PRISM, JSON-LD) cites itself as a paper does
        if any(name.startswith("citation_") for name in self.meta) or declared_doi(self):
            found.append("citation")
        return tuple(dict.fromkeys(t.lower() for t in found if t))


def parse_html(page: str) -> lxml_html.HtmlElement | None:
    """The page as a tree, parsed as trafilatura parses it; None for a page lxml cannot read."""
    # the text is already decoded: say so, or a <meta charset> in it would decode it a second time;
    # huge_tree: libxml2 otherwise drops everything nested deeper than 256 elements (tag soup with
    # hundreds of unclosed <div>s), and the page's size is already capped by the fetcher
    parser = lxml_html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                                  remove_comments=True, remove_pis=True, huge_tree=True)
    # libxml2 stops reading at </html> and puts what follows </body> outside the body; browsers
    # read on, and a CMS snippet with a stray "</body></html>" mid-page must not cut the article
    page = END_OF_PAGE.sub("", page)
    try:
        tree = lxml_html.fromstring(page.encode("utf-8", "replace"), parser=parser)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return None
    _drop_not_text(tree)
    return tree


def _drop_not_text(tree: lxml_html.HtmlElement) -> None:
    """One character that XML forbids (a BEL or a U+FFFE in a title or a paragraph, raw or as a
    reference like &#7;) makes trafilatura drop the whole page; a browser shows nothing for it
    either (form feed is HTML whitespace). Done on the tree, where references are decoded."""
    def clean(text: str) -> str:
        return NOT_TEXT.sub(lambda m: " " if m.group() == "\x0c" else "", text)

    for element in tree.iter():
        if element.text and NOT_TEXT.search(element.text):
            element.text = clean(element.text)
        if element.tail and NOT_TEXT.search(element.tail):
            element.tail = clean(element.tail)
        for name, value in element.attrib.items():
            if NOT_TEXT.search(value):
                element.set(name, clean(value))


def read_meta(tree: lxml_html.HtmlElement | None) -> PageMeta:
    """Collect the page's declarations."""
    meta = PageMeta()
    if tree is None:
        return meta
    for element in tree.iter("meta"):
        name = element.get("name") or element.get("property") or element.get("itemprop")
        content = element.get("content")
        if name and content is not None:
            meta.meta.setdefault(name.strip().lower(), []).append(content)
    for element in tree.iterfind(".//*[@itemprop]"):
        if element.tag == "meta":
            continue
        for prop in element.get("itemprop", "").lower().split():  # itemprop="author creator"
            if prop not in ("datepublished", "author", "headline"):
                continue
            named = element.find('.//*[@itemprop="name"]') if prop == "author" else None
            source = named if named is not None else element
            value = source.get("datetime") or source.get("content") or source.text_content()
            if value and value.strip():
                meta.meta.setdefault(f"itemprop:{prop}", []).append(value)
    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" in script.get("type", "").lower() and script.text:
            meta.jsonld.extend(_jsonld_objects(script.text))
    for element in tree.iter("time"):  # visible dates, in page order
        value = element.get("datetime") or element.text_content()
        if value and value.strip() and not _in_page_chrome(element):
            meta.times.append(value.strip())
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            meta.canonical = link.get("href").strip()
            break
    meta.language = (tree.get("lang") or tree.get("xml:lang") or "").strip() or None
    title = tree.find(".//title")
    meta.title_tag = clean(title.text_content()) if title is not None else None
    # a documentation site's heading ends in its permalink's pilcrow, no part of the headline
    meta.h1 = [t for t in (clean(_headline_text(h).rstrip().rstrip("¶")) for h in tree.iter("h1")) if t]
    meta.abstract_block = _abstract_block(tree)
    return meta


def _headline_text(heading: lxml_html.HtmlElement) -> str:
    """A heading's text without the kicker printed in it ("<h1><span class="subtitle">Olympics
    in Paris</span> Drinks by boat</h1>"): the kicker is a topic line, not the headline."""
    kickers = [e for e in heading.iterdescendants()
               if isinstance(e.tag, str) and KICKER.search(e.get("class") or "")]
    if not kickers:
        return heading.text_content()
    parts = [heading.text or ""]
    for child in heading:
        if child not in kickers:
            parts.append(_headline_text(child) if isinstance(child.tag, str) else "")
        parts.append(" " + (child.tail or ""))
    return "".join(parts)


def chrome_dates(tree: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """The <time> elements in the navigation, menus and sidebars."""
    return [element for element in tree.iter("time") if _in_page_chrome(element)]


def _in_page_chrome(element: lxml_html.HtmlElement) -> bool:
    """True for an element inside the navigation, a menu or a sidebar: a date there is today's
    in a clock widget, or another article's, not this one's."""
    for ancestor in element.iterancestors():
        if ancestor.tag in ("body", "html"):  # their classes describe the whole page
            break
        if ancestor.tag in ("nav", "aside"):
            return True
        if PAGE_CHROME.search(f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"):
            return True
    return False


def _abstract_block(tree: lxml_html.HtmlElement) -> str | None:
    """The first element marked as the abstract, without its "Abstract:" label element."""
    for element in tree.xpath(ABSTRACT_BLOCK):
        parts = [element.text or ""]
        for child in element:
            label = not "".join(parts).strip() and LABEL_ONLY.fullmatch(child.text_content())
            text = "" if label or not isinstance(child.tag, str) else child.text_content()
            gap = " " if child.tag in BLOCK_TAGS else ""  # paragraphs are not glued together
            parts.append(gap + text + gap + (child.tail or ""))
        text = clean("".join(parts))
        if text and len(text.split()) >= 10:
            return text
    return None


def declared_site_name(meta: PageMeta) -> str | None:
    publisher = next((p for p in (obj.get("publisher") for obj in meta.jsonld) if isinstance(p, dict)), {})
    website = next((obj for obj in meta.jsonld if any(t.lower() == "website" for t in _types(obj))), {})
    return (meta.first("og:site_name", "application-name", "apple-mobile-web-app-title")
            or clean(_text(publisher.get("name"))) or clean(_text(website.get("name"))))


def declared_canonical(meta: PageMeta) -> str | None:
    return meta.canonical or meta.first("og:url")


def description(meta: PageMeta) -> str | None:
    return meta.first("description", "og:description", "twitter:description", "dc.description")


def keywords(meta: PageMeta) -> tuple[str, ...]:
    """The page's own keywords, tags and section, in that order, without duplicates."""
    found: list[str] = []
    for name in ("keywords", "news_keywords", "article:tag", "og:article:tag", "parsely-tags", "article:section"):
        for value in meta.meta.get(name, []):
            listed = name in ("keywords", "news_keywords", "parsely-tags")
            found += re.split(r"\s*[,;]\s*", value) if listed else [value]
    article = meta.article() or {}
    ld = article.get("keywords")
    found += re.split(r"\s*,\s*", ld) if isinstance(ld, str) else [k for k in ld or [] if isinstance(k, str)]
    seen: dict[str, str] = {}
    for raw in found:
        word = clean(raw)
        if word and len(word) <= 60:
            seen.setdefault(word.lower(), word)
    return tuple(seen.values())


# -- title --------------------------------------------------------------------------------------


def best_title(meta: PageMeta, sitename: str | None, url: str, fallback: str | None) -> str | None:
    """The headline. A title the page declares (citation, JSON-LD, Dublin Core, Open Graph) wins,
    cleaned of the site's name; without one, the <h1> that the <title> contains, else the
    <title> cleaned of the site's name."""
    article = meta.article() or {}
    declared_or_none = [
        meta.first("citation_title"),
        clean(_text(article.get("headline"))),
        # Dublin Core as RDFa properties (dc:title) before the older name="DC.title" form
        meta.first("dc:title", "dcterms:title", "dc.title", "dcterms.title", "og:title", "twitter:title"),
        clean(_text(article.get("name"))),
    ]
    sites = _site_names(meta, sitename, url)
    headings = [h for h in meta.h1 if len(_norm(h)) >= 3 and not _is_site(h, sites)]
    declared = [d for d in declared_or_none if d]
    if declared:
        # the declaration the visible page agrees with (Wikipedia's JSON-LD headline is a
        # description, its name the title); else the most specific one
        seen = [_norm(meta.title_tag)] + [_norm(h) for h in headings]
        confirmed = [d for d in declared if any(_norm(strip_site(d, sites)) in s for s in seen)]
        if not confirmed:
            # declarations unrelated to what the page shows (a section's name as og:title) lose
            # to the <h1> that the <title> bears out; a reworded headline stays
            shown = [h for h in headings if _same_headline(h, strip_site(meta.title_tag or "", sites))
                     and not any(_overlap(h, d) >= 0.5 for d in declared)]
            if shown:
                return shown[0]
            # "Kicker: Headline" declared, "Section: Headline" in the <title>: the part both end in
            shared = _shared_tail(strip_site(declared[0], sites), strip_site(meta.title_tag or "", sites))
            if shared:
                return shared
        title = strip_site((confirmed or declared)[0], sites)
        # an <h1> that is most of it is the headline without the kicker or section glued on
        return _heading_inside(headings, title) or title
    if meta.title_tag:
        stripped = strip_site(meta.title_tag, sites)
        # an <h1> that is most of the <title> is the headline without the section names around it
        return _heading_inside(headings, stripped, equal=True) or stripped
    return headings[0] if headings else fallback


def _heading_inside(headings: list[str], title: str, equal: bool = False) -> str | None:
    """The <h1> that is most of `title`: the headline without the kicker, section or site glued
    on. Of two, the one the title begins with ("Headline — Docs Name" with both as <h1>), else
    the longer."""
    whole = _norm(title)
    inside = [h for h in headings if _norm(h) in whole and (equal or _norm(h) != whole)
              and len(_norm(h)) >= 0.4 * len(whole)]
    return max(inside, key=lambda h: (whole.startswith(_norm(h)), len(_norm(h)))) if inside else None


def strip_site(title: str, sites: list[str]) -> str:
    """`Headline | Site`, `Site - Headline`, `Site: Headline`, `Headline - Section - Site` → `Headline`."""
    head, colon, rest = title.partition(": ")
    if colon and rest and _is_site(head, sites):
        title = rest
    parts = [p for p in TITLE_SEPARATORS.split(title) if p and p.strip()]
    if len(parts) < 2:
        return title
    seps = TITLE_SEPARATORS.findall(title)
    while len(parts) > 1 and _is_site(parts[-1], sites):
        parts.pop()
        seps.pop()
    while len(parts) > 1 and _is_site(parts[0], sites):
        parts.pop(0)
        seps.pop(0)
    # an unknown site name: a short last segment after a strong separator ("Headline | Blog Name");
    # a date glued on at the end ("Headline : 06.11.2023, 11.41 Uhr")
    if len(parts) > 1 and (
        (seps[-1].strip() in ("|", "–", "—", "·", "»", "›", "•") and len(parts[-1].split()) <= 3
         and len(" ".join(parts[:-1]).split()) >= 3)
        or re.fullmatch(r"[\d.:/,\s-]+(uhr|h|am|pm)?", parts[-1].strip(), re.IGNORECASE)
    ):
        parts.pop()
        seps.pop()
    rebuilt = parts[0]
    for sep, part in zip(seps, parts[1:]):
        rebuilt += sep + part
    return rebuilt.strip()


def _is_site(segment: str, sites: list[str]) -> bool:
    norm = _norm(segment)
    if not norm:
        return False
    return any(norm == s or (len(s) > 3 and (norm.startswith(s) or s.startswith(norm))) for s in sites)


def _site_names(meta: PageMeta, sitename: str | None, url: str) -> list[str]:
    names = [sitename, meta.first("og:site_name", "application-name", "apple-mobile-web-app-title",
                                  "citation_journal_title", "twitter:site")]
    for obj in meta.jsonld:
        if any(t.lower() in ("website", "organization", "newsmediaorganization") for t in _types(obj)):
            names.append(_text(obj.get("name")))
        publisher = obj.get("publisher")
        if isinstance(publisher, dict):
            names.append(_text(publisher.get("name")))
    host = url_host(url)
    names += [host, host.split(".")[0]]
    return list(dict.fromkeys(n for n in (_norm(x) for x in names if x) if n))


def _shared_tail(a: str, b: str) -> str | None:
    """The last segment of two titles (after a colon or a separator) when both end in it and what
    stands before it differs (a kicker, a section), not a rewording of one headline."""
    split = [re.split(r":\s+|\s+[|\-–—·•»›]\s+", t) for t in (a, b)]
    tails, heads = [s[-1].strip() for s in split], [" ".join(s[:-1]) for s in split]
    if (any(heads) and _norm(tails[0]) == _norm(tails[1]) and len(tails[0].split()) >= 2
            and _overlap(*heads) < 0.5):
        return tails[0]
    return None


def _same_headline(h1: str, title: str) -> bool:
    a, b = _norm(h1), _norm(title)
    return bool(a) and (a == b or (len(a) >= 12 and a in b and len(a) >= 0.35 * len(b)))


def _overlap(a: str, b: str) -> float:
    """The share of the shorter text's words that the other has too."""
    words_a, words_b = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(words_a & words_b) / min(len(words_a), len(words_b)) if words_a and words_b else 0.0


def _norm(text: str | None) -> str:
    return re.sub(r"[^\w]+", "", (text or "").lower().lstrip("@"))


# -- authors ------------------------------------------------------------------------------------


def best_authors(meta: PageMeta, fallback: str | Callable[[], str | None] | None, sitename: str | None = None,
                 url: str = "", text: str = "") -> str | None:
    """The people (or organisation) who wrote it, joined with ', '. The site's own name (or an
    organisation) given as author is no byline: other declarations, then a byline the article's
    `text` prints ("Written by: Jane Doe"), are looked at first, and the note falls back to it.
    `fallback` (a byline, or a function finding one, called only when needed) comes last."""
    article = meta.article() or {}
    sites = _site_names(meta, sitename, url)
    site_as_author = ""
    declared = _jsonld_people(article.get("author") or article.get("creator"))
    for people in (
        clean_authors([name for name, is_person in declared if is_person]),
        declared_people([a for name in CITATION_AUTHOR_META for a in meta.meta.get(name, [])]
                         + [a for v in meta.meta.get("citation_authors", []) for a in v.split(";")]),
        *(declared_people([a for name in names for a in meta.meta.get(name, [])])
          for names in DC_AUTHOR_META),
        clean_authors([a for name in AUTHOR_META for a in meta.meta.get(name, [])]),
        clean_authors(meta.meta.get("itemprop:author", [])),
    ):
        persons = [p for p in people if not _is_site(p, sites)]
        if persons:
            return ", ".join(persons)
        site_as_author = site_as_author or ", ".join(people)
    # an organisation declared as author (JSON-LD) stands where the site's name does
    site_as_author = ", ".join(clean_authors([name for name, is_person in declared if not is_person])) \
        or site_as_author
    printed = printed_byline(text)
    if printed and not _is_site(printed, sites):
        return printed
    # a personal site's name is its author's: better than trafilatura's guess from the page text
    if site_as_author:
        return site_as_author
    return ", ".join(clean_authors([fallback() if callable(fallback) else fallback])) or None


def _jsonld_people(value) -> list[tuple[str, bool]]:
    """(name, is a person) of each JSON-LD author; an Organization is no person."""
    values = value if isinstance(value, list) else [value]
    names = []
    for item in values:
        if isinstance(item, dict):
            name = _text(item.get("name"))
            if not name and (item.get("givenName") or item.get("familyName")):
                name = f"{_text(item.get('givenName')) or ''} {_text(item.get('familyName')) or ''}".strip()
            organisation = any("organization" in t.lower() for t in _types(item))
            names.append((name, not organisation))
        elif isinstance(item, str):
            names.append((item, True))
    return [(n, person) for n, person in names if n]


# -- date ---------------------------------------------------------------------------------------


def best_date(meta: PageMeta, fallback: str | None, today: date) -> str | None:
    """The publication date as written (never a modified date, never in the future)."""
    article = meta.article() or {}
    declared: list[str | None] = [_text(article.get("datePublished")), _text(article.get("dateCreated"))]
    declared += [_text(obj.get("datePublished")) for obj in meta.jsonld]
    declared += [meta.first(name) for name in DATE_META]
    declared += meta.meta.get("itemprop:datepublished", [])
    declared.append(_parsely_date(meta))
    declared += meta.times[:1]  # the first visible date of the page, when nothing is declared
    for value in declared:
        day = parse_day(value, today)
        if day and value:
            return local_day(value, [*declared, *meta.times], today) or day
    return parse_day(fallback, today)


def labelled_date(tree: lxml_html.HtmlElement | None, today: date) -> str | None:
    """The first date the page's visible text prints after a label that names it the publication
    date ("Datum: 18.10.2021", "Published: March 3, 2020"); none after "Updated" or "Stand"."""
    if tree is None:
        return None
    texts = tree.xpath("//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")
    return labelled_day(" ".join(" ".join(texts).split()), today)


def _parsely_date(meta: PageMeta) -> str | None:
    raw = meta.first("parsely-page")
    if not raw:
        return None
    try:
        return _text(json.loads(raw).get("pub_date"))
    except (ValueError, AttributeError):
        return None


# -- papers -------------------------------------------------------------------------------------


def declared_doi(meta: PageMeta) -> str | None:
    """The DOI the page declares for itself: citation_doi, PRISM, Dublin Core identifier, or the
    JSON-LD article's identifier, sameAs or @id."""
    candidates = [v for name in DOI_META for v in meta.meta.get(name, [])]
    article = meta.article() or {}
    for key in ("identifier", "sameAs", "doi", "@id"):
        values = article.get(key)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, dict):  # a PropertyValue: {"propertyID": "DOI", "value": "10.…"}
                value = value.get("value") or value.get("@id") or value.get("url")
            if isinstance(value, str):
                candidates.append(value)
    return next((d for d in (scholarly.doi(clean(c) or "") for c in candidates) if d), None)


def declared_arxiv_id(meta: PageMeta) -> str | None:
    found = (scholarly.arxiv_id(v) for v in meta.meta.get("citation_arxiv_id", []))
    return next((a for a in found if a), None)


def declared_pdf(meta: PageMeta) -> str | None:
    """The paper's PDF as declared (maybe relative to the page)."""
    return meta.first(*PDF_META)


def paper_abstract(meta: PageMeta) -> str | None:
    """The paper's abstract: declared (citation_abstract, Dublin Core, JSON-LD), else the page's
    visible abstract; without markup or an "Abstract:" label. Only asked of papers: elsewhere a
    description is no abstract."""
    article = meta.article() or {}
    for value in [meta.first(*ABSTRACT_META), _text(article.get("abstract")), meta.first("dc.description"),
                  meta.abstract_block]:
        text = clean(TAGS.sub(lambda m: " " if m.group(1).lower() in BLOCK_TAGS else "", value or ""))
        text = ABSTRACT_LABEL.sub("", text or "").strip()
        if text:
            return text
    return None


# -- JSON-LD ------------------------------------------------------------------------------------


def _jsonld_objects(text: str) -> list[dict]:
    text = text.strip().removeprefix("<![CDATA[").removesuffix("]]>").strip().rstrip(";")
    try:
        data = json.loads(text)
    except ValueError:
        return []
    found: list[dict] = []
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            found.append(item)
            if isinstance(item.get("@graph"), list):
                stack.extend(item["@graph"])
            main = item.get("mainEntity") or item.get("mainEntityOfPage")
            if isinstance(main, dict) and main.get("@type"):
                stack.append(main)
    return found


def _types(obj: dict) -> list[str]:
    kind = obj.get("@type", [])
    return [k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)]


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    if isinstance(value, dict):
        return _text(value.get("name") or value.get("@value"))
    return None
