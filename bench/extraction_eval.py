"""Extraction quality on a corpus of real pages with ground truth (../shared/corpus/extraction/).

Runs the code path `ingest url` uses (bytes → page_html → extract_document) over every case and
prints, overall and per source prefix: body precision/recall/F1 (bag of lowercased whitespace
tokens, `body_kind: full` cases, Markdown syntax stripped), the share of `with` snippets found and
`without` snippets absent, title/author/date exact match, and median milliseconds per page.

    python bench/extraction_eval.py [--corpus DIR] [--json] [--show title|author|date]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.errors import IngestError  # noqa: E402
from ingest.charset import page_html  # noqa: E402
from ingest.extract import extract_document  # noqa: E402
from ingest.records import FetchResult  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "extraction"
TODAY = date(2026, 11, 26)  # fixed, so figures do not move with the calendar
KEYS = ("n", "body_precision", "body_recall", "body_f1", "snippets_with", "snippets_without",
        "title_exact", "author_exact", "author_nob", "date_exact", "ms_median")


def plain(markdown: str) -> str:
    """Markdown as the words a reader sees: link targets, emphasis marks and table pipes dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+", "", text, flags=re.M)
    text = re.sub(r"[*_`|]+", " ", text)
    return re.sub(r"^\s*-{3,}\s*$", "", text, flags=re.M)


def collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def bag(text: str) -> Counter:
    return Counter(text.lower().split())


def prf(found: str, expected: str) -> tuple[float, float, float]:
    got, want = bag(found), bag(expected)
    overlap = sum((got & want).values())
    p = overlap / sum(got.values()) if got else 0.0
    r = overlap / sum(want.values()) if want else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def authors(value: str | None, separator: str) -> frozenset[str]:
    return frozenset(collapse(a).lower() for a in (value or "").split(separator) if collapse(a))


def drop_by(value: str | None) -> str | None:
    return re.sub(r"^\s*by\s+", "", value, flags=re.I) if value else value


def evaluate(case: Path) -> dict:
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    content = (case / "page.html").read_bytes()
    url = expected.get("url") or f"https://example.org/{case.name}"
    result = FetchResult(url=url, final_url=url, status=200, headers={"content-type": "text/html"},
                         content=content, fetched_at=datetime.now(timezone.utc), elapsed=0.0)
    started = time.perf_counter()
    try:
        document = extract_document(page_html(result), url, today=TODAY)
        text, title, author, day = plain(document.text), document.title, document.author, document.date
    except IngestError:
        text, title, author, day = "", None, None, None
    ms = (time.perf_counter() - started) * 1000
    row: dict = {"case": case.name, "ms": ms, "title": title, "author": author, "date": day}
    if expected.get("body_kind") == "full" and expected.get("body"):
        row["body"] = prf(text, expected["body"])
    flat = collapse(text)
    if expected.get("with"):
        row["with"] = [collapse(s) in flat for s in expected["with"]]
    if expected.get("without"):
        row["without"] = [collapse(s) not in flat for s in expected["without"]]
    if expected.get("title"):
        row["title_ok"] = collapse(title) == collapse(expected["title"])
        row["title_want"] = expected["title"]
    if expected.get("author"):
        want = expected["author"]
        row["author_ok"] = authors(author, ",") == authors(want, ";") or collapse(author) == collapse(want)
        row["author_nob_ok"] = row["author_ok"] or authors(drop_by(author), ",") == authors(drop_by(want), ";")
        row["author_want"] = want
    if expected.get("date"):
        row["date_ok"] = day == expected["date"][:10]
        row["date_want"] = expected["date"]
    return row


def summarize(rows: list[dict]) -> dict:
    def mean(values):
        values = list(values)
        return round(sum(values) / len(values), 3) if values else None

    bodies = [r["body"] for r in rows if "body" in r]
    return {
        "n": len(rows),
        "body_precision": mean(b[0] for b in bodies),
        "body_recall": mean(b[1] for b in bodies),
        "body_f1": mean(b[2] for b in bodies),
        "snippets_with": mean(ok for r in rows for ok in r.get("with", [])),
        "snippets_without": mean(ok for r in rows for ok in r.get("without", [])),
        "title_exact": mean(r["title_ok"] for r in rows if "title_ok" in r),
        "author_exact": mean(r["author_ok"] for r in rows if "author_ok" in r),
        "author_nob": mean(r["author_nob_ok"] for r in rows if "author_nob_ok" in r),
        "date_exact": mean(r["date_ok"] for r in rows if "date_ok" in r),
        "ms_median": round(statistics.median(r["ms"] for r in rows), 1) if rows else None,
    }


def run(corpus: Path) -> tuple[dict, list[dict]]:
    cases = sorted(p for p in corpus.iterdir() if (p / "expected.json").is_file())
    rows = [evaluate(case) for case in cases]
    groups = defaultdict(list)
    for row in rows:
        groups[row["case"].split("-")[0]].append(row)
    return {"overall": summarize(rows), "by_source": {k: summarize(v) for k, v in sorted(groups.items())}}, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--show", choices=("title", "author", "date", "body"), help="list the misses of one field")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"extraction_eval: corpus folder {args.corpus} not found; give --corpus DIR")
    figures, rows = run(args.corpus)
    if args.json:
        print(json.dumps(figures))
        return
    if args.show:
        for row in rows:
            if args.show == "body" and "body" in row and row["body"][2] < 0.8:
                print(f"{row['case']:<50} P={row['body'][0]:.2f} R={row['body'][1]:.2f}")
            elif row.get(f"{args.show}_ok") is False:
                print(f"{row['case']:<50} got {row[args.show]!r:<60} want {row[args.show + '_want']!r}")
        return
    header = f"{'':<10}" + "".join(f"{k:>17}" for k in KEYS)
    print(header)
    for name, figs in [("overall", figures["overall"]), *figures["by_source"].items()]:
        print(f"{name:<10}" + "".join(f"{'-' if figs[k] is None else figs[k]:>17}" for k in KEYS))


if __name__ == "__main__":
    main()
