"""Listing pages: which links are articles, their titles, and feed discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import SourceError
from ingest.listings import discover_feed, find_article_links

LISTING = Path(__file__).parent / "fixtures" / "listing"
LAB = "https://www.example-lab.org"
LAB_URL = f"{LAB}/research/"
NEWS_URL = "https://example.ai/news"
SITE = "https://lab.example.org"
BLOG = f"{SITE}/blog/"


@pytest.fixture(scope="module")
def lab_html() -> str:
    return (LISTING / "lab-research.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def news_html() -> str:
    return (LISTING / "ai-news.html").read_text(encoding="utf-8")


def pairs(items) -> list[tuple[str, str | None]]:
    return [(item.url, item.title) for item in items]


def test_lab_research_page_lists_its_articles_in_order(lab_html):
    assert pairs(find_article_links(lab_html, LAB_URL)) == [
        (
            "https://www.example-lab.org/research/scaling-laws-for-mixture-of-experts",
            "Scaling laws for mixture-of-experts language models",
        ),
        (f"{LAB}/research/sparse-probing", "Sparse probing finds features in superposition"),
        (f"{LAB}/research/offline-rl-benchmarks", "Offline RL benchmarks are saturated. Now what?"),
        ("https://www.example-lab.org/papers/2024/offline-rl-benchmarks.pdf", "PDF"),
        ("https://www.example-lab.org/research/tokenizer-free-models", "Tokenizer-free models at scale"),
        ("https://blog.example-lab.org/2024/03/evaluating-agents/", "Evaluating agents in the wild"),
    ]


def test_news_page_with_base_href_and_css_module_classes(news_html):
    assert pairs(find_article_links(news_html, NEWS_URL)) == [
        ("https://example.ai/news/introducing-atlas-2", "Introducing Atlas 2"),
        (
            "https://example.ai/news/constitutional-classifiers",
            "Constitutional classifiers: defending against universal jailbreaks",
        ),
        (
            "https://research.example.ai/publications/long-context-evals",
            "Long-context evaluations that measure what matters",
        ),
        ("https://example.ai/company/series-c", "Example AI raises Series C"),
    ]


@pytest.mark.parametrize(
    "dropped",
    [
        "https://www.example-lab.org/",  # logo, breadcrumb
        "https://www.example-lab.org/research/",  # the page itself, its sort and ?page= variants
        "https://www.example-lab.org/blog/",  # header nav
        "https://www.example-lab.org/about/",  # header and footer
        "https://www.example-lab.org/privacy-policy/",
        "https://www.example-lab.org/tag/scaling/",
        "https://www.example-lab.org/research/topics/interpretability/",
        "https://www.example-lab.org/authors/ana-lima/",
        "https://www.example-lab.org/people/tom-berg",
        "https://www.example-lab.org/research/page/2/",
        "https://www.example-lab.org/subscribe",
        "https://www.example-lab.org/research/attention-sinks",  # sidebar
        "https://www.example-lab.org/research/feed.xml",
        "https://www.example-lab.org/media/moe-hero.jpg",
        "https://arxiv.org/abs/2404.01234",
        "https://github.com/example-lab",
    ],
)
def test_lab_page_chrome_and_listing_links_are_dropped(lab_html, dropped):
    urls = [item.url.rstrip("/") for item in find_article_links(lab_html, LAB_URL)]
    assert dropped.rstrip("/") not in urls


def test_relative_links_resolve_against_the_page_without_base():
    html = """<main>
      <a href="post-a">A</a> <a href="/research/post-b">B</a> <a href="../research/post-c?x=1">C</a>
      <a href="//www.example-lab.org/research/post-d">D</a> <a href="#top">Top</a> <a href="">Self</a>
      <a href="javascript:void(0)">JS</a> <a href="tel:+100">Call</a>
    </main>"""
    assert pairs(find_article_links(html, LAB_URL)) == [
        ("https://www.example-lab.org/research/post-a", "A"),
        ("https://www.example-lab.org/research/post-b", "B"),
        ("https://www.example-lab.org/research/post-c?x=1", "C"),
        ("https://www.example-lab.org/research/post-d", "D"),
    ]


def test_base_href_changes_what_relative_links_mean():
    html = '<head><base href="/archive2024/"></head><body><a href="post-a">A</a></body>'
    assert [i.url for i in find_article_links(html, LAB_URL)] == [f"{LAB}/archive2024/post-a"]


def test_duplicate_links_keep_the_first_position_and_the_longest_text():
    html = """<div class="cards">
      <a href="/research/x"><img src="x.png"></a>
      <a href="/research/y">Y: the second article</a>
      <h3><a href="/research/x">X  marks\n the spot</a></h3>
      <a href="/research/x/">Continue reading →</a>
      <a href="https://example-lab.org/research/x#more">Read more</a>
    </div>"""
    assert pairs(find_article_links(html, LAB_URL)) == [
        ("https://www.example-lab.org/research/x", "X marks the spot"),
        ("https://www.example-lab.org/research/y", "Y: the second article"),
    ]


def test_a_link_without_any_text_has_no_title():
    html = '<a href="/research/x"><img src="x.png" alt="x"></a><a href="/research/x">Read more</a>'
    assert pairs(find_article_links(html, LAB_URL)) == [("https://www.example-lab.org/research/x", None)]


def test_slugs_that_merely_contain_listing_words_are_articles():
    html = """<a href="/research/learning-from-noisy-tags/">Tags</a>
      <a href="/research/cat/">Cat</a> <a href="/research/about-face-on-scaling">About face</a>
      <a href="/?p=123">Plain permalink</a>"""
    titles = [i.title for i in find_article_links(html, LAB_URL)]
    assert titles == ["Tags", "Cat", "About face", "Plain permalink"]


def test_header_and_footer_inside_an_article_card_are_not_page_chrome():
    html = """<header><a href="/research/in-site-header">no</a></header>
      <article><header><h2><a href="/research/in-card-header">yes</a></h2></header>
      <footer><a href="/research/in-card-footer">also yes</a></footer></article>
      <div role="navigation"><a href="/research/in-role-nav">no</a></div>
      <div class="post-list no-sidebar"><a href="/research/in-list">yes too</a></div>"""
    assert [i.title for i in find_article_links(html, LAB_URL)] == ["yes", "also yes", "yes too"]


def test_include_and_exclude_patterns(lab_html):
    included = find_article_links(lab_html, LAB_URL, include=(r"/research/", r"\.pdf$"))
    assert [i.url.rsplit("/", 1)[-1] for i in included] == [
        "scaling-laws-for-mixture-of-experts",
        "sparse-probing",
        "offline-rl-benchmarks",
        "offline-rl-benchmarks.pdf",
        "tokenizer-free-models",
    ]
    excluded = find_article_links(lab_html, LAB_URL, include=(r"\.org/research/",), exclude=("probing",))
    assert [i.url.rsplit("/", 1)[-1] for i in excluded] == [
        "scaling-laws-for-mixture-of-experts",
        "offline-rl-benchmarks",
        "tokenizer-free-models",
    ]


def test_a_bad_pattern_is_a_source_error(lab_html):
    with pytest.raises(SourceError) as caught:
        find_article_links(lab_html, LAB_URL, include=("(unclosed",))
    assert caught.value.code == "bad_pattern"


@pytest.mark.parametrize(
    "html", ["", "   \n", "<html></html>", "<?xml version='1.0' encoding='utf-8'?><p>no links"]
)
def test_pages_without_links_give_nothing(html):
    assert find_article_links(html, LAB_URL) == []
    assert discover_feed(html, LAB_URL) is None


def test_discover_feed_finds_the_rss_link(lab_html):
    assert discover_feed(lab_html, LAB_URL) == "https://www.example-lab.org/research/feed.xml"


def test_discover_feed_returns_none_when_the_page_advertises_no_feed(news_html):
    # The footer's <a href="/news/rss.xml"> is not a rel="alternate" link.
    assert discover_feed(news_html, NEWS_URL) is None


def test_discover_feed_skips_comment_feeds():
    html = """<head>
      <link rel="alternate" type="application/rss+xml" title="Lab » Comments Feed" href="/comments/feed/">
      <link rel="alternate" type="application/atom+xml" title="Lab" href="https://lab.example.org/atom.xml">
    </head>"""
    assert discover_feed(html, BLOG) == f"{SITE}/atom.xml"
    only_comments = '<link rel="alternate" type="application/rss+xml" href="/blog/comments/feed/">'
    assert discover_feed(only_comments, BLOG) is None


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ('<link rel="alternate" type="application/feed+json" href="feed.json">', f"{BLOG}feed.json"),
        ('<link rel="alternate" type="application/json" title="JSON Feed" href="/f.json">', f"{SITE}/f.json"),
        ('<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/7">', None),
        ('<link rel="Alternate Feed" type="Application/RSS+XML; charset=utf-8" href="/rss">', f"{SITE}/rss"),
        ('<link rel="stylesheet" type="application/rss+xml" href="/no.xml">', None),
        ('<link rel="alternate" hreflang="fr" href="/fr/">', None),
    ],
)
def test_discover_feed_types(link, expected):
    assert discover_feed(f"<head>{link}</head>", BLOG) == expected


def test_discover_feed_resolves_against_base_href():
    html = """<head><base href="https://cdn.example.org/site/">
      <link rel="alternate" type="application/rss+xml" href="index.xml"></head>"""
    assert discover_feed(html, f"{SITE}/") == "https://cdn.example.org/site/index.xml"
