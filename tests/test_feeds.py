"""parse_feed and looks_like_feed over real feeds from feedparser's test suite, copied into
tests/fixtures/feeds/ (see its README), two hand-made feeds, and the whole feed corpus."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import require_corpus
from ingest.errors import SourceError
from ingest.feeds import looks_like_feed, parse_feed

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
# where feedparser's own tests serve their files from; "relative to document URI" cases expect it
DOC_URI = "http://127.0.0.1:8097/tests/"


def parse(name: str, url: str = DOC_URI, content_type: str = "", charset: str | None = None):
    url = url + name if url == DOC_URI else url
    return parse_feed((FEEDS / name).read_bytes(), url, content_type, charset)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_rss_2_0_entry():
    feed = parse("fp-wellformed-namespace-rss2.0withAtomNS.xml")
    assert (feed.title, feed.link) == ("Delicious/wearehugh", "http://delicious.com/wearehugh")
    [item] = feed.items
    assert item.url == "http://www.kylev.com/2005/03/29/rsync-and-vfat/"  # <link>, not the guid
    assert item.entry_id == "http://delicious.com/url/174603f9d836a1aafac49e28ace1c19e#wearehugh"
    assert item.title == "rsync and vfat | Geek at Play"
    assert item.published == utc(2009, 12, 25, 3, 30, 22)
    assert item.author == "wearehugh"  # dc:creator
    assert item.categories == ("rsync", "vfat", "windows", "linux", "mount")


def test_rss_1_0_rdf_entry_dated_by_dcterms_modified():
    feed = parse("fp-wellformed-namespace-rss1.0withModulesNoDefNS.xml")
    assert feed.title == "RSS Tests - RSS 1.0 no Default NS"
    [item] = feed.items
    assert item.url == "http://www.pocketsoap.com/weblog/rssTests/rss1.0withModulesNoDefNS.xml#1"
    assert item.title == "Test Item - RSS 1.0 no Default NS"
    assert item.published == utc(2002, 9, 28, 20, 1, 19)
    assert item.summary.startswith("This is a fairly standard RSS 1.0 feed") and "\n" not in item.summary


def test_rss_0_9x_feeds_parse_and_entries_without_a_link_are_skipped():
    rss090 = parse("fp-wellformed-rdf-rss090_item_title.xml")  # one <item>, with a title but no link
    assert (rss090.title, rss090.items) == ("Example title", ())
    assert parse("fp-wellformed-rss-rss_version_092.xml").items == ()  # empty but valid: no error


def test_atom_1_0_prefers_the_alternate_link_and_converts_dates_to_utc():
    feed = parse("fp-wellformed-namespace-atomthreadingwithentry.xml")
    assert feed.title == "Comments on salmon-test: Test post"
    assert feed.link == "http://salmon-test.blogspot.com/2009/10/test-post.html"
    [item] = feed.items
    # the entry also has rel="edit" and rel="self" links, listed first
    assert item.url == ("http://salmon-test.blogspot.com/2009/10/test-post.html"
                        "?showComment=1260320342544#c4788628857625737701")
    assert item.entry_id == "tag:blogger.com,1999:blog-893591374313312737.post-4788628857625737701"
    assert item.published == utc(2009, 12, 9, 0, 59, 2)  # 2009-12-08T16:59:02.544-08:00
    assert item.published.tzinfo is timezone.utc
    assert item.author == "John"
    assert item.summary == "bloffo bliff by te..."  # from <content type="html">, link markup gone


def test_atom_0_3_feed_link():
    feed = parse("fp-wellformed-atom-feed_link_alternate_map_link.xml")
    assert (feed.link, feed.items) == ("http://www.example.com/", ())


def test_relative_item_link_resolves_against_the_feed_url():
    [item] = parse("fp-wellformed-base-http_item_link_base_docuri.xml").items
    assert item.url == "http://127.0.0.1:8097/relative/uri"


def test_relative_channel_link_resolves_against_content_location():
    # INDEX.json serves this file with "Content-Location: http://example.com/" (and so text/xml)
    name = "fp-wellformed-base-http_channel_link_base_content_location.xml"
    feed = parse(name, "http://example.com/", "text/xml")
    assert feed.link == "http://example.com/relative/uri"


def test_charset_from_the_http_header_overrides_the_xml_declaration():
    # declared iso-8859-1, served as "text/xml; charset=windows-1252": 0x93/0x94 are curly quotes
    [item] = parse("fp-encoding-http_text_xml_charset_overrides_encoding_2.xml", "http://example.com/feed",
                   "text/xml", "windows-1252").items
    assert (item.url, item.title) == ("http://purl.org/rss/2.0/?item", "Foo")
    assert item.summary == "This is a \xa3\u201ctest.\u201d"


def test_utf8_without_declaration_or_content_type():
    # feedparser alone would read a document given headers but no Content-Type as ISO-8859-1
    content = "<rss version='2.0'><channel><title>Café Zürich — notes</title></channel></rss>".encode()
    assert parse_feed(content, "https://example.org/feed").title == "Café Zürich — notes"


def test_non_utf8_encodings():
    assert parse("fp-encoding-euc-kr.xml").title == "\ub144"
    assert parse("fp-encoding-utf-16le-bom.xml").items == ()  # well-formed UTF-16: no error


def test_ill_formed_feed_that_feedparser_recovers():
    [item] = parse("fp-illformed-rss_item_link_corrupted_ampersands.xml").items  # ends in "</rss"
    assert item.url == "http://link/get?a=1&b=2"


def test_ill_formed_feed_without_entries_is_an_empty_feed():
    # an undeclared namespace prefix stops the XML parser, but the RSS 2.0 root is recognized
    assert parse("fp-illformed-undeclared_namespace.xml").items == ()


def test_made_rss_feed():
    feed = parse("made-rss2.xml", "https://example.org/feed.xml")
    assert (feed.title, feed.link, feed.ttl) == ("Lab Notes & Preprints", "https://example.org/blog/", 3600.0)
    first, cats, mirrored = feed.items  # the duplicate and the entry without a link are gone
    assert first.url == "https://example.org/blog/2024/sparse-attention"
    assert first.entry_id == "post-101"
    assert first.title == "Sparse attention, revisited"
    assert first.published == utc(2024, 3, 5, 8, 30)
    assert first.author == "Ada Lovelace, Alan Turing"
    assert first.categories == ("Machine Learning", "attention")  # "machine learning" repeats the first
    assert first.summary == "We look again at sparse attention. Two results & one caveat."
    assert (cats.title, cats.author, cats.published) == ("Cats & dogs", "Grace Hopper", None)
    assert mirrored.url == "https://mirror.example.net/archive/2024/mirrored"  # xml:base on the item


def test_duplicate_urls_keep_the_first_entry_in_document_order():
    items = parse("made-rss2.xml", "https://example.org/feed.xml").items
    assert [i.title for i in items if i.url.endswith("/sparse-attention")] == ["Sparse attention, revisited"]
    assert [i.published.day for i in items if i.published] == [5, 4]  # not sorted by date


@pytest.mark.parametrize("content_type", ["application/feed+json", "application/json; charset=utf-8", ""])
def test_json_feed(content_type):
    feed = parse("made-jsonfeed.json", "https://notes.example.com/feed.json", content_type)
    assert (feed.title, feed.link, feed.ttl) == ("Field Notes", "https://notes.example.com/", None)
    assert [i.url for i in feed.items] == [
        "https://notes.example.com/2024/05/coral-reefs",  # relative url, against home_page_url
        "https://journal.example.org/article/42",  # external_url
        "https://notes.example.com/2024/04/permalink-in-id",  # id
    ]  # the item without any URL and the duplicate are gone
    reefs, linked, by_id = feed.items
    assert (reefs.entry_id, reefs.title) == ("1", "Coral reefs & heat waves")
    assert reefs.published == utc(2024, 5, 1, 12, 0)
    assert reefs.author == "Rachel Carson, Jacques Cousteau"
    assert reefs.categories == ("oceans", "climate")
    assert reefs.summary == "What the 2023 bleaching event tells us."
    assert linked.author == "Rachel Carson"  # a JSON Feed 1.0 "author"
    assert linked.summary == "Commentary on an article."  # from content_html
    assert by_id.published == utc(2024, 4, 29, 10, 0)  # date_modified stands in


@pytest.mark.parametrize("date, expected", [
    ("2024-05-01T08:00:00.5-04:00", utc(2024, 5, 1, 12, 0, 0, 500000)),
    ("2024-05-01T08:00:00", utc(2024, 5, 1, 8, 0)),  # no offset: taken as UTC
    ("Wed, 01 May 2024 08:00:00 +0200", utc(2024, 5, 1, 6, 0)),  # RSS-style, seen in the wild
    ("last Tuesday", None),
    (20240501, None),
])
def test_json_feed_dates(date, expected):
    doc = {"version": "https://jsonfeed.org/version/1",
           "items": [{"url": "https://e.org/1", "date_published": date}]}
    [item] = parse_feed(json.dumps(doc).encode(), "https://e.org/feed.json").items
    assert item.published == expected


def test_summary_is_plain_text_trimmed_to_about_500_characters():
    words = " ".join(f"word{n}" for n in range(1000))
    html = f"<script>var x = '<p>';</script><p>{words}</p><style>p {{ color: red }}</style>"
    doc = {"version": "https://jsonfeed.org/version/1.1",
           "items": [{"url": "https://e.org/1", "content_html": html}]}
    [item] = parse_feed(json.dumps(doc).encode(), "https://e.org/feed.json").items
    assert item.summary.startswith("word0 word1 ") and item.summary.endswith("…")
    assert len(item.summary) <= 501 and "<" not in item.summary and "var x" not in item.summary


def test_hostile_html_is_stripped_in_linear_time():
    doc = {"version": "https://jsonfeed.org/version/1.1",
           "items": [{"url": f"https://e.org/{n}", "content_html": junk * 20_000}
                     for n, junk in enumerate(["<script", "<a ", "<", "<style>"])]}
    started = time.monotonic()
    parse_feed(json.dumps(doc).encode(), "https://e.org/feed.json")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("period, frequency, seconds", [("hourly", "2", 1800.0), ("daily", "", 86400.0),
                                                        ("weekly", "x", None)])
def test_ttl_from_syndication_module(period, frequency, seconds):
    doc = (f'<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
           f"<sy:updatePeriod>{period}</sy:updatePeriod><sy:updateFrequency>{frequency}</sy:updateFrequency>"
           f"</channel></rss>").encode()
    assert parse_feed(doc, "https://example.org/feed").ttl == seconds


SITEMAP = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           b"<url><loc>https://example.org/</loc></url></urlset>")
MALFORMED = [
    (b'<?xml version="1.0"?>\n<notes>\n<note></notes>\n', "not a feed: mismatched tag at line 3"),
    (b"<notes>\n<note></notes>\n", "not a feed: mismatched tag at line 2"),
    (b"Service Unavailable", "not a feed: syntax error at line 1"),
    (b"", "not a feed: empty document"),
    (SITEMAP, "not a feed: <urlset> is not an RSS, Atom or RDF root element"),
    (b'{"items": []', "not a feed: invalid JSON"),
    (b'{"name": "a config file"}', "not a feed: JSON without a jsonfeed.org version"),
]


@pytest.mark.parametrize("content, message", MALFORMED)
def test_a_document_that_is_no_feed_raises_source_error(content, message):
    with pytest.raises(SourceError) as caught:
        parse_feed(content, "https://example.org/feed")
    assert caught.value.code == "feed_malformed"
    assert caught.value.url == "https://example.org/feed"
    assert caught.value.message.startswith(message) and "\n" not in caught.value.message


HTML_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>Blog</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml">
</head><body><p>Welcome</p></body></html>"""


