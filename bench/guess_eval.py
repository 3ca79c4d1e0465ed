"""How often the guesser agrees with the curators: k-fold cross-validation over an archive folder.

    .venv/bin/python bench/guess_eval.py [ARCHIVE] [--folds 5] [--json]
    .venv/bin/python bench/guess_eval.py --train DIR --test DIR

Each held-out note is guessed from what a fetched page would give — title, URL, author and the
text of its `## Content` section (older notes without one: the body before the curators'
sections; `--content-only` gives those no text at all) — never from its domain, format or tags.
The model is learned from the other folds only. Figures are printed separately for notes with
`format: data` and for all the others:

- domain_accuracy, domain_macro (F1 averaged over the domains the held-out notes have), over notes
  with a domain; a domain outside the configured list counts as a miss;
- format_accuracy against the note's format read through the taxonomy's format aliases
  (`research` → `report`, …), format_accuracy_raw against the value exactly as written;
- tag_precision, tag_recall, tag_f1: micro-averaged, exact match with the note's tags as written,
  over notes with tags; tag_*_normalized compare with the note's tags in kebab case (`GDP` → `gdp`);
- secondary_precision, secondary_recall over notes whose secondary domains are configured ones;
- ms_median, ms_p95: time per guess.

`--method knn` scores a plain TF-IDF 1-nearest-neighbour guesser instead (the reference point), and
`--method untrained` the guesser with the taxonomy alone, as on a machine with no archive.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.config import Settings  # noqa: E402
from ingest.features import slug, terms, tfidf  # noqa: E402
from ingest.guess import guess  # noqa: E402
from ingest.learn import ArchivedNote, learn, read_archive  # noqa: E402
from ingest.learned_model import Model  # noqa: E402
from ingest.signals import read_signals  # noqa: E402
from ingest.taxonomy import Taxonomy, load_taxonomy  # noqa: E402

DEFAULT_ARCHIVE = ROOT.parent / "shared" / "corpus" / "kb-archive"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("archive", nargs="?", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=Path, help="learn from this folder …")
    parser.add_argument("--test", type=Path, help="… and score every note of this one")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy file (default: config/taxonomy.toml)")
    parser.add_argument("--method", choices=("ingest", "knn", "untrained"), default="ingest")
    parser.add_argument("--content-only", action="store_true",
                        help="notes without a ## Content section are guessed from title, URL and author alone")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--errors", action="store_true", help="list each wrong domain and format")
    args = parser.parse_args(argv)
    if bool(args.train) != bool(args.test):
        parser.error("--train and --test go together")
    taxonomy = load_taxonomy(args.taxonomy)
    figures, results = evaluate(args.archive, folds=args.folds, seed=args.seed, train=args.train, test=args.test,
                                taxonomy=taxonomy, method=args.method, content_only=args.content_only)
    if args.json:
        print(json.dumps(figures))
    else:
        print(report(figures, args, len(results)))
    if args.errors:
        for r in results:
            t, p = r["truth"], r["guess"]
            if t["domain"] and t["domain"] != p["domain"]:
                print(f"domain {t['domain']:>24} ← {p['domain']:<24} {r['name']}")
            if t["format"] and taxonomy.canonical_format(t["format"]) != p["format"]:
                print(f"format {t['format']:>24} ← {p['format']:<24} {r['name']}")
    return 0


def evaluate(archive: Path = DEFAULT_ARCHIVE, *, folds: int = 5, seed: int = 0, train: Path | None = None,
             test: Path | None = None, taxonomy: Taxonomy | None = None, method: str = "ingest",
             content_only: bool = False) -> tuple[dict, list[dict]]:
    """({"non_data": figures, "data": figures}, one result per scored note)."""
    taxonomy = taxonomy or load_taxonomy()
    settings = Settings()
    if train:
        train_notes, problems = read_archive(train)
        test_notes, more = read_archive(test)
        problems += more
        splits = [(train_notes, test_notes)]
    else:
        notes, problems = read_archive(archive)
        splits = cross_folds(notes, folds, seed)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    results = []
    for train_notes, test_notes in splits:
        results += run_split(train_notes, test_notes, taxonomy, settings, method, content_only)
    figures = {
        "non_data": score([r for r in results if r["truth"]["format"] != "data"], taxonomy),
        "data": score([r for r in results if r["truth"]["format"] == "data"], taxonomy),
    }
    return figures, results


def cross_folds(notes: list[ArchivedNote], folds: int, seed: int):
    order = sorted(notes, key=lambda n: n.path)
    random.Random(seed).shuffle(order)
    for k in range(folds):
        test = [n for i, n in enumerate(order) if i % folds == k]
        train = [n for i, n in enumerate(order) if i % folds != k]
        yield train, test


def run_split(train, test, taxonomy: Taxonomy, settings: Settings, method: str, content_only: bool) -> list[dict]:
    model = learn(train, taxonomy, settings) if method == "ingest" else Model()
    knn = KnnBaseline(train, taxonomy) if method == "knn" else None
    out = []
    for note in test:
        if not (note.domain or note.format or note.tags):
            continue
        document = note.document(content_only=content_only)
        started = time.perf_counter()
        if knn:
            predicted = knn.guess(document)
        else:
            g = guess(document, settings, taxonomy=taxonomy, model=model)
            predicted = {"domain": g.domain, "format": g.format, "tags": list(g.tags),
                         "secondary": list(g.secondary_domains)}
        elapsed = time.perf_counter() - started
        out.append({
            "name": Path(note.path).name,
            "ms": elapsed * 1000,
            "truth": {"domain": note.domain, "format": note.format, "tags": list(note.tags),
                      "secondary": [d for d in note.secondary_domains if d in settings.domains]},
            "guess": predicted,
        })
    return out


class KnnBaseline:
    """A plain TF-IDF nearest neighbour: the held-out note takes the closest training note's labels."""

    def __init__(self, train: list[ArchivedNote], taxonomy: Taxonomy):
        self.model = learn(train, Taxonomy(), Settings())  # for the IDF only
        labelled = [n for n in train if n.domain or n.format or n.tags]
        self.notes = [(tfidf(terms(n.title, n.text), self.model.idf, self.model.default_idf), n) for n in labelled]
        self.taxonomy = taxonomy

    def guess(self, document) -> dict:
        vector = read_signals(document, self.model).vector
        best = max(self.notes, key=lambda vn: sum(w * vn[0].get(t, 0.0) for t, w in vector.items()))[1]
        return {"domain": best.domain, "format": self.taxonomy.canonical_format(best.format or "") or None,
                "tags": [slug(t) for t in best.tags], "secondary": []}


