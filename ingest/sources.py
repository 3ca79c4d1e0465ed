"""The sources file (config/sources.toml): read it into Sources, and edit it in place.

Edits keep the curator's comments, order and formatting: a new source is appended as text, a
removed one is cut out line by line, a changed URL is replaced by tomlkit; every edit is checked by
reading the result back before the file is (atomically) replaced. Every error names the file, the
source, the key and what is allowed.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
import tomlkit.items

from .config import PRIORITIES
from .errors import ConfigError
from .features import slug
from .records import SOURCE_KINDS, NoteDefaults, Source
from .urls import InvalidURLError, normalize_url, url_key
from .validation import (
    LONGEST_INTERVAL,
    MOST_ENTRIES,
    Entry,
    Wrong,
    boolean,
    choice,
    is_file,
    kebab,
    missing_file,
    number,
    parse_toml,
    read_text,
    regexes,
    string,
    strings,
)
from .writer import write_atomic

DEFAULT_SOURCES = Path("config") / "sources.toml"
DEFAULT = Source(name="-", url="-")
MIN_EVERY = 5 * 60.0  # a source polled more often than this is rude to the site and useless to curators
MAX_NAME = 48

KEY_ORDER = (
    "name", "url", "kind", "every", "include", "exclude", "domain", "secondary_domains",
    "format", "priority", "tags", "author", "template", "backfill", "enabled",
)  # fmt: skip
DURATION_HINT = 'a duration like "30m", "2h", "1d" (or a number of seconds)'
UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_HEADER = re.compile(r"[ \t]*\[\[[ \t]*source[ \t]*\]\][ \t]*(?:#.*)?")

# words that say how a URL is served, not whose it is: left out of names made from URLs
_URL_NOISE = frozenset((
    "www", "rss", "feed", "feeds", "atom", "xml", "json", "index", "default", "en", "home", "blog-feed",
    "rss2", "feedburner", "posts", "all",
))  # fmt: skip
# blogging platforms: the publication is the subdomain (importai.substack.com → "importai")
_PLATFORMS = frozenset(
    ("substack", "medium", "blogspot", "wordpress", "ghost", "beehiiv", "buttondown", "github", "gitlab")
)
_SUFFIXES = (".xml", ".rss", ".atom", ".json", ".html", ".htm", ".php", ".aspx")


# ---- intervals ---------------------------------------------------------------------------------


def parse_interval(value: str | float, where: str) -> float:
    """Seconds in "90s", "30m", "2h", "1d", "1w", "1h30m", or a number of seconds.

    `where` begins the error message: "config/sources.toml: source 'bair': key 'every'"."""
    try:
        return _interval(value)
    except Wrong as wrong:
        raise ConfigError(f"{where} must be {wrong.want}, got {value!r}") from None


def _interval(value: object) -> float:
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(rf"(?:{_PART.pattern})+\s*", text, re.IGNORECASE):
            seconds = sum(float(n) * UNITS[u.lower()] for n, u in _PART.findall(text))
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise Wrong(DURATION_HINT)
    return seconds


def format_interval(seconds: float) -> str:
    """The shortest spelling parse_interval reads back as the same value: 7200 → "2h", 5400 → "90m"."""
    if seconds > 0 and float(seconds).is_integer():
        for unit, size in UNITS.items():
            if seconds % size == 0:
                return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# ---- reading -----------------------------------------------------------------------------------


def load_sources(
    path: Path,
    *,
    domains: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
) -> list[Source]:
    """The sources in `path`, in file order; [] when the file does not exist.

    Given `domains` / `formats` (the settings' lists), note defaults must be among them."""
    path = Path(path)
    text = _read(path)
    if text is None:
        return []
    return _parse(text, str(path), path.resolve().parent, domains=domains, formats=formats)


def _read(path: Path) -> str | None:
    return read_text(path, missing_ok=True)  # line ends as written: an edit keeps \r\n


def _parse(
    text: str,
    where: str,
    base: Path,
    *,
    domains: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
) -> list[Source]:
    top = Entry(parse_toml(text, where), where)
    top.check_keys(("source",))
    sources: list[Source] = []
    names: dict[str, str] = {}
    keys: dict[str, str] = {}
    for position, table in enumerate(top.tables("source"), start=1):
        source = _source(_table_entry(table, position, where), base, domains, formats)
        label = f"{where}: source '{source.name}'"
        if source.name in names:
            raise ConfigError(
                f"{where}: source #{position}: key 'name' '{source.name}' is already used by "
                f"{names[source.name]}; every source needs a unique name"
            )
        key = url_key(source.url)
        if key in keys:
            raise ConfigError(
                f"{label}: key 'url' {source.url} is the same address as {keys[key]}'s; "
                "each address may be configured once"
            )
        names[source.name] = f"source #{position}"
        keys[key] = f"source '{source.name}'"
        sources.append(source)
    return sources


def _url(value: object) -> str:
    if not isinstance(value, str):
        raise Wrong("an http:// or https:// address as a string")
    try:
        normalize_url(value)
    except InvalidURLError as exc:
        raise Wrong(f"a full http:// or https:// address: {exc.message}") from None
    return value.strip()


def _every(value: object) -> float:
    seconds = _interval(value)
    if not MIN_EVERY <= seconds <= LONGEST_INTERVAL:
        raise Wrong('at least 5 minutes ("5m") and at most 365 days ("365d")')
    return seconds


_NAME = kebab("bair-blog", longest=MAX_NAME)
_TEXT = string(empty=False)
_KIND = choice(SOURCE_KINDS)
_PRIORITY = choice(PRIORITIES)
_TAGS = strings("tags", each=kebab("interpretability"))
_BACKFILL = number(whole=True, maximum=MOST_ENTRIES)


def source_from_options(
    options: Mapping[str, tuple[str, object]],
    *,
    domains: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
) -> Source:
    """A Source from command-line values, read by the rules of the sources file: `options` maps a
    key of a [[source]] table to (the option that gave it, its value; None when not given). An
    error names the option: "option --domain: key 'domain' must be one of …"."""
    given = {key: list(value) if isinstance(value, tuple) else value
             for key, (_, value) in options.items() if value not in (None, ())}
    labels = {key: f"option {flag}" if flag.startswith("-") else f"argument {flag}"
              for key, (flag, _) in options.items()}
    return _source(Entry(given, "options", labels), Path.cwd(), domains, formats)


def _table_entry(table: dict, position: int, where: str) -> Entry:
    name = table.get("name")
    label = f"{where}: source '{name}'" if isinstance(name, str) and name else f"{where}: source #{position}"
    return Entry(table, label)


def _source(
    entry: Entry,
    base: Path,
    domains: Sequence[str] | None,
    formats: Sequence[str] | None,
) -> Source:
    entry.check_keys(KEY_ORDER)
    name = entry.get("name", _NAME, required='a unique lowercase kebab-case name like "bair-blog"')
    url = entry.get("url", _url, required="the http(s) address to poll")
    domain_reader = _TEXT if domains is None else choice(domains, "the configured domains")
    return Source(
        name=name,
        url=url,
        kind=entry.get("kind", _KIND, want=f"one of {', '.join(SOURCE_KINDS)} (or left out to discover it)"),
        every=entry.get("every", _every, DEFAULT.every),
        include=_patterns(entry, "include"),
        exclude=_patterns(entry, "exclude"),
        defaults=NoteDefaults(
            domain=entry.get("domain", domain_reader),
            secondary_domains=entry.get("secondary_domains", strings("domains", each=domain_reader)),
            format=entry.get("format", _TEXT if formats is None else choice(formats, "the configured formats")),
            priority=entry.get("priority", _PRIORITY),
            tags=entry.get("tags", _TAGS, ()),
            author=entry.get("author", _TEXT),
        ),
        template=_template(entry, base),
        backfill=entry.get("backfill", _BACKFILL, DEFAULT.backfill),
        enabled=entry.get("enabled", boolean(), DEFAULT.enabled),
    )


def _patterns(entry: Entry, key: str) -> tuple[str, ...]:
    return tuple(p.pattern for p in entry.get(key, regexes(), ()))


def _template(entry: Entry, base: Path) -> str | None:
    template = entry.get("template", _TEXT)
    if template is None:
        return None
    resolved = Path(template).expanduser()
    resolved = resolved if resolved.is_absolute() else (base / resolved).resolve()
    if not is_file(resolved):
        raise missing_file(entry.label, "template", resolved,
                           "; give a template file (a path relative to the sources file's folder)")
    return str(resolved)


# ---- editing -----------------------------------------------------------------------------------


def add_source(
    path: Path,
    source: Source,
    *,
    domains: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
) -> None:
    """Append `source` as a [[source]] table, leaving the rest of the file byte for byte as it was.

    Refused when its name, or its address (compared by url_key: scheme, `www.`, tracking parameters
    and trailing slashes aside), is configured already, or when the file would not load with the
    settings' `domains` and `formats`. Creates the file if missing."""
    path = Path(path)
    where = str(path)
    text = _read(path) or ""
    base = path.resolve().parent
    existing = _parse(text, where, base, domains=domains, formats=formats)
    for other in existing:
        if other.name == source.name:
            raise ConfigError(
                f"{where}: source '{source.name}': key 'name' is taken already; choose another name "
                f"(taken: {', '.join(s.name for s in existing)})"
            )
    try:
        key = url_key(source.url)
    except InvalidURLError as exc:
        raise ConfigError(
            f"{where}: source '{source.name}': key 'url' must be a full http:// or https:// address: "
            f"{exc.message}, got {source.url!r}"
        ) from None
    for other in existing:
        if url_key(other.url) == key:
            raise ConfigError(
                f"{where}: source '{source.name}': key 'url' {source.url} is already configured as "
                f"source '{other.name}' ({other.url})"
            )

    table = _table(source, base)
    doc = tomlkit.parse(text)
    if "source" in doc and not isinstance(doc["source"], tomlkit.items.AoT):
        # written as `source = [{…}, …]`: appending [[source]] text would redefine the key
        doc["source"].append(_inline(table))
        new_text = tomlkit.dumps(doc)
    else:
        block = tomlkit.document()
        aot = tomlkit.aot()
        aot.append(table)
        block["source"] = aot
        newline = "\r\n" if "\r\n" in text else "\n"
        addition = tomlkit.dumps(block).replace("\n", newline)
        if text and not text.endswith("\n"):
            text += newline
        if text.strip() and not text.endswith(newline * 2):
            text += newline
        new_text = text + addition
    after = _parse(new_text, where, base, domains=domains, formats=formats)
    if [s.name for s in after] != [s.name for s in existing] + [source.name]:
        raise ConfigError(f"{where}: could not append source '{source.name}' safely; add it by hand")
    _write(path, new_text)


def remove_source(path: Path, name: str) -> None:
    """Delete the [[source]] table named `name`; every comment in the file stays."""
    path = Path(path)
    text, doc, index = _locate(path, name)
    before = tomllib.loads(text)["source"]
    expected = before[:index] + before[index + 1:]
    array = doc["source"]
    new_text = _cut_table(text, index, len(array)) if isinstance(array, tomlkit.items.AoT) else None
    if new_text is None or _tables(new_text) != expected:
        del array[index]  # tomlkit drops the comments that follow the table: the fallback only
        new_text = tomlkit.dumps(doc)
    _parse(new_text, str(path), path.resolve().parent)
    _write(path, new_text)


def set_source_url(path: Path, name: str, new_url: str) -> None:
    """Point source `name` at `new_url` (a feed moved for good); every comment in the file stays."""
    path = Path(path)
    where = str(path)
    text, doc, index = _locate(path, name)
    try:
        key = url_key(new_url)
    except InvalidURLError as exc:
        raise ConfigError(
            f"{where}: source '{name}': key 'url' must be a full http:// or https:// address: "
            f"{exc.message}, got {new_url!r}"
        ) from None
    sources = _parse(text, where, path.resolve().parent)
    for other in sources:
        if other.name != name and url_key(other.url) == key:
            raise ConfigError(
                f"{where}: source '{name}': key 'url' {new_url} is already configured as "
                f"source '{other.name}'; remove one of the two"
            )
    if sources[index].url == new_url:
        return
    doc["source"][index]["url"] = new_url  # tomlkit keeps the line's comment and the table's layout
    new_text = tomlkit.dumps(doc)
    _parse(new_text, where, path.resolve().parent)
    _write(path, new_text)


def _tables(text: str) -> list[dict] | None:
    try:
        return tomllib.loads(text).get("source", [])
    except tomllib.TOMLDecodeError:
        return None


def _locate(path: Path, name: str) -> tuple[str, tomlkit.TOMLDocument, int]:
    where = str(path)
    text = _read(path)
    if text is None:
        raise ConfigError(f"{where}: sources file not found, so there is no source '{name}'")
    sources = _parse(text, where, path.resolve().parent)
    names = [s.name for s in sources]
    if name not in names:
        known = ", ".join(names) or "none"
        raise ConfigError(f"{where}: no source named '{name}'; the sources are: {known}")
    return text, tomlkit.parse(text), names.index(name)


def _cut_table(text: str, index: int, count: int) -> str | None:
    """`text` without the lines of the index-th [[source]] table: its header down to its last
    key line. Comment lines after it stay: they usually introduce what follows (a commented-out
    source, a section). None when the headers cannot be told apart by line."""
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _HEADER.fullmatch(line.rstrip("\r\n"))]
    if len(headers) != count:
        return None  # a header inside a multi-line string, or written oddly: let tomlkit do it
    start = headers[index]
    stop = headers[index + 1] if index + 1 < count else len(lines)
    end = start + 1
    for i in range(start + 1, stop):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            end = i + 1
    kept = lines[:start] + lines[end:]
    # do not leave two blank lines where the table was
    if start < len(kept) and not kept[start].strip() and (start == 0 or not kept[start - 1].strip()):
        del kept[start]
    return "".join(kept)


