"""The curators' archive → the guesser's model: read each note's labels and text, count what the
curators did, fit the weights of the evidence; save the model, and relearn it when the archive or
the taxonomy changes.

A note teaches with what a fetched page would give (title, URL, author, the text of its
`## Content` section) and its labels (domain, secondary domains, format, tags). Older field
names are read too: `source:` for `url:` (or a site name), `source_type:` for `format:`.
Malformed notes are reported and skipped.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections import ChainMap, Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .archive import URL_FIELDS, read_frontmatter
from .config import Settings
from .features import site_terms, slug, terms, tfidf, top_terms
from .guess import (
    DOMAIN_FEATURES,
    FORMAT_FEATURES,
    NEIGHBOURS,
    VALUE,
    domain_evidence,
    format_evidence,
    is_bias,
)
from .learned_model import MODEL_VERSION, Model, NoteRecord, TagStat, sigmoid
from .records import Document
from .signals import VECTOR_TERMS, PageSignals, read_signals
from .tags import TagFeatures, phrase_count, score_tag, select_tags, tag_candidates
from .taxonomy import Taxonomy
from .writer import write_atomic

_CONTENT = re.compile(r"^## Content[ \t]*$", re.MULTILINE)
# sections curators (or their agents) add after the archived text: never part of what a page gives
_CURATORS = re.compile(r"^## (Agent Notes|Curator Notes|Key Facts|Raw Data)\b", re.MULTILINE)


@dataclass(frozen=True)
class ArchivedNote:
    """One note of the archive: what its page said, and how the curators labelled it."""

    path: str
    title: str = ""
    url: str = ""  # '' when the note names no URL
    site: str | None = None  # a site name where a URL should be (`source: Noahopinion (Substack)`)
    author: str | None = None
    text: str = ""  # its ## Content section, or for older notes the body before the curators' sections
    has_content_section: bool = False
    domain: str | None = None
    secondary_domains: tuple[str, ...] = ()
    format: str | None = None  # as written
    tags: tuple[str, ...] = ()  # as written

    def document(self, *, content_only: bool = False) -> Document:
        """The note as the page a fetch would have given."""
        text = self.text if self.has_content_section or not content_only else ""
        return Document(url=self.url, canonical_url=self.url, title=self.title, text=text,
                        author=self.author, sitename=self.site)


@dataclass
class Learned:
    """What `ensure_model` did: the model to use, whether it was (re)learned, and the notes it skipped."""

    model: Model
    relearned: bool = False
    notes: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # malformed notes skipped
    save_problems: list[str] = field(default_factory=list)  # the model could not be saved


def read_archive(folder: Path) -> tuple[list[ArchivedNote], list[str]]:
    """Every note under `folder` that has frontmatter, and one problem line per malformed note."""
    notes, problems = [], []
    for path in markdown_files(folder):
        note, problem = read_note(path)
        if problem:
            problems.append(f"skipped malformed note {path}: {problem}")
        elif note is not None:
            notes.append(note)
    return notes, problems


def read_note(path: Path) -> tuple[ArchivedNote | None, str | None]:
    """(the note, None), (None, a problem) or (None, None) for a page without frontmatter."""
    meta, body, problem = read_frontmatter(path)
    if meta is None:
        return None, problem
    url, site = "", None
    for name in URL_FIELDS:
        value = _text(meta.get(name))
        if value and value.lower().startswith(("http://", "https://")):
            url = value
            break
        if value and name == "source" and value.lower() != "null":
            site = value
    content, has_section = content_of(body)
    return ArchivedNote(
        path=str(path),
        title=_text(meta.get("title")) or "",
        url=url,
        site=site,
        author=_text(meta.get("author")),
        text=content,
        has_content_section=has_section,
        domain=(_text(meta.get("domain")) or "").lower() or None,
        secondary_domains=_list(meta.get("secondary_domains")),
        format=(_text(meta.get("format")) or _text(meta.get("source_type")) or "").lower() or None,
        tags=_list(meta.get("tags")),
    ), None


def content_of(body: str) -> tuple[str, bool]:
    """(the archived page's text, whether the note has a `## Content` section)."""
    found = _CONTENT.search(body)
    text = body[found.end():] if found else body
    end = _CURATORS.search(text)
    return (text[: end.start()] if end else text).strip(), found is not None


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _list(value) -> tuple[str, ...]:
    if isinstance(value, str):  # "a, b" written as one string
        value = value.strip("[]").split(",")
    if not isinstance(value, list):
        return ()
    return tuple(v.strip() for v in value if isinstance(v, str) and v.strip())


def markdown_files(folder: Path):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".md") and not name.startswith("."):
                yield Path(root) / name


