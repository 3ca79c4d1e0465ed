"""Document + Guess → Note: the frontmatter values, the Markdown body and the file name (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import yaml

from .errors import ConfigError, TemplateError
from .features import slug, url_host
from .records import Document, Guess, Note
from .validation import not_utf8

BUILTIN_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "source-note.md.j2"
MAX_NAME = 120  # whole file name, suffix and extension included
SLUG_WORDS, SLUG_CHARS, HANDLE_CHARS = 8, 50, 30
STOP_WORDS = frozenset("a an and as at by for from in of on or the to with vs via".split())
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:?&=%+~@-]*")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
NEW_STATUS = "unprocessed"  # a new note's: downstream jobs take the notes with it as their work
# a second version of a note, written beside it for a curator to compare (reextract, url --force),
# must never be taken for new work: it says this instead
TWIN_STATUS = "reextracted"
TWIN_SUFFIX = ".reextracted.md"
_TWIN_NAME = re.compile(r"(.+)\.reextracted(?:-\d+)?\.md")  # write_note adds -2, -3… when the name is taken
_STATUS_LINE = re.compile(r"^status:.*$", re.MULTILINE)


def yaml_quoted(value: object) -> str:
    """A YAML double-quoted scalar: backslashes, quotes and every control character escaped."""
    out = []
    for ch in "" if value is None else str(value):
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF) or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def yaml_scalar(value: object) -> str:
    """Plain when YAML reads it back as the same string (URLs, kebab-case names), else quoted."""
    text = "" if value is None else str(value)
    if _PLAIN_SAFE.fullmatch(text) and ": " not in text:
        try:
            if yaml.safe_load(text) == text:
                return text
        except (yaml.YAMLError, ValueError):  # "0b_" matches YAML's int pattern, then int() fails
            pass
    return yaml_quoted(text)


def yaml_flow(values: Iterable[object] | None) -> str:
    # inside [...] a plain scalar also ends at `?` (block context allows it): quote those
    items = (yaml_quoted(v) if "?" in str(v) else yaml_scalar(v) for v in values or ())
    return "[" + ", ".join(items) + "]"


def load_template(path: Path | None = None) -> jinja2.Template:
    """The note template; a missing or broken one is a configuration error naming the file."""
    path = path or BUILTIN_TEMPLATE
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    env.filters.update(yaml_quoted=yaml_quoted, yaml_scalar=yaml_scalar, yaml_flow=yaml_flow)
    try:
        source = path.read_text(encoding="utf-8-sig")  # -sig: a BOM from a Windows editor would begin every note
    except OSError as exc:
        raise ConfigError(
            f"{path}: note template cannot be read ({exc.strerror}); check the 'template' setting"
        ) from None
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc.object, exc) from None
    try:
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: note template is broken: {exc.message}") from None
    template.filename = str(path)
    return template


def render_note(document: Document, guess: Guess, template: jinja2.Template, *, archived_on: str) -> Note:
    """Fill the template. Without a publication date the archive date stands in (and says so)."""
    author = document.author or document.sitename or url_host(document.canonical_url)
    day = document.date or archived_on
    values = {
        "title": document.title,
        "author": author,
        "url": document.canonical_url,
        "date": day,
        "domain": guess.domain,
        "secondary_domains": list(guess.secondary_domains),
        "format": guess.format,
        "priority": guess.priority,
        "tags": list(guess.tags),
        "content": document.text.strip(),
        "description": document.description or "",
        "sitename": document.sitename or "",
        "language": document.language or "",
    }
    name = getattr(template, "filename", "template")
    try:
        text = template.render(**values)
    except Exception as exc:  # an undefined name, a filter or an expression that raises: the template's fault
        problem = " ".join(str(exc).split())  # one line
        if not isinstance(exc, jinja2.TemplateError):
            problem = f"{type(exc).__name__}: {problem}"
        raise TemplateError(f"{name}: note template failed: {problem}{_template_line(exc, name)}") from None
    _check_frontmatter(text, name)
    return Note(
        filename=note_filename(day, author, document.title, document.canonical_url),
        text=text,
        date=day,
        date_is_fallback=document.date is None,
    )


def note_filename(day: str, author: str, title: str, url: str = "") -> str:
    """`YYYY-MM-DD-{author-handle}-{brief-slug}.md`, ASCII, at most MAX_NAME characters.

    Names in scripts with no ASCII spelling fall back to the site and the URL's last segment."""
    parts = urlsplit(url)
    site = (parts.hostname or "").removeprefix("www.").split(".")[0]
    handle = slug(author.split(",")[0]) or slug(site) or "unknown"
    handle = handle.replace("-", "")[:HANDLE_CHARS]
    last_segment = next((p for p in reversed(parts.path.split("/")) if p), "")
    words = [w for w in (slug(title) or slug(last_segment.rsplit(".", 1)[0])).split("-") if w]
    words = words[:SLUG_WORDS]
    brief = ""
    for word in words:
        if len(brief) + len(word) + 1 > SLUG_CHARS:
            break
        brief = f"{brief}-{word}" if brief else word
    kept = brief.split("-")
    while len(kept) > 1 and kept[-1] in STOP_WORDS:
        kept.pop()
    brief = "-".join(kept) or "untitled"
    # an ISO date is its own slug; anything else ("", "2025/05/29", "../x") must not bring a
    # path separator, control character or leading dot into the name
    day = slug(day) or "undated"
    # room for "-NN" added when the name is taken, and ".md"
    return f"{day}-{handle}-{brief}"[: MAX_NAME - 8].rstrip("-") + ".md"