def _table(source: Source, base: Path) -> tomlkit.items.Table:
    """The keys of `source` that differ from the defaults, in the documented order."""
    values: dict[str, object] = {"name": source.name, "url": source.url}
    if source.kind is not None:
        values["kind"] = source.kind
    if source.every != DEFAULT.every:
        values["every"] = format_interval(source.every)
    for key in ("include", "exclude"):
        if getattr(source, key):
            values[key] = [_pattern(p) for p in getattr(source, key)]
    d = source.defaults
    for key in ("domain", "secondary_domains", "format", "priority", "tags", "author"):
        value = getattr(d, key)
        if value is None or (key == "tags" and not value):
            continue
        values[key] = list(value) if isinstance(value, tuple) else value
    if source.template is not None:
        template = Path(source.template)
        try:
            template = template.resolve().relative_to(base)
        except ValueError:
            pass  # outside the sources file's folder: keep it absolute
        values["template"] = template.as_posix()
    if source.backfill != DEFAULT.backfill:
        values["backfill"] = source.backfill
    if source.enabled != DEFAULT.enabled:
        values["enabled"] = source.enabled
    table = tomlkit.table()
    for key in KEY_ORDER:
        if key in values:
            table[key] = values[key]
    return table


def _pattern(pattern: str) -> tomlkit.items.String | str:
    """A regular expression as a 'literal string' when it can be: no backslashes to double."""
    if "\\" in pattern and "'" not in pattern and "\n" not in pattern:
        return tomlkit.string(pattern, literal=True)
    return pattern


