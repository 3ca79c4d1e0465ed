"""ingest.guess: each rule family on its own — URL → format, tag aliases and words that are never
tags, source defaults winning, site tags, priority rules — with the shipped taxonomy and no model."""

from __future__ import annotations

import math
import re

import pytest

from ingest.config import Settings
from ingest.errors import ConfigError
from ingest.guess import Evidence, guess, rank
from ingest.learned_model import Model
from ingest.records import Document, NoteDefaults
from ingest.signals import read_signals
from ingest.tags import (
    TAG_FEATURES,
    UNTRAINED_FEATURE_WEIGHTS,
    UNTRAINED_WEIGHTS,
    TagFeatures,
    score_tag,
    select_tags,
    tag_candidates,
)
from ingest.taxonomy import load_taxonomy, parse_taxonomy

TAXONOMY = load_taxonomy()
SETTINGS = Settings()
TEXT = ("Researchers describe a new method for training reward models. The reward models are evaluated "
        "on preference data, and the method improves alignment of language models with human preferences.")


def page(url: str = "https://www.example.org/posts/a-study", title: str = "A study of reward models", text: str = TEXT,
         **more) -> Document:
    return Document(url=url, canonical_url=url, title=title, text=text, **more)


def run(document: Document, source: NoteDefaults | None = None, settings: Settings = SETTINGS):
    return guess(document, settings, source, taxonomy=TAXONOMY)


@pytest.mark.parametrize("url, fmt", [
    ("https://arxiv.org/abs/2411.07362", "paper"),
    ("https://doi.org/10.1086/225469", "paper"),
    ("https://www.example.edu/~someone/files/working-paper.pdf", "paper"),
    ("https://pmc.ncbi.nlm.nih.gov/articles/PMC123/", "paper"),
    ("https://www.nature.com/articles/s42003-024-06037-4", "paper"),
    ("https://www.cambridge.org/core/journals/some-journal/article/a-study/ABC123", "paper"),
    ("https://x.com/karpathy/status/2027521323275325622", "tweet"),
    ("https://twitter.com/someone/status/1", "tweet"),
    ("https://noahpinion.substack.com/p/updated-thoughts-on-ai-risk", "newsletter"),
    ("https://www.anthropic.com/research/open-source-circuit-tracing", "research-post"),
    ("https://huggingface.co/datasets/some/dataset", "data"),
])
def test_url_rules_give_the_format(url, fmt):
    g = run(page(url=url))
    assert g.format == fmt
    assert g.reasons["format"][0].startswith(f"{fmt}: ")


def test_an_author_written_as_a_handle_gives_a_tweet():
    g = run(page(url="", author="@claynosaurz"))
    assert g.format == "tweet"
    assert g.reasons["format"][0].startswith("tweet: ") and "'@claynosaurz'" in g.reasons["format"][1]
    assert run(page(url="", author="Jane Doe")).format != "tweet"
    assert run(page(url="", author="jane@example.org")).format != "tweet"  # an e-mail is no handle


def test_page_type_gives_the_format():
    assert run(page(page_types=("citation",))).format == "paper"
    assert run(page(page_types=("NewsArticle",))).format == "news"


def test_without_any_signal_the_configured_defaults_make_a_valid_note():
    g = run(page(url="https://www.example.org/x", title="Notes", text="Short text about nothing in particular."))
    assert g.format == SETTINGS.default_format and g.domain == SETTINGS.default_domain
    assert g.priority == SETTINGS.default_priority
    assert g.format in SETTINGS.formats and g.domain in SETTINGS.domains
    assert g.reasons["domain"] == [f"configured default '{SETTINGS.default_domain}'"]


def test_an_empty_document_still_gets_valid_fields():
    g = guess(Document(url="", canonical_url="", title="", text=""), SETTINGS)
    assert g.domain in SETTINGS.domains and g.format in SETTINGS.formats and g.tags == ()


def test_taxonomy_keywords_give_the_domain():
    text = "Medicare Advantage plans and the cost of GLP-1 drugs for patients with obesity. " * 5
    g = run(page(title="Medicare and GLP-1 coverage", text=text))
    assert g.domain == "health"
    assert "taxonomy keywords of health" in " ".join(g.reasons["domain"])


