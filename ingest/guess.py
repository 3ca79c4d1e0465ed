"""Document → domain, secondary domains, format, priority and tags, each with the signals behind it (pure).

This is the one place classification plugs in. It weighs, for each field:
- what the source sets explicitly (always wins), then the configured defaults;
- the taxonomy (config/taxonomy.toml): domain keywords, format rules on the URL, the page's declared
  type and its title, tag aliases, site tags, words that are never tags, priority rules;
- what was learned from the curators' archive (learned_model.py): the nearest archived notes by TF-IDF,
  what the same host, site and author were given before, the tag vocabulary and how often a
  phrase in a text became a tag;
- the page itself: title, main text, URL, metadata keywords and feed categories.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import Settings
from .features import (MAX_TEXT, capitalised_phrases, genre_tokens, is_content_word, phrases, site_terms, slug,
                       terms, tfidf, top_terms, url_host, words)
from .learned_model import Model, sigmoid
from .records import Document, Guess, NoteDefaults
from .taxonomy import Taxonomy

NEIGHBOURS = 10
CLOSE = 0.1  # cosine from which an archived note is a neighbour worth trusting
VECTOR_TERMS = 200  # a page is compared by its heaviest terms, as archived notes are stored
LEAD_CHARS = 1500  # the opening of the text, where a page says what it is about
NEW_PHRASES = 40  # phrases of the text considered as new tags
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
TAG_FEATURES = ("in_vocab", "log_df", "neighbours", "in_title", "log_count", "p_present", "where",
                "in_lead", "two_words", "three_words", "rarity", "capitalised", "site_tag", "tfidf", "early")
# weights for a guesser that has learned nothing yet (no archive): phrases of the title and lead
UNTRAINED_WEIGHTS = (-4.0, 0, 0, 0, 2.0, 1.0, 0, 0, 0.8, 0.4, 0.2, 0, 1.5, 4.0, 0, 0)
# for a guesser without an archive: least probability of a tag beyond the first `min_tags`, and the
# true tags a note has beyond its candidates
UNTRAINED_THRESHOLD, UNTRAINED_EXPECTED = 0.5, 1.0


@dataclass(frozen=True)
class PageSignals:
    """What the guesser reads from a document, computed once per guess."""

    title: str
    url: str
    host: str
    author: str
    where: tuple[str, ...]  # host:…, site:…, by:… terms
    vector: dict[str, float]
    title_phrases: Counter
    text_phrases: Counter
    lead_phrases: Counter
    joined: str  # '-word-word-…-' of title and text, to find tags longer than three words
    rarity: dict[str, float]  # each text phrase's IDF over the highest (1.0: in one archived note at most)
    capitalised: frozenset[str]
    genre: frozenset[str]  # what kind of page it is, whatever its subject (features.genre_tokens)
    keywords: tuple[str, ...]  # the page's keywords and feed categories
    page_types: tuple[str, ...]  # lower case


def read_signals(document: Document, model: Model | None = None, idf: Mapping[str, float] | None = None) -> PageSignals:
    """`idf` replaces the model's (the learner's, with the note itself left out)."""
    text = document.text[:MAX_TEXT]
    title_words, text_words = words(document.title), words(text)
    default_idf = model.default_idf if model else 1.0
    idf = idf if idf is not None else model.idf if model else {}
    url = document.url or document.canonical_url or ""
    title_phrases, text_phrases = phrases(title_words), phrases(text_words)
    return PageSignals(
        title=document.title,
        url=url,
        host=url_host(url),
        author=(document.author or "").strip(),
        where=tuple(site_terms(url, document.author, document.sitename)),
        vector=top_terms(tfidf(terms(document.title, text), idf, default_idf), VECTOR_TERMS),
        title_phrases=title_phrases,
        text_phrases=text_phrases,
        lead_phrases=phrases(words(text[:LEAD_CHARS])),
        joined="-" + "-".join(title_words + text_words) + "-",
        rarity={p: idf.get(p, default_idf) / (default_idf or 1.0) for p in text_phrases},
        capitalised=frozenset(capitalised_phrases(document.title + "\n" + text)),
        genre=frozenset(genre_tokens(url, document.title, text, document.author, document.sitename)),
        keywords=tuple(dict.fromkeys(k for k in document.keywords if slug(k))),
        page_types=tuple(t.lower() for t in document.page_types),
    )


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

    tags, reasons["tags"] = _tags(page, settings, taxonomy, model, neighbours, source.tags)

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
        kind = {"host": "host", "site": "site", "by": "author"}[key.split(":", 1)[0]]
        for value, c in counts.items():
            if value in allowed:
                evidence.add(value, kind, c / (n + 1),
                             f"{_where_label(key)}: {c} of {n} archived notes are {value}")
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
        best = max(votes, key=votes.get)
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


# ---- tags ---------------------------------------------------------------------------------------


@dataclass
class TagCandidate:
    tag: str
    features: list[float]
    why: list[str]


def tag_candidates(page: PageSignals, taxonomy: Taxonomy, model: Model, neighbours: list[tuple[float, int]],
                   exclude: int | None = None, own_tags: tuple[str, ...] = ()) -> dict[str, TagCandidate]:
    """Every tag worth scoring, with its features (TAG_FEATURES order).

    `exclude` and `own_tags` leave one archived note out of what the model knows, so the learner
    can compute the features of a note as if it were new."""
    total = sum(s for s, _ in neighbours) or 1.0
    near: dict[str, float] = defaultdict(float)
    for s, i in neighbours:
        for tag in model.notes[i].tags:
            near[tag] += s / total
    where: dict[str, tuple[float, str]] = {}
    for key in page.where:
        indexes = model.notes_from(key, exclude)
        n = len(indexes)
        for tag, c in model.label_counts(indexes, "tags").items():
            share = c / (n + 1)
            if share > where.get(tag, (0.0, ""))[0]:
                where[tag] = (share, f"{_where_label(key)}: {c} of {n} archived notes tagged {tag}")
    site_tags = _site_tags(page, taxonomy)

    def df_of(tag: str) -> int:
        stat = model.tags.get(tag)
        return (stat.df - (tag in own_tags)) if stat else 0

    vocab = Vocabulary(model, df_of)
    pool: set[str] = set(near) | set(where) | set(site_tags)
    pool |= {t for t in model.tags if df_of(t) > 0 and any(phrase_count(page, t))}
    new = sorted(
        (p for p in set(page.text_phrases) | set(page.title_phrases) if not vocab.known(p)),
        key=lambda p: (-(page.text_phrases.get(p, 0) + 4 * page.title_phrases.get(p, 0))
                       * page.rarity.get(p, 1.0) ** 2, p),
    )
    pool |= set(new[:NEW_PHRASES]) | set(page.title_phrases)
    found: dict[str, TagCandidate] = {}
    length = len(page.joined) or 1
    for raw in sorted(pool):
        tag = vocab.spelling(raw, taxonomy)
        if tag in found or not _usable(tag, taxonomy, vocab):
            continue
        df = df_of(tag)
        in_title, in_text = phrase_count(page, tag)
        counted = bool(in_title or in_text)  # as the learner counted the tag's phrase in this note
        if tag != raw and not counted:
            in_title, in_text = phrase_count(page, raw)
        in_lead = page.lead_phrases.get(tag, 0) + in_title
        stat = model.tags.get(tag)
        p_present = 0.0
        if stat and (in_title or in_text):
            leave = exclude is not None and counted
            present = stat.present - leave
            tagged = stat.present_tagged - (leave and tag in own_tags)
            p_present = (max(tagged, 0) + 0.1) / (max(present, 0) + 1.0)
        n_words = tag.count("-") + 1 - len(re.findall(r"-\d+(?=-|$)", tag))
        w_share, w_why = where.get(tag, (0.0, ""))
        first = page.joined.find(f"-{tag}-")
        weight = page.rarity.get(tag, 1.0)
        features = [
            1.0 if df > 0 else 0.0,
            math.log1p(max(df, 0)),
            near.get(tag, 0.0),
            1.0 if in_title else 0.0,
            math.log1p(in_text),
            p_present,
            w_share,
            1.0 if in_lead else 0.0,
            1.0 if n_words == 2 else 0.0,
            1.0 if n_words >= 3 else 0.0,
            weight,
            1.0 if tag in page.capitalised else 0.0,
            1.0 if tag in site_tags else 0.0,
            math.log1p(in_text + 3 * in_title) * weight,
            1.0 - first / length if first >= 0 else 0.0,
        ]
        why = []
        if df > 0:
            why.append(f"vault tag ({df} note{'s' if df != 1 else ''})")
        if near.get(tag):
            why.append(f"on nearest notes ({near[tag]:.2f})")
        if in_title:
            why.append("in the title")
        elif in_text:
            why.append(f"in the text ×{in_text}")
        if w_why:
            why.append(w_why)
        if tag in site_tags:
            why.append(site_tags[tag])
        found[tag] = TagCandidate(tag, features, why)
    return found


class Vocabulary:
    """The vault's tags as one note sees them (its own tags left out while learning)."""

    def __init__(self, model: Model, df_of):
        self.model, self.df_of = model, df_of

    def known(self, tag: str) -> bool:
        return self.df_of(tag) > 0

    def spelling(self, phrase: str, taxonomy: Taxonomy) -> str:
        """The vault's spelling of a tag: as used, else its alias, else its plural or singular as used.
        An alias never rewrites a tag the vault itself uses."""
        tag = slug(phrase)
        if self.known(tag):
            return tag
        tag = taxonomy.tag_aliases.get(tag, tag)
        if self.known(tag):
            return tag
        variants = (tag + "s", tag + "es", tag.removesuffix("s"), tag.removesuffix("es"))
        for variant in variants:
            if variant != tag and self.known(variant):
                return variant
        return tag


