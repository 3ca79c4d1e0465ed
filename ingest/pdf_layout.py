"""A PDF page's layout (pure): characters grouped into rows, the column gutter found, lines put in
reading order, footnotes moved to the page's end, and running heads and page numbers (furniture) found.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# A char: (text, x0, x1, bottom, top, baseline, size, bold, space_before); tuples, as there are many
Char = tuple

# A page: (its lines in reading order, its margin rows as (row, size, pieces of text))
Page = tuple


@dataclass
class Line:
    """One line of text in reading order, with the geometry paragraphs are decided by."""

    page: int
    chunk: int  # lines of one column of one band of one page share a chunk
    parts: list[str]  # the line's text, split where a wide gap separates it (author lists, tables)
    x0: float
    x1: float
    base: float  # baseline y (PDF space: up is larger)
    top: float
    size: float
    bold: bool
    left: float = 0.0  # edges of the line's column, for indents and short lines
    right: float = 0.0
    note: bool = False  # small type at a column's foot: a footnote, set apart from the running text
    row: int = -1  # the page row it comes from, for dropping running heads

    @property
    def text(self) -> str:
        return " ".join(self.parts)


# --- layout: rows, columns, lines -----------------------------------------------------------------

def page_lines(rows: list[list[Char]], page: int, width: float) -> list[Line]:
    """The page's lines in reading order: full-width bands top to bottom, each left column then right."""
    chunk = page * 1000
    gutter = _gutter(rows, width)
    if gutter is None:
        return _with_edges([_line(row, page, chunk, n) for n, row in enumerate(rows)])
    g0, g1 = gutter
    bands: list[tuple[bool, list[tuple[int, list[Char]]]]] = []  # (spans the gutter, numbered rows)
    for n, row in enumerate(rows):
        spans = any(run[0][1] < g0 and run[-1][2] > g1 for run in _runs(row))
        if not bands or bands[-1][0] != spans:
            bands.append((spans, []))
        bands[-1][1].append((n, row))
    out: list[Line] = []
    for spans, band in bands:
        sides = [band] if spans else [[(n, [c for c in row if c[2] <= g1]) for n, row in band],
                                      [(n, [c for c in row if c[2] > g1]) for n, row in band]]
        for side in sides:
            side = [(n, row) for n, row in side if row]
            if side:
                chunk += 1
                out.extend(_with_edges([_line(row, page, chunk, n) for n, row in side]))
    return out


def footnotes_last(lines: list[Line], body: float) -> list[Line]:
    """Mark small type at the foot of a column in the page's lower half (footnotes) and move it to
    the end of the page, so that a paragraph running on into the next column is not cut by it."""
    if not lines:
        return lines
    middle = (max(line.top for line in lines) + min(line.base for line in lines)) / 2
    notes: list[Line] = []
    keep: list[Line] = []
    for chunk in _chunks(lines):
        cut = len(chunk)
        while cut > 0 and chunk[cut - 1].size <= 0.85 * body and chunk[cut - 1].top < middle:
            cut -= 1
        if 0 < cut < len(chunk):
            for line in chunk[cut:]:
                line.note = True
            notes.extend(chunk[cut:])
            chunk = chunk[:cut]
        keep.extend(chunk)
    return keep + notes


def _chunks(lines: list[Line]) -> list[list[Line]]:
    out: list[list[Line]] = []
    for line in lines:
        if out and out[-1][-1].chunk == line.chunk:
            out[-1].append(line)
        else:
            out.append([line])
    return out


def char_rows(chars: list[Char]) -> list[list[Char]]:
    """Chars grouped by baseline, top to bottom, each row sorted left to right."""
    rows: list[list[Char]] = []
    for char in sorted(chars, key=lambda c: -c[5]):
        if rows and rows[-1][0][5] - char[5] <= 0.35 * max(char[6], 1.0):
            rows[-1].append(char)
        else:
            rows.append([char])
    merged: list[list[Char]] = []
    for row in rows:
        if merged and _raised_on(merged[-1], row):  # a superscript rides on the line below it
            merged[-1] = row + merged[-1]
        else:
            merged.append(row)
    return [sorted(row, key=lambda c: c[1]) for row in merged]


def _raised_on(small: list[Char], row: list[Char]) -> bool:
    """True when `small` is raised small type (footnote marks, affiliation numbers) on `row`'s line."""
    size = max(c[6] for c in row)
    if max(c[6] for c in small) >= 0.8 * size:
        return False
    base = max(row, key=lambda c: c[6])[5]
    return base < small[0][5] < base + 0.8 * size


def _runs(row: list[Char]) -> list[list[Char]]:
    """A row cut where the gap between chars is wider than a justified word space could be."""
    runs = [[row[0]]]
    for char in row[1:]:
        if char[1] - runs[-1][-1][2] > 0.8 * max(char[6], 1.0):
            runs.append([char])
        else:
            runs[-1].append(char)
    return runs


