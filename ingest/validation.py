"""Checks for the settings files (ingest.toml, sources.toml, taxonomy.toml): reading them, and typed
readers for their values, so that all three say what is wrong in the same words:

    <file>[: <entry>]: key '<key>' must be <what is allowed>, got <the value>
    <file>[: <entry>]: key '<key>' holds <an item>, which is not <what is allowed>
    <file>[: <entry>]: key '<key>' is required: <what it holds>
    <file>[: <entry>]: unknown key '<key>' (did you mean '<closest>'?); allowed keys are: …

A reader takes a value and returns it checked (and converted) or raises Wrong, which says what the
value must be; `read` and Entry put the file, the entry and the key in front. Wherever a list is
read, a bare string is a list of one (or, from the environment, a comma-separated list). Every
number has a maximum, and the bounds are all below, in one place.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")
Reader = Callable[[Any], T]

# The bounds of every number the settings files hold, in one place. Beyond them a value is a slip
# of the keyboard, and it would overflow where it is used: a date plus 1e308 seconds, a sleep of a
# century, an SQL integer, a thread per request.
DAY = 86400.0
LONGEST_WAIT = DAY  # a timeout, the deadline, a delay, a back-off, the ledger wait, the scheduler's tick
LONGEST_INTERVAL = 365 * DAY  # between two polls of a source, whatever a server asks
MOST_TIMES = 100  # retries, redirects
MOST_BYTES = 10_000_000_000  # one response body
MOST_WORKERS = 1000  # requests in flight
MOST_ENTRIES = 100_000  # a source's backfill
MOST_TAGS = 100  # tags on a note
MOST_INTERVALS = 1000.0  # a source is stale after this many of its usual intervals at most

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
LIST_EXAMPLE = '["…", "…"]'


class Wrong(ValueError):
    """A value a reader refuses. `want` completes "must be …"; `item` is the one element of a list
    at fault, when it is one."""

    def __init__(self, want: str, *, item: object = None, in_list: bool = False):
        super().__init__(want)
        self.want = want
        self.item = item
        self.in_list = in_list


# ---- files -----------------------------------------------------------------------------------


def read_text(path: Path, *, missing_ok: bool = False, hint: str = "") -> str | None:
    """The text of a settings file, line ends as written; None when it is missing and `missing_ok`.
    `hint` ends the message when the file cannot be read ("; check the 'taxonomy' setting")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        if missing_ok and isinstance(exc, FileNotFoundError):
            return None
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}){hint}") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # the byte-order mark Windows editors write
    except UnicodeDecodeError as exc:
        raise not_utf8(path, data, exc) from None


def not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> ConfigError:
    return ConfigError(f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start});"
                       " save the file as UTF-8")


def is_file(path: Path, hint: str = "") -> bool:
    """Path.is_file, but a path the system will not look at (a folder on the way that cannot be
    listed, a name too long) is an error naming it rather than a traceback."""
    try:
        return path.is_file()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}){hint}") from None


def is_folder(path: Path, key: str) -> bool:
    """Path.is_dir for the folder the setting `key` names; a folder the system will not look at
    is an error naming it and the setting."""
    try:
        return path.is_dir()
    except OSError as exc:
        hint = " or --output" if key == "output_dir" else ""
        raise ConfigError(f"folder {path} cannot be opened ({exc.strerror}); check the '{key}' setting{hint}") from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # the message ends "(at line 3, column 7)"
        raise ConfigError(f"{where}: not valid TOML ({exc}); fix the syntax") from None


# ---- messages --------------------------------------------------------------------------------


def key_error(label: str, key: str, why: str) -> ConfigError:
    return ConfigError(f"{label}: key '{key}' {why}")


def missing_file(label: str, key: str, path: Path, hint: str = "") -> ConfigError:
    return key_error(label, key, f"names {path}, which does not exist{hint}")


def check_keys(given: Iterable[str], allowed: Sequence[str], label: str) -> None:
    """Refuse the first key of `given` that is not `allowed`, naming the closest allowed one."""
    for key in given:
        if key not in allowed:
            import difflib  # only on the way to an error: keeps every command's start quick

            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{label}: unknown key '{key}'{hint}; allowed keys are: {', '.join(allowed)}")


def read(label: str, key: str, value: object, reader: Reader[T], want: str | None = None) -> T:
    """`value` through `reader`; a refusal becomes the error of `key` in `label`. `want` rephrases
    what the value must be."""
    try:
        return reader(value)
    except Wrong as wrong:
        if wrong.in_list:
            raise key_error(label, key, f"holds {wrong.item!r}, which is not {wrong.want}") from None
        raise key_error(label, key, f"must be {want or wrong.want}, got {value!r}") from None