def test_an_html_page_raises_source_error():
    with pytest.raises(SourceError, match="^not a feed: looks like an HTML page$") as caught:
        parse_feed(HTML_PAGE, "https://example.org/", "text/html", "utf-8")
    assert caught.value.code == "feed_malformed"


def test_content_is_never_taken_for_a_file_name_or_a_url(tmp_path):
    # feedparser.parse() would open a local file or fetch a URL if handed one as the document
    path = tmp_path / "feed.xml"
    path.write_bytes((FEEDS / "made-rss2.xml").read_bytes())
    for content in (str(path).encode(), b"http://127.0.0.1:9/feed.xml"):
        with pytest.raises(SourceError):
            parse_feed(content, "https://example.org/feed")


@pytest.mark.parametrize("name", [
    "fp-wellformed-namespace-rss2.0withAtomNS.xml",
    "fp-wellformed-namespace-rss1.0withModulesNoDefNS.xml",
    "fp-wellformed-rdf-rss090_item_title.xml",
    "fp-wellformed-rss-rss_version_092.xml",
    "fp-wellformed-namespace-atomthreadingwithentry.xml",
    "fp-wellformed-atom-feed_link_alternate_map_link.xml",
    "fp-encoding-utf-16le-bom.xml",
    "made-rss2.xml",
    "made-jsonfeed.json",
])
def test_looks_like_feed_for_feeds(name):
    assert looks_like_feed((FEEDS / name).read_bytes())


