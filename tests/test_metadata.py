"""The rules that reconcile a page's title, bylines and dates (ingest/metadata.py), one family each."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.metadata import best_authors, best_date, best_title, clean_authors, parse_html, read_meta, strip_site

TODAY = date(2026, 1, 1)


def meta_of(head: str, body: str = "") -> object:
    return read_meta(parse_html(f"<html><head>{head}</head><body>{body}</body></html>"))


# -- titles -------------------------------------------------------------------------------------

@pytest.mark.parametrize("title, expected", [
    ("How Transformers Work | Example Lab", "How Transformers Work"),
    ("Example Lab - How Transformers Work", "How Transformers Work"),
    ("Example Lab: How Transformers Work", "How Transformers Work"),
    ("How Transformers Work - Research - Example Lab", "How Transformers Work - Research"),
    ("How we designed Dropbox’s ATF - an async task framework", "How we designed Dropbox’s ATF - an async task framework"),
    ("Self-Supervised Learning — A Survey", "Self-Supervised Learning — A Survey"),
    ("Ein Quantensprung für Nordhausen Nord : 06.11.2023, 11.41 Uhr", "Ein Quantensprung für Nordhausen Nord"),
    ("Why scaling laws bend | Some Blog", "Why scaling laws bend"),
])
def test_site_names_are_stripped_but_dashes_in_headlines_stay(title, expected):
    assert strip_site(title, ["examplelab", "example"]) == expected


def test_a_declared_title_wins_and_loses_its_site_name():
    meta = meta_of('<title>Ignored | Example Lab</title><meta property="og:title" content="Open Weights | Example Lab">'
                   '<meta property="og:site_name" content="Example Lab">')
    assert best_title(meta, None, "https://example.org/x", None) == "Open Weights"


def test_the_declaration_the_page_agrees_with_wins():
    # Wikipedia's JSON-LD headline is a description; its name is the title the page shows
    meta = meta_of('<title>Hermitian matrix - Wikipedia</title><script type="application/ld+json">'
                   '{"@type": "Article", "headline": "matrix equal to its conjugate-transpose", '
                   '"name": "Hermitian matrix"}</script>', "<h1>Hermitian matrix</h1>")
    assert best_title(meta, "Wikipedia", "https://en.wikipedia.org/wiki/H", None) == "Hermitian matrix"


def test_without_declarations_the_h1_inside_the_title_is_the_headline():
    meta = meta_of("<title>Zoll online - Fachmeldungen - Verkündung des Gesetzes zur Tabaksteuer</title>",
                   "<h1>Zoll</h1><h1>Fachmeldungen</h1><h1>Verkündung des Gesetzes zur Tabaksteuer</h1>")
    assert best_title(meta, None, "https://www.zoll.de/x", None) == "Verkündung des Gesetzes zur Tabaksteuer"


def test_an_h1_unrelated_to_the_title_does_not_replace_it():
    meta = meta_of("<title>Basic tag cleaning test</title>", "<h1>Lorem</h1>")
    assert best_title(meta, None, "https://example.org/x", None) == "Basic tag cleaning test"


def test_entities_are_decoded_and_whitespace_collapsed():
    meta = meta_of('<meta property="og:title" content="Scaling &amp;amp; \n  &quot;Laws&quot;">')
    assert best_title(meta, None, "https://example.org/x", None) == 'Scaling & "Laws"'


# -- authors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("byline, expected", [
    ("By Jane Doe and John Roe, Staff Writers", ["Jane Doe", "John Roe"]),
    ("By Nathan Willis\n   March 25, 2015", ["Nathan Willis"]),
    ("Written by Rob Ewaschuk Edited by Betsy Beyer", ["Rob Ewaschuk"]),
    ("Bradley M. Kuhn (http://ebb.org/bkuhn/)", ["Bradley M. Kuhn"]),
    ("Par Sébastien Farcis", ["Sébastien Farcis"]),
    ("Last Updated: January 7, 2025", []),
    ("admin", []),
    ("jane@example.org", []),
    ("https://www.facebook.com/someone", []),
    ("Mac & i", ["Mac & i"]),
    ("Mayor Maynard", ["Mayor Maynard"]),
    ("Jane Doe; Jane Doe", ["Jane Doe"]),
])
def test_bylines_become_names(byline, expected):
    assert clean_authors([byline]) == expected


def test_json_ld_authors_then_citation_authors_then_meta():
    meta = meta_of('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", "author": '
                   '[{"@type": "Person", "name": "Ada Lovelace"}, {"@type": "Person", "name": "Alan Turing"}]}'
                   '</script><meta name="author" content="Site Admin">')
    assert best_authors(meta, None) == "Ada Lovelace, Alan Turing"
    papers = meta_of('<meta name="citation_author" content="Lovelace, Ada">'
                     '<meta name="citation_author" content="Turing, Alan">')
    assert best_authors(papers, None) == "Ada Lovelace, Alan Turing"


def test_microdata_author_names():
    meta = meta_of("", '<span itemprop="author creator" itemscope><span itemprop="name">KEVIN SACK</span></span> and '
                       '<span itemprop="author creator" itemscope><span itemprop="name">SHERI FINK</span></span>')
    assert best_authors(meta, None) == "KEVIN SACK, SHERI FINK"


def test_an_organisation_as_author_is_kept():
    meta = meta_of('<script type="application/ld+json"><![CDATA[{"@type": "Article", "name": "X", "author": '
                   '{"@type": "Organization", "name": "Contributors to Wikimedia projects"}}]]></script>')
    assert best_authors(meta, None) == "Contributors to Wikimedia projects"


# -- dates --------------------------------------------------------------------------------------

def test_modified_time_never_wins_over_date_published():
    meta = meta_of('<meta property="article:modified_time" content="2024-06-01T10:00:00Z">'
                   '<script type="application/ld+json">{"@type": "Article", "headline": "H", '
                   '"datePublished": "2023-02-03T09:00:00+01:00", "dateModified": "2024-06-01"}</script>')
    assert best_date(meta, "2024-06-01", TODAY) == "2023-02-03"


def test_the_date_is_taken_as_written_without_a_time_zone_shift():
    meta = meta_of('<meta property="article:published_time" content="2019-10-19T00:30:00+02:00">')
    assert best_date(meta, None, TODAY) == "2019-10-19"


def test_declared_dates_in_their_order_then_visible_dates_then_the_fallback():
    assert best_date(meta_of('<meta name="citation_publication_date" content="2021/03/04">'
                             '<meta name="date" content="2022-01-01">'), None, TODAY) == "2022-01-01"
    assert best_date(meta_of('<meta name="citation_date" content="2021-03-04">'), None, TODAY) == "2021-03-04"
    assert best_date(meta_of("", "<time>31.03.2020</time>"), "2020-06-02", TODAY) == "2020-03-31"
    assert best_date(meta_of(""), "2020-06-02", TODAY) == "2020-06-02"
    assert best_date(meta_of('<meta name="parsely-page" content=\'{"pub_date": "2014-11-23T16:00:00+04:00"}\'>'),
                     None, TODAY) == "2014-11-23"


def test_a_date_in_the_future_is_never_used():
    meta = meta_of('<meta property="article:published_time" content="2031-01-01T00:00:00Z">')
    assert best_date(meta, None, TODAY) is None
    assert best_date(meta, "2027-05-05", TODAY) is None


def test_a_canonical_link_to_the_home_page_is_not_believed():
    from ingest.extract import _canonical

    assert _canonical("https://auto-presse.de/", "https://auto-presse.de/autonews.php?newsid=1") == \
        "https://auto-presse.de/autonews.php?newsid=1"
    assert _canonical("https://lab.org/blog/", "https://lab.org/blog/2024/05/post") == "https://lab.org/blog/2024/05/post"
    assert _canonical("https://lab.org/story", "https://lab.org/story/amp") == "https://lab.org/story"
    assert _canonical("https://www.lab.org/p?utm_source=x", "https://lab.org/p/") == "https://www.lab.org/p"
    assert _canonical("https://elsewhere.com/p", "https://lab.org/p") == "https://lab.org/p"


def test_the_site_name_as_author_gives_way_to_a_person_but_stays_for_a_personal_site():
    newspaper = meta_of('<meta name="author" content="Badische Zeitung">'
                        '<meta property="cXenseParse:author" content="Lisa Petrich">'
                        '<meta property="og:site_name" content="Badische Zeitung">')
    assert best_authors(newspaper, None, None, "https://www.badische-zeitung.de/x") == "Lisa Petrich"
    blog = meta_of('<meta name="author" content="Bradley M. Kuhn">')
    assert best_authors(blog, "Bradley M Kuhn http, Ebb Org", "Bradley M. Kuhn ( Brad )", "http://ebb.org/x") \
        == "Bradley M. Kuhn"
