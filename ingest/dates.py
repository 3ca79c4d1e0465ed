"""Dates as pages and papers write them: month names in English, German, French, Spanish, Italian and
Portuguese, a date printed in running text, ISO 8601, RFC 2822 and dotted dates (pure).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime

# each language's twelve months, each month's names (the full name first, then its abbreviations)
MONTH_NAMES = {
    "en": ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
           "august aug", "september sep sept", "october oct", "november nov", "december dec"),
    "de": ("januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
           "november", "dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
           "ottobre", "novembre", "dicembre"),
    "pt": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
           "outubro", "novembro", "dezembro"),
}
MONTH_NUMBERS = {name: number for months in MONTH_NAMES.values()
                 for number, names in enumerate(months, start=1) for name in names.split()}


def month_names(*languages: str, full: bool = False) -> list[str]:
    """The month names of `languages` (every name, or only the full ones), longest first: a regex
    alternation of them tries "march" before "mar"."""
    found = {names.split()[0] if full else name for language in languages for names in MONTH_NAMES[language]
             for name in names.split()}
    return sorted(found, key=lambda name: (-len(name), name))


ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})/(\d{1,2})/(\d{1,2})(?!\d)")  # Highwire writes 2024/01/02
DOTTED_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")
# a date printed after a label that says it is the publication date ("Datum: 18.10.2021"); a bare
# "date" only as a label of its own (not "Event date", "Due date")
DATE_LABEL = re.compile(
    r"(?<!\w)(?:(?<!\w )date|published(?: on)?|publication date|datum|veröffentlicht(?: am)?|erschienen(?: am)?|"
    r"publiziert(?: am)?|publié le|publicado(?: el| em)?|pubblicato(?: il)?)\s*:?\s*"
    r"(\d{4}-\d{2}-\d{2}|\d{1,2}\.\s?\d{1,2}\.\s?\d{4}|\d{1,2}\.?\s+[a-zäéû]+\.?\s+\d{4}|"
    r"[a-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})", re.IGNORECASE)
_MONTH = "(" + "|".join(month_names(*MONTH_NAMES)) + ")"
# a full date in running text: 14 March 2024, 12 mars 2024, 3. März 2024, March 14th, 2024,
# 2024-03-14 (pattern, the groups holding year, month and day)
PRINTED_DATES = (
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th|\.)?\s+" + _MONTH + r"\.?,?\s+((?:19|20)\d\d)\b", re.IGNORECASE),
     (3, 2, 1)),
    (re.compile(r"\b" + _MONTH + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)\b", re.IGNORECASE),
     (3, 1, 2)),
    (re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b"), (1, 2, 3)),
)


def parse_day(value: str | None, today: date) -> str | None:
    """YYYY-MM-DD from an ISO or RFC 2822 date, taken as written (no time-zone shift)."""
    if not value:
        return None
    match = ISO_DATE.search(value)
    dotted = DOTTED_DATE.search(value)
    try:
        if match:
            year, month, dom = (int(g) for g in match.groups() if g is not None)
            day = date(year, month, dom)
        elif dotted:  # 31.03.2020, as central European sites write it
            day = date(int(dotted.group(3)), int(dotted.group(2)), int(dotted.group(1)))
        else:
            day = parsedate_to_datetime(value.strip()).date()
    except (TypeError, ValueError, IndexError):
        return None
    return day.isoformat() if date(1990, 1, 1) <= day <= today else None


def local_day(value: str, others: list[str | None], today: date) -> str | None:
    """A UTC timestamp's day is not always the day the site printed: 2019-10-18T22:04Z is
    19 October in Vienna. When the page declares the same instant elsewhere in its own time zone
    (another tag, a visible <time>), that declaration's day is the one written."""
    instant = _instant(value)
    if instant is None or instant.utcoffset() != timedelta(0):
        return None
    for other in others:
        local = _instant(other)
        if (local is not None and local.utcoffset() != timedelta(0)
                and abs(local - instant) < timedelta(minutes=1)):
            return parse_day(other, today)
    return None


def _instant(value: str | None) -> datetime | None:
    """The moment an ISO 8601 or RFC 2822 timestamp with a time zone names; None without one."""
    if not value or not re.search(r"\d:\d\d", value):
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return moment if moment.tzinfo is not None else None


def labelled_day(text: str, today: date) -> str | None:
    """The first date `text` prints after a label that names it the publication date
    ("Datum: 18.10.2021", "Published: March 3, 2020"); none after "Updated" or "Stand"."""
    for match in DATE_LABEL.finditer(text):
        day = written_day(match.group(1), today)
        if day:
            return day
    return None


def written_day(text: str, today: date) -> str | None:
    """A date as printed: 18.10.2021, 2021-10-18, 3. März 2020, March 3rd, 2020."""
    if not re.search(r"[^\W\d_]", text):
        return parse_day(text.replace(" ", ""), today)
    words = re.findall(r"[^\W\d_]+|\d+", text.lower())
    numbers = [int(w) for w in words if w.isdigit()]
    months = [MONTH_NUMBERS[w] for w in words if w in MONTH_NUMBERS]
    if len(numbers) != 2 or len(months) != 1:
        return None
    try:
        day = date(numbers[1], months[0], numbers[0])
    except ValueError:
        return None
    return day.isoformat() if date(1990, 1, 1) <= day <= today else None


def printed_date(text: str) -> date | None:
    """The first full date a line of running text prints, in any language of MONTH_NAMES."""
    for pattern, (y, m, d) in PRINTED_DATES:
        found = pattern.search(text)
        if found:
            month = found.group(m)
            day = calendar_date(int(found.group(y)),
                                int(month) if month.isdigit() else MONTH_NUMBERS.get(month.lower()),
                                int(found.group(d)))
            if day:
                return day
    return None


def calendar_date(year: int, month: int | None, day: int, earliest: int = 1900) -> date | None:
    """The date, when it exists and its year lies between `earliest` and 2100."""
    if month is None or not earliest <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None
