"""ingest.render: YAML scalar helpers, render_note with the built-in template, note_filename."""

from __future__ import annotations

import datetime as dt
import re

import frontmatter
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError, TemplateError
from ingest.features import slug
from ingest.records import Document, Guess
from ingest.render import MAX_NAME, check_template, load_template, note_filename, render_note, yaml_flow, yaml_quoted, yaml_scalar

SPEC_FIELDS = [
    "type", "title", "author", "url", "date", "domain", "secondary_domains",
    "format", "status", "priority", "tags",
]  # fmt: skip

# Text the note can carry. Excluded, and why:
#  * category Cs (lone surrogates U+D800–U+DFFF): not Unicode scalar values. They cannot be
#    encoded as UTF-8, so a note holding one could never be written to disk; text decoded from
#    a page never contains them.
# Everything else — C0/C1 controls, NUL, U+FFFE/U+FFFF, BOM, line/paragraph separators — must
# survive: YAML forbids some of them raw in a stream, but a double-quoted scalar can carry any
# of them as an escape (\x00, \uFFFE, …), so yaml_quoted has to escape them.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
TRICKY = st.sampled_from(
    ["", " ", "---", "...", "\n---\n", "a: b", "#not a comment", "'", '"', "\\", "\\n", "null", "~", "true",
     "no", "2025-05-29", "12:30", "0x1F", "1e3", ".inf", "- item", "[a, b]", "{a: 1}", "*alias", "&anchor",
     "!tag", "|", ">", "%YAML", "@x", "`x`", "שלום עולם", "مرحبا", "日本語のタイトル", "Ünïcödé", "a\u2028b",
     "\ufeffbom", "\x00\x01\x7f\x85\x9f", "\ufffe\uffff", "tab\there", "cr\rlf\n", "0b_", "0x_", "0o_", "1_000", "1:20"]
)
TEXT = st.one_of(ANY_TEXT, TRICKY, st.lists(st.one_of(ANY_TEXT, TRICKY), max_size=4).map("".join))
# strings built from the characters yaml_scalar may leave plain: the interesting cases for
# flow lists, where `,[]{}?` have meanings they do not have in block context
PLAINISH = st.text(alphabet="abz09.:/?&=%+~@-_#, []{}'\"", min_size=1, max_size=16)


def _load(line: str):
    return yaml.safe_load("k: " + line)["k"]


# -- YAML helpers -------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_yaml_quoted_round_trips(s):
    quoted = yaml_quoted(s)
    assert "\n" not in quoted and "\r" not in quoted  # stays on one line
    assert _load(quoted) == s


@settings(max_examples=400, deadline=None)
@given(st.one_of(TEXT, PLAINISH))
def test_yaml_scalar_round_trips(s):
    assert _load(yaml_scalar(s)) == s


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TEXT, PLAINISH), max_size=5))
def test_yaml_flow_round_trips(values):
    flow = yaml_flow(values)
    assert flow.startswith("[") and flow.endswith("]")
    assert _load(flow) == values


@pytest.mark.parametrize(
    "values",
    [
        ["a?b"],
        ["https://example.org/post?id=3"],
        ["x/y?z=1", "plain"],
        ["a,b", "c]d", "e[f", "g{h}", "i: j"],
    ],
)
def test_yaml_flow_flow_indicators(values):
    # `?` `,` `[]{}` end a plain scalar inside a flow list, though not in block context
    assert _load(yaml_flow(values)) == values


def test_yaml_scalar_keeps_urls_and_kebab_case_plain():
    assert yaml_scalar("https://www.anthropic.com/research/open-source-circuit-tracing") == (
        "https://www.anthropic.com/research/open-source-circuit-tracing"
    )
    assert yaml_scalar("ai-alignment") == "ai-alignment"
    assert yaml_flow(["anthropic", "circuit-tracing"]) == "[anthropic, circuit-tracing]"
    assert yaml_flow([]) == "[]"
    assert yaml_flow(None) == "[]"
    # values YAML would read as something else are quoted
    for s in ("true", "null", "2025-05-29", "123", "a: b", "", "0b_", "0x_"):
        assert yaml_scalar(s).startswith('"'), s
        assert _load(yaml_scalar(s)) == s


def test_yaml_quoted_escapes():
    assert yaml_quoted('say "hi"\\now') == r'"say \"hi\"\\now"'
    assert yaml_quoted("a\nb") == r'"a\nb"'
    assert yaml_quoted(None) == '""'