def _tags(page: PageSignals, settings: Settings, taxonomy: Taxonomy, model: Model,
          neighbours: list[tuple[float, int]], source_tags: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    chosen: dict[str, str] = {}
    for tag in source_tags:
        chosen.setdefault(slug(tag), "set by the source")
    for tag in settings.default_tags:
        chosen.setdefault(slug(tag), "configured default")
    candidates = tag_candidates(page, taxonomy, model, neighbours)
    weights, threshold, expected = (model.tag_weights, model.tag_threshold, model.tag_expected) \
        if model.tag_weights else (list(UNTRAINED_WEIGHTS), UNTRAINED_THRESHOLD, UNTRAINED_EXPECTED)
    scored = {t: score_tag(c.features, weights) for t, c in candidates.items()}
    vocab = Vocabulary(model, lambda t: model.tags[t].df if t in model.tags else 0)
    for keyword in page.keywords:  # the page's own keywords and feed categories
        tag = vocab.spelling(keyword, taxonomy)
        if not _usable(tag, taxonomy, vocab) or tag.count("-") >= 4:
            continue
        known = vocab.known(tag)
        # the page or its feed says so: a vault tag is near certain, a new one likely, more so when
        # the text bears it out (meta keywords are sometimes stuffed with names)
        said = any(phrase_count(page, tag))
        scored[tag] = max(scored.get(tag, 0.0), 0.95 if known else 0.8 if said else 0.65)
        candidates.setdefault(tag, TagCandidate(tag, [], []))
        candidates[tag].why.insert(0, f"page keyword '{keyword}'" + (" (a vault tag)" if known else ""))
    ranked = sorted(scored, key=lambda t: (-scored[t], t))
    room = taxonomy.max_tags - len(chosen)
    picks = select_tags(ranked, scored, threshold, expected, taxonomy.min_tags, room, vocab.known)
    for tag in picks:
        chosen.setdefault(tag, f"{scored[tag]:.2f}: " + "; ".join(candidates[tag].why[:3]))
    picked = list(chosen)[: max(taxonomy.max_tags, len(source_tags))]
    reasons = [f"{t} — {chosen[t]}" for t in picked]
    left = [t for t in ranked if t not in chosen][:3]
    if left:
        reasons.append("left out: " + ", ".join(f"{t} {scored[t]:.2f}" for t in left))
    return tuple(picked), reasons


def score_tag(features: list[float], weights: list[float]) -> float:
    """The probability that a candidate is one of the note's tags (a logistic regression)."""
    return sigmoid(weights[0] + sum(w * f for w, f in zip(weights[1:], features)))


def select_tags(ranked: list[str], scored: dict[str, float], threshold: float, expected: float, least: int,
                most: int, known: Callable[[str], bool]) -> list[str]:
    """The tags of `ranked` whose probability reaches `threshold`, cut where this note's expected F1
    is best; at least `least` and at most `most`. A new phrase that is part of, or contains, a tag
    already picked is a near-repeat and skipped.

    The threshold, one for every note, is what maximises F1 over many notes (the best threshold of
    calibrated probabilities is half the F1 it reaches, Lipton et al. 2014); the cut keeps a note
    with a few sure tags from taking unsure ones too. The expected F1 of the first k tags is
    2·Σp / (k + the expected number of true tags: Σp over every candidate plus `expected`, the true
    tags a note has beyond its candidates)."""
    order: list[str] = []
    for tag in ranked:
        if len(order) >= most:
            break
        if not known(tag) and any(_overlaps(tag, p) for p in order):
            continue
        order.append(tag)
    likely = [tag for tag in order if scored[tag] >= threshold]
    expected += sum(scored[t] for t in ranked)
    best, count, total = -1.0, 0, 0.0
    for k, tag in enumerate(likely, 1):
        total += scored[tag]
        value = 2 * total / (k + expected)
        if value > best:
            best, count = value, k
    return order[: max(count, least)]


def _overlaps(a: str, b: str) -> bool:
    """One tag is part of the other, plurals aside ('api' and 'apis', 'launch' and 'token-launches')."""
    a, b = _singular(a), _singular(b)
    return f"-{a}-" in f"-{b}-" or f"-{b}-" in f"-{a}-"


def _singular(tag: str) -> str:
    """Each word without its plural ending, and without a final e, so that 'launch' and 'launches',
    'cache' and 'caches' meet."""
    plain = (w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w for w in tag.split("-"))
    return "-".join(w.removesuffix("e") for w in plain)


def phrase_count(page: PageSignals, tag: str) -> tuple[int, int]:
    """(times in the title, times in the text) of a tag's phrase."""
    if tag in page.text_phrases or tag in page.title_phrases:
        return page.title_phrases.get(tag, 0), page.text_phrases.get(tag, 0)
    if tag.count("-") >= 3 or not all(is_content_word(w) or w.isdigit() for w in tag.split("-")):
        n = page.joined.count(f"-{tag}-")  # long tags and tags with stop words in them
        return 0, n
    return 0, 0


def _usable(tag: str, taxonomy: Taxonomy, vocab: Vocabulary) -> bool:
    if not tag or tag in taxonomy.generic_tags or tag.isdigit():
        return False
    if vocab.known(tag):
        return True
    parts = tag.split("-")
    return len(tag) > 2 and is_content_word(parts[0]) and all(is_content_word(p) or p.isdigit()
                                                              for p in parts)


def _site_tags(page: PageSignals, taxonomy: Taxonomy) -> dict[str, str]:
    """Tags an organisation's own site gives: taxonomy [sites]."""
    found = {}
    for host, tag in taxonomy.site_tags.items():
        if page.host == host or page.host.endswith("." + host):
            found[tag] = f"the site {host} is {tag}'s own"
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


def _where_label(key: str) -> str:
    kind, value = key.split(":", 1)
    return {"host": "host", "site": "site", "by": "author"}[kind] + f" {value}"

