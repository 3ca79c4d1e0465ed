"""Document → domain, secondary domains, format, priority and tags, each with the signals behind it (pure).

This is the one place classification plugs in. It weighs, for each field:
- what the source sets explicitly (always wins), then the configured defaults;
- the taxonomy (config/taxonomy.toml): domain keywords, format rules on the URL, the page's declared
  type and its title, tag aliases, site tags, words that are never tags, priority rules;
- what was learned from the curators' archive (learned_model.py): the nearest archived notes by TF-IDF,
  what the same host, site and author were given before, the tag vocabulary and how often a
  phrase in a text became a tag;
- the page itself: title, main text, URL, metadata keywords and feed categories.

What it reads from the page is signals.py; how tags are found, scored and picked is tags.py.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import Settings
from .learned_model import Model
from .records import Document, Guess, NoteDefaults
from .signals import PageSignals, read_signals, where_kind, where_label
from .tags import choose_tags
from .taxonomy import Taxonomy

NEIGHBOURS = 10
CLOSE = 0.1  # cosine from which an archived note is a neighbour worth trusting
# Kinds of evidence for a domain and for a format; the model learns how much each weighs (a
# conditional logit over the archive), these weights serve until it has.
DOMAIN_FEATURES = ("neighbours", "nearest", "centroid", "host", "site", "author", "keywords", "prior")
FORMAT_FEATURES = ("publisher-rule", "url-rule", "page-type", "title-word", "host", "site", "author",
                   "neighbours", "nearest", "centroid", "genre", "prior")
DEFAULT_DOMAIN_WEIGHTS = {"neighbours": 1.0, "nearest": 1.0, "centroid": 1.0, "host": 1.2, "site": 0.6,
                          "author": 0.8, "keywords": 1.0, "prior": 0.0}
DEFAULT_FORMAT_WEIGHTS = {"publisher-rule": 2.0, "url-rule": 1.5, "page-type": 1.2,
                          "title-word": 0.5, "host": 2.5, "site": 1.5, "author": 1.0, "neighbours": 1.0,
                          "nearest": 0.5, "centroid": 0.5, "genre": 1.0, "prior": 0.0}
VALUE = "value:"  # feature of a format candidate that is 1 for it: a learned bias per format value
SECONDARY_MARGIN = 0.3  # a second domain within this much of the first (in log-odds) is secondary too …
SECONDARY_MIN_SHARE = 0.4  # … when it holds at least this share of the probability
SECONDARY_VOTES = 0.3  # or when this share of the nearest notes had it as a secondary domain


def guess(document: Document, settings: Settings, source: NoteDefaults | None = None, *,
          taxonomy: Taxonomy | None = None, model: Model | None = None) -> Guess:
    """Guess the note's fields; a value the source sets explicitly always wins."""
    source = source or NoteDefaults()
    taxonomy = taxonomy or Taxonomy()
    model = model or Model()
    page = read_signals(document, model)
    reasons: dict[str, list[str]] = {}
    sims = model.similarities(page.vector)
    neighbours = model.nearest(sims, NEIGHBOURS)

    evidence = domain_evidence(page, settings, taxonomy, model, sims, neighbours)
    ranked = rank(evidence, model.domain_weights or DEFAULT_DOMAIN_WEIGHTS)
    if source.domain:
        domain, reasons["domain"] = source.domain, [f"set by the source: '{source.domain}'"]
    elif ranked:
        domain, reasons["domain"] = ranked[0].value, explain(ranked)
    else:
        domain, reasons["domain"] = settings.default_domain, [_default(settings.default_domain)]
    if source.secondary_domains is not None:
        secondary = tuple(source.secondary_domains)
        reasons["secondary_domains"] = [f"set by the source: {list(secondary)}"]
    else:
        secondary, reasons["secondary_domains"] = _secondary(ranked, domain, model, neighbours)

    if source.format:
        fmt, reasons["format"] = source.format, [f"set by the source: '{source.format}'"]
    else:
        evidence = format_evidence(page, settings, taxonomy, model, sims, neighbours)
        ranked_formats = rank(evidence, model.format_weights or DEFAULT_FORMAT_WEIGHTS)
        if ranked_formats:
            fmt, reasons["format"] = ranked_formats[0].value, explain(ranked_formats)
        else:
            fmt, reasons["format"] = settings.default_format, [_default(settings.default_format)]

    tags, reasons["tags"] = choose_tags(page, settings, taxonomy, model, neighbours, source.tags)

    if source.priority:
        priority, reasons["priority"] = source.priority, [f"set by the source: '{source.priority}'"]
    else:
        priority, reasons["priority"] = _priority(page, settings, taxonomy, domain, fmt, tags)
    return Guess(domain=domain, format=fmt, priority=priority, tags=tags, secondary_domains=secondary,
                 reasons=reasons)