def archive_digest(folder: Path, taxonomy: Taxonomy, settings: Settings) -> str:
    """Cheap identity of what a model learns from: every note's path, mtime and size, the taxonomy
    and the configured domains and formats. One `stat` per note."""
    digest = hashlib.sha256(
        f"{MODEL_VERSION}|{taxonomy.digest}|{','.join(settings.domains)}|{','.join(settings.formats)}\n"
        .encode()
    )
    for path in markdown_files(folder):
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path.relative_to(folder)}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
    return digest.hexdigest()[:32]


# ---- learning -----------------------------------------------------------------------------------


def learn(notes: list[ArchivedNote], taxonomy: Taxonomy, settings: Settings, *, source: str = "") -> Model:
    """Count what the curators did in `notes`, then fit how much each kind of evidence weighs."""
    labelled = [n for n in notes if n.domain or n.format or n.tags]
    documents = [n.document() for n in labelled]
    counts = [terms(d.title, d.text) for d in documents]
    df: Counter = Counter()
    for c in counts:
        df.update(c.keys())
    total = len(labelled)
    idf = {t: _idf(n, total) for t, n in df.items() if n >= 2}
    default_idf = _idf(1, total)
    records = []
    for note, document, c in zip(labelled, documents, counts):
        fmt = taxonomy.canonical_format(note.format) if note.format else None
        records.append(NoteRecord(
            name=Path(note.path).name,
            vector=top_terms(tfidf(c, idf, default_idf), VECTOR_TERMS),
            domain=note.domain if note.domain in settings.domains else None,
            secondary=tuple(d for d in note.secondary_domains if d in settings.domains and d != note.domain),
            format=fmt,
            tags=tuple(dict.fromkeys(t for t in (slug(t) for t in note.tags) if t)),
            where=tuple(site_terms(document.url, document.author, document.sitename)),
        ))
    model = Model(notes=records, idf=idf, default_idf=default_idf, source=source)
    model.formats = dict(Counter(r.format for r in records if r.format).most_common())
    # each note read as a new page would be: its own terms weighed by the other notes alone
    pages = [read_signals(d, model, ChainMap(_idf_without(c, df, total), idf))
             for d, c in zip(documents, counts)]
    genre: dict[str, Counter] = {}
    for record, page in zip(records, pages):
        if record.format:
            genre.setdefault(record.format, Counter()).update(page.genre)
    seen = Counter(t for page, r in zip(pages, records) if r.format for t in page.genre)
    model.genre = {f: {t: n for t, n in c.items() if seen[t] >= 2} for f, c in genre.items()}
    model.index()
    tag_df = Counter(t for r in records for t in r.tags)
    present: Counter[str] = Counter()
    present_tagged: Counter[str] = Counter()
    for record, page in zip(records, pages):
        for tag in tag_df:
            if any(phrase_count(page, tag)):
                present[tag] += 1
                present_tagged[tag] += tag in record.tags
    model.tags = {t: TagStat(n, present[t], present_tagged[t]) for t, n in tag_df.items()}
    _fit_choices(model, pages, taxonomy, settings)
    _fit_tags(model, pages, taxonomy)
    return model


def _idf(n: int, total: int) -> float:
    """Inverse document frequency of a term in `n` of `total` notes (a term in one note or none gets
    the default, `_idf(1, total)`)."""
    return round(math.log((total + 1) / (max(n, 1) + 1)) + 1.0, 4)


def _idf_without(counts: Counter, df: Counter, total: int) -> dict[str, float]:
    """The IDF of a note's own terms as if the note were not in the archive."""
    return {t: _idf(df[t] - 1, total) for t in counts}


# the values tried for how many tags a note gets (tags.select_tags): the least probability of a
# tag, and the true tags a note has beyond its candidates
TAG_THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
TAG_EXPECTED = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
MIN_NOTES_TO_WEIGH = 30  # fewer labelled notes than this: keep the default weights


def _fit_choices(model: Model, pages: list[PageSignals], taxonomy: Taxonomy, settings: Settings) -> None:
    """How much each kind of evidence for the domain and the format should weigh: a conditional
    logit over the archived notes, each seen as if new (left out of what the model knows)."""
    domains, formats = [], []
    # each format value also gets a bias of its own: how the curators lean between formats the
    # evidence cannot tell apart (an article or a report)
    format_names = FORMAT_FEATURES + tuple(VALUE + f for f in sorted(model.formats))
    for i, (record, page) in enumerate(zip(model.notes, pages)):
        sims = model.similarities(page.vector, exclude=i)
        neighbours = model.nearest(sims, NEIGHBOURS)
        if record.domain:
            evidence = domain_evidence(page, settings, taxonomy, model, sims, neighbours, exclude=i)
            domains.append(_choice(evidence.features, record.domain, DOMAIN_FEATURES))
        if record.format:
            evidence = format_evidence(page, settings, taxonomy, model, sims, neighbours, exclude=i)
            formats.append(_choice(evidence.features, record.format, format_names))
    domains, formats = [g for g in domains if g], [g for g in formats if g]
    if len(domains) >= MIN_NOTES_TO_WEIGH:
        model.domain_weights = dict(zip(DOMAIN_FEATURES, fit_choice(domains, len(DOMAIN_FEATURES))))
    if len(formats) >= MIN_NOTES_TO_WEIGH:
        model.format_weights = dict(zip(format_names, fit_choice(formats, len(format_names))))