def score(results: list[dict], taxonomy: Taxonomy) -> dict:
    with_domain = [r for r in results if r["truth"]["domain"]]
    with_format = [r for r in results if r["truth"]["format"]]
    with_tags = [r for r in results if r["truth"]["tags"]]
    figures = {"n": len(results)}
    figures["domain_accuracy"] = _share(r["guess"]["domain"] == r["truth"]["domain"] for r in with_domain)
    figures["domain_macro"] = _macro_f1([(r["truth"]["domain"], r["guess"]["domain"]) for r in with_domain])
    figures["format_accuracy"] = _share(
        r["guess"]["format"] == taxonomy.canonical_format(r["truth"]["format"]) for r in with_format)
    figures["format_accuracy_raw"] = _share(r["guess"]["format"] == r["truth"]["format"] for r in with_format)
    for suffix, norm in (("", lambda t: t), ("_normalized", slug)):
        hit = guessed = wanted = 0
        for r in with_tags:
            truth, picked = {norm(t) for t in r["truth"]["tags"]}, set(r["guess"]["tags"])
            hit, guessed, wanted = hit + len(truth & picked), guessed + len(picked), wanted + len(truth)
        precision, recall = (hit / guessed if guessed else 0.0), (hit / wanted if wanted else 0.0)
        figures[f"tag_precision{suffix}"] = round(precision, 3)
        figures[f"tag_recall{suffix}"] = round(recall, 3)
        figures[f"tag_f1{suffix}"] = round(2 * precision * recall / (precision + recall), 3) if hit else 0.0
    hit = guessed = wanted = 0
    for r in with_domain:
        truth, picked = set(r["truth"]["secondary"]), set(r["guess"]["secondary"])
        hit, guessed, wanted = hit + len(truth & picked), guessed + len(picked), wanted + len(truth)
    figures["secondary_precision"] = round(hit / guessed, 3) if guessed else 0.0
    figures["secondary_recall"] = round(hit / wanted, 3) if wanted else 0.0
    figures["counted"] = {"domain": len(with_domain), "format": len(with_format), "tags": len(with_tags)}
    times = sorted(r["ms"] for r in results) or [0.0]
    figures["ms_median"] = round(statistics.median(times), 2)
    figures["ms_p95"] = round(times[int(0.95 * (len(times) - 1))], 2)
    return figures


def _share(hits) -> float:
    hits = list(hits)
    return round(sum(hits) / len(hits), 3) if hits else 0.0


def _macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = sorted({t for t, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return round(sum(scores) / len(scores), 3) if scores else 0.0


def report(figures: dict, args, total: int) -> str:
    how = (f"learned from {args.train}, scored on {args.test}" if args.train
           else f"{args.folds}-fold cross-validation over {args.archive}")
    lines = [f"{args.method} guesser, {how} ({total} notes with labels)"
             + (", content sections only" if args.content_only else ""), ""]
    rows = [("notes", "n"), ("domain accuracy", "domain_accuracy"), ("domain macro-F1", "domain_macro"),
            ("format accuracy", "format_accuracy"), ("format accuracy (raw values)", "format_accuracy_raw"),
            ("tag precision", "tag_precision"), ("tag recall", "tag_recall"), ("tag F1", "tag_f1"),
            ("tag F1 (note's tags in kebab case)", "tag_f1_normalized"),
            ("secondary domain precision", "secondary_precision"), ("secondary domain recall", "secondary_recall"),
            ("ms per guess, median", "ms_median"), ("ms per guess, 95th percentile", "ms_p95")]
    lines.append(f"{'':36} {'non-data':>9} {'data':>9}")
    for label, key in rows:
        a, b = figures["non_data"][key], figures["data"][key]
        lines.append(f"{label:36} {a:>9} {b:>9}")
    counted = {k: (figures["non_data"]["counted"][k], figures["data"]["counted"][k]) for k in ("domain", "format", "tags")}
    lines.append("")
    lines.append("scored notes (non-data/data): " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in counted.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
