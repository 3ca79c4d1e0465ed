"""config/taxonomy.toml → Taxonomy: the domains, format rules, tag aliases, site tags and priority
rules the guesser starts from before it learns anything from the archive.

Every error names the file, the entry and what is allowed, like the settings file's.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .config import PRIORITIES
from .errors import ConfigError
from .features import slug

BUILTIN_TAXONOMY = Path(__file__).resolve().parent.parent / "config" / "taxonomy.toml"
TOP_KEYS = {"domain", "format", "format_aliases", "tags", "sites", "priority"}


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
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: taxonomy cannot be read ({exc.strerror}); "
                          "check the 'taxonomy' setting") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc}); fix the syntax") from None
    return parse_taxonomy(data, where, digest=hashlib.sha256(text.encode()).hexdigest()[:16])


def parse_taxonomy(data: dict, where: str = "taxonomy", *, digest: str = "") -> Taxonomy:
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key '{sorted(unknown)[0]}'; "
                          f"allowed keys are: {', '.join(sorted(TOP_KEYS))}")
    domains = tuple(_domain(entry, i, where) for i, entry in enumerate(_tables(data, "domain", where), 1))
    formats = tuple(_format(entry, i, where) for i, entry in enumerate(_tables(data, "format", where), 1))
    tags = _table(data, "tags", where)
    extra = set(tags) - {"min", "max", "generic", "aliases"}
    if extra:
        raise ConfigError(f"{where}: [tags] has unknown key '{sorted(extra)[0]}'; "
                          "allowed: min, max, generic, aliases")
    low, high = tags.get("min", 3), tags.get("max", 8)
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
        raise ConfigError(f"{where}: [tags] min and max must be whole numbers with 0 ≤ min ≤ max")
    aliases = {slug(k): slug(v) for k, v in _mapping(tags, "aliases", f"{where}: [tags.aliases]").items()}
    rules = tuple(_priority(entry, i, where) for i, entry in enumerate(_tables(data, "priority", where), 1))
    return Taxonomy(
        domains=domains,
        formats=formats,
        format_aliases={k.lower(): v.lower()
                        for k, v in _mapping(data, "format_aliases", f"{where}: [format_aliases]").items()},
        tag_aliases={k: v for k, v in aliases.items() if k and v and k != v},
        generic_tags=frozenset(slug(w) for w in _strings(tags, "generic", f"{where}: [tags]")),
        site_tags={k.lower().removeprefix("www."): slug(v)
                   for k, v in _mapping(data, "sites", f"{where}: [sites]").items()},
        priority_rules=rules,
        min_tags=low,
        max_tags=high,
        digest=digest,
    )


def _tables(data: dict, key: str, where: str) -> list[dict]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: '{key}' must be [[{key}]] tables")
    return value


def _table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a [{key}] table")
    return value


def _mapping(data: dict, key: str, where: str) -> dict[str, str]:
    value = data.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{where}: must map names to strings, "
                          'like "mech-interp" = "mechanistic-interpretability"')
    return value


def _strings(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _check_keys(entry: dict, allowed: set[str], what: str) -> None:
    extra = set(entry) - allowed
    if extra:
        raise ConfigError(f"{what}: unknown key '{sorted(extra)[0]}'; "
                          f"allowed keys are: {', '.join(sorted(allowed))}")


def _name(entry: dict, what: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name or slug(name) != name:
        raise ConfigError(f"{what}: 'name' must be a lowercase kebab-case name, got {name!r}")
    return name


def _domain(entry: dict, number: int, where: str) -> DomainInfo:
    what = f"{where}: [[domain]] #{number}"
    _check_keys(entry, {"name", "description", "keywords"}, what)
    name = _name(entry, what)
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{what} ({name}): 'description' must be a string")
    slugs = (slug(k) for k in _strings(entry, "keywords", f"{what} ({name})"))
    keywords = tuple(dict.fromkeys(s for s in slugs if s))
    return DomainInfo(name, description, keywords)


def _format(entry: dict, number: int, where: str) -> FormatRule:
    what = f"{where}: [[format]] #{number}"
    _check_keys(entry, {"name", "description", "hosts", "url", "page_types", "title", "bylines"}, what)
    name = _name(entry, what)
    return FormatRule(
        name=name,
        hosts=tuple(h.lower().removeprefix("www.") for h in _strings(entry, "hosts", f"{what} ({name})")),
        url=_patterns(entry, "url", f"{what} ({name})"),
        page_types=tuple(t.lower() for t in _strings(entry, "page_types", f"{what} ({name})")),
        title=tuple(t.lower() for t in _strings(entry, "title", f"{what} ({name})")),
        bylines=_patterns(entry, "bylines", f"{what} ({name})"),
    )


def _patterns(entry: dict, key: str, what: str) -> tuple[re.Pattern, ...]:
    patterns = []
    for pattern in _strings(entry, key, what):
        try:
            patterns.append(re.compile(pattern, re.I))
        except re.error as exc:
            raise ConfigError(f"{what}: {key} pattern {pattern!r} is not a valid regular expression ({exc})") from None
    return tuple(patterns)


def _priority(entry: dict, number: int, where: str) -> PriorityRule:
    what = f"{where}: [[priority]] #{number}"
    _check_keys(entry, {"priority", "formats", "domains", "tags", "hosts"}, what)
    if entry.get("priority") not in PRIORITIES:
        raise ConfigError(f"{what}: 'priority' must be one of {', '.join(PRIORITIES)}")
    return PriorityRule(
        priority=entry["priority"],
        formats=_strings(entry, "formats", what),
        domains=_strings(entry, "domains", what),
        tags=tuple(slug(t) for t in _strings(entry, "tags", what)),
        hosts=tuple(h.lower().removeprefix("www.") for h in _strings(entry, "hosts", what)),
    )
