"""The threshold study behind ingest/fingerprint.py: how far apart are the SimHashes of one article
syndicated twice, and of two different articles?

Every corpus page (../shared/corpus/extraction/) is extracted the way `ingest url` does it. From
each article text this builds syndicated copies the way they happen — other header, footer and
navigation text extracted along, a "first appeared on" line, a newsletter footer, other link URLs,
curly quotes, a trimmed last paragraph, an added image caption — and prints the Hamming distance
distribution of copy pairs against pairs of different articles: all pairs, pairs from the same
site, and pairs wrapped in the same site template. Then precision/recall per candidate threshold,
and the same at text lengths from 25 words up, for the minimum length.

    python bench/near_duplicates.py [--corpus DIR] [--copies N] [--seed S]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.charset import page_html  # noqa: E402
from ingest.errors import IngestError  # noqa: E402
from ingest.extract import extract_document  # noqa: E402
from ingest.fingerprint import MIN_WORDS, NEAR_DISTANCE, distance, fingerprint, words  # noqa: E402
from ingest.records import FetchResult  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "extraction"
TODAY = date(2026, 11, 26)
THRESHOLDS = range(0, 13)
LENGTHS = (20, 40, 60, 80, 100, 150, 200)

# Text a site template leaks into an extraction, or a syndicator adds; one of each per copy
HEADERS = (
    "Home | News | World | Business | Technology | Science | Opinion | Sign in | Subscribe",
    "Skip to main content. Menu. Search. Latest stories. Most popular. Newsletters. Log in",
    "Posted in Uncategorized by admin. Reading time: 4 minutes. Share on Twitter. Share on Facebook",
)
FOOTERS = (
    "© 2024 Example Media Group. All rights reserved. Privacy Policy | Terms of Use | Cookie "
    "Settings | Contact Us | Advertise with us | Careers",
    "Related articles: How we covered the story. Five things to know this week. Comments are "
    "closed. Tags: news, analysis, opinion. Follow us on Twitter, Facebook and Instagram.",
    "About the author: a staff writer covering technology and policy. Reach them by email. "
    "Reprints and permissions. Report an error. Editorial standards.",
)
APPEARED = (
    "This post first appeared on {site}.",
    "This article was originally published on {site}. Read the original article.",
    "Republished with permission from {site}.",
)
NEWSLETTER = (
    "Thanks for reading! Subscribe for free to receive new posts and support my work. Subscribe. "
    "Share. Leave a comment.",
    "Enjoyed this? Sign up for our weekly newsletter and get the best stories in your inbox every "
    "Friday. Unsubscribe at any time.",
)
CAPTIONS = (
    "![A view of the scene](https://cdn.example.net/img/1234.jpg)\nPhoto: Jane Doe / Getty Images",
    "Image credit: Reuters. The photo shows the building in question, taken last year.",
)
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)]*)(\))")
BARE_URL = re.compile(r"https?://[^\s)\]]+")


def with_header(text: str, rng: random.Random) -> str:
    return rng.choice(HEADERS) + "\n\n" + text


def with_footer(text: str, rng: random.Random) -> str:
    return text + "\n\n" + rng.choice(FOOTERS)


def with_appeared(text: str, rng: random.Random) -> str:
    site = rng.choice(("[The Example Gazette](https://gazette.example.com/p/original-post)",
                       "example.substack.com", "Medium"))
    line = rng.choice(APPEARED).format(site=site)
    return line + "\n\n" + text if rng.random() < 0.5 else text + "\n\n" + line


def with_newsletter(text: str, rng: random.Random) -> str:
    return text + "\n\n" + rng.choice(NEWSLETTER)


def relinked(text: str, rng: random.Random) -> str:
    host = rng.choice(("https://newsletter.example.com/r/", "https://l.example.org/c?u=", "https://t.co/"))
    text = LINK.sub(lambda m: m[1] + host + str(rng.randrange(10**6)) + "?utm_source=newsletter" + m[3], text)
    return BARE_URL.sub(lambda m: host + str(rng.randrange(10**6)), text)


def requoted(text: str, rng: random.Random) -> str:
    # a CMS's "smart quotes" one way, a plain-text export the other
    if "\u201c" in text or "\u2019" in text:
        table = {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "--", "\u2026": "..."}
    else:
        table = {'"': "\u201c", "'": "\u2019", "--": "\u2014"}
    for old, new in table.items():
        text = text.replace(old, new)
    return text


def trimmed(text: str, rng: random.Random) -> str:
    paragraphs = [p for p in text.split("\n") if p.strip()]
    return "\n".join(paragraphs[:-1]) if len(paragraphs) > 2 else text


def with_caption(text: str, rng: random.Random) -> str:
    paragraphs = text.split("\n")
    at = rng.randrange(len(paragraphs) + 1)
    return "\n".join(paragraphs[:at] + [rng.choice(CAPTIONS)] + paragraphs[at:])


def unmarked(text: str, rng: random.Random) -> str:
    # the same post as plain text (an RSS description, an email) instead of Markdown
    text = LINK.sub(lambda m: m[0][m[0].index("[") + 1:m[0].index("](")], text)
    # emphasis marks go, the underscores inside identifiers stay
    return re.sub(r"^#{1,6}\s+|(?<!\w)[*_`]+|[*_`]+(?!\w)", "", text, flags=re.M)


TRANSFORMS = {f.__name__: f for f in (with_header, with_footer, with_appeared, with_newsletter,
                                      relinked, requoted, trimmed, with_caption, unmarked)}


def syndicated(text: str, rng: random.Random) -> str:
    """A copy with every kind of difference at once: the worst realistic case."""
    for transform in TRANSFORMS.values():
        text = transform(text, rng)
    return text


def same_template(text: str, header: str, footer: str) -> str:
    return header + "\n\n" + text + "\n\n" + footer


def load(corpus: Path) -> list[dict]:
    """Each page's own extraction, its reference body when labelled, and its site."""
    articles = []
    for case in sorted(p for p in corpus.iterdir() if (p / "expected.json").is_file()):
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        url = expected.get("url") or f"https://{case.name}.invalid/"
        result = FetchResult(url=url, final_url=url, status=200, headers={"content-type": "text/html"},
                             content=(case / "page.html").read_bytes(),
                             fetched_at=datetime.now(timezone.utc), elapsed=0.0)
        try:
            text = extract_document(page_html(result), url, today=TODAY).text
        except IngestError:
            continue
        archived = re.match(r"https?://web\.archive\.org/web/[^/]+/(.+)", url)
        site = (urlsplit(archived[1] if archived else url).hostname or "").removeprefix("www.")
        body = expected.get("body") if expected.get("body_kind") == "full" else None
        articles.append({"case": case.name, "site": site, "text": text, "body": body})
    return articles


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}


