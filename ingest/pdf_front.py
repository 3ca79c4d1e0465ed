"""A PDF's title, authors and date (pure): the Info dictionary's when page 1 bears them out, else
what page 1 prints in its largest type and between the title and the abstract.
"""

from __future__ import annotations

import re
from datetime import date

from .dates import calendar_date, printed_date
from .names import PLACEHOLDER_FILE_AUTHORS, author_line_names
from .pdf_layout import Line


def title_lines(first: list[Line], body: float) -> list[Line]:
    """The largest-type lines at the top of page 1, when larger than the body text."""
    top = first[: max(12, len(first) // 3)]
    if not top:
        return []
    biggest = max(line.size for line in top)
    if biggest < 1.15 * body:
        return []
    start = next(i for i, line in enumerate(top) if line.size >= biggest - 0.5)
    lines = []
    for line in top[start:start + 4]:
        if line.size < biggest - 0.5:
            break
        lines.append(line)
    return lines


BAD_TITLE = re.compile(
    r"^(microsoft (word|powerpoint|excel)\b|untitled|document\d*$|slide \d|title$|presentation|"
    r"powerpoint presentation|proceedings template)|\.(docx?|pdf|tex|dvi|ps|rtf|odt|indd|pages|qxd)$|[\\/]",
    re.IGNORECASE)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def pick_title(meta: str, page: str, first: list[Line]) -> str:
    """The metadata title when it is plausible and page 1 shows it, else page 1's largest type."""
    meta = meta.strip()
    plausible = 3 <= len(meta) <= 300 and not BAD_TITLE.search(meta)
    if plausible:
        shown = set(_words(" ".join(line.text for line in first[:60])))
        words = _words(meta)
        if not shown or sum(w in shown for w in words) >= 0.6 * len(words):
            return meta
    if page:
        return _join_hyphens(page)
    return meta if plausible else ""


FRONT_END = re.compile(r"^\s*(abstract|summary|keywords|(1\.?\s+)?introduction)\s*([.:—–-]|$)",
                       re.IGNORECASE)


def front_lines(first: list[Line], title_lines: list[Line]) -> list[Line]:
    """The lines between the title and the abstract (or the first heading) of page 1: authors,
    affiliations, a date."""
    if not title_lines:
        return []
    start = next(i for i, line in enumerate(first) if line is title_lines[-1]) + 1
    front = []
    for line in first[start:start + 10]:
        if FRONT_END.match(line.text) or len(line.text.split()) > 16:  # the abstract or running text
            break
        front.append(line)
    return front


def page_authors(front: list[Line]) -> tuple[str, ...]:
    names: list[str] = []
    for line in front:
        for part in line.parts:
            names.extend(name for name in author_line_names(part) if name not in names)
    return tuple(names)


def _split_meta_authors(meta: str) -> list[str]:
    meta = meta.strip()
    if not meta or PLACEHOLDER_FILE_AUTHORS.match(meta):
        return []
    if ";" in meta:
        pieces = meta.split(";")
    else:
        pieces = re.split(r",|\s+and\s+|&", meta)
        if len(pieces) == 2 and all(len(p.split()) == 1 for p in pieces):  # "Zeileis, Achim"
            pieces = [f"{pieces[1].strip()} {pieces[0].strip()}"]
    return [" ".join(p.split()) for p in pieces if p.strip()]


def pick_authors(meta: str, page: tuple[str, ...], first: list[Line]) -> tuple[str, ...]:
    """The metadata authors when page 1 shows each of their surnames, else page 1's names."""
    names = _split_meta_authors(meta)
    shown = set(_words(" ".join(line.text for line in first[:60])))
    if names and all(_words(name) and _words(name)[-1] in shown for name in names):
        return tuple(names)
    if page:
        return page
    return tuple(names) if names and all(len(name.split()) >= 2 for name in names) else ()


def info_date(value: str) -> date | None:
    """A /CreationDate such as D:20240320101500+01'00'; dates before PDF existed are placeholders."""
    found = re.match(r"^(?:D:)?(\d{4})(\d\d)?(\d\d)?", value.strip())
    if not found or not found.group(3):
        return None
    return calendar_date(int(found.group(1)), int(found.group(2)), int(found.group(3)), earliest=1993)


def page_date(first: list[Line]) -> date | None:
    """The first full date written on the top part of page 1 (before the body begins)."""
    for line in first[:30]:
        day = printed_date(line.text)
        if day:
            return day
    return None


def _join_hyphens(text: str) -> str:
    return re.sub(r"([^\W\d_])- ([a-z])", r"\1\2", text)
