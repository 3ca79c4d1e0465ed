"""OPML subscription lists ↔ Sources: import a feed reader's export, export ours (pure).

Feed readers write one <outline xmlUrl=…> per feed, nested in folders; a feed's folders become
its tags. Sources that are not feeds (watched pages, sitemaps) are written as type="link" outlines
with an `ingestKind` attribute, which other readers ignore and our import reads back, so an export
round-trips.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lxml import etree

from .errors import SourceError
from .features import slug
from .records import SOURCE_KINDS, NoteDefaults, Source
from .sources import name_slug, unique, unique_name
from .urls import InvalidURLError, normalize_url, url_key

KIND_ATTRIBUTE = "ingestKind"
AUTO = "auto"  # the kind of a source whose kind is still to be discovered


class Imported(NamedTuple):
    """What an OPML file holds: its sources, and one line for each outline that could not be one."""

    sources: list[Source]
    failed: list[str]


def sources_from_opml(content: bytes, taken: set[str]) -> Imported:
    """One feed Source per outline with an xmlUrl, folders searched at any depth and kept as its
    tags (kebab-case of their titles, outermost first); outlines with only an htmlUrl (a site, not
    a feed) are skipped, and so is a feed listed twice. An outline whose address is unusable is
    reported in `failed` and the others are read; a file that is no OPML is a SourceError.

    Names come from the outline's text (else title, else the URL) and avoid `taken`."""
    body = _body(content)
    names = set(taken)
    seen: set[str] = set()
    imported = Imported([], [])
    for outline in body.iter("outline"):
        kind_given = (outline.get(KIND_ATTRIBUTE) or "").strip().lower()
        url = (outline.get("xmlUrl") or "").strip()
        if not url and kind_given in SOURCE_KINDS:
            url = (outline.get("url") or "").strip()  # our own export of a page or sitemap
        if not url:
            continue  # a folder, or a site without a feed
        label = _title(outline)
        try:
            url = _checked_url(url, label)
        except SourceError as exc:
            imported.failed.append(exc.message)
            continue
        if url_key(url) in seen:
            continue
        seen.add(url_key(url))
        kind = kind_given if kind_given in SOURCE_KINDS else None if kind_given == AUTO else "feed"
        # a title in a script with no ASCII spelling slugs to nothing: name it by its address
        name = unique(label, names) if name_slug(label) else unique_name(url, names)
        names.add(name)
        imported.sources.append(Source(name=name, url=url, kind=kind, defaults=NoteDefaults(tags=_folders(outline))))
    return imported


def _title(outline: etree._Element) -> str:
    return (outline.get("text") or outline.get("title") or "").strip()


def _folders(outline: etree._Element) -> tuple[str, ...]:
    """The tags of the folders `outline` is filed in, outermost first; a title with no ASCII
    spelling makes none."""
    tags = (slug(_title(parent)) for parent in reversed(list(outline.iterancestors("outline"))))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def sources_to_opml(sources: list[Source], title: str = "ingest sources") -> bytes:
    """An OPML 2.0 document listing `sources`: feeds as type="rss" outlines any feed reader can
    import, pages and sitemaps as type="link" outlines."""
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(opml, "body")
    for source in sources:
        outline = etree.SubElement(body, "outline")
        outline.set("text", source.name)
        outline.set("title", source.name)
        if source.kind in (None, "feed"):
            outline.set("type", "rss")
            outline.set("xmlUrl", source.url)
            if source.kind is None:
                outline.set(KIND_ATTRIBUTE, AUTO)
        else:
            outline.set("type", "link")
            outline.set("url", source.url)
            outline.set(KIND_ATTRIBUTE, source.kind)
    return etree.tostring(opml, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _body(content: bytes) -> etree._Element:
    if b"<!ENTITY" in content:
        raise SourceError("OPML file declares XML entities (<!ENTITY>); refused, as no export needs them")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        reason = re.sub(r",? line \d+, column \d+$", "", " ".join(str(exc.msg or exc).split()))
        raise SourceError(f"not a valid OPML file: XML error at line {exc.lineno}: {reason}") from None
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise SourceError(f"not a valid OPML file: {' '.join(str(exc).split())}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise SourceError("OPML file declares XML entities (<!ENTITY>); refused, as no export needs them")
    tag = etree.QName(root).localname if isinstance(root.tag, str) else str(root.tag)
    if tag != "opml":
        raise SourceError(f"not an OPML file: the document is <{tag}>, expected <opml>")
    body = root.find("body")
    if body is None:
        raise SourceError("not a valid OPML file: <opml> has no <body> holding the outlines")
    return body


def _checked_url(url: str, label: str) -> str:
    # old readers export feed://host/path and feed:https://host/path
    if url.lower().startswith("feed:"):
        rest = url[5:]
        url = rest if rest.lower().startswith(("http://", "https://")) else "https:" + rest
    try:
        normalize_url(url)
    except InvalidURLError as exc:
        raise SourceError(
            f"OPML outline '{label or url}': xmlUrl must be an http:// or https:// address: "
            f"{exc.message}, got {url!r}"
        ) from None
    return url