def _default(value: str) -> str:
    return f"configured default '{value}'"


# ---- domain and format: evidence, weighed -------------------------------------------------------


@dataclass
class Evidence:
    """For each candidate value (a domain, a format): its features, and a reason for each."""

    features: dict[str, dict[str, float]]
    reasons: dict[str, dict[str, str]]

    def add(self, value: str, feature: str, strength: float, reason: str) -> None:
        if strength > self.features.setdefault(value, {}).get(feature, 0.0):
            self.features[value][feature] = strength
            self.reasons.setdefault(value, {})[feature] = reason


@dataclass(frozen=True)
class Ranked:
    value: str
    score: float
    share: float  # of the probability, over the candidates
    parts: tuple[tuple[str, float, str], ...]  # (feature, contribution, reason), largest first


def rank(evidence: Evidence, weights: dict[str, float]) -> list[Ranked]:
    """Candidates with some evidence (more than a prior), best first."""
    scored = []
    for value, features in evidence.features.items():
        if not any(v for f, v in features.items() if not is_bias(f)):
            continue
        parts = sorted(((f, weights.get(f, 0.0) * v, evidence.reasons.get(value, {}).get(f, ""))
                        for f, v in features.items()), key=lambda p: -p[1])
        scored.append((value, sum(p[1] for p in parts), tuple(parts)))
    if not scored:
        return []
    top = max(s for _, s, _ in scored)
    total = sum(math.exp(s - top) for _, s, _ in scored)
    ranked = (Ranked(v, s, math.exp(s - top) / total, p) for v, s, p in scored)
    return sorted(ranked, key=lambda r: (-r.score, r.value))


def is_bias(feature: str) -> bool:
    """A feature every candidate has whatever the page says: the prior and the learned per-value bias."""
    return feature == "prior" or feature.startswith(VALUE)


def explain(ranked: list[Ranked], signals: int = 3) -> list[str]:
    best = ranked[0]
    lines = [f"{best.value}: {best.share:.0%} of the evidence"]
    weights: dict[str, float] = {}
    for _, contribution, reason in best.parts:  # two features may share one reason
        if contribution > 0 and reason:
            weights[reason] = weights.get(reason, 0.0) + contribution
    strongest = sorted(weights.items(), key=lambda rc: -rc[1])[:signals]
    lines += [f"{reason} (+{c:.2f})" for reason, c in strongest]
    if len(ranked) > 1:
        lines.append("runner-up: " + ", ".join(f"{r.value} {r.share:.0%}" for r in ranked[1:3]))
    return lines


def domain_evidence(page: PageSignals, settings: Settings, taxonomy: Taxonomy, model: Model, sims: dict[int, float],
                    neighbours: list[tuple[float, int]], exclude: int | None = None) -> Evidence:
    evidence = Evidence({}, {})
    allowed = set(settings.domains)
    _learned_evidence(evidence, "domain", allowed, page, model, sims, neighbours, exclude)
    hits: dict[str, Counter] = defaultdict(Counter)
    for info in taxonomy.domains:
        if info.name not in allowed:
            continue
        for keyword in info.keywords:
            n = page.text_phrases.get(keyword, 0) + 3 * page.title_phrases.get(keyword, 0)
            if n:
                hits[info.name][keyword] = n
    strongest = max((sum(c.values()) for c in hits.values()), default=0)
    for d, found in hits.items():
        shown = ", ".join(f"{k} ×{n}" for k, n in found.most_common(4))
        evidence.add(d, "keywords", math.log1p(sum(found.values())) / math.log1p(strongest),
                     f"taxonomy keywords of {d}: {shown}")
    return evidence