def same_text(a: set, b: set) -> bool:
    """Ground truth independent of SimHash: most of the shorter text's 5-word runs are in the other."""
    return len(a & b) / max(1, min(len(a), len(b))) >= 0.5


def truncate(text: str, n: int) -> str:
    return " ".join(text.split()[:n])


def describe(values: list[int]) -> str:
    if not values:
        return "n=0"
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return (f"n={len(values):<6} min={min(values):<3} p1={q[0]:<5.1f} p5={q[4]:<5.1f} p50={q[49]:<5.1f} "
            f"p95={q[94]:<5.1f} p99={q[98]:<5.1f} max={max(values)}")


def apart(a: int | None, b: int | None) -> int:
    """Distance, with a copy cut below the floor counted as missed (as far apart as can be)."""
    return 64 if a is None or b is None else distance(a, b)


def rate(values: list[int], d: int) -> float:
    return sum(v <= d for v in values) / len(values) if values else float("nan")


def typical(text: str, rng: random.Random) -> str:
    """A copy with three of the differences, picked at random: the common case."""
    for name in rng.sample(sorted(TRANSFORMS), 3):
        text = TRANSFORMS[name](text, rng)
    return text


def different_pairs(articles: list[dict]) -> list[tuple[dict, dict]]:
    sh = {a["case"]: shingles(a["text"]) for a in articles}
    return [(a, b) for a, b in itertools.combinations(articles, 2)
            if not same_text(sh[a["case"]], sh[b["case"]])]


def study(articles: list[dict], copies: int, seed: int) -> tuple[dict[str, list[int]], list[tuple]]:
    """Distances of copy pairs and of different-article pairs, and the closest different pairs."""
    rng = random.Random(seed)
    fps = {a["case"]: fingerprint(a["text"]) for a in articles}
    usable = [a for a in articles if fps[a["case"]] is not None]
    found: dict[str, list[int]] = defaultdict(list)
    for a in usable:
        base, fp = a["text"], fps[a["case"]]
        for name, transform in TRANSFORMS.items():
            found[f"copy: {name}"].append(apart(fp, fingerprint(transform(base, rng))))
        for _ in range(copies):
            found["copy: all at once, vs original"].append(apart(fp, fingerprint(syndicated(base, rng))))
            # both sides syndicated, each with its own boilerplate
            found["copy: all at once, vs another copy"].append(
                apart(fingerprint(syndicated(base, rng)), fingerprint(syndicated(base, rng))))
            found["copy: typical (3 of the above), vs original"].append(
                apart(fp, fingerprint(typical(base, rng))))
        if a["body"]:
            # two extractors' idea of one page: a real, if noisier, pair of copies
            found["copy: reference body vs own extraction"].append(apart(fingerprint(a["body"]), fp))
    different = different_pairs(usable)
    kept = {frozenset((a["case"], b["case"])) for a, b in different}
    for a, b in itertools.combinations(usable, 2):
        if frozenset((a["case"], b["case"])) not in kept:
            found["corpus pages with the same text (not negatives)"].append(
                distance(fps[a["case"]], fps[b["case"]]))
    closest = []
    for a, b in different:
        d = distance(fps[a["case"]], fps[b["case"]])
        found["different: all pairs"].append(d)
        closest.append((d, a["case"], a["site"], b["case"], b["site"]))
        if a["site"] and a["site"] == b["site"]:
            found["different: same site"].append(d)
    for a, b in rng.sample(different, min(len(different), 3000)):
        header, footer = rng.choice(HEADERS), rng.choice(FOOTERS)
        found["different: same site template"].append(
            distance(fingerprint(same_template(a["text"], header, footer)),
                     fingerprint(same_template(b["text"], header, footer))))
    return found, sorted(closest)[:5]


