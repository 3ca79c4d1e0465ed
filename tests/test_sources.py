"""ingest.sources: the sources file read into Sources, edited in place without losing a comment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.records import NoteDefaults, Source
from ingest.sources import (
    DEFAULT_SOURCES,
    add_source,
    format_interval,
    load_sources,
    parse_interval,
    remove_source,
    set_source_url,
    source_from_options,
    unique_name,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / DEFAULT_SOURCES

HAND_WRITTEN = """\
# Sources of the test vault.

[[source]]
name = "bair-blog"   # Berkeley
url = "https://bair.berkeley.edu/blog/feed.xml"
kind = "feed"
every = "2h"
include = ['^https://bair\\.berkeley\\.edu/blog/\\d{4}/']
exclude = ["/tag/", "/author/"]
domain = "ai-alignment"
secondary_domains = ["collective-intelligence"]
format = "research-post"
priority = "high"
tags = ["bair", "robotics"]
author = "BAIR"
template = "templates/bair.md.j2"
backfill = 0

# Watched page, kind to be discovered.
[[source]]
name = "anthropic-research"
url = "https://www.anthropic.com/research"
every = 1800

[[source]]
name = "old-blog"
url = "http://example.org/feed"
enabled = false

# [[source]]
# name = "commented-out"
# url = "https://example.com/feed"
"""


@pytest.fixture
def sources_file(tmp_path) -> Path:
    path = tmp_path / "vault" / "config" / "sources.toml"
    path.parent.mkdir(parents=True)
    (path.parent / "templates").mkdir()
    (path.parent / "templates" / "bair.md.j2").write_text("---\n---\n")
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


# ---- the shipped file ----------------------------------------------------------------------------


def test_shipped_sources_load():
    sources = load_sources(SHIPPED)
    assert sources, "config/sources.toml enables no source"
    enabled = [s for s in sources if s.enabled]
    assert 4 <= len(enabled) <= 6
    for s in sources:
        assert s.name and s.url
        assert s.defaults.domain and s.defaults.format
    for s in enabled:
        assert s.url.startswith("https://")
        assert "example" not in s.url
    arxiv = [s for s in sources if "arxiv.org" in s.url]
    assert arxiv and all(s.defaults.format == "paper" and s.every == 86400 and s.backfill <= 3 for s in arxiv)


def test_shipped_sources_with_the_shipped_settings():
    from ingest.config import load_settings

    settings = load_settings(REPO / "config" / "ingest.toml", env={})
    sources = load_sources(SHIPPED, domains=settings.domains, formats=settings.formats)
    assert sources and all(s.defaults.domain in settings.domains and s.defaults.format in settings.formats
                           for s in sources)


def test_shipped_commented_sources_are_valid_once_uncommented(tmp_path):
    """A curator enables a source by removing '# ' before its lines: that must give a valid file."""
    text = SHIPPED.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# (?=\[\[source\]\]|[a-z_]+ = )", "", text)
    assert uncommented.count("[[source]]") > text.count("\n[[source]]") + 5
    sources = load_sources(write(tmp_path, uncommented))
    kinds = {s.kind for s in sources}
    assert {"feed", "page", "sitemap", None} <= kinds
    assert any(s.include for s in sources if s.kind == "page")


# ---- reading -------------------------------------------------------------------------------------


def test_load_hand_written_file(sources_file):
    bair, anthropic, old = load_sources(sources_file)
    assert bair == Source(
        name="bair-blog",
        url="https://bair.berkeley.edu/blog/feed.xml",
        kind="feed",
        every=7200.0,
        include=(r"^https://bair\.berkeley\.edu/blog/\d{4}/",),
        exclude=("/tag/", "/author/"),
        defaults=NoteDefaults(
            domain="ai-alignment",
            secondary_domains=("collective-intelligence",),
            format="research-post",
            priority="high",
            tags=("bair", "robotics"),
            author="BAIR",
        ),
        template=str((sources_file.parent / "templates" / "bair.md.j2").resolve()),
        backfill=0,
        enabled=True,
    )
    assert anthropic == Source(
        name="anthropic-research", url="https://www.anthropic.com/research", every=1800.0
    )
    assert anthropic.kind is None and anthropic.defaults == NoteDefaults() and anthropic.backfill == 3
    assert old.enabled is False and old.every == 6 * 3600


def test_template_is_relative_to_the_sources_file_not_the_cwd(sources_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_sources(sources_file)[0].template == str(sources_file.parent / "templates" / "bair.md.j2")


def test_missing_file_is_no_sources(tmp_path):
    assert load_sources(tmp_path / "nope.toml") == []


def test_comments_only_is_no_sources(tmp_path):
    assert load_sources(write(tmp_path, "# nothing yet\n")) == []


SOURCE = '[[source]]\nname = "bair"\nurl = "https://bair.berkeley.edu/blog/feed.xml"\n'

BAD = [
    # (text, words the message must hold)
    (SOURCE + 'every = "often"\n', ["source 'bair'", "key 'every'", '"30m"', '"2h"', '"1d"']),
    (SOURCE + 'every = "2m"\n', ["source 'bair'", "key 'every'", "at least 5 minutes"]),
    (SOURCE + "every = 60\n", ["key 'every'", "at least 5 minutes"]),
    (SOURCE + "every = 0\n", ["key 'every'", '"30m"']),
    (SOURCE + "every = true\n", ["key 'every'", '"30m"']),
    (SOURCE + 'kind = "atom"\n', ["key 'kind'", "feed, page, sitemap", "'atom'"]),
    (SOURCE + 'evry = "2h"\n', ["unknown key 'evry'", "did you mean 'every'", "allowed keys are", "include"]),
    (SOURCE + 'include = ["[unclosed"]\n', ["key 'include'", "'[unclosed'", "regular expression"]),
    (SOURCE + 'exclude = ["(?P<x"]\n', ["key 'exclude'", "'(?P<x'"]),
    (SOURCE + "include = [1]\n", ["key 'include'", "list of regular expressions"]),
    (SOURCE + 'priority = "urgent"\n', ["key 'priority'", "high, medium, low"]),
    (SOURCE + 'tags = ["Machine Learning"]\n', ["key 'tags'", "'Machine Learning'", "kebab-case"]),
    (SOURCE + 'domain = ""\n', ["key 'domain'", "non-empty string"]),
    (SOURCE + 'secondary_domains = "x, y"\nformat = 3\n', ["key 'format'", "string"]),
    (SOURCE + 'template = "nowhere.md.j2"\n', ["key 'template'", "nowhere.md.j2", "does not exist"]),
    (SOURCE + "every = 1e308\n", ["key 'every'", "at least 5 minutes", 'at most 365 days ("365d")', "got 1e+308"]),
    (SOURCE + 'every = "99999999999999999999w"\n', ["key 'every'", "at most 365 days", "99999999999999999999w"]),
    (SOURCE + 'every = "366d"\n', ["key 'every'", "at most 365 days"]),
    (SOURCE + "backfill = -1\n", ["key 'backfill'", "from 0 to 100000"]),
    (SOURCE + "backfill = 1e308\n", ["key 'backfill'", "from 0 to 100000"]),
    (SOURCE + "backfill = 2.5\n", ["key 'backfill'", "whole number"]),
    (SOURCE + 'enabled = "yes"\n', ["key 'enabled'", "true or false"]),
    ('[[source]]\nurl = "https://example.org/feed"\n', ["source #1", "key 'name'", "required"]),
    ('[[source]]\nname = "x"\n', ["source 'x'", "key 'url'", "required"]),
    ('[[source]]\nname = "BAIR Blog"\nurl = "https://a.org/f"\n',
     ["source 'BAIR Blog'", "key 'name'", "kebab-case"]),
    ('[[source]]\nname = "x"\nurl = "ftp://example.org/feed"\n', ["source 'x'", "key 'url'", "http"]),
    ('[[source]]\nname = "x"\nurl = "example.org/feed"\n', ["source 'x'", "key 'url'", "https://"]),
    (SOURCE + SOURCE.replace("feed.xml", "atom.xml"),
     ["source #2", "key 'name'", "'bair'", "source #1", "unique"]),
    (SOURCE + SOURCE.replace('"bair"', '"bair-2"').replace("https://", "http://www."),
     ["source 'bair-2'", "key 'url'", "source 'bair'"]),
    ('sources = []\n', ["unknown key 'sources'", "source"]),
    ('source = "https://example.org"\n', ["key 'source'", "[[source]]"]),
    ('[[source]]\nname = "x"\nurl = "https://a.org/f\n', ["not valid TOML", "line 3"]),
]


@pytest.mark.parametrize(("text", "words"), BAD, ids=[w[1] if len(w) > 1 else w[0] for _, w in BAD])
def test_errors_name_the_file_the_source_and_the_key(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for word in words:
        assert word in message


def test_domain_and_format_checked_against_the_settings(tmp_path):
    path = write(tmp_path, SOURCE + 'domain = "ai-safety"\nformat = "paper"\n')
    assert load_sources(path)[0].defaults.domain == "ai-safety"  # without settings: any string
    expected = r"key 'domain' must be one of the configured domains: ai-alignment, health, got 'ai-safety'"
    with pytest.raises(ConfigError, match=expected):
        load_sources(path, domains=("ai-alignment", "health"))
    path = write(tmp_path, SOURCE + 'format = "podcast"\n')
    with pytest.raises(ConfigError, match=r"source 'bair': key 'format' .*paper, essay"):
        load_sources(path, formats=("paper", "essay"))


def test_the_longest_interval_is_allowed(tmp_path):
    assert load_sources(write(tmp_path, SOURCE + 'every = "365d"\n'))[0].every == 365 * 86400.0


def test_add_source_checks_the_new_source_against_the_settings(tmp_path):
    path = write(tmp_path, "# mine\n")
    bad = Source(name="x", url="https://x.org/feed", defaults=NoteDefaults(domain="nope"))
    with pytest.raises(ConfigError, match=r"source 'x': key 'domain' must be one of the configured domains: a, b"):
        add_source(path, bad, domains=("a", "b"))
    bad = Source(name="x", url="https://x.org/feed", defaults=NoteDefaults(format="nope"))
    with pytest.raises(ConfigError, match=r"source 'x': key 'format' must be one of the configured formats: paper"):
        add_source(path, bad, formats=("paper",))
    assert path.read_text() == "# mine\n"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"domain": ("--domain", "nope")},
         "option --domain: key 'domain' must be one of the configured domains: a, b, got 'nope'"),
        ({"format": ("--format", "nope")},
         "option --format: key 'format' must be one of the configured formats: paper, got 'nope'"),
        ({"every": ("--every", "99999999999999999999w")},
         'option --every: key \'every\' must be at least 5 minutes ("5m") and at most 365 days ("365d"), '
         "got '99999999999999999999w'"),
        ({"every": ("--every", "soon")},
         'option --every: key \'every\' must be a duration like "30m", "2h", "1d" (or a number of seconds), '
         "got 'soon'"),
        ({"tags": ("--tag", ["ok", "Not Kebab"])},
         "option --tag: key 'tags' holds 'Not Kebab', which is not lowercase kebab-case"),
        ({"include": ("--include", ["[unclosed"])},
         "option --include: key 'include' holds '[unclosed', which is not a valid regular expression"),
        ({"backfill": ("--backfill", -1)}, "option --backfill: key 'backfill' must be a whole number from 0 to 100000"),
        ({"name": ("--name", "Lab Blog")}, "option --name: key 'name' must be lowercase kebab-case"),
        ({"priority": ("--priority", "urgent")}, "option --priority: key 'priority' must be one of high, medium, low"),
    ],
)
def test_source_from_options_names_the_option(options, message):
    with pytest.raises(ConfigError) as caught:
        source_from_options({"name": ("--name", "lab"), "url": ("URL", "https://lab.org/feed"), **options},
                            domains=("a", "b"), formats=("paper",))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_source_from_options_reads_them_as_the_file_would():
    source = source_from_options(
        {"name": ("--name", "lab"), "url": ("URL", "https://lab.org/feed"), "kind": ("--kind", "feed"),
         "every": ("--every", "2h"), "domain": ("--domain", "a"), "tags": ("--tag", ["x", "y"]),
         "include": ("--include", ["/blog/"]), "backfill": ("--backfill", 0), "format": ("--format", None)},
        domains=("a",), formats=("paper",))
    assert source == Source(name="lab", url="https://lab.org/feed", kind="feed", every=7200.0, include=("/blog/",),
                            defaults=NoteDefaults(domain="a", tags=("x", "y")), backfill=0)


def test_a_single_pattern_without_brackets_is_one_pattern(tmp_path):
    path = write(tmp_path, SOURCE + "include = '/blog/'\n")
    assert load_sources(path)[0].include == ("/blog/",)


# ---- intervals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1h30m", 5400),
     ("2H", 7200), (" 6h ", 21600), ("1.5h", 5400), (3600, 3600), (90.5, 90.5), ("3600", 3600)],
)
def test_parse_interval(given, seconds):
    assert parse_interval(given, "k") == seconds


@pytest.mark.parametrize(
    "given", ["", "h", "2 hours", "-1h", "1y", "0", 0, -5, True, None, float("inf"), [1]]
)
def test_parse_interval_refuses(given):
    with pytest.raises(ConfigError, match=r"^file: key 'every' must be a duration like \"30m\""):
        parse_interval(given, "file: key 'every'")


@pytest.mark.parametrize(
    ("seconds", "text"), [(7200, "2h"), (5400, "90m"), (90, "90s"), (300, "5m"), (86400, "1d"),
                          (604800, "1w"), (864000, "10d"), (1.5, "1.5s")],
)
def test_format_interval_round_trips(seconds, text):
    assert format_interval(seconds) == text
    assert parse_interval(text, "k") == seconds


# ---- editing -------------------------------------------------------------------------------------


def test_add_source_appends_and_leaves_the_rest_byte_for_byte(sources_file):
    before = sources_file.read_text(encoding="utf-8")
    new = Source(
        name="metr-blog",
        url="https://metr.org/blog",
        kind="page",
        every=86400,
        include=(r"^https://metr\.org/blog/\d{4}-",),
        defaults=NoteDefaults(domain="ai-alignment", secondary_domains=(), tags=("evaluations",)),
        backfill=0,
        enabled=False,
    )
    add_source(sources_file, new)
    after = sources_file.read_text(encoding="utf-8")
    assert after.startswith(before)
    assert after[len(before):] == (
        "\n[[source]]\n"
        'name = "metr-blog"\n'
        'url = "https://metr.org/blog"\n'
        'kind = "page"\n'
        'every = "1d"\n'
        "include = ['^https://metr\\.org/blog/\\d{4}-']\n"
        'domain = "ai-alignment"\n'
        "secondary_domains = []\n"
        'tags = ["evaluations"]\n'
        "backfill = 0\n"
        "enabled = false\n"
    )
    assert load_sources(sources_file)[-1] == new


def test_add_source_writes_only_what_differs_from_the_defaults(tmp_path):
    path = write(tmp_path, "# mine\n")
    add_source(path, Source(name="distill", url="https://distill.pub/rss.xml"))
    assert path.read_text() == '# mine\n\n[[source]]\nname = "distill"\nurl = "https://distill.pub/rss.xml"\n'


def test_add_source_creates_the_file(tmp_path):
    path = tmp_path / "config" / "sources.toml"
    add_source(path, Source(name="a", url="https://a.org/feed", every=1800))
    assert path.read_text() == '[[source]]\nname = "a"\nurl = "https://a.org/feed"\nevery = "30m"\n'
    add_source(path, Source(name="b", url="https://b.org/feed"))
    assert [s.name for s in load_sources(path)] == ["a", "b"]


def test_add_source_to_a_file_without_a_final_newline(tmp_path):
    path = write(tmp_path, '[[source]]\nname = "a"\nurl = "https://a.org/feed" # last line')
    add_source(path, Source(name="b", url="https://b.org/feed"))
    assert path.read_text().startswith(
        '[[source]]\nname = "a"\nurl = "https://a.org/feed" # last line\n\n[[source]]'
    )
    assert [s.name for s in load_sources(path)] == ["a", "b"]


def test_add_source_keeps_crlf_line_ends(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_bytes(b'# windows\r\n[[source]]\r\nname = "a"\r\nurl = "https://a.org/feed"\r\n')
    add_source(path, Source(name="b", url="https://b.org/feed"))
    data = path.read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n")
    assert [s.name for s in load_sources(path)] == ["a", "b"]


def test_add_source_template_is_written_relative_to_the_file(sources_file):
    template = sources_file.parent / "templates" / "bair.md.j2"
    add_source(sources_file, Source(name="t", url="https://t.org/feed", template=str(template)))
    assert 'template = "templates/bair.md.j2"' in sources_file.read_text()
    assert load_sources(sources_file)[-1].template == str(template)


def test_add_source_to_an_inline_array(tmp_path):
    path = write(tmp_path, '# inline\nsource = [{ name = "a", url = "https://a.org/feed" }]\n')
    add_source(path, Source(name="b", url="https://b.org/feed", every=3600))
    assert path.read_text().startswith("# inline\n")
    assert [(s.name, s.every) for s in load_sources(path)] == [("a", 21600.0), ("b", 3600.0)]


@pytest.mark.parametrize(
    ("name", "url", "words"),
    [
        ("bair-blog", "https://other.org/feed", ["key 'name'", "taken"]),
        ("x", "https://bair.berkeley.edu/blog/feed.xml", ["key 'url'", "source 'bair-blog'"]),
        ("x", "http://www.bair.berkeley.edu/blog/feed.xml/?utm_source=rss#top", ["key 'url'", "'bair-blog'"]),
        ("x", "https://anthropic.com/research?utm_campaign=a&fbclid=1",
         ["key 'url'", "'anthropic-research'"]),
        ("x", "https://example.org/feed", ["key 'url'", "'old-blog'"]),  # a disabled source counts too
        ("x", "mailto:someone@example.org", ["key 'url'", "http"]),
        ("Bad Name", "https://new.org/feed", ["key 'name'", "kebab-case"]),
    ],
)
def test_add_source_refuses(sources_file, name, url, words):
    before = sources_file.read_bytes()
    with pytest.raises(ConfigError) as caught:
        add_source(sources_file, Source(name=name, url=url))
    assert str(caught.value).startswith(f"{sources_file}: ")
    for word in words:
        assert word in str(caught.value)
    assert sources_file.read_bytes() == before


def test_add_source_refuses_an_invalid_file(tmp_path):
    path = write(tmp_path, '[[source]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="key 'url' is required"):
        add_source(path, Source(name="b", url="https://b.org/feed"))


def test_remove_source_keeps_every_comment(sources_file):
    before = sources_file.read_text()
    remove_source(sources_file, "anthropic-research")
    after = sources_file.read_text()
    assert comments(after) == comments(before)
    assert [s.name for s in load_sources(sources_file)] == ["bair-blog", "old-blog"]
    # the table's lines go; the comment above it stays, set apart by the blank line that followed it
    assert after == before.replace(
        '[[source]]\nname = "anthropic-research"\n'
        'url = "https://www.anthropic.com/research"\nevery = 1800\n',
        "",
    )


def test_remove_the_last_source_keeps_the_commented_ones_after_it(sources_file):
    before = sources_file.read_text()
    remove_source(sources_file, "old-blog")
    after = sources_file.read_text()
    assert comments(after) == comments(before)
    assert "# [[source]]\n# name = \"commented-out\"" in after
    assert "\n\n\n" not in after
    remove_source(sources_file, "bair-blog")
    assert comments(sources_file.read_text()) == comments(before)
    assert [s.name for s in load_sources(sources_file)] == ["anthropic-research"]


def test_remove_source_from_the_shipped_file(tmp_path):
    text = SHIPPED.read_text()
    path = write(tmp_path, text)
    first = load_sources(path)[0].name
    remove_source(path, first)
    assert comments(path.read_text()) == comments(text)
    assert first not in [s.name for s in load_sources(path)]


def test_remove_unknown_source(sources_file):
    expected = r"no source named 'nope'; the sources are: bair-blog, anthropic-research, old-blog"
    with pytest.raises(ConfigError, match=expected):
        remove_source(sources_file, "nope")
    with pytest.raises(ConfigError, match="not found"):
        remove_source(sources_file.parent / "missing.toml", "nope")


def test_set_source_url_keeps_comments_and_layout(sources_file):
    before = sources_file.read_text()
    set_source_url(sources_file, "bair-blog", "https://bair.berkeley.edu/blog/index.xml")
    after = sources_file.read_text()
    assert after == before.replace("/blog/feed.xml", "/blog/index.xml")
    assert load_sources(sources_file)[0].url == "https://bair.berkeley.edu/blog/index.xml"


def test_set_source_url_keeps_the_comment_on_the_url_line(tmp_path):
    path = write(tmp_path, '[[source]]\nname = "a"\nurl = "https://a.org/feed"   # moved once already\n')
    set_source_url(path, "a", "https://a.org/rss")
    assert path.read_text() == '[[source]]\nname = "a"\nurl = "https://a.org/rss"   # moved once already\n'


def test_set_source_url_refuses(sources_file):
    before = sources_file.read_bytes()
    taken = r"source 'bair-blog': key 'url' .* already configured as source 'old-blog'"
    with pytest.raises(ConfigError, match=taken):
        set_source_url(sources_file, "bair-blog", "https://www.example.org/feed")
    with pytest.raises(ConfigError, match=r"key 'url' must be a full http"):
        set_source_url(sources_file, "bair-blog", "not a url")
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        set_source_url(sources_file, "nope", "https://new.org/feed")
    assert sources_file.read_bytes() == before


# ---- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.org/research", "example-research"),
        ("https://www.example.org/research/", "example-research"),
        ("https://rss.arxiv.org/rss/cs.AI", "arxiv-cs-ai"),
        ("https://www.alignmentforum.org/feed.xml", "alignmentforum"),
        ("https://deepmind.google/blog/rss.xml", "deepmind-blog"),
        ("https://openai.com/news/rss.xml", "openai-news"),
        ("https://importai.substack.com/feed", "importai"),
        ("https://www.bbc.co.uk/news/rss.xml", "bbc-news"),
        ("https://localhost/", "localhost"),
        ("https://例え.jp/", "source"),
    ],
)
def test_unique_name(url, name):
    assert unique_name(url, set()) == name


def test_unique_name_suffixes_taken_names():
    taken = {"example-research", "example-research-2"}
    assert unique_name("https://example.org/research", taken) == "example-research-3"
    assert taken == {"example-research", "example-research-2"}


def test_unique_name_is_a_valid_source_name(tmp_path):
    long_url = "https://a-very-long-hostname-for-a-research-lab.example.org/" + "/".join(["segment"] * 20)
    name = unique_name(long_url, {unique_name(long_url, set())})
    assert len(name) <= 48 and name.endswith("-2")
    path = write(tmp_path, f'[[source]]\nname = "{name}"\nurl = "{long_url}"\n')
    assert load_sources(path)[0].name == name