def test_a_value_the_source_sets_always_wins():
    source = NoteDefaults(domain="space-development", format="essay", priority="low", tags=("My Tag",),
                          secondary_domains=("health",))
    g = run(page(url="https://arxiv.org/abs/1", page_types=("citation",)), source)
    assert (g.domain, g.format, g.priority) == ("space-development", "essay", "low")
    assert g.secondary_domains == ("health",)
    assert g.tags[0] == "my-tag"
    for field in ("domain", "format", "priority", "secondary_domains"):
        assert g.reasons[field][0].startswith("set by the source")


def test_source_tags_are_kept_even_beyond_the_maximum():
    many = tuple(f"tag-{i}" for i in range(10))
    assert run(page(), NoteDefaults(tags=many)).tags == many


def test_aliases_map_page_keywords_to_the_vault_spelling():
    g = run(page(keywords=("Mech Interp", "LLM")))
    assert "mechanistic-interpretability" in g.tags and "llms" in g.tags
    assert "mech-interp" not in g.tags


def test_generic_words_never_become_tags():
    text = "This blog post is an article. Read the article, share the post, see more posts and news. " * 4 + TEXT
    g = run(page(title="Blog post: news article update", text=text,
                 keywords=("Blog", "Article", "Posts", "news", "Uncategorized", "2024")))
    assert not set(g.tags) & {"blog", "post", "posts", "article", "articles", "news", "uncategorized", "update", "2024"}
    assert TAXONOMY.generic_tags >= {"article", "blog", "post"}


def test_tags_are_few_lowercase_kebab_case():
    g = run(page(keywords=("Reinforcement Learning", "AI Safety", "Évaluation")))
    assert TAXONOMY.min_tags <= len(g.tags) <= TAXONOMY.max_tags
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", t) for t in g.tags), g.tags
    assert "evaluation" in g.tags  # accents folded to ASCII


def test_tags_are_picked_down_to_one_threshold_within_the_bounds():
    scored = {"a": 0.9, "b": 0.6, "c": 0.3, "d": 0.2, "e": 0.1, "f": 0.05}
    ranked = sorted(scored, key=lambda t: -scored[t])
    many = 100.0  # so many true tags expected that the cut never comes before the threshold
    assert select_tags(ranked, scored, 0.25, many, 2, 8, lambda t: True) == ["a", "b", "c"]
    assert select_tags(ranked, scored, 0.95, many, 2, 8, lambda t: True) == ["a", "b"]  # at least `least`
    assert select_tags(ranked, scored, 0.01, many, 2, 4, lambda t: True) == ["a", "b", "c", "d"]  # at most `most`


def test_a_note_with_a_few_sure_tags_stops_before_the_unsure_ones():
    sure = {"a": 0.98, "b": 0.97, "c": 0.96, "d": 0.95, "e": 0.15, "f": 0.12}
    assert select_tags(list(sure), sure, 0.1, 0.0, 3, 8, lambda t: True) == ["a", "b", "c", "d"]
    assert select_tags(list(sure), sure, 0.1, 100.0, 3, 8, lambda t: True) == list(sure)  # no cut: all above 0.1


def test_the_explanation_names_the_tags_left_out():
    g = run(page())
    assert g.reasons["tags"][-1].startswith("left out: ")
    left = [item.rsplit(" ", 1)[0] for item in g.reasons["tags"][-1].removeprefix("left out: ").split(", ")]
    assert left and not set(left) & set(g.tags)


def test_a_new_phrase_repeating_a_picked_tag_is_skipped():
    scored = {"token-launches": 0.9, "launch": 0.8, "solana": 0.5}
    ranked = list(scored)
    assert select_tags(ranked, scored, 0.3, 10.0, 1, 8, lambda t: False) == ["token-launches", "solana"]
    assert select_tags(ranked, scored, 0.3, 10.0, 1, 8, lambda t: True) == ["token-launches", "launch", "solana"]


def test_an_organisation_site_gives_its_tag():
    g = run(page(url="https://www.anthropic.com/news/a-post", title="A post", text=TEXT))
    assert "anthropic" in g.tags
    assert any("anthropic.com" in r for r in g.reasons["tags"])


