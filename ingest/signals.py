"""Document → PageSignals: what the guesser reads from a page once per guess — its phrases, its
TF-IDF vector, where it comes from and what kind of page it is (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from .features import (
    MAX_TEXT,
    capitalised_phrases,
    genre_tokens,
    phrases,
    site_terms,
    slug,
    terms,
    tfidf,
    top_terms,
    url_host,
    words,
)
from .learned_model import Model
from .records import Document

VECTOR_TERMS = 200  # a page is compared by its heaviest terms, as archived notes are stored
LEAD_CHARS = 1500  # the opening of the text, where a page says what it is about
# the kinds of `PageSignals.where` keys ('host:…', 'site:…', 'by:…'), as evidence and explanations name them
WHERE_KINDS = {"host": "host", "site": "site", "by": "author"}


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


def where_kind(key: str) -> str:
    """The kind of a where key, as explanations name it: 'host:arxiv.org' → 'host', 'by:…' → 'author'."""
    return WHERE_KINDS[key.split(":", 1)[0]]


def where_label(key: str) -> str:
    """A where key as explanations write it: 'by:karpathy' → 'author karpathy'."""
    kind, value = key.split(":", 1)
    return WHERE_KINDS[kind] + f" {value}"
