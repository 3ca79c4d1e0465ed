"""Sitemaps: urlset and index documents, gzip and its limits, hostile XML, text sitemaps."""

from __future__ import annotations

import gzip
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.errors import SourceError
from ingest.sitemaps import Sitemap, parse_sitemap

LISTING = Path(__file__).parent / "fixtures" / "listing"
SITEMAP_URL = "https://www.example-lab.org/sitemap-research.xml"


def urlset_bytes() -> bytes:
    return (LISTING / "sitemap-research.xml").read_bytes()


def test_urlset_items_with_lastmod_as_aware_utc():
    sitemap = parse_sitemap(urlset_bytes(), SITEMAP_URL)
    assert sitemap.sitemaps == ()
    assert [(i.url, i.published) for i in sitemap.items] == [
        (
            "https://www.example-lab.org/research/scaling-laws-for-mixture-of-experts",
            datetime(2024, 6, 1, 6, 30, tzinfo=UTC),
        ),
        ("https://www.example-lab.org/research/sparse-probing", datetime(2024, 5, 2, tzinfo=UTC)),
        (
            "https://www.example-lab.org/research/offline-rl-benchmarks?id=7&v=2",  # query sorted
            datetime(2024, 4, 18, 16, 5, 9, tzinfo=UTC),
        ),
        ("https://www.example-lab.org/research/tokenizer-free-models", None),
        ("https://www.example-lab.org/papers/2024/offline-rl-benchmarks.pdf", None),
    ]
    assert all(i.published.utcoffset() == timedelta(0) for i in sitemap.items if i.published)


def test_sitemap_index_children_are_absolute():
    content = (LISTING / "sitemap-index.xml").read_bytes()
    sitemap = parse_sitemap(content, "https://www.example-lab.org/sitemap.xml")
    assert sitemap == Sitemap(
        items=(),
        sitemaps=(
            "https://www.example-lab.org/sitemap-research.xml",
            "https://blog.example-lab.org/sitemap.xml.gz",
            "https://www.example-lab.org/sitemap-pages.xml",
        ),
    )


def test_sitemap_without_namespace():
    content = b"""
    <?xml version="1.0"?>
    <urlset><url><loc>https://lab.example.org/a</loc><lastmod>2024-01-05T10:00</lastmod></url>
    <url><loc>https://lab.example.org/b</loc><lastmod>2023-11</lastmod></url></urlset>"""
    items = parse_sitemap(content, "https://lab.example.org/sitemap.xml").items
    assert [(i.url, i.published) for i in items] == [
        ("https://lab.example.org/a", datetime(2024, 1, 5, 10, 0, tzinfo=UTC)),
        ("https://lab.example.org/b", datetime(2023, 11, 1, tzinfo=UTC)),
    ]
    index = b"<sitemapindex><sitemap><loc>https://lab.example.org/s1.xml</loc></sitemap></sitemapindex>"
    assert parse_sitemap(index, "https://lab.example.org/").sitemaps == ("https://lab.example.org/s1.xml",)


def test_gzipped_sitemap_is_decompressed():
    plain = parse_sitemap(urlset_bytes(), SITEMAP_URL)
    assert parse_sitemap(gzip.compress(urlset_bytes()), SITEMAP_URL) == plain
    assert len(plain.items) == 5
    two_members = gzip.compress(b"https://lab.example.org/a\n") + gzip.compress(b"https://lab.example.org/b")
    assert len(parse_sitemap(two_members, SITEMAP_URL).items) == 2


def test_gzip_bomb_stops_at_max_bytes():
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()  # 200 MB of zeros
    assert len(bomb) < 300_000
    start = time.perf_counter()
    with pytest.raises(SourceError) as caught:
        parse_sitemap(bomb, SITEMAP_URL, max_bytes=1 << 20)
    assert caught.value.code == "too_large"
    assert time.perf_counter() - start < 1.0


def test_oversized_plain_body_is_too_large():
    with pytest.raises(SourceError) as caught:
        parse_sitemap(urlset_bytes(), SITEMAP_URL, max_bytes=100)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize("content", [b"\x1f\x8b\x08\x00garbage", gzip.compress(b"<urlset></urlset>")[:-12]])
def test_broken_gzip_is_malformed(content):
    with pytest.raises(SourceError) as caught:
        parse_sitemap(content, SITEMAP_URL)
    assert caught.value.code == "sitemap_malformed"


def test_malformed_xml_is_a_one_line_source_error():
    content = b"<urlset><url><loc>https://lab.example.org/a</loc></urlset>"
    with pytest.raises(SourceError) as caught:
        parse_sitemap(content, SITEMAP_URL)
    assert caught.value.code == "sitemap_malformed"
    assert caught.value.url == SITEMAP_URL
    assert "\n" not in caught.value.message


def test_other_xml_is_refused_naming_its_root():
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    with pytest.raises(SourceError, match="<rss>"):
        parse_sitemap(rss, SITEMAP_URL)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://lab.example.org/&lol9;</loc></url>
  <url><loc>https://lab.example.org/ok</loc></url>
</urlset>"""


def test_billion_laughs_is_not_expanded():
    start = time.perf_counter()
    try:
        result = parse_sitemap(BILLION_LAUGHS, SITEMAP_URL)
    except SourceError:
        result = None
    assert time.perf_counter() - start < 1.0
    if result is not None:
        assert all(len(i.url) < 1000 for i in result.items)
        assert "https://lab.example.org/ok" in [i.url for i in result.items]


@pytest.mark.parametrize(
    "where",
    [
        "<loc>https://lab.example.org/&xxe;</loc>",
        "<loc>&xxe;</loc>",
        "<loc>https://lab.example.org/a</loc><lastmod>&xxe;</lastmod>",
    ],
)
def test_external_entities_are_never_resolved(where):
    content = f"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>{where}</url></urlset>""".encode()
    try:
        result = repr(parse_sitemap(content, SITEMAP_URL))
    except SourceError as exc:
        result = exc.message
    assert "root:" not in result


def test_a_loc_holding_an_unexpanded_entity_is_skipped_not_truncated():
    content = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY slug "secret-post">]>
<urlset>
  <url><loc>https://lab.example.org/&slug;</loc></url>
  <url><loc>https://lab.example.org/b</loc></url>
</urlset>"""
    assert [i.url for i in parse_sitemap(content, SITEMAP_URL).items] == ["https://lab.example.org/b"]


def test_text_sitemap_one_url_per_line():
    content = (
        b"\xef\xbb\xbfhttps://lab.example.org/a\r\n\r\n  https://lab.example.org/b  \n"
        b"https://lab.example.org/a/\nnot a url\nftp://x.org/f\n"
    )
    sitemap = parse_sitemap(content, "https://lab.example.org/sitemap.txt")
    assert [(i.url, i.published) for i in sitemap.items] == [
        ("https://lab.example.org/a", None),
        ("https://lab.example.org/b", None),
    ]
    assert sitemap.sitemaps == ()


def test_empty_body_is_an_empty_sitemap_and_junk_is_refused():
    assert parse_sitemap(b"  \n", SITEMAP_URL) == Sitemap(items=(), sitemaps=())
    with pytest.raises(SourceError) as caught:
        parse_sitemap(b'{"urls": []}', SITEMAP_URL)
    assert caught.value.code == "not_a_sitemap"