def length_study(articles: list[dict], seed: int) -> list[tuple]:
    """Different articles cut to n words inside one shared template (header, footer and newsletter
    text, as a site or a paywall adds): how often do they fall within NEAR_DISTANCE?"""
    rng = random.Random(seed)
    long_enough = [a for a in articles if len(a["text"].split()) >= max(LENGTHS)]
    pairs = rng.sample(different_pairs(long_enough), 3000)
    rows = []
    for n in LENGTHS:
        found, total = [], []
        for a, b in pairs:
            header = rng.choice(HEADERS)
            footer = rng.choice(FOOTERS) + "\n\n" + rng.choice(NEWSLETTER)
            first, second = (same_template(truncate(x["text"], n), header, footer) for x in (a, b))
            total.append(len(words(first)))
            # measured without the floor, which is what is being chosen here
            found.append(distance(fingerprint(first, min_words=0), fingerprint(second, min_words=0)))
        rows.append((n, int(statistics.median(total)), min(found), rate(found, NEAR_DISTANCE),
                     sum(d <= NEAR_DISTANCE for d in found), len(found)))
    return rows


def timing(articles: list[dict]) -> tuple[float, float, int]:
    ms = []
    for a in articles:
        started = time.perf_counter()
        fingerprint(a["text"])
        ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(ms), max(ms), int(statistics.median(len(a["text"]) for a in articles))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=5, help="syndicated copies per article")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"near_duplicates: corpus folder {args.corpus} not found; give --corpus DIR")
    articles = load(args.corpus)
    usable = [a for a in articles if fingerprint(a["text"]) is not None]
    print(f"{len(articles)} pages extracted, {len(usable)} with >= {MIN_WORDS} words; "
          f"{len({a['site'] for a in usable})} sites; NEAR_DISTANCE={NEAR_DISTANCE}\n")
    found, closest = study(articles, args.copies, args.seed)
    print("Hamming distance distributions")
    for name in sorted(found, key=lambda k: (not k.startswith("copy"), k)):
        print(f"  {name:<48} {describe(found[name])}")
    print("\nclosest different articles:")
    for d, first, first_site, second, second_site in closest:
        print(f"  {d:>3}  {first} ({first_site})  {second} ({second_site})")
    recall = {"worst": "copy: all at once, vs original", "worst2": "copy: all at once, vs another copy",
              "typical": "copy: typical (3 of the above), vs original",
              "extractors": "copy: reference body vs own extraction"}
    false = {"all": "different: all pairs", "site": "different: same site",
             "template": "different: same site template"}
    print("\nwithin distance d: share of copies (recall), then count of different-article pairs"
          " (false matches)")
    print("  d  " + "".join(f"{k:>11}" for k in (*recall, *false)))
    for d in THRESHOLDS:
        print(f"  {d:<3}" + "".join(f"{rate(found[v], d):>11.4f}" for v in recall.values())
              + "".join(f"{sum(x <= d for x in found[v]):>11}" for v in false.values())
              + ("   <- NEAR_DISTANCE" if d == NEAR_DISTANCE else ""))
    print(f"\ndifferent articles cut to n words in one shared template, at NEAR_DISTANCE={NEAR_DISTANCE}:")
    print("      n  total words (median)  min distance  share within  (pairs)")
    for n, total, low, share, within, count in length_study(articles, args.seed):
        print(f"  {n:>5}  {total:>20}  {low:>12}  {share:>12.4f}  ({within}/{count})")
    median_ms, max_ms, median_chars = timing(usable)
    print(f"\nfingerprint(): median {median_ms:.2f} ms, max {max_ms:.2f} ms"
          f" (median text {median_chars} chars)")


if __name__ == "__main__":
    main()