@pytest.mark.parametrize("content, content_type", [
    (HTML_PAGE, "text/html"),
    (HTML_PAGE, "application/rss+xml"),  # the body wins over a wrong header
    (SITEMAP, "application/xml"),
    (b'{"name": "a config file"}', "application/json"),
    (b"", ""),
])
def test_looks_like_feed_for_other_documents(content, content_type):
    assert not looks_like_feed(content, content_type)


def test_looks_like_feed_trusts_the_content_type_only_when_the_root_is_out_of_sight():
    content = b"<!--" + b"x" * 5000 + b"-->\n<rss version='2.0'><channel></channel></rss>"
    assert looks_like_feed(content, "application/rss+xml")
    assert not looks_like_feed(content, "text/xml")


def test_ten_thousand_entries():
    entries = "".join(f"<item><title>Post {n}</title><link>/p/{n}</link></item>" for n in range(10_000))
    content = f'<?xml version="1.0"?><rss version="2.0"><channel>{entries}</channel></rss>'.encode()
    started = time.monotonic()
    feed = parse_feed(content, "https://example.org/feed")
    assert len(feed.items) == 10_000
    assert time.monotonic() - started < 5


def test_every_well_formed_corpus_feed_parses_or_raises_source_error():
    require_corpus(CORPUS / "INDEX.json", "feed corpus")
    failures = []
    for case in json.loads((CORPUS / "INDEX.json").read_text())["feeds"]:
        if case["ill_formed"]:
            continue
        headers = {name.lower(): value for name, value in case["http_headers"].items()}
        content_type = headers.get("content-type", "text/xml" if headers else "")
        url = headers.get("content-location", DOC_URI + case["file"])
        try:
            parse_feed((CORPUS / case["file"]).read_bytes(), url, content_type)
        except SourceError:
            pass
        except Exception as exc:  # noqa: BLE001 - any other exception is the failure being looked for
            failures.append(f"{case['file']}: {exc!r}")
    assert failures == []


