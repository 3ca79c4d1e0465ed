"""A SimHash of an article's main text, for finding the same article syndicated elsewhere (pure).

trafilatura's Simhash: 64 bits from a bag of words (each blake2b-hashed, counted as often as it
occurs, only words over 4 letters once there are 32 of them). Two copies of one article differ in
the boilerplate extracted along, so the words are normalised first (case, quotes, punctuation,
Markdown, URLs) and near means within NEAR_DISTANCE bits.

Threshold, from bench/near_duplicates.py over the 207 corpus pages of >= 150 words:
  copies with all nine differences at once (header, footer, "first appeared on", newsletter
  footer, other links, quotes, trimmed last paragraph, caption, Markdown dropped): p50 5, p95 12,
  max 21 bits; with three of them: p50 3, p95 9. Different articles: 21,306 pairs min 11, p1 22,
  p50 32; same site (16 pairs) min 13; one shared site template (3,000 pairs) min 15.
  At 8, copies found: 83% (all nine), 92% (three); no different pair within. The closest different
  pair, 11, is two outlets reporting one plague case: 8 keeps 3 bits from merging such reports.
Minimum length: different articles cut short inside one shared ~48-word template (nav, footer,
  newsletter, as a paywall stub has) fall within 8 bits at 76 words in 7% of pairs, at 97 in 0.5%,
  never from 117; from 138 the closest is 11. Below MIN_WORDS only the exact hash applies.
  Scripts without spaces (Chinese, Japanese) count clauses, so they seldom reach it.
"""

from __future__ import annotations

import re
import unicodedata

BITS = 64
NEAR_DISTANCE = 8  # Hamming distance at or below which two texts are the same article
MIN_WORDS = 150  # below this a shared template can bring unrelated short texts within it
BANDS = NEAR_DISTANCE + 1  # pigeonhole: d differing bits leave at least one of d + 1 bands intact

_MASK = (1 << BITS) - 1
_BAND_WIDTH = -(-BITS // BANDS)  # the widest band: the position tag sits above it
MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [words](target): the words stay, the target goes
_URL = re.compile(r"(?:\bhttps?://|\bwww\.)\S+", re.I)
_NOT_WORD = re.compile(r"[\W_]+")  # punctuation of any script, Markdown marks, quotes of any shape


def words(text: str) -> list[str]:
    """The text's words, as two copies of one article share them whatever their markup and URLs."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _URL.sub(" ", MARKDOWN_LINK.sub(r"\1", text))
    return _NOT_WORD.sub(" ", text).split()


def fingerprint(text: str, *, min_words: int = MIN_WORDS) -> int | None:
    """The SimHash of `text` as a signed 64-bit int (SQLite's INTEGER); None for a text too short."""
    tokens = words(text)
    if len(tokens) < min_words:
        return None
    # imported here: the ledger side (bands, distance) must not load trafilatura for a duplicate check
    from trafilatura.deduplication import Simhash

    # Simhash tokens with blake2b, so the value is the same in every process (no hash() salt)
    return _signed(Simhash(" ".join(tokens), length=BITS).hash)


def distance(a: int, b: int) -> int:
    """The number of bits in which two fingerprints differ."""
    return ((a ^ b) & _MASK).bit_count()


def bands(fp: int) -> tuple[int, ...]:
    """The fingerprint cut into BANDS pieces, each tagged with its position.

    Two fingerprints within NEAR_DISTANCE share at least one value, so a lookup by an indexed
    band column finds every candidate without scanning; the position tag keeps the same bits in
    different positions from matching. Bands of 7-8 bits also match about 7% of unrelated rows
    by chance: check `distance` on what a lookup returns.
    """
    fp &= _MASK
    out = []
    start = 0
    for i in range(BANDS):
        width = BITS // BANDS + (i < BITS % BANDS)
        out.append((i << _BAND_WIDTH) | ((fp >> start) & ((1 << width) - 1)))
        start += width
    return tuple(out)


def _signed(value: int) -> int:
    return value - (1 << BITS) if value >= 1 << (BITS - 1) else value