def format_evidence(page: PageSignals, settings: Settings, taxonomy: Taxonomy, model: Model, sims: dict[int, float],
                    neighbours: list[tuple[float, int]], exclude: int | None = None) -> Evidence:
    evidence = Evidence({}, {})
    allowed = set(allowed_formats(settings, model))
    for fmt, kind, why in _format_rules(page, taxonomy):
        if fmt in allowed:
            evidence.add(fmt, kind, 1.0, why)
    _learned_evidence(evidence, "format", allowed, page, model, sims, neighbours, exclude)
    if not model.empty:
        own = set(page.genre) if exclude is not None else None
        for fmt, p in model.genre_posterior(set(page.genre), exclude, own).items():
            if fmt in allowed:
                evidence.add(fmt, "genre", p, f"reads like the archive's {fmt} notes ({p:.0%})")
        for fmt, features in evidence.features.items():  # how far the curators favour each format
            features[VALUE + fmt] = 1.0
    return evidence


def _learned_evidence(evidence: Evidence, label: str, allowed: set[str], page: PageSignals, model: Model,
                      sims: dict[int, float], neighbours: list[tuple[float, int]],
                      exclude: int | None) -> None:
    """What the archive says of this page's `label` (domain or format): its nearest notes, the
    centroids, the notes of the same host, site and author, and how common each value is."""
    if model.empty:
        return
    examples = _near_examples(model, neighbours, label)
    total = sum(s for s, _ in neighbours) or 1.0
    top = neighbours[0][0] if neighbours else 1.0
    trust = min(1.0, top / CLOSE)  # far neighbours say little
    for s, i in neighbours:
        value = getattr(model.notes[i], label)
        if value in allowed:
            share = evidence.features.get(value, {}).get("neighbours", 0.0) + trust * s / total
            evidence.add(value, "neighbours", share, f"nearest archived notes: {examples[value]}")
            evidence.add(value, "nearest", trust * s / top, f"nearest archived notes: {examples[value]}")
    centroids = model.centroid_similarity(label, sims, exclude)
    best = max(centroids.values(), default=0.0) or 1.0
    trust = min(1.0, best / CLOSE)
    for value, cosine in centroids.items():
        if value in allowed:
            evidence.add(value, "centroid", trust * cosine / best,
                         f"text like the archive's {value} notes (cosine {cosine:.2f})")
    for key in page.where:
        indexes = model.notes_from(key, exclude)
        counts = model.label_counts(indexes, label)
        n = sum(counts.values())
        kind = where_kind(key)
        for value, c in counts.items():
            if value in allowed:
                evidence.add(value, kind, c / (n + 1),
                             f"{where_label(key)}: {c} of {n} archived notes are {value}")
    counts = model.label_counts(range(len(model.notes)), label)
    total_notes = sum(counts.values())
    for value in sorted(allowed):
        share = (counts.get(value, 0) + 0.5) / (total_notes + 1)
        evidence.features.setdefault(value, {})["prior"] = math.log(share)


def _secondary(ranked: list[Ranked], domain: str, model: Model,
               neighbours: list[tuple[float, int]]) -> tuple[tuple[str, ...], list[str]]:
    """A second domain when the text clearly belongs there too: the nearest archived notes were
    given it as a secondary domain, or the evidence for it is nearly as strong as for the first."""
    total = sum(s for s, _ in neighbours) or 1.0
    votes: dict[str, float] = defaultdict(float)
    for s, i in neighbours:
        for d in model.notes[i].secondary:
            if d != domain:
                votes[d] += s / total
    if votes:
        best = max(votes, key=lambda d: votes[d])
        if votes[best] >= SECONDARY_VOTES:
            return (best,), [f"{best}: a secondary domain of the nearest archived notes ({votes[best]:.0%})"]
    others = [r for r in ranked if r.value != domain]
    if not others:
        return (), ["no second domain with evidence"]
    top = next((r for r in ranked if r.value == domain), ranked[0])
    second = others[0]
    if top.score - second.score <= SECONDARY_MARGIN and second.share >= SECONDARY_MIN_SHARE:
        why = f"{second.value}: {second.share:.0%} of the evidence, close to {domain}'s {top.share:.0%}"
        return (second.value,), [why]
    return (), [f"no second domain close enough (runner-up {second.value} {second.share:.0%})"]