def _choice(features: dict[str, dict[str, float]], truth: str, names: tuple[str, ...]):
    """(feature rows of the candidates, index of the true one); None when it is not among them."""
    values = [v for v, f in features.items() if v == truth or any(x for k, x in f.items() if not is_bias(k))]
    if truth not in values or len(values) < 2:
        return None
    return [[features[v].get(n, 0.0) for n in names] for v in values], values.index(truth)


def fit_choice(groups: list[tuple[list[list[float]], int]], d: int, l2: float = 1.0,
               rounds: int = 30) -> list[float]:
    """Weights of a conditional logit (one softmax over each group's candidates, weights shared),
    by Newton's method with an L2 penalty and step halving."""

    def loss(w: list[float]) -> float:
        total = 0.5 * l2 * sum(x * x for x in w)
        for rows, chosen in groups:
            scores = [sum(a * b for a, b in zip(w, r)) for r in rows]
            top = max(scores)
            total += top + math.log(sum(math.exp(s - top) for s in scores)) - scores[chosen]
        return total

    w = [0.0] * d
    current = loss(w)
    for _ in range(rounds):
        grad = [l2 * x for x in w]
        hess = [[l2 if j == k else 0.0 for k in range(d)] for j in range(d)]
        for rows, chosen in groups:
            scores = [sum(a * b for a, b in zip(w, r)) for r in rows]
            top = max(scores)
            e = [math.exp(s - top) for s in scores]
            z = sum(e)
            p = [x / z for x in e]
            mean = [sum(p[c] * rows[c][j] for c in range(len(rows))) for j in range(d)]
            for j in range(d):
                grad[j] += mean[j] - rows[chosen][j]
            for c, r in enumerate(rows):
                if p[c] < 1e-9:
                    continue
                for j in range(d):
                    pj = p[c] * r[j]
                    if pj:
                        hj = hess[j]
                        for k in range(d):
                            hj[k] += pj * r[k]
            for j in range(d):
                for k in range(d):
                    hess[j][k] -= mean[j] * mean[k]
        step = _solve(hess, grad)
        size = 1.0
        while size > 1e-4:
            trial = [a - size * b for a, b in zip(w, step)]
            value = loss(trial)
            if value <= current:
                break
            size /= 2
        else:
            break
        w, improved, current = trial, current - value, value
        if improved < 1e-7:
            break
    return [round(x, 4) for x in w]


def _fit_tags(model: Model, pages: list[PageSignals], taxonomy: Taxonomy) -> None:
    """Logistic regression over the tag candidates of every tagged note, each seen as if new
    (left out of what the model knows), then the threshold of probability and the expected count of
    tags beyond the candidates that give the best F1 (tags.select_tags)."""
    rows: list[TagFeatures] = []
    labels: list[float] = []
    weights: list[float] = []
    groups = []
    for i, (record, page) in enumerate(zip(model.notes, pages)):
        if not record.tags:
            continue
        sims = model.similarities(page.vector, exclude=i)
        found = tag_candidates(page, taxonomy, model, model.nearest(sims, NEIGHBOURS), exclude=i,
                               own_tags=record.tags)
        weight = _bulk_weight(model, i)
        groups.append((len(rows), list(found), set(record.tags), weight))
        for tag, candidate in found.items():
            rows.append(candidate.features)
            labels.append(1.0 if tag in record.tags else 0.0)
            weights.append(weight)
    if not rows or not any(labels) or all(labels):
        return
    model.tag_weights = fit_logistic(rows, labels, weights)
    scores = [score_tag(r, model.tag_weights) for r in rows]
    notes = []
    for start, candidates, truth, weight in groups:
        scored = {t: scores[start + k] for k, t in enumerate(candidates)}
        notes.append((sorted(scored, key=lambda t: (-scored[t], t)), scored, truth, weight))
    best = (-1.0, model.tag_threshold, model.tag_expected)
    for threshold in TAG_THRESHOLDS:
        for expected in TAG_EXPECTED:
            hit = guessed = wanted = 0.0
            for ranked, scored, truth, weight in notes:
                picks = select_tags(ranked, scored, threshold, expected, taxonomy.min_tags, taxonomy.max_tags,
                                    _known_without(model, truth))
                hit += weight * len(truth & set(picks))
                guessed += weight * len(picks)
                wanted += weight * len(truth)
            f1 = 2 * hit / (guessed + wanted) if guessed + wanted else 0.0
            if f1 > best[0]:
                best = (f1, threshold, expected)
    model.tag_threshold, model.tag_expected = best[1], best[2]


