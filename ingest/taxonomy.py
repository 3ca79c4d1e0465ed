"""config/taxonomy.toml → Taxonomy: the domains, format rules, tag aliases, site tags and priority
rules the guesser starts from before it learns anything from the archive.

Every error names the file, the entry and what is allowed, in the words of the settings and
sources files (see validation.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import PRIORITIES
from .features import slug
from .validation import (
    MOST_TAGS,
    Entry,
    choice,
    kebab,
    mapping,
    number,
    parse_toml,
    read_text,
    regexes,
    string,
    strings,
)

BUILTIN_TAXONOMY = Path(__file__).resolve().parent.parent / "config" / "taxonomy.toml"
TOP_KEYS = ("domain", "format", "format_aliases", "priority", "sites", "tags")


@dataclass(frozen=True)
class DomainInfo:
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()  # slugs: 'ai safety' → 'ai-safety'


@dataclass(frozen=True)
class FormatRule:
    """How to recognise one format from a page's URL, its declared type and its title."""

    name: str
    hosts: tuple[str, ...] = ()
    url: tuple[re.Pattern, ...] = ()
    page_types: tuple[str, ...] = ()  # lower case
    title: tuple[str, ...] = ()  # lower case
    bylines: tuple[re.Pattern, ...] = ()  # the author as written: "@handle" is a social post


@dataclass(frozen=True)
class PriorityRule:
    """Sets `priority` when every condition given holds (each condition: any of its values)."""

    priority: str
    formats: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    domains: tuple[DomainInfo, ...] = ()
    formats: tuple[FormatRule, ...] = ()
    format_aliases: dict[str, str] = field(default_factory=dict)
    tag_aliases: dict[str, str] = field(default_factory=dict)
    generic_tags: frozenset[str] = frozenset()
    site_tags: dict[str, str] = field(default_factory=dict)  # host → tag
    priority_rules: tuple[PriorityRule, ...] = ()
    min_tags: int = 3
    max_tags: int = 8
    digest: str = ""  # of the file's text: a changed taxonomy means a stale model

    def domain(self, name: str) -> DomainInfo | None:
        return next((d for d in self.domains if d.name == name), None)

    def canonical_format(self, value: str) -> str:
        value = value.strip().lower()
        return self.format_aliases.get(value, value)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and check a taxonomy file (default: the one shipped in config/)."""
    path = path or BUILTIN_TAXONOMY
    text = read_text(path, hint="; check the 'taxonomy' setting") or ""
    data = parse_toml(text, str(path))
    # the digest of the text as read_text() of old gave it, \r\n as \n: a file saved on Windows keeps its model
    universal = text.replace("\r\n", "\n").replace("\r", "\n")
    return parse_taxonomy(data, str(path), digest=hashlib.sha256(universal.encode()).hexdigest()[:16])


_NAME = kebab("ai-alignment")
_STRINGS = strings()
_ALIASES = mapping('"mech-interp" = "mechanistic-interpretability"')
_TAG_COUNT = number(whole=True, maximum=MOST_TAGS)


def parse_taxonomy(data: dict, where: str = "taxonomy", *, digest: str = "") -> Taxonomy:
    top = Entry(data, where)
    top.check_keys(TOP_KEYS)
    domains = tuple(_domain(Entry(t, f"{where}: [[domain]] #{i}")) for i, t in enumerate(top.tables("domain"), 1))
    formats = tuple(_format(Entry(t, f"{where}: [[format]] #{i}")) for i, t in enumerate(top.tables("format"), 1))
    tags = top.table("tags", f"{where}: [tags]")
    tags.check_keys(("min", "max", "generic", "aliases"))
    low = tags.get("min", _TAG_COUNT, 3)
    high = tags.get("max", _TAG_COUNT, 8)
    if high < low:
        raise tags.bad("max", f"must be at least min ({low}), got {high}")
    aliases = {slug(k): slug(v) for k, v in tags.get("aliases", _ALIASES, {}).items()}
    rules = tuple(_priority(Entry(t, f"{where}: [[priority]] #{i}")) for i, t in enumerate(top.tables("priority"), 1))
    return Taxonomy(
        domains=domains,
        formats=formats,
        format_aliases={k.lower(): v.lower() for k, v in top.get("format_aliases", _ALIASES, {}).items()},
        tag_aliases={k: v for k, v in aliases.items() if k and v and k != v},
        generic_tags=frozenset(slug(w) for w in tags.get("generic", _STRINGS, ())),
        site_tags={k.lower().removeprefix("www."): slug(v) for k, v in top.get("sites", _ALIASES, {}).items()},
        priority_rules=rules,
        min_tags=low,
        max_tags=high,
        digest=digest,
    )


def _named(entry: Entry, allowed: tuple[str, ...]) -> tuple[str, Entry]:
    """The entry's name, and the entry labelled with it: "[[format]] #2 (paper)"."""
    entry.check_keys(allowed)
    name = entry.get("name", _NAME, required='a lowercase kebab-case name like "ai-alignment"')
    return name, Entry(entry.data, f"{entry.label} ({name})")


def _domain(entry: Entry) -> DomainInfo:
    name, entry = _named(entry, ("name", "description", "keywords"))
    slugs = (slug(k) for k in entry.get("keywords", _STRINGS, ()))
    return DomainInfo(name, entry.get("description", string(), ""), tuple(dict.fromkeys(s for s in slugs if s)))


def _format(entry: Entry) -> FormatRule:
    name, entry = _named(entry, ("name", "description", "hosts", "url", "page_types", "title", "bylines"))
    return FormatRule(
        name=name,
        hosts=_hosts(entry),
        url=entry.get("url", regexes(re.IGNORECASE), ()),
        page_types=tuple(t.lower() for t in entry.get("page_types", _STRINGS, ())),
        title=tuple(t.lower() for t in entry.get("title", _STRINGS, ())),
        bylines=entry.get("bylines", regexes(re.IGNORECASE), ()),
    )


def _priority(entry: Entry) -> PriorityRule:
    entry.check_keys(("priority", "formats", "domains", "tags", "hosts"))
    return PriorityRule(
        priority=entry.get("priority", choice(PRIORITIES), required=f"one of {', '.join(PRIORITIES)}"),
        formats=entry.get("formats", _STRINGS, ()),
        domains=entry.get("domains", _STRINGS, ()),
        tags=tuple(slug(t) for t in entry.get("tags", _STRINGS, ())),
        hosts=_hosts(entry),
    )


def _hosts(entry: Entry) -> tuple[str, ...]:
    return tuple(h.lower().removeprefix("www.") for h in entry.get("hosts", _STRINGS, ()))
