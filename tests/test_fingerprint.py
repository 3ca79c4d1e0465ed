"""Near-duplicate fingerprints: NEAR_DISTANCE separates syndicated copies of real articles from
different articles (same site, same news story), bands find every pair within it, and the value is
the same in every process. Fixture articles: tests/fixtures/near/ (see its README)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trafilatura.deduplication import Simhash

from ingest.fingerprint import BANDS, MIN_WORDS, NEAR_DISTANCE, bands, distance, fingerprint, words

NEAR = Path(__file__).parent / "fixtures" / "near"
ARTICLES = {p.stem: p.read_text(encoding="utf-8") for p in sorted(NEAR.glob("*-*.md"))}  # not README.md
SAME_SITE = ("express-plague", "express-hong-kong")  # express.co.uk, one template
SAME_STORY = ("express-plague", "sun-plague")  # two outlets on one news story: the closest pair


# The differences a syndicated copy picks up (bench/near_duplicates.py makes them at random)
def with_header(text: str) -> str:
    return "Home | News | World | Business | Technology | Science | Opinion | Sign in | Subscribe\n\n" \
        + text


def with_footer(text: str) -> str:
    return text + ("\n\n© 2024 Example Media Group. All rights reserved. Privacy Policy | Terms of Use | "
                   "Cookie Settings | Contact Us | Advertise with us | Careers")


def with_appeared(text: str) -> str:
    return "This post first appeared on [The Gazette](https://gazette.example.com/p/original).\n\n" + text


def with_newsletter(text: str) -> str:
    return text + ("\n\nThanks for reading! Subscribe for free to receive new posts and support my work. "
                   "Subscribe. Share. Leave a comment.")


def relinked(text: str) -> str:
    return re.sub(r"(\]\()[^)]*(\))", r"\1https://newsletter.example.com/r/123?utm_source=newsletter\2", text)


def requoted(text: str) -> str:
    for old, new in {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "--"}.items():
        text = text.replace(old, new)
    return text


def trimmed(text: str) -> str:
    return "\n".join([p for p in text.split("\n") if p.strip()][:-1])


def with_caption(text: str) -> str:
    paragraphs = text.split("\n\n")
    middle = len(paragraphs) // 2
    caption = "![A view of the scene](https://cdn.example.net/img/1234.jpg)\nPhoto: Jane Doe / Getty Images"
    return "\n\n".join(paragraphs[:middle] + [caption] + paragraphs[middle:])


def unmarked(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"^#{1,6}\s+|(?<!\w)[*_`]+|[*_`]+(?!\w)", "", text, flags=re.M)


def combined(*steps):
    def apply(text: str) -> str:
        for step in steps:
            text = step(text)
        return text
    apply.__name__ = "+".join(s.__name__ for s in steps)
    return apply


COPIES = [with_header, with_footer, with_appeared, with_newsletter, relinked, requoted, trimmed,
          with_caption, unmarked,
          # a newsletter post and its web copy; a press release republished with a credit line
          combined(with_appeared, with_newsletter, relinked),
          combined(with_header, with_footer, requoted),
          combined(with_caption, trimmed, unmarked)]


def test_fixtures_are_long_enough_to_fingerprint():
    assert len(ARTICLES) == 4
    assert all(fingerprint(text) is not None for text in ARTICLES.values())


@pytest.mark.parametrize("make_copy", COPIES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_syndicated_copy_is_within_near_distance(name, make_copy):
    original = ARTICLES[name]
    assert distance(fingerprint(original), fingerprint(make_copy(original))) <= NEAR_DISTANCE


@pytest.mark.parametrize("make_copy", [relinked, requoted, unmarked], ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_markup_urls_and_quotes_do_not_change_the_fingerprint(name, make_copy):
    assert fingerprint(make_copy(ARTICLES[name])) == fingerprint(ARTICLES[name])


def test_case_spacing_and_punctuation_do_not_change_the_fingerprint():
    text = ARTICLES["sun-plague"]
    shouted = re.sub(r"\s+", "  \n ", text.upper()).replace(",", " ;").replace(".", "!")
    assert fingerprint(shouted) == fingerprint(text)


@pytest.mark.parametrize("first, second", list(itertools.combinations(sorted(ARTICLES), 2)))
def test_different_articles_are_beyond_near_distance(first, second):
    assert distance(fingerprint(ARTICLES[first]), fingerprint(ARTICLES[second])) > NEAR_DISTANCE


def test_threshold_keeps_headroom_below_the_closest_different_articles():
    # two outlets' reports of one plague case are the nearest different pair in the corpus (11);
    # a threshold crowding it would start merging distinct reports of the same event
    first, second = (ARTICLES[name] for name in SAME_STORY)
    assert distance(fingerprint(first), fingerprint(second)) >= NEAR_DISTANCE + 3


def test_one_site_template_does_not_make_different_articles_near():
    template = combined(with_header, with_footer, with_newsletter)
    first, second = (template(ARTICLES[name]) for name in SAME_SITE)
    assert distance(fingerprint(first), fingerprint(second)) > NEAR_DISTANCE


def test_short_texts_have_no_fingerprint():
    tokens = words(ARTICLES["express-hong-kong"])
    assert fingerprint(" ".join(tokens[:MIN_WORDS - 1])) is None
    assert fingerprint(" ".join(tokens[:MIN_WORDS])) is not None
    assert fingerprint("") is None
    assert fingerprint("Subscribe to continue reading. " * 5) is None
    # URLs and Markdown are not words, however long
    assert fingerprint("![](https://example.com/a/b.jpg) https://example.com/a/long/path **" * 200) is None


def test_fingerprint_fits_sqlite_integer_and_distance_handles_the_sign():
    for text in ARTICLES.values():
        value = fingerprint(text)
        assert -(2**63) <= value < 2**63
        assert value % 2**64 == Simhash(" ".join(words(text))).hash  # trafilatura's, re-signed
    assert distance(-1, 0) == 64
    assert distance(-(2**63), 0) == 1
    assert distance(-1, 2**63 - 1) == 1


SCRIPT = "import sys; from ingest.fingerprint import fingerprint; print(fingerprint(sys.stdin.read()))"


@pytest.mark.parametrize("seed", ["0", "1", "4242"])
def test_fingerprint_is_the_same_in_another_process(seed):
    text = ARTICLES["smithsonian-plague"]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", SCRIPT], input=text, env=env, capture_output=True,
                          text=True, encoding="utf-8", check=True)
    assert int(done.stdout) == fingerprint(text)


signed64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def bits_of_each_band(fp: int) -> list[list[int]]:
    """Which fingerprint bits each band holds, found by flipping them one at a time."""
    before = bands(fp)
    return [[bit for bit in range(64) if before[i] != bands(fp ^ (1 << bit))[i]] for i in range(BANDS)]


@given(signed64, st.sets(st.integers(0, 63), max_size=NEAR_DISTANCE))
def test_fingerprints_within_near_distance_share_a_band(fp, flipped):
    other = fp ^ sum(1 << bit for bit in flipped)
    assert distance(fp, other) == len(flipped)
    assert set(bands(fp)) & set(bands(other))


@given(signed64, st.randoms(use_true_random=False))
def test_differences_spread_over_near_distance_bands_leave_one_shared(fp, rng):
    # the worst case for banding, which random bits rarely hit: each difference in its own band
    layout = bits_of_each_band(fp)
    other = fp ^ sum(1 << rng.choice(bits) for bits in rng.sample(layout, NEAR_DISTANCE))
    assert distance(fp, other) == NEAR_DISTANCE
    assert set(bands(fp)) & set(bands(other))


@given(signed64, st.randoms(use_true_random=False))
def test_one_more_bit_can_separate_every_band(fp, rng):
    # the band count is the least that works, so lookups fetch no more candidates than needed
    layout = bits_of_each_band(fp)
    assert sorted(sum(layout, [])) == list(range(64))  # every bit in exactly one band
    other = fp ^ sum(1 << rng.choice(bits) for bits in layout)
    assert distance(fp, other) == NEAR_DISTANCE + 1
    assert not set(bands(fp)) & set(bands(other))


@given(signed64, signed64)
def test_bands_are_small_and_tagged_by_position(a, b):
    first, second = bands(a), bands(b)
    assert len(first) == BANDS == NEAR_DISTANCE + 1
    assert all(0 <= value < 2**16 for value in first)
    # the same value at two positions would match fingerprints that share no bits there
    assert all(first[i] != second[j] for i in range(BANDS) for j in range(BANDS) if i != j)
