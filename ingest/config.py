"""Settings: built-in defaults < config/ingest.toml < INGEST_* environment variables < command flags.

Relative paths in the file are relative to the file's own folder, so a config can be used from
anywhere. Every error names the file, the key and what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError
from .validation import (
    LONGEST_INTERVAL,
    LONGEST_WAIT,
    MOST_BYTES,
    MOST_INTERVALS,
    MOST_TIMES,
    MOST_WORKERS,
    Reader,
    Wrong,
    boolean,
    check_keys,
    choice,
    is_file,
    missing_file,
    number,
    parse_toml,
    read,
    read_text,
    string,
    strings,
)

DEFAULT_CONFIG = Path("config") / "ingest.toml"
PRIORITIES = ("high", "medium", "low")
DEFAULT_FORMATS = (
    "paper", "research-post", "essay", "newsletter", "news", "report",
    "whitepaper", "thread", "tweet", "transcript", "data",
)  # fmt: skip
DEFAULT_DOMAINS = (
    "ai-alignment", "collective-intelligence", "internet-finance", "health",
    "entertainment", "space-development", "cultural-dynamics",
)  # fmt: skip
PATH_KEYS = ("output_dir", "archive_dir", "template", "sources", "taxonomy", "model", "snapshots")


@dataclass(frozen=True)
class Settings:
    output_dir: Path = Path("seeds")
    ledger: str = "ledger.db"  # a SQLite file path or a database URL
    ledger_wait: float = 30.0  # seconds to wait for a ledger another process is writing, then give up
    archive_dir: Path | None = None  # the curators' existing notes, read for duplicates
    template: Path | None = None  # None: templates/source-note.md.j2 of this repository
    user_agent: str = "ingest/{version} (+{contact_url})"
    contact_url: str = "https://github.com/ingest-archive/ingest"
    timeout: float = 15.0  # connect and read timeout, seconds
    deadline: float = 60.0  # total time for one request, redirects and body included
    max_bytes: int = 10_000_000  # decompressed body limit
    max_redirects: int = 10
    retries: int = 2  # extra attempts after a transient failure
    backoff: float = 1.0  # first retry delay, seconds; doubles each time
    allow_private_networks: bool = False
    sources: Path | None = None  # the sources file; None: sources.toml beside the config file
    taxonomy: Path | None = None  # domains, format rules, tag aliases; None: taxonomy.toml beside the config file
    model: Path | None = None  # the guesser's learned model (JSON); None: model.json beside a SQLite ledger
    snapshots: Path | None = None  # every ingested response, compressed; None: snapshots/ beside a SQLite ledger
    dedupe_text: bool = True  # identical main text under a new URL is a duplicate
    obey_robots: bool = True
    host_delay: float = 1.0  # seconds between two requests to one host (robots.txt Crawl-delay may ask more)
    concurrency: int = 8  # requests in flight overall; one at a time per host
    min_interval: float = 300.0  # never poll a source more often than this, whatever it publishes
    max_interval: float = 7 * 86400.0  # cap on what a server may ask (Retry-After, max-age, <ttl>) and on back-off
    item_retries: int = 3  # attempts at an item whose failures were transient
    stale_after: float = 4.0  # flag a source after this many usual publishing intervals with nothing new
    tick: float = 30.0  # seconds between the scheduler's looks at the ledger for due sources
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    formats: tuple[str, ...] = DEFAULT_FORMATS
    default_domain: str = "ai-alignment"
    default_format: str = "research-post"
    default_priority: str = "medium"
    default_tags: tuple[str, ...] = ()
    config_path: Path | None = None  # the file these came from, if any

    @property
    def ledger_url(self) -> str:
        if "://" in self.ledger:
            return self.ledger
        return f"sqlite:///{Path(self.ledger).expanduser().resolve()}"

    @property
    def sources_path(self) -> Path:
        if self.sources is not None:
            return self.sources
        if self.config_path is not None:
            return self.config_path.resolve().parent / "sources.toml"
        return Path("config") / "sources.toml"

    @property
    def taxonomy_path(self) -> Path | None:
        """The taxonomy file; None: the one shipped with ingest (config/taxonomy.toml of this repository)."""
        if self.taxonomy is not None:
            return self.taxonomy
        if self.config_path is not None:
            beside = self.config_path.resolve().parent / "taxonomy.toml"
            if beside.is_file():
                return beside
        return None

    @property
    def model_path(self) -> Path:
        if self.model is not None:
            return self.model
        if "://" not in self.ledger:
            return Path(self.ledger).expanduser().resolve().parent / "model.json"
        if self.config_path is not None:  # a database URL: beside the settings file
            return self.config_path.resolve().parent / "model.json"
        return Path("model.json")

    @property
    def snapshots_path(self) -> Path:
        if self.snapshots is not None:
            return self.snapshots
        return self.model_path.parent / "snapshots"  # where the model lives: beside the ledger or the config

    @property
    def agent(self) -> str:
        return self.user_agent.format(version=__version__, contact_url=self.contact_url)


def _path(value: object) -> str:
    if not isinstance(value, str):
        raise Wrong("a string")
    if "\x00" in value:
        raise Wrong("a path (text without NUL characters)")
    if value.startswith("~") and "://" not in value:
        try:
            Path(value).expanduser()
        except RuntimeError:  # "~someone" who has no account here
            raise Wrong("a path whose ~name is a user of this machine") from None
    return value


def _optional_path(value: object) -> str | None:
    if value in ("", None):  # `archive_dir = ""`: none
        return None
    return _path(value)


def _header_text(value: object, what: str) -> str:
    """Text sent in an HTTP header: printable ASCII, so that no client refuses it and no line break
    starts a header of its own."""
    if not isinstance(value, str) or not all(" " <= c <= "~" for c in value):
        raise Wrong(f"a string of printable ASCII characters (it is sent in the User-Agent header){what}")
    return value


def _user_agent(value: object) -> str:
    value = _header_text(value, " whose only placeholders are {version} and {contact_url}")
    try:
        value.format(version="", contact_url="")
    except (KeyError, IndexError, ValueError):
        raise Wrong("a string whose only placeholders are {version} and {contact_url}") from None
    return value


def _contact_url(value: object) -> str:
    return _header_text(value, "; write a host in other scripts in its xn-- form")


# what each key may hold. Values are read the same way from the file, the environment and flags,
# so text is parsed everywhere ("2.5", "yes", "a, b"): the environment has nothing else
_WAIT = number(maximum=LONGEST_WAIT, unit="seconds", from_text=True)
_TIMEOUT = number(positive=True, maximum=LONGEST_WAIT, unit="seconds", from_text=True)
_INTERVAL = number(maximum=LONGEST_INTERVAL, unit="seconds", from_text=True)
_TIMES = number(whole=True, maximum=MOST_TIMES, from_text=True)
_FLAG = boolean(from_text=True)
_NAMES = strings(separator=",")
KEYS: dict[str, Reader[Any]] = {
    "output_dir": _path,
    "ledger": _path,
    "ledger_wait": _WAIT,
    "archive_dir": _optional_path,
    "template": _optional_path,
    "user_agent": _user_agent,
    "contact_url": _contact_url,
    "timeout": _TIMEOUT,
    "deadline": _TIMEOUT,
    "max_bytes": number(whole=True, maximum=MOST_BYTES, from_text=True),
    "max_redirects": _TIMES,
    "retries": _TIMES,
    "backoff": _WAIT,
    "allow_private_networks": _FLAG,
    "sources": _optional_path,
    "taxonomy": _optional_path,
    "model": _optional_path,
    "snapshots": _optional_path,
    "dedupe_text": _FLAG,
    "obey_robots": _FLAG,
    "host_delay": _WAIT,
    "concurrency": number(whole=True, minimum=1, maximum=MOST_WORKERS, from_text=True),
    "min_interval": _INTERVAL,
    "max_interval": _INTERVAL,
    "item_retries": _TIMES,
    "stale_after": number(maximum=MOST_INTERVALS, from_text=True),
    "tick": _WAIT,
    "domains": _NAMES,
    "formats": _NAMES,
    "default_domain": string(),
    "default_format": string(),
    "default_priority": choice(PRIORITIES),
    "default_tags": _NAMES,
}  # every field of Settings but config_path (tests/test_config.py checks)
ALLOWED_KEYS = sorted(KEYS)


def load_settings(
    path: str | Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, object] | None = None,
) -> Settings:
    """Read settings from `path` (else $INGEST_CONFIG, else ./config/ingest.toml if present)."""
    env = dict(os.environ if env is None else env)
    explicit = path is not None or "INGEST_CONFIG" in env
    config_path = Path(path if path is not None else env.get("INGEST_CONFIG", DEFAULT_CONFIG))
    values: dict[str, Any] = {}
    where = str(config_path)
    found = is_file(config_path)
    if found:
        data = parse_toml(read_text(config_path) or "", where)
        base = config_path.resolve().parent
        values.update(_resolved({k: _coerce(k, v, where) for k, v in data.items()}, base))
    elif explicit:
        raise ConfigError(f"{where}: config file not found; give an existing file with --config")
    # paths from the environment and from flags are relative to where the command runs
    from_env = {
        name[len("INGEST_"):].lower(): (raw, f"environment variable {name}")
        for name, raw in env.items()
        if name.startswith("INGEST_") and name != "INGEST_CONFIG"
    }
    from_flags = {
        key: (raw, f"option --{key.replace('_', '-')}") for key, raw in (overrides or {}).items() if raw is not None
    }
    for given in (from_env, from_flags):
        values.update(_resolved({k: _coerce(k, raw, src) for k, (raw, src) in given.items()}, Path.cwd()))
    settings = replace(Settings(), config_path=config_path if found else None, **values)
    return _check(settings, where)


def _resolved(values: dict[str, object], base: Path) -> dict[str, object]:
    for key in PATH_KEYS:
        if values.get(key) is not None:
            values[key] = _resolve(base, values[key])
    if values.get("ledger") is not None and "://" not in str(values["ledger"]):
        values["ledger"] = str(_resolve(base, values["ledger"]))
    return values


def _resolve(base: Path, value: object) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _coerce(key: str, raw: object, where: str) -> object:
    check_keys([key], ALLOWED_KEYS, where)
    return read(where, key, raw, KEYS[key])


def _check(s: Settings, where: str) -> Settings:
    """What no single value says: the defaults among the lists, an existing taxonomy file."""
    read(where, "default_format", s.default_format, choice(s.formats, "the configured formats"))
    read(where, "default_domain", s.default_domain, choice(s.domains, "the configured domains"))
    if s.taxonomy is not None and not is_file(s.taxonomy, "; check the 'taxonomy' setting"):
        raise missing_file(where, "taxonomy", s.taxonomy)
    return s