# -- render_note --------------------------------------------------------------------------


def _doc(**kw) -> Document:
    base = dict(
        url="https://www.anthropic.com/research/open-source-circuit-tracing?utm_source=x",
        canonical_url="https://www.anthropic.com/research/open-source-circuit-tracing",
        title="Open-Sourcing Circuit Tracing Tools for Attribution Graphs",
        text="# Heading\n\nFirst paragraph with a [link](https://example.org).\n\n- one\n- two\n",
        author="Anthropic",
        date="2025-05-29",
        sitename="Anthropic",
    )
    base.update(kw)
    return Document(**base)


GUESS = Guess(
    domain="ai-alignment",
    format="research-post",
    priority="medium",
    tags=("anthropic", "interpretability", "circuit-tracing", "attribution-graphs", "open-source"),
    secondary_domains=(),
)


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_render_note_matches_spec_example(template):
    note = render_note(_doc(), GUESS, template, archived_on="2026-01-01")
    head = note.text.split("\n---\n", 1)[0] + "\n---\n"
    assert head == (
        "---\n"
        "type: source\n"
        'title: "Open-Sourcing Circuit Tracing Tools for Attribution Graphs"\n'
        'author: "Anthropic"\n'
        "url: https://www.anthropic.com/research/open-source-circuit-tracing\n"
        "date: 2025-05-29\n"
        "domain: ai-alignment\n"
        "secondary_domains: []\n"
        "format: research-post\n"
        "status: unprocessed\n"
        "priority: medium\n"
        "tags: [anthropic, interpretability, circuit-tracing, attribution-graphs, open-source]\n"
        "---\n"
    )
    assert note.filename == "2025-05-29-anthropic-open-sourcing-circuit-tracing-tools.md"
    assert note.date == "2025-05-29"
    assert note.date_is_fallback is False
    # downstream finds new work with a line match
    assert re.search(r"^status: unprocessed$", note.text, re.M)
    for section in ("## Content", "## Agent Notes", "**Why this matters:**",
                    "## Curator Notes (structured handoff for extractor)", "EXTRACTION HINT:"):  # fmt: skip
        assert section in note.text
    assert "First paragraph with a [link](https://example.org)." in note.text


def _check_loads(note, doc: Document, guess: Guess, day: str):
    post = frontmatter.loads(note.text)
    meta = post.metadata
    head = note.text.removeprefix("---\n").split("\n---\n", 1)[0]
    raw = yaml.safe_load(head)
    for loaded in (meta, raw):
        assert list(loaded) == SPEC_FIELDS
        assert loaded["type"] == "source"
        assert loaded["title"] == doc.title
        assert loaded["author"] == (doc.author or doc.sitename)
        assert loaded["url"] == doc.canonical_url
        assert loaded["date"] == dt.date.fromisoformat(day)
        assert loaded["domain"] == guess.domain
        assert loaded["secondary_domains"] == list(guess.secondary_domains)
        assert loaded["format"] == guess.format
        assert loaded["status"] == "unprocessed"
        assert loaded["priority"] == guess.priority
        assert loaded["tags"] == list(guess.tags)
    assert post.content.startswith("## Content")
    assert doc.text.strip().replace("\r\n", "\n") in post.content  # python-frontmatter reads CRLF as LF


def test_render_note_loads_back_exactly(template):
    doc = _doc()
    note = render_note(doc, GUESS, template, archived_on="2026-01-01")
    _check_loads(note, doc, GUESS, "2025-05-29")


def test_hostile_title_and_author_round_trip(template):
    title = 'He said "no": a title\nwith a newline\n---\nand a fake end \\ of frontmatter ' + "x" * 2000
    author = 'O\'Brien, "Jr.", #1: \\ \t مرحبا'
    guess = Guess(domain="ai-alignment", format="essay", priority="high", tags=("a?b", "c:d", "x"),
                  secondary_domains=("collective-intelligence",))  # fmt: skip
    doc = _doc(title=title, author=author)
    note = render_note(doc, guess, template, archived_on="2026-01-01")
    _check_loads(note, doc, guess, "2025-05-29")
    assert len(frontmatter.loads(note.text).metadata["title"]) == len(title)
    assert note.text.count("\n---\n") == 1  # the title's `---` did not end the frontmatter early


