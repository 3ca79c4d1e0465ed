"""Text → words, key phrases and TF-IDF vectors: what the guesser and the learner count (pure).

Words are lowercase ASCII runs of letters and digits; a phrase is one to three adjacent words
without a stop word, written as a kebab-case slug ('GLP-1 agonists' → 'glp-1-agonists'), the
same shape as a tag, so a phrase found in a text can be compared with a tag directly.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from urllib.parse import urlsplit

MAX_TEXT = 30_000  # characters of main text read; the rest of a long page adds little but time
TITLE_WEIGHT = 3  # a title word counts as much as this many words of text
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each either else even ever every few for from
further had has have having he her here hers herself him himself his how however i if in into is it its
itself just least less let like ll many may me might more most much must my myself neither no nor not now
of off often on once one only or other others our ours ourselves out over own per rather re same say says
said see seen she should since so some such than that the their theirs them themselves then there these
they this those though through thus to too toward towards under until up upon us use used using ve very
via was we were what when where whether which while who whom whose why will with within without would
yet you your yours yourself yourselves s t d m
get gets got make makes made new way ways well back still really going go goes thing things lot lots
year years time times first two three last next day days week weeks month months today
add adds added allow allows allowed need needs needed want wants take takes took give gives given show shows
shown try tries tried call calls called keep keeps help helps run runs ran put puts find finds found know
known come comes came look looks looked seem seems able lets let's thing's it's that's there's here's
outside inside across around beyond behind beside among amongst along onto near
""".split())  # noqa: SIM905 (a word list a reader can scan)
_WORD = re.compile(r"[a-z0-9]+")
_URL = re.compile(r"https?://\S+|\]\([^)]*\)")  # bare links and the targets of Markdown links
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:[ -][A-Z][A-Za-z0-9]*)*\b")


def ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def slug(phrase: str) -> str:
    """A lowercase kebab-case ASCII slug ('Machine Learning' → 'machine-learning')."""
    return re.sub(r"[^a-z0-9]+", "-", ascii_lower(phrase)).strip("-")


def words(text: str) -> list[str]:
    """The lowercase words of a text, links left out."""
    return _WORD.findall(ascii_lower(_URL.sub(" ", text)))


def is_content_word(word: str) -> bool:
    return len(word) > 1 and word not in STOP_WORDS and not word.isdigit()


def phrases(tokens: list[str], longest: int = 3) -> Counter:
    """Counts of the 1..longest-word phrases (as slugs) made of content words in a row.

    A digit may follow a word inside a phrase ('glp-1', 'raptor-3') but not start one."""
    found: Counter = Counter()
    n = len(tokens)
    for i, first in enumerate(tokens):
        if not is_content_word(first):
            continue
        found[first] += 1
        parts = [first]
        for j in range(i + 1, min(n, i + longest)):
            word = tokens[j]
            if not (is_content_word(word) or (word.isdigit() and len(word) <= 2)):
                break
            parts.append(word)
            found["-".join(parts)] += 1
    return found


def terms(title: str, text: str) -> Counter:
    """The counted terms of a page for similarity: its phrases, title phrases counted TITLE_WEIGHT times."""
    counts = phrases(words(text[:MAX_TEXT]), longest=2)
    for term, n in phrases(words(title), longest=2).items():
        counts[term] += TITLE_WEIGHT * n
    return counts


def site_terms(url: str, author: str | None, sitename: str | None) -> list[str]:
    """Terms for where a page comes from: its host, the host's registrable part, author and site."""
    found = []
    host = url_host(url)
    if host:
        found.append(f"host:{host}")
        if registrable(host) != host:
            found.append(f"site:{registrable(host)}")
    for who in (author, sitename):
        key = person_key(who)
        if key:
            found.append(f"by:{key}")
    return found