def test_tag_feature_names_untrained_weights_and_rows_stay_aligned():
    # a saved model (version 5) holds its tag weights by position, bias first: this order is part of
    # the model file, and changing it needs a new MODEL_VERSION
    assert TAG_FEATURES == ("in_vocab", "log_df", "neighbours", "in_title", "log_count", "p_present", "where",
                            "in_lead", "two_words", "three_words", "rarity", "capitalised", "site_tag", "tfidf",
                            "early")
    assert UNTRAINED_WEIGHTS == (-4.0, 0, 0, 0, 2.0, 1.0, 0, 0, 0.8, 0.4, 0.2, 0, 1.5, 4.0, 0, 0)
    assert len(UNTRAINED_WEIGHTS) == 1 + len(TAG_FEATURES) == 1 + len(TagFeatures._fields)
    for position, (name, weight) in enumerate(UNTRAINED_FEATURE_WEIGHTS._asdict().items(), 1):
        assert (TAG_FEATURES[position - 1], UNTRAINED_WEIGHTS[position]) == (name, weight)

    # the row a candidate gets: each feature under its name, at its name's position
    url = "https://openai.com/research/reward"
    signals = read_signals(Document(url=url, canonical_url=url, title="Reward models at OpenAI", text=TEXT))
    candidates = tag_candidates(signals, TAXONOMY, Model(), [])
    phrase, site = candidates["reward-models"].features, candidates["openai"].features
    assert isinstance(phrase, TagFeatures) and len(phrase) == len(TAG_FEATURES)
    expected = {"in_vocab": 0.0, "in_title": 1.0, "log_count": math.log1p(2), "in_lead": 1.0, "two_words": 1.0,
                "three_words": 0.0, "capitalised": 0.0, "site_tag": 0.0, "early": 1.0}
    assert {name: phrase[TAG_FEATURES.index(name)] for name in expected} == expected
    assert (site.site_tag, site.capitalised, site.two_words) == (1.0, 1.0, 0.0)
    by_position = UNTRAINED_WEIGHTS[0] + sum(w * f for w, f in zip(UNTRAINED_WEIGHTS[1:], site))
    by_name = UNTRAINED_WEIGHTS[0] + 2.0 * site.in_title + 1.0 * site.log_count + 0.8 * site.in_lead \
        + 1.5 * site.capitalised + 4.0 * site.site_tag
    assert score_tag(site, UNTRAINED_WEIGHTS) == pytest.approx(1 / (1 + math.exp(-by_name)))
    assert by_position == pytest.approx(by_name)


def test_priority_rules():
    data = run(page(), NoteDefaults(format="data"))
    assert data.priority == "low" and "rule #1" in data.reasons["priority"][0]
    lab = run(page(url="https://www.anthropic.com/research/some-result"))
    assert lab.format == "research-post" and lab.priority == "high"
    assert run(page()).priority == "medium"


def test_every_field_is_explained():
    g = run(page(url="https://arxiv.org/abs/2411.07362"))
    for field in ("domain", "secondary_domains", "format", "priority", "tags"):
        assert g.reasons[field], field
    assert any("arxiv.org is a paper host" in r for r in g.reasons["format"])


def test_a_format_outside_the_configured_list_is_never_guessed():
    settings = Settings(formats=("essay", "report"), default_format="essay")
    assert run(page(url="https://arxiv.org/abs/1"), settings=settings).format == "essay"


def test_a_learned_format_bias_breaks_ties_but_never_makes_a_candidate():
    evidence = Evidence({}, {})
    for fmt in ("report", "article"):
        evidence.add(fmt, "genre", 0.5, f"reads like {fmt}")
        evidence.features[fmt].update({"prior": -1.0, f"value:{fmt}": 1.0})
    evidence.features["paper"] = {"prior": -0.5, "value:paper": 1.0}  # no evidence at all
    ranked = rank(evidence, {"genre": 1.0, "prior": 0.2, "value:article": 0.3, "value:paper": 5.0})
    assert [r.value for r in ranked] == ["article", "report"]


def test_taxonomy_errors_name_the_entry():
    with pytest.raises(ConfigError, match=r"\[\[format\]\] #1 \(paper\): key 'url' holds '\(unclosed'"):
        parse_taxonomy({"format": [{"name": "paper", "url": ["(unclosed"]}]})
    with pytest.raises(ConfigError, match=r"\[\[format\]\] #1 \(tweet\): key 'bylines' holds '\[@'"):
        parse_taxonomy({"format": [{"name": "tweet", "bylines": ["[@"]}]})
    with pytest.raises(ConfigError, match="unknown key 'domains'"):
        parse_taxonomy({"domains": []})
    with pytest.raises(ConfigError, match="'priority' must be one of"):
        parse_taxonomy({"priority": [{"priority": "urgent"}]})
