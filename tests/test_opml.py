"""ingest.opml: a feed reader's OPML export → Sources, and Sources → OPML that round-trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from ingest.errors import SourceError
from ingest.records import NoteDefaults, Source
from ingest.opml import sources_from_opml, sources_to_opml
from ingest.sources import DEFAULT_SOURCES, add_source, load_sources

FIXTURES = Path(__file__).parent / "fixtures" / "opml"
REPO = Path(__file__).resolve().parent.parent
EXPORT = (FIXTURES / "inoreader-research.opml").read_bytes()


def test_import_a_feed_reader_export():
    sources, failed = sources_from_opml(EXPORT, set())
    assert failed == []
    assert [(s.name, s.url, s.kind) for s in sources] == [
        ("ai-alignment-forum", "https://www.alignmentforum.org/feed.xml", "feed"),
        ("redwood-research-blog", "https://blog.redwoodresearch.org/feed", "feed"),
        ("google-deepmind-blog", "https://deepmind.google/blog/rss.xml", "feed"),  # nested two folders deep
        ("openai-news", "https://openai.com/news/rss.xml", "feed"),
        ("cs-ai-updates-on-arxiv-org", "https://rss.arxiv.org/rss/cs.AI", "feed"),
        ("distill", "https://distill.pub/rss.xml", "feed"),  # title only, no text
        ("import-ai", "https://importai.substack.com/feed", "feed"),
        ("the-gradient", "https://thegradient.pub/rss/", "feed"),  # feed:// spelled out
        # its title has no ASCII spelling: named by its URL
        ("bair-berkeley-blog", "https://bair.berkeley.edu/blog/feed.xml", "feed"),
    ]
    # skipped: the folders, Anthropic (an htmlUrl, no feed), the Alignment Forum listed a second time
    assert all(s == Source(name=s.name, url=s.url, kind="feed", defaults=s.defaults) for s in sources)
    # each feed is tagged with the folders it is filed in, outermost first
    assert [s.defaults for s in sources] == [NoteDefaults(tags=tags) for tags in (
        ("ai-safety",), ("ai-safety",), ("ai-safety", "labs"), ("ai-safety", "labs"), ("papers",), ("papers",),
        ("newsletters-essays",), ("newsletters-essays",), ("newsletters-essays",))]


def test_import_avoids_taken_names_and_does_not_touch_them():
    taken = {"import-ai", "distill", "distill-2"}
    names = [s.name for s in sources_from_opml(EXPORT, taken).sources]
    assert "import-ai-2" in names and "distill-3" in names
    assert len(set(names)) == len(names)
    assert not set(names) & taken
    assert taken == {"import-ai", "distill", "distill-2"}


def test_imported_sources_can_be_added_to_a_sources_file(tmp_path):
    path = tmp_path / "sources.toml"
    for source in sources_from_opml(EXPORT, set()).sources:
        add_source(path, source)
    assert [s.name for s in load_sources(path)] == [s.name for s in sources_from_opml(EXPORT, set()).sources]


def test_export_is_opml_2_a_feed_reader_understands():
    sources = [
        Source(name="bair-blog", url="https://bair.berkeley.edu/blog/feed.xml", kind="feed"),
        Source(name="anthropic-research", url="https://www.anthropic.com/research", kind="page"),
        Source(name="anthropic-sitemap", url="https://www.anthropic.com/sitemap.xml", kind="sitemap"),
        Source(name="epoch-ai", url="https://epoch.ai/blog"),
    ]
    root = etree.fromstring(sources_to_opml(sources, title="My sources"))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "My sources"
    outlines = root.findall("body/outline")
    assert [dict(o.attrib) for o in outlines] == [
        {"text": "bair-blog", "title": "bair-blog", "type": "rss",
         "xmlUrl": "https://bair.berkeley.edu/blog/feed.xml"},
        {"text": "anthropic-research", "title": "anthropic-research", "type": "link",
         "url": "https://www.anthropic.com/research", "ingestKind": "page"},
        {"text": "anthropic-sitemap", "title": "anthropic-sitemap", "type": "link",
         "url": "https://www.anthropic.com/sitemap.xml", "ingestKind": "sitemap"},
        {"text": "epoch-ai", "title": "epoch-ai", "type": "rss", "xmlUrl": "https://epoch.ai/blog",
         "ingestKind": "auto"},
    ]


def test_round_trip_of_the_shipped_sources(tmp_path):
    text = (REPO / DEFAULT_SOURCES).read_text()
    path = tmp_path / "sources.toml"
    path.write_text(re.sub(r"(?m)^# (?=\[\[source\]\]|[a-z_]+ = )", "", text))  # the commented ones too
    sources = load_sources(path)
    assert {s.kind for s in sources} >= {"feed", "page", "sitemap", None}
    back = sources_from_opml(sources_to_opml(sources), set()).sources
    assert [(s.name, s.url, s.kind) for s in back] == [(s.name, s.url, s.kind) for s in sources]


def test_round_trip_of_odd_urls_and_names():
    sources = [
        Source(name="q", url="https://example.org/feed?tag=a&lang=en", kind="feed"),
        Source(name="x-2", url="https://example.org/p%C3%A9/<x>\"", kind="page"),
    ]
    back = sources_from_opml(sources_to_opml(sources), set()).sources
    assert [(s.name, s.url, s.kind) for s in back] == [(s.name, s.url, s.kind) for s in sources]


def test_empty_export():
    assert sources_from_opml(sources_to_opml([]), set()) == ([], [])
    assert sources_from_opml(b'<opml version="1.1"><head/><body/></opml>', set()) == ([], [])


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["not a valid OPML file"]),
        (b"<opml><body><outline text='a'></body></opml>", ["not a valid OPML file", "line 1", "mismatch"]),
        (b"<?xml version='1.0'?>\n<opml>\n<body>\n<outline text='a' xmlUrl='https://a.org/f'>\n</opml>",
         ["line 5"]),
        (b"<html><body><a href='https://a.org/feed'>feed</a></body></html>", ["not an OPML file", "<html>"]),
        (b"<opml version='2.0'><head/></opml>", ["no <body>"]),
        (b"\xff\xfe<\x00o\x00", ["not a valid OPML file"]),
    ],
)
def test_malformed_opml_is_a_one_line_error(content, words):
    with pytest.raises(SourceError) as caught:
        sources_from_opml(content, set())
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_bad_outline_is_reported_and_the_others_are_read():
    content = (b"<opml><body>"
               b"<outline text='Good' xmlUrl='https://good.example/feed'/>"
               b"<outline text='Evil' xmlUrl='javascript:alert(1)'/>"
               b"<outline xmlUrl='https://exa mple.org/feed'/>"
               b"<outline text='Also good' xmlUrl='https://also.example/feed'/>"
               b"</body></opml>")
    sources, failed = sources_from_opml(content, set())
    assert [s.name for s in sources] == ["good", "also-good"]
    assert failed == [
        "OPML outline 'Evil': xmlUrl must be an http:// or https:// address: unsupported URL scheme 'javascript:'; "
        "only http:// and https:// pages are fetched, got 'javascript:alert(1)'",
        "OPML outline 'https://exa mple.org/feed': xmlUrl must be an http:// or https:// address: URL contains "
        "spaces or line breaks; percent-encode a space as %20, got 'https://exa mple.org/feed'",
    ]


@pytest.mark.parametrize(
    ("folders", "tags"),
    [
        (["Reading"], ("reading",)),
        (["News &amp; Views", "Daily"], ("news-views", "daily")),
        (["\u7814\u7a76", "AI"], ("ai",)),  # a title with no ASCII spelling makes no tag
        (["AI", "ai"], ("ai",)),  # the same tag once
        (["  "], ()),
    ],
)
def test_folders_become_tags(folders, tags):
    inner = "<outline text='Feed' xmlUrl='https://feed.example/rss'/>"
    for title in reversed(folders):
        inner = f"<outline text='{title}'>{inner}</outline>"
    [source], failed = sources_from_opml(f"<opml><body>{inner}</body></opml>".encode(), set())
    assert source.defaults.tags == tags and failed == []


def test_imported_tags_are_written_to_the_sources_file(tmp_path):
    path = tmp_path / "sources.toml"
    for source in sources_from_opml(EXPORT, set()).sources:
        add_source(path, source)
    assert load_sources(path)[3].defaults.tags == ("ai-safety", "labs")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><head><title>&lol9;</title></head><body>
<outline text="&lol9;" type="rss" xmlUrl="https://example.org/feed"/>
</body></opml>
"""


def test_billion_laughs_is_refused_not_expanded():
    with pytest.raises(SourceError, match="entities"):
        sources_from_opml(BILLION_LAUGHS, set())


def test_entities_are_refused_even_when_spelled_in_utf16():
    # the byte check cannot see this one; the parsed document's DTD is checked as well
    document = BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(SourceError):
        sources_from_opml(document.decode().encode("utf-16"), set())
    small = (b'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY a "https://evil.example/">]>'
             b'<opml><body><outline text="a" xmlUrl="&a;"/></body></opml>').decode().encode("utf-16")
    with pytest.raises(SourceError, match="entities"):
        sources_from_opml(small, set())


def test_external_entities_are_not_read():
    document = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<opml><body><outline text="&x;" xmlUrl="https://a.org/f"/></body></opml>')
    with pytest.raises(SourceError) as caught:
        sources_from_opml(document, set())
    assert "root:" not in str(caught.value)
