"""The rules that reconcile a page's title, bylines and dates (ingest/metadata.py, with names.py and
dates.py), one family each."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.metadata import (
    best_authors,
    best_date,
    best_title,
    chrome_dates,
    declared_arxiv_id,
    declared_doi,
    labelled_date,
    paper_abstract,
    parse_html,
    read_meta,
    strip_site,
)
from ingest.names import clean_authors, looks_like_name, printed_byline

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


def test_of_two_h1_in_the_title_the_one_it_begins_with_is_the_headline():
    # a documentation site: the project's name as a banner <h1>, the page's heading with its pilcrow
    meta = meta_of("<title>Evolve: Shared Mutable History — evolve extension for Mercurial</title>",
                   '<div class="header"><h1>evolve extension for Mercurial</h1></div>'
                   '<h1>Evolve: Shared Mutable History<a class="headerlink" href="#e">¶</a></h1>')
    assert best_title(meta, None, "https://example.org/x", None) == "Evolve: Shared Mutable History"


def test_an_h1_unrelated_to_the_title_does_not_replace_it():
    meta = meta_of("<title>Basic tag cleaning test</title>", "<h1>Lorem</h1>")
    assert best_title(meta, None, "https://example.org/x", None) == "Basic tag cleaning test"


def test_a_declaration_is_confirmed_by_one_visible_title_not_by_two_glued_together():
    # "… in Kücknitz" ending the <title> and the <h1> after it must not confirm "Kücknitz - <h1>"
    meta = meta_of('<title>Lübeck: So war die Auktion in Kücknitz</title><script type="application/ld+json">'
                   '{"@type": "NewsArticle", "headline": "Kücknitz - So lief die Auktion"}</script>'
                   '<meta property="og:title" content="So lief die Auktion">', "<h1>So lief die Auktion</h1>")
    assert best_title(meta, None, "https://example.org/x", None) == "So lief die Auktion"


def test_a_declared_title_the_page_never_shows_loses_to_the_h1_in_the_title():
    meta = meta_of('<title>BDZV: Eliasson gestaltet die Titelseite</title>'
                   '<meta property="og:title" content="Pressemitteilungen">', "<h1>Eliasson gestaltet die Titelseite</h1>")
    assert best_title(meta, "BDZV", "https://example.org/x", None) == "Eliasson gestaltet die Titelseite"
    # a reworded headline is still the page's own
    meta = meta_of("<title>How we designed ATF: a task framework - Dropbox</title>"
                   "<meta property=\"og:title\" content=\"How we designed Dropbox's ATF - a task framework\">",
                   "<h1>How we designed ATF: a task framework</h1>")
    assert best_title(meta, "Dropbox", "https://example.org/x", None) == "How we designed Dropbox's ATF - a task framework"


def test_the_h1_inside_a_declared_title_drops_its_kicker():
    meta = meta_of('<meta property="og:title" content="Receita de Sequilho com Chocolate | CyberCook">'
                   '<meta property="og:site_name" content="CyberCook">', "<h1>Sequilho com Chocolate</h1>")
    assert best_title(meta, None, "https://example.org/x", None) == "Sequilho com Chocolate"
    meta = meta_of('<meta property="og:title" content="Olympische Spiele - Getränke per Schiff ins Zentrum">',
                   '<h1><span class="subtitle">Olympische Spiele</span> Getränke per Schiff ins Zentrum</h1>')
    assert best_title(meta, None, "https://example.org/x", None) == "Getränke per Schiff ins Zentrum"


def test_a_kicker_in_the_declared_title_and_a_section_in_the_title_tag_leave_the_headline():
    meta = meta_of('<title>Gamesite | Previews: Anno 1800 Beta</title>'
                   '<meta property="og:title" content="Industrially revolutionised?: Anno 1800 Beta">')
    assert best_title(meta, None, "https://gamesite.example/p/1", None) == "Anno 1800 Beta"
    # one shared word is no headline: the declaration stays
    meta = meta_of('<title>News: Update</title><meta property="og:title" content="Big change: Update">')
    assert best_title(meta, None, "https://example.org/x", None) == "Big change: Update"


def test_dublin_core_as_an_rdfa_property_wins_over_the_older_name_form():
    meta = meta_of('<meta name="DC.title" content="Name form"><meta property="dc:title" content="Property form">'
                   '<title>Title element</title>')
    assert best_title(meta, None, "https://example.org/x", None) == "Property form"


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
    ("By: Jane Doe", ["Jane Doe"]),
    ("Written by: Jane Doe", ["Jane Doe"]),
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


@pytest.mark.parametrize("declared, expected", [
    # one person a tag: "Last, First" turned round, particles and given names such as "Di" kept
    (["Zhang, Wei", "He, Di", "Di Marco, Lucia", "van der Berg, Anna"], "Wei Zhang, Di He, Lucia Di Marco, Anna van der Berg"),
    (["Ada Lovelace", "Alan Turing", "Ada Lovelace"], "Ada Lovelace, Alan Turing"),
    (["ATLAS Collaboration"], "ATLAS Collaboration"),
    # everyone in one tag is a byline
    (["Ada Lovelace and Alan Turing"], "Ada Lovelace, Alan Turing"),
    (["Lovelace, Ada; Turing, Alan"], "Lovelace, Ada, Turing, Alan"),
])
def test_every_citation_author_in_order(declared, expected):
    tags = "".join(f'<meta name="citation_author" content="{name}">' for name in declared)
    assert best_authors(meta_of(tags), None) == expected


def test_citation_authors_then_dublin_core_creators_then_meta_authors():
    dc = ('<meta name="DC.creator" content="Nakamura, Keiko"><meta name="DC.creator" content="O\'Brien, Sean">'
          '<meta name="author" content="Journal Staff Writer">')
    assert best_authors(meta_of(dc), None) == "Keiko Nakamura, Sean O'Brien"
    both = '<meta name="citation_author" content="Raman, Priya">' + dc
    assert best_authors(meta_of(both), None) == "Priya Raman"
    assert best_authors(meta_of('<meta name="citation_authors" content="Raman, Priya; Park, Ji-woo">'),
                        None) == "Priya Raman, Ji-woo Park"


def test_dublin_core_creator_as_an_rdfa_property_wins_over_the_name_form():
    meta = meta_of('<meta name="DC.creator" content="Name Form"><meta property="dc:creator" content="Property Form">')
    assert best_authors(meta, None) == "Property Form"


def test_a_byline_printed_in_the_text_beats_an_organisation_or_the_site_as_author():
    org = meta_of('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", '
                  '"author": {"@type": "Organization", "name": "LN"}}</script>')
    text = "Die Auktion brachte 1400 Euro.\n\n*Von Cosima Künzel*"
    assert best_authors(org, None, text=text) == "Cosima Künzel"
    assert best_authors(org, None, text="Die Auktion brachte 1400 Euro.") == "LN"  # no byline: the organisation
    site = meta_of('<meta itemprop="author" content="The Planetary Press">'
                   '<meta property="og:site_name" content="The Planetary Press">')
    text = "*Courtesy of Forests News*\n\n*Written by: [Julie Mollins](https://example.org/j)*\n\nIndigenous Peoples …"
    assert best_authors(site, None, text=text) == "Julie Mollins"


@pytest.mark.parametrize("text", [
    "By Azeen Ghorayshi\n\nBy Tara Parker-Pope",  # teasers of other articles: none is surely this one's
    "Von Anfang an war klar, dass es teuer wird.",  # a sentence, not a byline
    "By the way, nobody asked.",
])
def test_no_printed_byline(text):
    assert printed_byline(text) is None


@pytest.mark.parametrize("text, expected", [
    ("Cosima Künzel", True), ("Ursula von der Leyen", True), ("Tara Parker-Pope", True), ("G. Moore", True),
    ("J.-P. Sartre", True), ("Dr. Jane Doe", True), ("Steffen PACHE", True),
    ("John", False), ("the same token", False), ("Anfang an war klar", False),
    ("Institute for Archive Studies", False), ("Abstract Syntax Notation One", False),  # a PDF's page 1
    ("Sächsische Landesanstalt für Landwirtschaft", False), ("Google Research", False),
    ("14 March 2024", False),
])
def test_one_name_test_for_bylines_and_pdf_author_lines(text, expected):
    assert looks_like_name(text) is expected


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
    # Highwire's own spelling, 2021/03/04, is read: a citation date is more specific than "date"
    assert best_date(meta_of('<meta name="citation_publication_date" content="2021/03/04">'
                             '<meta name="date" content="2022-01-01">'), None, TODAY) == "2021-03-04"
    assert best_date(meta_of('<meta name="citation_publication_date" content="2021">'
                             '<meta name="date" content="2022-01-01">'), None, TODAY) == "2022-01-01"
    assert best_date(meta_of('<meta name="citation_date" content="2021-03-04">'), None, TODAY) == "2021-03-04"
    assert best_date(meta_of("", "<time>31.03.2020</time>"), "2020-06-02", TODAY) == "2020-03-31"
    assert best_date(meta_of(""), "2020-06-02", TODAY) == "2020-06-02"
    assert best_date(meta_of('<meta name="parsely-page" content=\'{"pub_date": "2014-11-23T16:00:00+04:00"}\'>'),
                     None, TODAY) == "2014-11-23"


def test_a_utc_timestamp_gives_way_to_the_same_instant_in_the_sites_own_time_zone():
    meta = meta_of('<meta name="date" content="Sat, 19 Oct 2019 00:04:00 +0200"><script type="application/ld+json">'
                   '{"@type": "NewsArticle", "headline": "H", "datePublished": "2019-10-18T22:04:00Z"}</script>')
    assert best_date(meta, None, TODAY) == "2019-10-19"
    # another instant is another date, and is not borrowed
    meta = meta_of('<meta name="date" content="2019-10-21T00:04:00+02:00"><script type="application/ld+json">'
                   '{"@type": "NewsArticle", "headline": "H", "datePublished": "2019-10-18T22:04:00Z"}</script>')
    assert best_date(meta, None, TODAY) == "2019-10-18"


def test_a_date_in_the_menu_bar_is_no_publication_date():
    body = ('<div class="navtop"><time datetime="2023-11-01T13:56:20+01:00">Mittwoch</time></div>'
            '<nav><time datetime="2023-11-02">2. November</time></nav><article><p>31. Oktober 2023.</p></article>')
    meta = meta_of("", body)
    assert best_date(meta, None, TODAY) is None
    assert [e.get("datetime")[:10] for e in chrome_dates(parse_html(f"<html><body>{body}</body></html>"))] == [
        "2023-11-01", "2023-11-02"]
    assert best_date(meta_of("", '<body class="menu-open"><time>2020-03-31</time></body>'), None, TODAY) == "2020-03-31"


@pytest.mark.parametrize("body, expected", [
    ('<div><span class="label">Datum:</span> <span class="value">18.10.2021</span></div>', "2021-10-18"),
    ("<p>Published: March 3, 2020</p>", "2020-03-03"),
    ("<p>Veröffentlicht am 3. März 2020</p>", "2020-03-03"),
    ("<p>Date: 2019-11-21</p>", "2019-11-21"),
    ("<p>Aktualisiert: 18.10.2021</p><p>vom 17.08.2021</p>", None),
    ("<p>Published: 2031-01-01</p>", None),
    ("<p>Event date: 2019-11-21</p>", None),
])
def test_a_date_printed_after_a_publication_label(body, expected):
    assert labelled_date(parse_html(f"<html><body>{body}</body></html>"), TODAY) == expected


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


# -- papers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    '<meta name="citation_doi" content="10.1000/ABC.1">',
    '<meta name="DC.identifier" content="https://example.org/x"><meta name="DC.identifier" content="doi:10.1000/ABC.1">',
    '<meta name="dc.identifier" scheme="doi" content="10.1000/ABC.1">',
    '<meta name="prism.doi" content="10.1000/ABC.1">',
    ('<script type="application/ld+json">{"@type": "ScholarlyArticle", "headline": "H", "identifier": '
     '{"@type": "PropertyValue", "propertyID": "DOI", "value": "10.1000/ABC.1"}}</script>'),
    ('<script type="application/ld+json">{"@type": "ScholarlyArticle", "headline": "H", '
     '"sameAs": ["https://example.org/h", "https://doi.org/10.1000/ABC.1"]}</script>'),
])
def test_the_declared_doi(head):
    meta = meta_of(head)
    assert declared_doi(meta) == "10.1000/ABC.1"
    assert "citation" in meta.page_types  # a page that declares its DOI is a paper


def test_no_doi_no_citation():
    meta = meta_of('<meta name="DC.identifier" content="ISSN 1234-5678"><meta property="og:type" content="article">')
    assert declared_doi(meta) is None and meta.page_types == ("article",)
    assert declared_arxiv_id(meta_of('<meta name="citation_arxiv_id" content="2401.01234v2">')) == "2401.01234"


@pytest.mark.parametrize("head, body, expected", [
    ('<meta name="citation_abstract" content="Abstract: We show that it works.">', "", "We show that it works."),
    ('<meta name="citation_abstract" content="Abstractive summaries are short.">', "", "Abstractive summaries are short."),
    ('<meta name="citation_abstract" content="&lt;p&gt;We &lt;i&gt;show&lt;/i&gt;, it.&lt;/p&gt;&lt;p&gt;So.&lt;/p&gt;">', "", "We show, it. So."),
    ("", ('<blockquote class="abstract mathjax"><span class="descriptor">Abstract:</span>Abstract reasoning is '
          "studied here in ten small language models across many careful tasks.</blockquote>"),
     "Abstract reasoning is studied here in ten small language models across many careful tasks."),
    ("", ('<section id="abstract"><h2>Abstract</h2><p>One two three four five six seven eight nine ten.</p>'
          "<p>Eleven twelve.</p></section>"), "One two three four five six seven eight nine ten. Eleven twelve."),
    ("", '<p class="abstract">Too short to be one.</p>', None),
])
def test_the_abstract(head, body, expected):
    assert paper_abstract(meta_of(head, body)) == expected


# -- pages without a main text ------------------------------------------------------------------

def test_a_page_without_text_still_has_its_metadata_but_makes_no_note():
    from ingest.errors import ExtractError
    from ingest.extract import extract_document
    from ingest.prepare import PageInput, extract_page

    html = ('<html><head><title>Launch notes | Example Lab</title>'
            '<meta property="article:published_time" content="2024-03-02T10:00:00+00:00"></head>'
            '<body><div id="app"></div></body></html>')
    document = extract_document(html, "https://example.org/launch", today=TODAY)
    assert (document.title, document.date, document.text) == ("Launch notes", "2024-03-02", "")
    with pytest.raises(ExtractError) as caught:
        extract_page(PageInput("https://example.org/launch", html=html), TODAY)
    assert caught.value.code == "no_main_text"


def test_an_arxiv_page_with_little_text_of_its_own_makes_a_note_from_its_abstract():
    from ingest.prepare import PageInput, extract_page

    abstract = "We study how sparse autoencoders recover features from superposition in small models. " * 3
    html = ('<html><head><meta name="citation_title" content="Sparse features">'
            '<meta name="citation_arxiv_id" content="2401.01234">'
            f'<meta name="citation_abstract" content="{abstract}"></head><body><p>Log in</p></body></html>')
    document = extract_page(PageInput("https://arxiv.org/abs/2401.01234", html=html), TODAY)
    assert document.text.startswith("### Abstract\n\nWe study how sparse autoencoders")
