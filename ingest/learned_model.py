"""The learned model: what the curators' archive says, in a form the guesser can ask quickly (pure).

It holds one small record per archived note (its heaviest TF-IDF terms and its labels), the IDF
of the terms seen in two notes or more, the tag vocabulary, the genre counts of each format and
the learned weights of each kind of evidence. Everything else — the inverted index, the centroids,
what each host, site and author was given — is rebuilt from those when the model is loaded, once
per command. Saved as JSON (`state/model.json` by default).
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

MODEL_VERSION = 5  # bump when what is stored or how it is computed changes: an old file is relearned
GENRE_ALPHA = 0.1  # smoothing of the genre counts
# naive Bayes multiplies dozens of dependent genre tokens and is sure of itself (99% for one format
# on pages the curators labelled another): its log-odds are divided by this before they are weighed
GENRE_TEMPERATURE = 8.0


@dataclass(frozen=True)
class NoteRecord:
    """What the model keeps of one archived note."""

    name: str  # file name, for explanations
    vector: dict[str, float]  # heaviest TF-IDF terms, L2-normalised
    domain: str | None  # among the configured domains, else None
    secondary: tuple[str, ...]
    format: str | None  # canonical (taxonomy format aliases applied)
    tags: tuple[str, ...]  # slugs
    where: tuple[str, ...]  # host:…, site:…, by:… terms


@dataclass(frozen=True)
class TagStat:
    df: int  # notes carrying the tag
    present: int  # notes whose text holds the tag's phrase
    present_tagged: int  # … and carry the tag


@dataclass
class Model:
    notes: list[NoteRecord] = field(default_factory=list)
    idf: dict[str, float] = field(default_factory=dict)  # terms in two notes or more
    default_idf: float = 1.0  # for a term in one note or none
    tags: dict[str, TagStat] = field(default_factory=dict)
    # tag features' logistic regression: the bias, then one weight per tags.TagFeatures field in order
    tag_weights: list[float] = field(default_factory=list)
    tag_threshold: float = 0.1  # least probability of a picked tag beyond the first few
    tag_expected: float = 2.0  # true tags a note has beyond its candidates: where a note's picks stop
    formats: dict[str, int] = field(default_factory=dict)  # format values the archive uses, and how often
    fingerprint: str = ""  # of the archive and the taxonomy it was learned with
    source: str = ""  # the folder learned from
    skipped: int = 0  # malformed notes left out
    genre: dict[str, dict[str, int]] = field(default_factory=dict)  # format → genre token → notes with it
    domain_weights: dict[str, float] = field(default_factory=dict)  # learned weight of each kind of evidence
    format_weights: dict[str, float] = field(default_factory=dict)
    _index: dict[str, list[tuple[int, float]]] = field(default_factory=dict, repr=False)
    _by_where: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _centroids: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict, repr=False)
    _norms: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.index()

    def index(self) -> None:
        """Build what guesses look up from the stored notes (again, after they or `genre` change)."""
        self._index = defaultdict(list)
        self._by_where = defaultdict(list)
        sums: dict[str, dict[str, dict[str, float]]] = {"domain": {}, "format": {}}
        for i, note in enumerate(self.notes):
            for term, weight in note.vector.items():
                self._index[term].append((i, weight))
            for key in note.where:
                self._by_where[key].append(i)
            for label, by_value in sums.items():
                value = getattr(note, label)
                if value:
                    total = by_value.setdefault(value, defaultdict(float))
                    for term, weight in note.vector.items():
                        total[term] += weight
        self._centroids = sums
        self._norms = {label: {v: math.sqrt(sum(w * w for w in vec.values())) or 1.0 for v, vec in by.items()}
                       for label, by in sums.items()}
        self._genre_notes = Counter(n.format for n in self.notes if n.format)
        self._genre_vocab = sorted({t for counts in self.genre.values() for t in counts})
        self._genre_set = frozenset(self._genre_vocab)
        self._genre_base = {f: self._genre_absent(f, 0, None) for f in self.genre}

    def _genre_absent(self, fmt: str, minus: int, own: set[str] | None) -> float:
        """Σ log P(token absent | format) over the vocabulary (Bernoulli naive Bayes)."""
        n = self._genre_notes[fmt] - minus
        counts = self.genre[fmt]
        total = 0.0
        for token in self._genre_vocab:
            c = counts.get(token, 0) - (1 if own and token in own else 0)
            total += math.log(1 - (c + GENRE_ALPHA) / (n + 2 * GENRE_ALPHA))
        return total

    def genre_posterior(self, tokens: set[str], exclude: int | None = None,
                        own: set[str] | None = None) -> dict[str, float]:
        """P(format | genre tokens) by Bernoulli naive Bayes; `exclude`/`own` leave out one note."""
        own_format = self.notes[exclude].format if exclude is not None else None
        total = sum(self._genre_notes.values()) - (own_format is not None)
        scores = {}
        for fmt, counts in self.genre.items():
            leave = 1 if fmt == own_format else 0
            n = self._genre_notes[fmt] - leave
            if n <= 0:
                continue
            absent = self._genre_absent(fmt, 1, own) if leave else self._genre_base[fmt]
            score = math.log(n / total) + absent
            for token in sorted(tokens & self._genre_set):
                c = counts.get(token, 0) - (1 if leave and own and token in own else 0)
                p = (c + GENRE_ALPHA) / (n + 2 * GENRE_ALPHA)
                score += math.log(p) - math.log(1 - p)
            scores[fmt] = score
        if not scores:
            return {}
        scores = {f: v / GENRE_TEMPERATURE for f, v in scores.items()}
        top = max(scores.values())
        z = sum(math.exp(v - top) for v in scores.values())
        return {f: math.exp(v - top) / z for f, v in scores.items()}

    def similarities(self, vector: dict[str, float], exclude: int | None = None) -> dict[int, float]:
        """Cosine of `vector` with every archived note that shares a term with it."""
        scores: dict[int, float] = defaultdict(float)
        for term, weight in vector.items():
            for i, w in self._index.get(term, ()):
                scores[i] += weight * w
        if exclude is not None:
            scores.pop(exclude, None)
        return scores

    def centroid_similarity(self, label: str, sims: dict[int, float],
                            exclude: int | None = None) -> dict[str, float]:
        """Cosine with the centroid of each label value (the sum of its notes' vectors), from the
        per-note similarities; `exclude` takes a note out of its centroid."""
        dots: dict[str, float] = defaultdict(float)
        for i, s in sims.items():
            value = getattr(self.notes[i], label)
            if value:
                dots[value] += s
        out = {}
        own_note = self.notes[exclude] if exclude is not None else None
        own = getattr(own_note, label) if own_note is not None else None
        for value, dot in dots.items():
            norm = self._norms[label][value]
            if own_note is not None and value == own:
                centroid = self._centroids[label][value]
                mine = own_note.vector
                cross = sum(w * centroid.get(t, 0.0) for t, w in mine.items())
                norm = math.sqrt(max(norm * norm - 2 * cross + sum(w * w for w in mine.values()), 1e-12))
            out[value] = dot / norm
        return out

    @property
    def empty(self) -> bool:
        return not self.notes

    @staticmethod
    def nearest(sims: dict[int, float], k: int) -> list[tuple[float, int]]:
        """The k most similar archived notes as (cosine, index), best first."""
        return heapq.nlargest(k, ((s, i) for i, s in sims.items() if s > 0))

    def notes_from(self, key: str, exclude: int | None = None) -> list[int]:
        """Indexes of the notes from one host/site/author key ('host:arxiv.org')."""
        return [i for i in self._by_where.get(key, ()) if i != exclude]

    def label_counts(self, indexes: Iterable[int], label: str) -> Counter:
        counts: Counter = Counter()
        for i in indexes:
            value = getattr(self.notes[i], label)
            if isinstance(value, tuple):
                counts.update(value)
            elif value:
                counts[value] += 1
        return counts

    def to_json(self) -> str:
        data = {
            "version": MODEL_VERSION,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "skipped": self.skipped,
            "default_idf": self.default_idf,
            "idf": self.idf,
            "tag_weights": self.tag_weights,
            "tag_threshold": self.tag_threshold,
            "tag_expected": self.tag_expected,
            "formats": self.formats,
            "genre": self.genre,
            "domain_weights": self.domain_weights,
            "format_weights": self.format_weights,
            "tags": {t: [s.df, s.present, s.present_tagged] for t, s in self.tags.items()},
            "notes": [
                {"name": n.name, "domain": n.domain, "secondary": n.secondary, "format": n.format,
                 "tags": n.tags, "where": n.where, "vector": n.vector}
                for n in self.notes
            ],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Model | None:
        """The model in `text`, or None when it was written by another version (relearn then)."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
            return None
        return cls(
            notes=[
                NoteRecord(n["name"], n["vector"], n["domain"], tuple(n["secondary"]), n["format"],
                           tuple(n["tags"]), tuple(n["where"]))
                for n in data["notes"]
            ],
            idf=data["idf"],
            default_idf=data["default_idf"],
            tags={t: TagStat(*v) for t, v in data["tags"].items()},
            tag_weights=data["tag_weights"],
            tag_threshold=data["tag_threshold"],
            tag_expected=data["tag_expected"],
            formats=data["formats"],
            genre=data["genre"],
            domain_weights=data["domain_weights"],
            format_weights=data["format_weights"],
            fingerprint=data["fingerprint"],
            source=data.get("source", ""),
            skipped=data.get("skipped", 0),
        )


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