@dataclass(frozen=True)
class Entry:
    """One table of a settings file (the file itself, a [[source]], [tags] …) and the label its
    errors begin with: "config/sources.toml: source 'bair'". `labels` gives a key a label of its
    own: the command-line option that stands for it ("option --every")."""

    data: Mapping[str, Any]
    label: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def check_keys(self, allowed: Sequence[str]) -> None:
        check_keys(self.data, allowed, self.label)

    def bad(self, key: str, why: str) -> ConfigError:
        return key_error(self.label, key, why)

    def get(self, key: str, reader: Reader[T], default: Any = None, *, required: str = "",
            want: str | None = None) -> Any:
        """The value of `key` read by `reader`; `default` when it is missing, or an error saying
        what it holds when it is `required`."""
        if key not in self.data:
            if required:
                raise self.bad(key, f"is required: {required}")
            return default
        return read(self.labels.get(key, self.label), key, self.data[key], reader, want)

    def tables(self, key: str) -> list[dict[str, Any]]:
        """The [[key]] tables, [] when there are none."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.bad(key, f"must be a list of tables, written [[{key}]], got {value!r}")
        return value

    def table(self, key: str, label: str) -> Entry:
        """The [key] table (empty when missing), as an Entry labelled `label`."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.bad(key, f"must be a table, written [{key}], got {value!r}")
        return Entry(value, label)


# ---- readers ---------------------------------------------------------------------------------


def string(*, empty: bool = True) -> Reader[str]:
    """Any string, or (`empty` false) one that is not blank."""
    want = "a string" if empty else "a non-empty string"

    def read_string(value: object) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise Wrong(want)
        return value

    return read_string


def strings(what: str = "strings", *, each: Reader[Any] | None = None,
            separator: str | None = None) -> Reader[tuple[str, ...]]:
    """A list of non-empty strings, each checked by `each`. A bare string is a list of one, or is
    cut at `separator` (blank parts dropped)."""
    want = f"a list of {what}, like {LIST_EXAMPLE}"

    def read_strings(value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(separator) if p.strip()] if separator else [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise Wrong(want)
        if each is not None:
            for item in value:
                try:
                    each(item)
                except Wrong as wrong:
                    raise Wrong(wrong.want, item=item, in_list=True) from None
        return tuple(value)

    return read_strings


def number(*, maximum: float, whole: bool = False, minimum: float = 0, positive: bool = False, unit: str = "",
           from_text: bool = False) -> Reader[Any]:
    """A finite number (an int when `whole`) from `minimum` (or, `positive`, more than 0) to
    `maximum`; `from_text` reads "2.5" as 2.5 too. Every number has a maximum: see the bounds above."""
    noun = ("a whole number" if whole else "a number") + (f" of {unit}" if unit else "")
    most = _figure(maximum) + (f" ({_days(maximum)})" if unit == "seconds" and maximum >= DAY else "")
    want = f"{noun}, more than 0 and at most {most}" if positive else f"{noun} from {_figure(minimum)} to {most}"

    def read_number(value: object) -> int | float:
        if from_text and isinstance(value, str):
            try:
                value = int(value) if whole else float(value)
            except ValueError:
                raise Wrong(want) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise Wrong(want)
        if whole and isinstance(value, float):
            if not value.is_integer():
                raise Wrong(want)  # 2.5 must not quietly become 2
            value = int(value)
        if (positive and value <= 0) or value < minimum or value > maximum:
            raise Wrong(want)
        return value if whole else float(value)

    return read_number


def _figure(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _days(seconds: float) -> str:
    days = seconds / DAY
    return f"{days:g} day" + ("" if days == 1 else "s")


def boolean(*, from_text: bool = False) -> Reader[bool]:
    """true or false; `from_text` also reads yes/no, on/off, 1/0."""

    def read_boolean(value: object) -> bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS or word in FALSE_WORDS:
                return word in TRUE_WORDS
        raise Wrong("true or false")

    return read_boolean


def choice(allowed: Sequence[str], what: str = "") -> Reader[str]:
    """One of `allowed`; `what` names them in the message ("the configured domains")."""
    want = f"one of {what + ': ' if what else ''}{', '.join(allowed)}"

    def read_choice(value: object) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise Wrong(want)
        return value

    return read_choice


def kebab(example: str, *, longest: int | None = None) -> Reader[str]:
    """A lowercase kebab-case name like `example`, at most `longest` characters."""
    limit = f", at most {longest} characters" if longest else ""
    want = f'lowercase kebab-case (a-z, 0-9 and single hyphens{limit}) like "{example}"'

    def read_kebab(value: object) -> str:
        if not isinstance(value, str) or not KEBAB.fullmatch(value) or (longest and len(value) > longest):
            raise Wrong(want)
        return value

    return read_kebab


def regexes(flags: int = 0) -> Reader[tuple[re.Pattern, ...]]:
    """A list of regular expressions, compiled with `flags`."""
    as_strings = strings("regular expressions")

    def read_regexes(value: object) -> tuple[re.Pattern, ...]:
        compiled = []
        for pattern in as_strings(value):
            try:
                compiled.append(re.compile(pattern, flags))
            except re.error as exc:
                raise Wrong(f"a valid regular expression ({exc})", item=pattern, in_list=True) from None
        return tuple(compiled)

    return read_regexes


def mapping(example: str) -> Reader[dict[str, str]]:
    """A table of names to strings, like `example`."""
    want = f"a table of names to strings, like {example}"

    def read_mapping(value: object) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise Wrong(want)
        return value

    return read_mapping