def _gutter(rows: list[list[Char]], width: float) -> tuple[float, float] | None:
    """The vertical strip between two columns, or None for a one-column page.

    A gutter is an x in the middle of the page that few rows cross while many rows have text
    entirely to its left and many entirely to its right.
    """
    spans = [[(run[0][1], run[-1][2]) for run in _runs(row)] for row in rows]
    if len(spans) < 8:
        return None
    lo, hi = int(width * 0.3), int(width * 0.7)
    if hi <= lo:
        return None
    crossing = [0] * (hi - lo + 2)
    for row in spans:  # rows crossing each x, counted with a difference array
        for x0, x1 in row:
            a, b = max(lo, int(x0) + 1), min(hi, -int(-x1) - 1)
            if a <= b:
                crossing[a - lo] += 1
                crossing[b - lo + 1] -= 1
    for i in range(1, len(crossing)):
        crossing[i] += crossing[i - 1]
    need = max(5, 0.15 * len(spans))
    for level in sorted(set(crossing[: hi - lo + 1]))[:4]:  # the least crossed x's first
        good = []
        for x in range(lo, hi + 1):
            if crossing[x - lo] != level:
                continue
            left = sum(any(x1 <= x for _, x1 in row) for row in spans if not any(a < x < b for a, b in row))
            right = sum(any(x0 >= x for x0, _ in row) for row in spans if not any(a < x < b for a, b in row))
            if min(left, right) >= need and level <= min(left, right):
                good.append(x)
        if good:
            stretches: list[list[int]] = []  # the widest stretch of equally good x's is the gutter
            for x in good:
                if stretches and x == stretches[-1][-1] + 1:
                    stretches[-1].append(x)
                else:
                    stretches.append([x])
            widest = max(stretches, key=len)
            return float(widest[0]), float(widest[-1])
    return None


def _line(chars: list[Char], page: int, chunk: int, row: int = -1) -> Line:
    chars = sorted(chars, key=lambda c: c[1])
    parts: list[list[str]] = [[]]  # runs of words apart from the next by a wide gap
    word: list[str] = []
    prev = None
    for char in chars:
        if prev is not None:
            gap = char[1] - prev[2]
            if gap > 1.5 * max(char[6], 1.0):
                parts[-1].append("".join(word))
                parts.append([])
                word = []
            elif char[8] or gap > 0.3 * max(char[6], 1.0):
                parts[-1].append("".join(word))
                word = []
        word.append(char[0])
        prev = char
    parts[-1].append("".join(word))
    sizes = Counter(round(c[6], 1) for c in chars)
    size = sizes.most_common(1)[0][0]
    base = Counter(round(c[5], 1) for c in chars if round(c[6], 1) == size).most_common(1)[0][0]
    return Line(page=page, chunk=chunk, parts=[_clean(" ".join(w for w in p if w)) for p in parts],
                 x0=chars[0][1], x1=max(c[2] for c in chars), base=base,
                 top=max(c[4] for c in chars), size=size,
                 bold=sum(c[7] for c in chars) * 2 > len(chars), row=row)


def _with_edges(lines: list[Line]) -> list[Line]:
    """Set each line's column edges to those of its chunk (the page's text, for one column)."""
    if lines:
        left = min(line.x0 for line in lines)
        right = max(line.x1 for line in lines)
        for line in lines:
            line.left, line.right = left, right
    return lines


LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text.translate(LIGATURES))


# --- furniture: running heads and page numbers -----------------------------------------------------

PAGE_NUMBER = re.compile(r"^(page\s+)?(\d{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)


def margin_rows(rows: list[list[Char]], height: float) -> list[tuple[int, float, list[str]]]:
    """Rows at the top or bottom of the page's text and in the outer fifth of the page, as
    (row number, type size, pieces of text with digits masked): where running heads and page
    numbers are."""
    if not rows:
        return []
    top = max(c[4] for c in rows[0])
    bottom = min(c[5] for c in rows[-1])
    out = []
    for n, row in enumerate(rows):
        size = max(c[6] for c in row)
        margin = 0.08 * max(top - bottom, 1.0) + size
        row_top, base = max(c[4] for c in row), row[0][5]
        if (row_top >= top - margin and base > 0.8 * height) or (base <= bottom + margin and row_top < 0.2 * height):
            out.append((n, size, [re.sub(r"\d+", "#", part.lower()) for part in _line(row, 0, 0).parts]))
    return out


def furniture_rows(pages: list[Page], body: float) -> set[tuple[int, int]]:
    """(page, row) of margin rows made of pieces that repeat across pages (running heads, "Preprint",
    "Page 3 of 9" with the number masked) or of page numbers. Large type is never furniture: a title
    that every page repeats as its running head stays on page 1."""
    seen = Counter(piece for _, margin in pages for piece in {p for _, _, ps in margin for p in ps})
    repeats = max(2, int(0.4 * len(pages) + 0.5))
    return {(number, row) for number, (_, margin) in enumerate(pages) for row, size, pieces in margin
            if size <= 1.15 * body and all(seen[p] >= repeats or PAGE_NUMBER.match(p) for p in pieces)}


def body_size(sizes: Counter) -> float:
    return sizes.most_common(1)[0][0] if sizes else 10.0