@settings(max_examples=60, deadline=None)
@given(title=TEXT.filter(bool), author=TEXT.filter(bool), body=st.text(max_size=200))
def test_any_title_and_author_round_trip(template, title, author, body):
    doc = _doc(title=title, author=author, text=body)
    note = render_note(doc, GUESS, template, archived_on="2026-01-01")
    _check_loads(note, doc, GUESS, "2025-05-29")


def test_missing_date_falls_back_to_archive_date(template):
    doc = _doc(date=None)
    note = render_note(doc, GUESS, template, archived_on="2026-02-03")
    assert note.date == "2026-02-03"
    assert note.date_is_fallback is True
    assert note.filename.startswith("2026-02-03-")
    assert frontmatter.loads(note.text).metadata["date"] == dt.date(2026, 2, 3)


def test_author_falls_back_to_site_then_host(template):
    note = render_note(_doc(author=None, sitename="LessWrong"), GUESS, template, archived_on="2026-01-01")
    assert frontmatter.loads(note.text).metadata["author"] == "LessWrong"
    note = render_note(_doc(author=None, sitename=None), GUESS, template, archived_on="2026-01-01")
    assert frontmatter.loads(note.text).metadata["author"] == "anthropic.com"
    assert note.filename.startswith("2025-05-29-anthropiccom-")


# -- note_filename ------------------------------------------------------------------------


def test_note_filename_spec_example():
    assert note_filename("2025-05-29", "Anthropic", "Open-Sourcing Circuit Tracing Tools for Attribution Graphs") == (
        "2025-05-29-anthropic-open-sourcing-circuit-tracing-tools.md"
    )


@pytest.mark.parametrize(
    ("author", "title", "url", "expected"),
    [
        ("Doug Shapiro", "The Relentless Rise of Creators", "", "2025-01-02-dougshapiro-the-relentless-rise-of-creators.md"),
        ("Jane Doe, John Roe", "Hello", "", "2025-01-02-janedoe-hello.md"),
        ("Émile Zola", "Café Crème", "", "2025-01-02-emilezola-cafe-creme.md"),
        ("王小明", "人工智能安全", "https://www.example.cn/posts/ai-safety.html", "2025-01-02-example-ai-safety.md"),
        ("", "", "", "2025-01-02-unknown-untitled.md"),
        ("../../etc", "../passwd", "", "2025-01-02-etc-passwd.md"),
    ],
)
def test_note_filename_examples(author, title, url, expected):
    assert note_filename("2025-01-02", author, title, url) == expected


NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.md$")
ISO_NAME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}-[a-z0-9]+-[a-z0-9-]+\.md$")
# what a page, a feed or a curator may hand over as a title, author or date
HOSTILE = st.one_of(
    ANY_TEXT,
    TRICKY,
    st.text(alphabet="ab -,/.\\", max_size=300),
    st.text(min_size=300, max_size=3000),  # very long
    st.lists(st.one_of(ANY_TEXT, TRICKY, st.sampled_from(
        ["/", "\\", "..", ".", "\x00", "\x1b[31m", "\u202e", "\u200f", "\u200d", "שלום", "مرحبا", "C:", "~", "$HOME",
         "con", "nul", ".md", "-", " ", "\t\n", "\ud7ff", "\U0001f600", "ﬁ", "Ⅻ", "²"],
    )), max_size=8).map("".join),
)  # fmt: skip
DAYS = st.one_of(st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat),
                 HOSTILE)  # fmt: skip
URLS = st.one_of(st.just(""), st.sampled_from(["https://www.example.org/a/b.html", "https://例え.jp/記事",
                 "https://example.org/../../etc/passwd", "not a url", "https://[::1]/x/..", "http://%2e%2e/"]),
                 ANY_TEXT)  # fmt: skip


def assert_single_component(name: str) -> None:
    """A name every file system takes as one file in the folder it is written to."""
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    assert not name.startswith(("-", "."))  # not hidden, not read as an option
    assert len(name.encode("utf-8")) <= 255
    assert name.endswith(".md") and name != ".md"


@settings(max_examples=400, deadline=None)
@given(day=DAYS, author=HOSTILE, title=HOSTILE, url=URLS)
def test_note_filename_is_always_safe(day, author, title, url):
    name = note_filename(day, author, title, url)
    assert_single_component(name)
    assert name.isascii()
    assert NAME_RE.fullmatch(name), name
    assert ".." not in name
    assert len(name) <= MAX_NAME
    # still within the limit once the writer adds "-NN" for a taken name
    assert len(name.removesuffix(".md") + "-999.md") <= MAX_NAME
    assert_single_component(name.removesuffix(".md") + "-999.md")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        assert ISO_NAME_RE.fullmatch(name), name
        assert name.startswith(day + "-")


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_slug_is_kebab_case_ascii(phrase):
    s = slug(phrase)
    assert s == "" or re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", s), s
    assert slug(s) == s
    # no ASCII letter or digit of the phrase is lost
    assert re.sub(r"[^a-z0-9]", "", phrase.lower()) in s.replace("-", "") or not phrase.isascii()