def url_host(url: str) -> str:
    """The host without `www.` and port, lowercase; '' for what is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https"):
        return ""
    return (parts.hostname or "").removeprefix("www.")


SECOND_LEVEL = frozenset("co com org net ac gov edu".split())  # noqa: SIM905


def registrable(host: str) -> str:
    """The organisation's part of a host: 'blog.colosseum.com' → 'colosseum.com',
    'news.bbc.co.uk' → 'bbc.co.uk' (a short list of second-level suffixes, no public-suffix file)."""
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def person_key(name: str | None) -> str:
    """A stable key for an author or site: the first name listed, slugged; handles win ('@karpathy')."""
    if not name:
        return ""
    handle = re.search(r"@([A-Za-z0-9_]{2,})", name)
    if handle:
        return slug(handle.group(1))
    first = re.split(r",|;|\(| and | & |/", name)[0]
    return slug(first)[:40]


def capitalised_phrases(text: str) -> Counter:
    """Slugs of Capitalised Word runs and ACRONYMS in a text (proper names, products, programmes)."""
    return Counter(slug(m.group(0)) for m in _CAPITALISED.finditer(text[:MAX_TEXT]))


def tfidf(counts: Counter, idf: Mapping[str, float], default_idf: float) -> dict[str, float]:
    """Sublinear TF × IDF, L2-normalised."""
    vector = {t: (1.0 + math.log(n)) * idf.get(t, default_idf) for t, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {t: v / norm for t, v in vector.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def top_terms(vector: dict[str, float], n: int) -> dict[str, float]:
    """The n heaviest terms, renormalised: small enough to store, close enough to compare."""
    kept = dict(sorted(vector.items(), key=lambda kv: -kv[1])[:n])
    norm = math.sqrt(sum(v * v for v in kept.values())) or 1.0
    return {t: round(v / norm, 5) for t, v in kept.items()}


# words that say what kind of text a page is, whatever its subject
GENRE_WORDS = frozenset("""
abstract introduction methods method results conclusion conclusions discussion appendix preprint
journal peer reviewed study studies cohort trial participants sample dataset datasets arxiv doi
report survey respondents findings percent executive summary key takeaways recommendations
methodology forecast outlook index ranking analysis analysts estimate estimates fiscal billion
said says told according reported announced spokesperson statement interview reporters
proposal vote passed failed treasury raise launch tokens funding
tweet tweets thread retweet reply replies quote followers
i me my we our you think believe honestly personally
act bill section congress senate legislation regulation rule agency commission
podcast episode transcript conversation host guest
""".split())  # noqa: SIM905 (a word list a reader can scan)


def genre_tokens(url: str, title: str, text: str, author: str | None, sitename: str | None) -> set[str]:
    """Tokens about the kind of page, not its subject: who publishes it, how its URL and title are
    built, how long and how numeric its text is, and a few words that mark a genre."""
    tokens: set[str] = set()
    host = url_host(url)
    if host:
        labels = host.split(".")
        tokens.add(f"tld:{labels[-1]}")
        tokens.update(f"h:{label}" for label in labels[:-1] if len(label) > 2)
        try:
            path = urlsplit(url).path
        except ValueError:
            path = ""
        tokens.update(f"p:{w}" for w in words(path) if len(w) > 2 and not w.isdigit())
        tokens.add("path-depth:" + str(min(path.strip("/").count("/"), 3)))
    else:
        tokens.add("no-url")
    for who, prefix in ((author, "a"), (sitename, "s")):
        tokens.update(f"{prefix}:{w}" for w in words(who or "") if len(w) > 2)
    title_words = words(title)
    tokens.update(f"t:{w}" for w in title_words if w in GENRE_WORDS or w.isdigit() and len(w) == 4)
    tokens.add("title-len:" + str(min(len(title_words) // 4, 4)))
    if ":" in title or "?" in title:
        tokens.add("title-punct:" + ("?" if "?" in title else ":"))
    body = text[:MAX_TEXT]
    text_words = words(body)
    n = len(text_words)
    size = "0" if n == 0 else "s" if n < 300 else "m" if n < 1000 else "l" if n < 3000 else "xl"
    tokens.add(f"len:{size}")
    if n:
        digits = sum(w.isdigit() for w in text_words) / n
        tokens.add("digits:" + ("hi" if digits > 0.08 else "mid" if digits > 0.03 else "lo"))
        tokens.add("percent:" + ("hi" if body.count("%") > 10 else "some" if "%" in body else "none"))
        tokens.add("money:" + ("yes" if "$" in body else "no"))
        lines = body.splitlines()
        bullets = sum(1 for line in lines if line.lstrip().startswith(("- ", "* ", "1.")))
        tokens.add("bullets:" + ("many" if bullets > 10 else "some" if bullets else "none"))
        tokens.add("headings:" + ("many" if body.count("\n#") > 5 else "some" if "\n#" in body else "none"))
        tokens.add("quotes:" + ("yes" if body.count("\n>") > 1 or body.count("“") > 2 else "no"))
        tokens.update(f"w:{w}" for w in set(text_words) if w in GENRE_WORDS)
    return tokens