def _known_without(model: Model, own_tags: set[str]) -> Callable[[str], bool]:
    """Whether a tag is a vault tag once one note's own tags are left out."""
    return lambda t: t in model.tags and (model.tags[t].df - (t in own_tags)) > 0


def _bulk_weight(model: Model, i: int) -> float:
    """A note from a host with many notes counts less: a bulk source must not drown out the rest."""
    hosts = [k for k in model.notes[i].where if k.startswith("host:")]
    n = len(model.notes_from(hosts[0])) if hosts else 1
    return 1.0 / math.sqrt(max(n, 1))


def fit_logistic(rows: Sequence[Sequence[float]], labels: list[float], weights: list[float] | None = None,
                 l2: float = 1.0, rounds: int = 15) -> list[float]:
    """Weights (bias first) of an L2-regularised logistic regression, by Newton's method on
    features scaled to unit spread (not centred: rows stay sparse); returned for the raw features.
    Small and dependency-free."""
    weights = weights or [1.0] * len(rows)
    d = len(rows[0])
    mean = [sum(r[j] for r in rows) / len(rows) for j in range(d)]
    sd = [math.sqrt(sum((r[j] - mean[j]) ** 2 for r in rows) / len(rows)) or 1.0 for j in range(d)]
    # each row as its non-zero (index, value) pairs, the bias at index 0
    x = [[(0, 1.0)] + [(j + 1, v / sd[j]) for j, v in enumerate(r) if v] for r in rows]
    w = [0.0] * (d + 1)
    for _ in range(rounds):
        grad = [l2 * w[j] if j else 0.0 for j in range(d + 1)]
        hess = [[(l2 if (j == k and j) else 0.0) for k in range(d + 1)] for j in range(d + 1)]
        for xi, yi, wi in zip(x, labels, weights):
            p = sigmoid(sum(w[j] * v for j, v in xi))
            err, curv = wi * (p - yi), wi * max(p * (1 - p), 1e-6)
            for j, v in xi:
                grad[j] += err * v
                cj = curv * v
                row = hess[j]
                for k, u in xi:
                    row[k] += cj * u
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step)]
        if max(abs(s) for s in step) < 1e-5:
            break
    return [round(w[0], 6)] + [round(w[j + 1] / sd[j], 6) for j in range(d)]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a small, symmetric positive definite system)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        if abs(m[r][r]) < 1e-12:
            continue
        out[r] = (m[r][n] - sum(m[r][c] * out[c] for c in range(r + 1, n))) / m[r][r]
    return out


# ---- the model file -----------------------------------------------------------------------------


def load_model(path: Path) -> Model | None:
    """The saved model, or None when there is none or it cannot be used (then it is relearned)."""
    try:
        return Model.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_model(model: Model, path: Path) -> None:
    """Write atomically: a reader never sees half a model, and a failure leaves no temporary file."""
    write_atomic(path, model.to_json(), perms=0o666)  # 0o666: what a new file gets under the umask


def ensure_model(settings: Settings, taxonomy: Taxonomy, *, save: bool = True, archive: Path | None = None,
                 force: bool = False) -> Learned:
    """The model for this command: the saved one while the archive and taxonomy are unchanged,
    else learned again (and saved unless `save` is false, as in a dry run).

    The archive is `archive`, else the `archive_dir` setting, else the folder the saved model was
    learned from. Without any, the guesser works from the taxonomy alone."""
    saved = load_model(settings.model_path)
    folder = archive or settings.archive_dir or (Path(saved.source) if saved and saved.source else None)
    if folder is None or not folder.is_dir():
        return Learned(saved or Model())
    current = archive_digest(folder, taxonomy, settings)
    if saved is not None and saved.fingerprint == current and not force:
        return Learned(saved, notes=len(saved.notes))
    started = time.monotonic()
    notes, problems = read_archive(folder)
    model = learn(notes, taxonomy, settings, source=str(folder.resolve()))
    model.fingerprint, model.skipped = current, len(problems)
    learned = Learned(model, relearned=True, notes=len(model.notes), seconds=time.monotonic() - started,
                      problems=problems)
    if save:
        try:
            save_model(model, settings.model_path)
        except OSError as exc:  # the guesses still use it; the next command learns again
            learned.save_problems.append(f"cannot save the model to {settings.model_path} ({exc.strerror}); "
                                         "check the 'model' setting")
    return learned
