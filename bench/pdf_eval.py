"""PDF text extraction: pypdf, pdfminer.six and pypdfium2 side by side, and ingest.pdf on top of pypdfium2.

    .venv/bin/pip install pypdf pdfminer.six pypdfium2 reportlab
    python bench/pdf_eval.py [--real DIR] [--runs 3] [--show RUNNER:PAPER]

Papers:
  * generated (ground truth known): the test fixture's paper and three papers set from real public
    text (mozilla/readability test pages in ../shared/corpus/extraction/, Apache-2.0) by
    tests/fixtures/pdf/make_fixture.py: title, authors, date, abstract, two justified columns,
    headings, hyphenation, a footnote, running heads, page numbers. Each is made twice: columns drawn
    one after the other ("cols", as LaTeX does) and line by line across both columns ("rows").
  * real: /usr/share/doc/libtasn1-doc/libtasn1.pdf, /usr/share/doc/shared-mime-info/
    shared-mime-info-spec.pdf, and every PDF in --real DIR (default /tmp/pdf-papers). The figures in
    ingest/pdf.py used four JSS papers from Debian's R packages (GPL):
      apt-get download r-cran-zoo r-cran-sandwich r-cran-strucchange
      for d in *.deb; do dpkg-deb -x $d x; done; cp x/usr/lib/R/site-library/*/doc/{zoo,sandwich,
      sandwich-OOP,strucchange-intro}.pdf /tmp/pdf-papers/

Columns: word F1 (bag of lowercased words against the ground truth, generated papers; furniture is
not in the truth), order in cols / rows papers (share of the truth's 5-word runs found in the
output, line-end hyphens joined first, so it measures reading order, not hyphenation), meta (title,
every author and the date: for a raw library, found verbatim in the text of page 1; for ingest.pdf,
returned exactly; real papers count title and authors), median ms per page and peak resident
memory (after importing the library, and the highest over all papers), each (runner, paper) in a
fresh process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "extraction"
RUNNERS = ("pypdf", "pdfminer.six", "pypdfium2", "ingest.pdf")

# Real papers and what their first page says (metadata is not consulted for the raw libraries).
REAL = {
    "libtasn1.pdf": ("Libtasn1", ["Fabio Fiorina", "Simon Josefsson", "Nikos Mavrogiannopoulos"]),
    "shared-mime-info-spec.pdf": ("Shared MIME-info Database", ["Thomas Leonard"]),
    "zoo.pdf": ("zoo: An S3 Class and Methods for Indexed Totally Ordered Observations",
                ["Achim Zeileis", "Gabor Grothendieck"]),
    "sandwich.pdf": ("Econometric Computing with HC and HAC Covariance Matrix Estimators", ["Achim Zeileis"]),
    "sandwich-OOP.pdf": ("Object-Oriented Computation of Sandwich Estimators", ["Achim Zeileis"]),
    "strucchange-intro.pdf": ("strucchange: An R Package for Testing for Structural Change in Linear "
                              "Regression Models",
                              ["Achim Zeileis", "Friedrich Leisch", "Kurt Hornik", "Christian Kleiber"]),
}
SYSTEM_PDFS = [Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
               Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf")]


def make_fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixture", ROOT / "tests/fixtures/pdf/make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_fixture"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def winansi(text: str) -> str:
    """The text the standard PDF fonts can draw (reportlab's Type 1 fonts are WinAnsi)."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            out.append(" ")
    return " ".join("".join(out).split(" ")).replace("\u00a0", " ")


def corpus_paper(mf, case: str, number: int):
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    paragraphs = [winansi(" ".join(p.split())) for p in expected["body"].split("\n")]
    paragraphs = [p for p in paragraphs if len(p.split()) >= 12]
    kept, words = [], 0
    for paragraph in paragraphs:  # a paper of a few pages
        kept.append(paragraph)
        words += len(paragraph.split())
        if words > 2500:
            break
    sections = []
    for n, start in enumerate(range(1, len(kept), 5), 1):
        chunk = kept[start:start + 5]
        sections.append((f"{n} " + " ".join(chunk[0].split()[:3]).strip(".,:;").title(), chunk))
    title = winansi(expected["title"].split(" - ")[0].split(": ")[0]).strip()
    authors = [winansi(expected["author"])]
    day = date.fromisoformat(expected["date"])
    info = ({"Title": title, "Author": "; ".join(authors), "CreationDate": day.strftime("D:%Y%m%d120000Z")}
            if number % 2 == 0 else {"Title": "Microsoft Word - paper-final.docx", "Author": "user",
                                     "CreationDate": ""})
    return mf.Paper(title=title, authors=authors, affiliation="", date_text=f"{day.day} {day:%B %Y}",
                    abstract=kept[0], sections=sections, footnote="This text first appeared on the web.",
                    running_head=f"{authors[0]}: {title}"[:70], info=info)


def generated(tmp: Path) -> list[dict]:
    mf = make_fixture_module()
    papers = [("fixture", mf.fixture_garbage_metadata())]
    for number, case in enumerate(("mozr-toc-missing", "mozr-engadget", "mozr-medium-3")):
        if (CORPUS / case / "expected.json").exists():
            papers.append((case.removeprefix("mozr-"), corpus_paper(mf, case, number)))
    out = []
    for name, paper in papers:
        for order in ("cols", "rows"):
            data, _ = mf.lay_out(paper, order="rows" if order == "rows" else "columns")
            path = tmp / f"{name}-{order}.pdf"
            path.write_bytes(data)
            out.append({"name": f"{name}-{order}", "path": str(path), "order": order,
                        "truth": mf.ground_truth(paper), "title": paper.title, "authors": paper.authors,
                        "date_text": paper.date_text,
                        "date": _parse_day(paper.date_text)})
    return out


def _parse_day(text: str) -> str:
    from datetime import datetime
    return datetime.strptime(text, "%d %B %Y").date().isoformat()


def real(folder: Path) -> list[dict]:
    paths = [p for p in SYSTEM_PDFS if p.exists()] + sorted(folder.glob("*.pdf") if folder.is_dir() else [])
    seen, out = set(), []
    for path in paths:
        if path.name in seen:
            continue
        seen.add(path.name)
        title, authors = REAL.get(path.name, (None, []))
        out.append({"name": path.stem, "path": str(path), "order": "real", "truth": None,
                    "title": title, "authors": authors, "date_text": None, "date": None})
    return out


# --- one runner on one paper, in a fresh process ----------------------------------------------------

def run_child(runner: str, path: str, runs: int) -> dict:
    import io

    data = Path(path).read_bytes()
    if runner == "pypdf":
        import pypdf

        def extract():
            reader = pypdf.PdfReader(io.BytesIO(data))
            texts = [page.extract_text() or "" for page in reader.pages]
            return {"text": "\n".join(texts), "page1": texts[0] if texts else "", "pages": len(texts)}
    elif runner == "pdfminer.six":
        from pdfminer.high_level import extract_text
        from pdfminer.pdfpage import PDFPage

        def extract():
            text = extract_text(io.BytesIO(data))
            pages = sum(1 for _ in PDFPage.get_pages(io.BytesIO(data)))
            return {"text": text, "page1": text.split("\f")[0], "pages": pages}
    elif runner == "pypdfium2":
        import pypdfium2

        def extract():
            document = pypdfium2.PdfDocument(data)
            texts = [page.get_textpage().get_text_range() for page in document]
            document.close()
            return {"text": "\n".join(texts), "page1": texts[0] if texts else "", "pages": len(texts)}
    else:
        import pypdfium2  # noqa: F401  (imported before the baseline, like the others)
        from ingest.pdf import read_pdf

        def extract():
            found = read_pdf(data, path)
            return {"text": found.title + "\n\n" + found.text, "page1": "", "pages": found.pages_read,
                    "title": found.title, "authors": list(found.authors),
                    "date": found.date.isoformat() if found.date else None}
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = extract()
        times.append(time.perf_counter() - start)
    result["ms_per_page"] = 1000 * statistics.median(times) / max(result["pages"], 1)
    result["import_mb"] = baseline / 1024
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(runner: str, paper: dict, runs: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", runner, paper["path"], "--runs", str(runs)],
                          capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout)


# --- scores -----------------------------------------------------------------------------------------

def plain(text: str) -> str:
    text = re.sub(r"^#{1,6}\s+|^- ", "", text, flags=re.M)
    return text.replace("\\", "")


def joined(text: str) -> str:
    return re.sub(r"(\w)(?:[\ufffe\u00ad\x02]\s*|-\s+)(\w)", r"\1\2", text)


def f1(found: str, truth: str) -> float:
    got, want = Counter(plain(found).lower().split()), Counter(truth.lower().split())
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * p * r / (p + r)


def order(found: str, truth: str, n: int = 5) -> float:
    words = lambda t: re.findall(r"\w+", t.lower())  # noqa: E731
    have = words(joined(plain(found)))
    present = {tuple(have[i:i + n]) for i in range(len(have) - n + 1)}
    want = words(truth)
    shingles = [tuple(want[i:i + n]) for i in range(len(want) - n + 1)]
    return sum(s in present for s in shingles) / len(shingles) if shingles else 0.0


def norm(text: str) -> str:
    return " ".join(joined(text).split()).lower()


def meta_score(runner: str, paper: dict, result: dict) -> tuple[int, int]:
    """(fields right, fields checked): title, each author, the date."""
    checks = []
    if runner == "ingest.pdf":
        if paper["title"]:
            checks.append(norm(result["title"]) == norm(paper["title"]))
        checks.extend(name in result["authors"] for name in paper["authors"])
        if paper["date"]:
            checks.append(result["date"] == paper["date"])
    else:
        page1 = norm(result["page1"] or result["text"][:3000])
        if paper["title"]:
            checks.append(norm(paper["title"]) in page1)
        checks.extend(norm(name) in page1 for name in paper["authors"])
        if paper["date_text"]:
            checks.append(norm(paper["date_text"]) in page1)
    return sum(checks), len(checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=Path("/tmp/pdf-papers"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--show", help="print one output, e.g. pypdfium2:fixture-rows")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], args.child[1], args.runs)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        papers = generated(Path(tmp)) + real(args.real)
        results = {(r, p["name"]): run(r, p, args.runs) for r in RUNNERS for p in papers}
    if args.show:
        runner, name = args.show.split(":")
        print(results[(runner, name)].get("text") or results[(runner, name)])
        return
    print(f"{len(papers)} papers: " + ", ".join(p["name"] for p in papers))
    header = f"{'runner':13} {'word F1':>7} {'order cols':>10} {'order rows':>10} {'meta gen':>9} " \
             f"{'meta real':>9} {'ms/page':>8} {'MB import':>9} {'MB peak':>8} {'errors':>6}"
    print(header)
    print("-" * len(header))
    for runner in RUNNERS:
        rows = [(p, results[(runner, p["name"])]) for p in papers]
        ok = [(p, r) for p, r in rows if "error" not in r]
        gen = [(p, r) for p, r in ok if p["truth"]]
        f1s = [f1(r["text"], p["truth"]) for p, r in gen]
        cols = [order(r["text"], p["truth"]) for p, r in gen if p["order"] == "cols"]
        rws = [order(r["text"], p["truth"]) for p, r in gen if p["order"] == "rows"]
        meta_gen = [meta_score(runner, p, r) for p, r in gen]
        meta_real = [meta_score(runner, p, r) for p, r in ok if not p["truth"] and p["title"]]
        frac = lambda pairs: f"{sum(a for a, _ in pairs)}/{sum(b for _, b in pairs)}"  # noqa: E731
        mean = lambda xs: f"{statistics.mean(xs):.3f}" if xs else "-"  # noqa: E731
        print(f"{runner:13} {mean(f1s):>7} {mean(cols):>10} {mean(rws):>10} {frac(meta_gen):>9} "
              f"{frac(meta_real):>9} {statistics.median(r['ms_per_page'] for _, r in ok):>8.1f} "
              f"{statistics.median(r['import_mb'] for _, r in ok):>9.1f} "
              f"{max(r['peak_mb'] for _, r in ok):>8.1f} {len(rows) - len(ok):>6}")
    for (runner, name), result in results.items():
        if "error" in result:
            print(f"  {runner} on {name}: {result['error']}")


if __name__ == "__main__":
    main()
