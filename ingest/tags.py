"""Tag candidates → a note's tags: every phrase worth scoring with its features (one `TagFeatures`
each), the probability that it is a tag, and the cut that picks the note's tags (pure)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .config import Settings
from .features import is_content_word, slug
from .learned_model import Model, sigmoid
from .signals import PageSignals, where_label
from .taxonomy import Taxonomy

NEW_PHRASES = 40  # phrases of the text considered as new tags


class TagFeatures(NamedTuple):
    """One tag candidate's features, by name. The field order is the feature order: the learned
    model stores its tag weights by position (bias first, then one per field), so reordering,
    adding or removing a field needs a new MODEL_VERSION."""

    in_vocab: float  # 1 for a tag the vault uses
    log_df: float  # log(1 + archived notes carrying it)
    neighbours: float  # its share of the nearest notes' similarity
    in_title: float  # 1 when its phrase is in the title
    log_count: float  # log(1 + times its phrase is in the text)
    p_present: float  # how often a note whose text holds its phrase carries it
    where: float  # share of the same host's, site's or author's notes carrying it
    in_lead: float  # 1 when its phrase is in the title or the opening of the text
    two_words: float
    three_words: float  # three words or more
    rarity: float  # its phrase's IDF over the highest
    capitalised: float  # 1 when the page writes it as a Proper Name or an ACRONYM
    site_tag: float  # 1 when the page is on the site of the tag's organisation (taxonomy [sites])
    tfidf: float  # log(1 + times in the text, title counted thrice) × rarity
    early: float  # how early in the page it first appears (1: at the very start)


TAG_FEATURES = TagFeatures._fields
# weights for a guesser that has learned nothing yet (no archive): phrases of the title and lead
UNTRAINED_BIAS = -4.0
UNTRAINED_FEATURE_WEIGHTS = TagFeatures(
    in_vocab=0.0, log_df=0.0, neighbours=0.0, in_title=2.0, log_count=1.0, p_present=0.0, where=0.0,
    in_lead=0.8, two_words=0.4, three_words=0.2, rarity=0.0, capitalised=1.5, site_tag=4.0, tfidf=0.0,
    early=0.0,
)
UNTRAINED_WEIGHTS = (UNTRAINED_BIAS, *UNTRAINED_FEATURE_WEIGHTS)  # as a model stores them: bias first
# for a guesser without an archive: least probability of a tag beyond the first `min_tags`, and the
# true tags a note has beyond its candidates
UNTRAINED_THRESHOLD, UNTRAINED_EXPECTED = 0.5, 1.0


@dataclass(frozen=True)
class TagCandidate:
    """A tag worth scoring: its features, and the reasons shown for it."""

    tag: str
    features: TagFeatures
    why: list[str]


def tag_candidates(page: PageSignals, taxonomy: Taxonomy, model: Model, neighbours: list[tuple[float, int]],
                   exclude: int | None = None, own_tags: tuple[str, ...] = ()) -> dict[str, TagCandidate]:
    """Every tag worth scoring, with its features.

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
                where[tag] = (share, f"{where_label(key)}: {c} of {n} archived notes tagged {tag}")
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
        features = TagFeatures(
            in_vocab=1.0 if df > 0 else 0.0,
            log_df=math.log1p(max(df, 0)),
            neighbours=near.get(tag, 0.0),
            in_title=1.0 if in_title else 0.0,
            log_count=math.log1p(in_text),
            p_present=p_present,
            where=w_share,
            in_lead=1.0 if in_lead else 0.0,
            two_words=1.0 if n_words == 2 else 0.0,
            three_words=1.0 if n_words >= 3 else 0.0,
            rarity=weight,
            capitalised=1.0 if tag in page.capitalised else 0.0,
            site_tag=1.0 if tag in site_tags else 0.0,
            tfidf=math.log1p(in_text + 3 * in_title) * weight,
            early=1.0 - first / length if first >= 0 else 0.0,
        )
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


def choose_tags(page: PageSignals, settings: Settings, taxonomy: Taxonomy, model: Model,
                neighbours: list[tuple[float, int]],
                source_tags: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The note's tags — the source's, the configured defaults, then the likeliest candidates and the
    page's own keywords — and a reason for each."""
    chosen: dict[str, str] = {}
    for tag in source_tags:
        chosen.setdefault(slug(tag), "set by the source")
    for tag in settings.default_tags:
        chosen.setdefault(slug(tag), "configured default")
    candidates = tag_candidates(page, taxonomy, model, neighbours)
    weights, threshold, expected = (model.tag_weights, model.tag_threshold, model.tag_expected) \
        if model.tag_weights else (list(UNTRAINED_WEIGHTS), UNTRAINED_THRESHOLD, UNTRAINED_EXPECTED)
    scored = {t: score_tag(c.features, weights) for t, c in candidates.items()}
    why = {t: c.why for t, c in candidates.items()}
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
        why.setdefault(tag, []).insert(0, f"page keyword '{keyword}'" + (" (a vault tag)" if known else ""))
    ranked = sorted(scored, key=lambda t: (-scored[t], t))
    room = taxonomy.max_tags - len(chosen)
    picks = select_tags(ranked, scored, threshold, expected, taxonomy.min_tags, room, vocab.known)
    for tag in picks:
        chosen.setdefault(tag, f"{scored[tag]:.2f}: " + "; ".join(why[tag][:3]))
    picked = list(chosen)[: max(taxonomy.max_tags, len(source_tags))]
    reasons = [f"{t} — {chosen[t]}" for t in picked]
    left = [t for t in ranked if t not in chosen][:3]
    if left:
        reasons.append("left out: " + ", ".join(f"{t} {scored[t]:.2f}" for t in left))
    return tuple(picked), reasons


def score_tag(features: TagFeatures, weights: Sequence[float]) -> float:
    """The probability that a candidate is one of the note's tags (a logistic regression; `weights`
    as a model stores them: the bias, then one per feature in TagFeatures order)."""
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