def _inline(table: tomlkit.items.Table) -> tomlkit.items.InlineTable:
    inline = tomlkit.inline_table()
    inline.update(table.unwrap())
    return inline


def _write(path: Path, text: str) -> None:
    """Replace the file in one step, so a reader never sees half of it; it keeps its permissions."""
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else None
        write_atomic(path, text, mode=mode)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror}); the file is unchanged") from None


# ---- names -------------------------------------------------------------------------------------


def unique_name(url: str, taken: set[str]) -> str:
    """A kebab-case name from the URL's host and path, e.g. https://rss.arxiv.org/rss/cs.AI →
    "arxiv-cs-ai", suffixed -2, -3 … when taken."""
    return unique(_name_from_url(url), taken)


def unique(name: str, taken: Iterable[str]) -> str:
    """`name` cut to MAX_NAME, or with the first free suffix -2, -3 …"""
    taken = set(taken)
    base = name_slug(name) or "source"
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: MAX_NAME - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def name_slug(text: str) -> str:
    """Lowercase ASCII kebab-case of at most MAX_NAME characters, cut at a hyphen when it can be."""
    name = slug(text)
    if len(name) > MAX_NAME:
        cut = name[:MAX_NAME + 1]
        name = cut.rsplit("-", 1)[0] if "-" in cut else name[:MAX_NAME]
    return name.strip("-")


def _name_from_url(url: str) -> str:
    parts = urlsplit(url.strip())
    labels = [label for label in (parts.hostname or "").split(".") if label]
    if len(labels) >= 2:
        labels = labels[:-1]  # the top-level domain says nothing about the source
        if len(labels) >= 2 and labels[-1] in ("co", "com", "ac", "org", "gov", "edu", "net"):
            labels = labels[:-1]  # example.co.uk
    words = [label for label in labels if label not in _URL_NOISE]
    if len(words) > 1:
        words = [w for w in words if w not in _PLATFORMS] or words
    for segment in parts.path.split("/"):
        segment = segment.lower()
        for suffix in _SUFFIXES:
            segment = segment.removesuffix(suffix)
        if segment and segment not in _URL_NOISE:
            words.append(segment)
    return name_slug("-".join(words[:5])) or "source"