def test_atom_entry_with_only_updated_tags_and_several_authors():
    content = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/blog/">
  <title type="html">Notes &amp;amp; &lt;i&gt;drafts&lt;/i&gt;</title>
  <entry>
    <id>tag:example.org,2024:1</id>
    <title>Only updated</title>
    <link rel="enclosure" href="https://cdn.example.org/a.mp3"/>
    <link href="posts/1"/>
    <updated>2024-02-29T23:30:00+01:00</updated>
    <author><name>Ada</name></author><author><email>bob@example.org</email></author>
    <category term="ml" label="Machine learning"/><category term="stats"/>
  </entry>
  <entry>
    <id>tag:example.org,2024:2</id>
    <title>A podcast episode: only an enclosure and a self link, no page</title>
    <link rel="enclosure" href="https://cdn.example.org/b.mp3"/>
    <link rel="self" href="https://example.org/api/entries/2"/>
  </entry>
</feed>"""
    feed = parse_feed(content, "https://example.org/atom.xml", "application/atom+xml")
    assert feed.title == "Notes & drafts"
    [item] = feed.items
    assert item.url == "https://example.org/blog/posts/1"  # xml:base, and not the enclosure
    assert item.published == utc(2024, 2, 29, 22, 30)
    assert item.author == "Ada"  # an address alone is no name
    assert item.categories == ("ml", "stats")
