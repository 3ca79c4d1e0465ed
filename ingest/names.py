"""Person names and bylines: whether a text looks like a person's name, bylines turned into names
(no "By", dates, roles, URLs or placeholders), a byline printed in an article's text (pure).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .dates import month_names
from .fingerprint import MARKDOWN_LINK
from .text import clean

# accounts that stand where no person is named: a CMS's users on a web page, and the computer's or
# the Office installation's owner in a PDF's Info dictionary
_NOBODY = r"admin(istrator)?|unknown|anonymous|author|root"
PLACEHOLDER_AUTHORS = re.compile(
    rf"^({_NOBODY}|staff|editor(s|ial)?( team| staff)?|web ?master|guest|redaktion|team|newsroom|wp\w*|"
    r"user\d*)$", re.IGNORECASE)
PLACEHOLDER_FILE_AUTHORS = re.compile(
    rf"^({_NOBODY}|user|owner|(microsoft )?office user|windows user|default|dell|hp|lenovo)$", re.IGNORECASE)
BYLINE_PREFIX = re.compile(
    r"^\s*(written\s+by|posted\s+by|published\s+by|story\s+by|words\s+by|text\s+by|reported\s+by|by|par|von|"
    r"por|di|door|av|af|autor(in)?|author|interview)(\s*:)?\s+", re.IGNORECASE)
# a date glued on a byline ("Jane Doe, March 3, 2020", "Jane Doe 12:04"); the month names are the
# English, German and French ones the byline rules were tuned on
TRAILING_DATE = re.compile(
    rf"[\s,|•·-]*(\b(last updated|updated|published|posted|on)\b:?\s*)?(\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|"
    rf"\d{{4}}-\d{{2}}-\d{{2}}|(\d{{1,2}}\.?\s+)?\b({'|'.join(month_names('en', 'de', 'fr'))})[a-zé]*\.?\s+"
    rf"\d{{1,4}}\b|\d{{1,2}}:\d{{2}}).*$",
    re.IGNORECASE)
# a month's name left at the end; May and Mai are names too ("Theresa May")
FULL_MONTH = re.compile(
    rf"\s+({'|'.join(m for m in month_names('en', 'de', full=True) if m not in ('may', 'mai'))})\.?$",
    re.IGNORECASE)
ROLE_SUFFIX = re.compile(r"\s*[,|(–—-]\s*(staff|senior|chief|contributing|special|associate|managing|editor|"
                         r"reporter|correspondent|writer|columnist|contributor|photographer|journalist|"
                         r"the associated press|reuters|afp|dpa)\b.*$", re.IGNORECASE)
ROLE_ONLY = re.compile(r"^((staff|senior|chief|contributing|special|associate|managing|editor|reporter|"
                       r"correspondent|writer|columnist|contributor|photographer|journalist)s?\s*)+$",
                       re.IGNORECASE)
NAME_PARTICLES = frozenset(["von", "van", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "dos",
                            "bin", "al", "ibn", "y"])
# words of an institution, or of the text around an author line, never of a person's name
AFFILIATION = re.compile(
    r"\b(universit\w*|univ\.?|institut\w*|college|school|department|dept\.?|laborator\w*|labs?|inc\.?|"
    r"ltd\.?|llc|gmbh|corp\w*|cent(er|re)|foundation|associates|research|group|society|academy|"
    r"hospital|faculty|google|microsoft|deepmind|openai|anthropic|ibm|ag|abstract|email|e-mail)\b",
    re.IGNORECASE)
# a word of a name: letters with inner hyphens or apostrophes ("Parker-Pope", "O’Neil"), an initial
# ("J.", "J.-P."), a title ("Dr.")
NAME_WORD = re.compile(r"^(?:[^\W\d_][^\W\d_'’.\-]*(?:[-'’][^\W\d_]+)*|[^\W\d_]\.(?:-?[^\W\d_]\.)*|"
                       r"(?:dr|prof|mr|mrs|ms|jr|sr)\.)$", re.IGNORECASE)


def looks_like_name(text: str) -> bool:
    """A person's name: two to five words, each a capitalised name word or a particle between them
    ("Ursula von der Leyen"), and no word of an institution ("University", "Research")."""
    words = text.split()
    if not 2 <= len(words) <= 5 or len(text) > 60 or AFFILIATION.search(text):
        return False
    if not (words[0][0].isupper() and words[-1][0].isupper()):
        return False
    return all(word in NAME_PARTICLES or (word[0].isupper() and NAME_WORD.match(word)) for word in words)


def author_line_names(text: str) -> list[str]:
    """Person names in a line of authors: split on commas, 'and', '&', ';' and wide gaps; footnote
    marks, affiliation numbers, e-mail addresses and parentheses dropped."""
    text = re.sub(r"[*†‡§¶∗⋆✉]|\S+@\S+|\(.*?\)|(?<=[^\W\d_])\d+(,\d+)*\b", " ", text)
    names = []
    for piece in re.split(r",|;|&|·|•|\s+and\s+|\s{2,}", text):
        piece = " ".join(piece.split()).strip(" .")
        if looks_like_name(piece):
            names.append(piece)
    return names


def printed_byline(text: str) -> str | None:
    """The names of a byline the article's text prints as a line of its own, under a label
    ("Written by: Jane Doe", "*Von Cosima Künzel*"); None when no line, or more than one, reads so."""
    found = set()
    for line in text.splitlines():
        line = MARKDOWN_LINK.sub(r"\1", line).strip(" *_>")
        if len(line) > 80 or not BYLINE_PREFIX.match(line):
            continue
        names = clean_authors([line])
        if names and all(looks_like_name(n) for n in names):
            found.add(", ".join(names))
    # several bylines: the text has teasers of other articles in it, none is surely this one's
    return found.pop() if len(found) == 1 else None


def clean_authors(values: Sequence[str | None]) -> list[str]:
    """Bylines → names: no "By", no dates, roles, URLs, e-mails or placeholders; duplicates gone."""
    people: dict[str, str] = {}
    for value in values:
        for name in _split_people(clean(value) or ""):
            key = name.lower()
            if key not in people:
                people[key] = name
    return list(people.values())


def _split_people(byline: str) -> list[str]:
    byline = re.sub(r"\(?\s*(https?://|www\.)\S*\s*\)?|\S+@\S+\.\w+", " ", byline).strip()
    byline = BYLINE_PREFIX.sub("", byline)
    byline = re.split(r"\s+(?:edited|photos?|illustrations?|updated|reviewed)\s+by\s+", byline,
                      flags=re.IGNORECASE)[0]
    byline = FULL_MONTH.sub("", TRAILING_DATE.sub("", byline))
    parts = re.split(r"\s*;\s*|\s+(?:and|und|et|y|e|&)\s+|\s*,\s*(?=[^,]+\s[^,]+)", byline)
    if any(len(p.strip()) < 2 for p in parts):  # "Mac & i" is one name, not two
        parts = [byline]
    names = []
    for part in parts:
        part = ROLE_SUFFIX.sub("", BYLINE_PREFIX.sub("", part)).strip(" ,;:|-–—").strip()
        part = part.rstrip(".") if not re.search(r"\b\w\.$", part) else part  # keep an initial's dot
        if _declared_author(part):
            names.append(part)
    return names


def _declared_author(text: str) -> bool:
    """Whether a declared author can stand as one: a person or an organisation ("Reuters"), not a
    placeholder, a role, an address or a sentence. Looser than looks_like_name: declarations are
    meant to name the author, free text is not."""
    if not text or len(text) > 80 or PLACEHOLDER_AUTHORS.match(text) or ROLE_ONLY.match(text):
        return False
    if "@" in text and " " not in text or re.match(r"(https?:|www\.)", text, re.IGNORECASE) or "/" in text:
        return False
    return any(c.isalpha() for c in text) and len(text.split()) <= 6


def declared_people(values: list[str]) -> list[str]:
    """Names declared one person a tag, in order: "Last, First" turned round. They are names,
    not bylines, so no "By" or "Di" is cut off; only a single tag listing everyone ("A and B",
    "A; B", "A, B, C") is read as a byline."""
    values = [v for v in (clean(v) for v in values) if v]
    if len(values) == 1 and re.search(r";|\s(?:and|&)\s|,.*,", values[0]):
        return clean_authors(values)
    people: dict[str, str] = {}
    for name in (_first_last(v).strip(" ,;") for v in values):
        if _declared_author(name):
            people.setdefault(name.lower(), name)
    return list(people.values())


def _first_last(name: str) -> str:
    """citation_author is often `Last, First`."""
    last, sep, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if sep and first.strip() and "," not in first else name