# -- templates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "---\ntitle: {{ title | yaml_quoted }\n---\n",
        "---\ntitle: x\n---\n{% if %}\n",
        "---\n{% for t in tags %}\n---\n",
        "{{ title | no_such_filter }}",
    ],
)
def test_broken_template_is_a_config_error_naming_the_file(tmp_path, source):
    path = tmp_path / "broken.md.j2"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_template(path)
    assert str(path) in str(info.value)
    assert "template" in str(info.value)


def test_missing_template_is_a_config_error(tmp_path):
    path = tmp_path / "nope.md.j2"
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_template(path)


@pytest.mark.parametrize(
    "source",
    [
        "---\ntitle: {{ title }}\n---\n\nbody\n",  # unquoted title "a: b: c" is not YAML
        "---\ntags: [{{ title }}\n---\n",
        "no frontmatter here: {{ title | yaml_quoted }}\n",
        "---\n- {{ title | yaml_quoted }}\n---\n",  # a list, not a mapping of fields
        "---\ntitle: {{ title | yaml_quoted }}\n",  # never closed
    ],
)
def test_template_producing_invalid_frontmatter_is_a_config_error(tmp_path, source):
    path = tmp_path / "custom.md.j2"
    path.write_text(source, encoding="utf-8")
    template = load_template(path)
    with pytest.raises(ConfigError) as info:
        render_note(_doc(title="a: b: c"), GUESS, template, archived_on="2026-01-01")
    assert str(path) in str(info.value)


def test_template_using_unknown_variable_is_a_config_error(tmp_path):
    path = tmp_path / "custom.md.j2"
    path.write_text("---\ntitle: {{ headline | yaml_quoted }}\n---\n", encoding="utf-8")
    template = load_template(path)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        render_note(_doc(), GUESS, template, archived_on="2026-01-01")


def test_custom_template_is_used(tmp_path):
    path = tmp_path / "custom.md.j2"
    path.write_text("---\ntitle: {{ title | yaml_quoted }}\nsite: {{ sitename | yaml_quoted }}\n---\n{{ content }}\n",
                    encoding="utf-8")  # fmt: skip
    note = render_note(_doc(), GUESS, load_template(path), archived_on="2026-01-01")
    post = frontmatter.loads(note.text)
    assert post.metadata == {"title": _doc().title, "site": "Anthropic"}
    assert post.content.startswith("# Heading")



@pytest.mark.parametrize(("source", "line", "problem"), [
    ("---\ntitle: {{ title | yaml_quoted }}\nn: {{ (tags | length) // 0 }}\n---\n", 3,
     "ZeroDivisionError: integer division or modulo by zero"),
    ("---\ntitle: {{ title | yaml_quoted }}\n\nby: {{ writer.name }}\n---\n", 4, "'writer' is undefined"),
    ("---\ntitle: {{ title | yaml_quoted }}\nn: {{ '%d' % title }}\n---\n", 3, "TypeError: "),
])
def test_a_template_that_raises_while_rendering_is_a_template_error_naming_file_and_line(tmp_path, source, line,
                                                                                        problem):
    # issue 15.6: any exception while rendering is the template's fault, a jinja2 error or not
    path = tmp_path / "custom.md.j2"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        render_note(_doc(), GUESS, load_template(path), archived_on="2026-01-01")
    assert info.value.message.startswith(f"{path}: note template failed: {problem}")
    assert info.value.message.endswith(f" (line {line})")
    assert "\n" not in info.value.message


def test_a_template_that_fails_on_the_sample_note_is_refused_before_any_work(tmp_path):
    path = tmp_path / "custom.md.j2"
    path.write_text("---\ntitle: {{ title }}\n---\n", encoding="utf-8")  # fine until a title has ": "
    template = load_template(path)
    render_note(_doc(title="Plain"), GUESS, template, archived_on="2026-01-01")
    with pytest.raises(TemplateError, match="invalid YAML frontmatter"):
        check_template(template)
    check_template(load_template())  # the built-in one renders it