def allowed_formats(settings: Settings, model: Model) -> tuple[str, ...]:
    """The configured formats, and the format values the curators' archive uses (twice or more)."""
    learned = tuple(f for f, n in sorted(model.formats.items(), key=lambda fn: -fn[1]) if n >= 2)
    return tuple(dict.fromkeys(settings.formats + learned))


def _format_rules(page: PageSignals, taxonomy: Taxonomy):
    """(format, kind of rule, reason) for each taxonomy rule the page matches, strongest kinds first."""
    try:
        parts = urlsplit(page.url)
        path = parts.path + ("?" + parts.query if parts.query else "")
    except ValueError:
        path = ""
    title = page.title.lower()
    found = []
    for rule in taxonomy.formats:
        # who publishes it: a host of the format's, or an author written as its posters are
        host = next((h for h in rule.hosts if page.host == h or page.host.endswith("." + h)), None)
        byline = next((p for p in rule.bylines if p.search(page.author)), None)
        if host:
            found.append((rule.name, "publisher-rule", f"taxonomy: {page.host} is a {rule.name} host"))
        elif byline:
            found.append((rule.name, "publisher-rule",
                          f"taxonomy: an author written {page.author!r} posts {rule.name}s"))
        pattern = next((p for p in rule.url if path and p.search(path)), None)
        if pattern:
            found.append((rule.name, "url-rule", f"taxonomy: URL path matches {pattern.pattern!r}"))
        declared = next((t for t in rule.page_types if t in page.page_types), None)
        if declared:
            found.append((rule.name, "page-type", f"the page says it is a {declared}"))
        word = next((w for w in rule.title if re.search(r"(?<!\w)" + re.escape(w), title)), None)
        if word:
            found.append((rule.name, "title-word", f"title says {word!r}"))
    return found


# ---- priority -----------------------------------------------------------------------------------


def _priority(page: PageSignals, settings: Settings, taxonomy: Taxonomy, domain: str, fmt: str,
              tags: tuple[str, ...]) -> tuple[str, list[str]]:
    for number, rule in enumerate(taxonomy.priority_rules, 1):
        checks = [
            not rule.formats or fmt in rule.formats,
            not rule.domains or domain in rule.domains,
            not rule.tags or any(t in tags for t in rule.tags),
            not rule.hosts or any(page.host == h or page.host.endswith("." + h) for h in rule.hosts),
        ]
        if all(checks):
            conditions = (("format", rule.formats), ("domain", rule.domains), ("tags", rule.tags),
                          ("host", rule.hosts))
            said = [f"{name} {', '.join(values)}" for name, values in conditions if values]
            return rule.priority, [f"taxonomy priority rule #{number}: {'; '.join(said)}"]
    return settings.default_priority, [f"configured default '{settings.default_priority}'"]


# ---- explanations -------------------------------------------------------------------------------


def _near_examples(model: Model, neighbours: list[tuple[float, int]], label: str) -> dict[str, str]:
    """For each label value among the neighbours: how many, and the closest one's file name."""
    counts: Counter = Counter()
    first: dict[str, str] = {}
    for s, i in neighbours:
        value = getattr(model.notes[i], label)
        if value:
            counts[value] += 1
            first.setdefault(value, f"{model.notes[i].name} ({s:.2f})")
    return {v: f"{n} of {len(neighbours)}, closest {first[v]}" for v, n in counts.items()}