def twin_filename(name: str) -> str:
    """The file name of a second version of the note `name`, beside it."""
    return name.removesuffix(".md") + TWIN_SUFFIX


def twin_original(name: str) -> str | None:
    """The name of the note that `name` is a second version of; None when it is not one."""
    match = _TWIN_NAME.fullmatch(name)
    return f"{match[1]}.md" if match else None


def twin_text(text: str) -> str:
    """A rendered note as a second version: `status: reextracted` in its frontmatter (added when a
    template has no status line), whatever the template says."""
    split = _split_frontmatter(text)
    if split is None:  # render_note checked this; guard other callers
        raise ValueError("a note must start with a '---' YAML frontmatter block")
    head, body = split
    head, found = _STATUS_LINE.subn(f"status: {TWIN_STATUS}", head)
    if not found:
        head += f"\nstatus: {TWIN_STATUS}"
    return f"---\n{head}\n---\n{body}"


def _split_frontmatter(text: str) -> tuple[str, str] | None:
    """(the frontmatter between the '---' lines, the rest) of a rendered note; None without one."""
    head, sep, body = text.removeprefix("---\n").partition("\n---\n")
    return (head, body) if text.startswith("---\n") and sep else None


# a note as hostile to YAML as real titles and authors are
_SAMPLE = Document(
    url="https://example.org/2025/01/scaling-laws", canonical_url="https://example.org/2025/01/scaling-laws",
    title='A title: with "quotes"', text="# Scaling laws\n\nA paragraph: with *emphasis*.",
    author='Jane "JD" Doe', date="2025-01-31", sitename="Lab: notes", description="What it finds: in brief",
    language="en", keywords=("scaling", "evaluation"),
)
_SAMPLE_GUESS = Guess(domain="ai-alignment", format="research-post", priority="medium",
                      tags=("interpretability", "scaling-laws"), secondary_domains=("ai-governance",))


def check_template(template: jinja2.Template) -> None:
    """Render a sample note, hostile to YAML as real titles are: a template that fails on it
    would fail on every item, so it is a configuration error before any work starts."""
    render_note(_SAMPLE, _SAMPLE_GUESS, template, archived_on="2025-02-01")


def _template_line(exc: Exception, name: str) -> str:
    """The template's line where rendering failed, as " (line N)" (jinja2 maps its frames to the
    template's lines); "" when the traceback does not say."""
    lines = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (name, "<template>"):
            lines.append(tb.tb_lineno)
        tb = tb.tb_next
    return f" (line {lines[-1]})" if lines else ""


def _check_frontmatter(text: str, template_name: str) -> None:
    """A template edit must never produce a note that downstream YAML readers choke on."""
    split = _split_frontmatter(text)
    try:
        loaded = yaml.safe_load(split[0]) if split else None
    except yaml.YAMLError as exc:
        problem = _yaml_problem(exc)
        raise TemplateError(f"{template_name}: note template produced invalid YAML frontmatter ({problem}); "
                            "quote the values with the yaml_quoted or yaml_scalar filters") from None
    if not isinstance(loaded, dict):
        raise TemplateError(f"{template_name}: note template must start with a '---' YAML frontmatter block")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's message on one line: the problem and where ("mapping values are not allowed here
    at line 2, column 15"), without the quoted source lines it adds."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem
