"""Characters that are not text (what XML forbids: U+FFFE, U+FFFF, C0 controls; and the other
Unicode noncharacters) in a page: one of them in a paragraph or the title made the extraction's
XML step drop the whole article ("no main text found"). They are dropped; the article survives."""

from __future__ import annotations

import frontmatter
import pytest
from conftest import article

NOT_TEXT = ("\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0001ffff", "\U0010fffe", "\U0010ffff",
            "\x01", "\x1f", "\x7f")


def page(in_title: str, in_text: str) -> bytes:
    """An article whose title holds `in_title` and whose first paragraph and heading hold `in_text`."""
    html = article(5, title=f"Research{in_title} note five").decode()
    html = html.replace("<h1>Research", f"<h1>Re{in_text}search", 1).replace("Study 5 part 0:", f"Study 5{in_text} part 0:")
    return html.encode()


@pytest.mark.parametrize(("in_title", "in_text"), [
    ("\uffff", "\ufffe"),  # the page
    ("\ufffe", "\uffff"),
    ("&#xFFFF;", "&#xFFFE;"),  # as character references, which the HTML parser decodes
    ("&#65534;", "&#65535;"),
    ("\ufdd0\U0001ffff", "\U0010fffe\ufdef"),  # the other noncharacters, in other planes
    ("\x01", "\x1f\x7f"),  # C0 controls and DEL (tab, newline and CR are whitespace)
])
def test_a_page_with_characters_xml_forbids_keeps_its_title_and_text(cli, serve, in_title, in_text):
    url = serve("/posts/5", page(in_title, in_text))
    result = cli("url", url)
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    assert result.stdout == f"created seeds/{note.name}\n"
    text = note.read_text(encoding="utf-8")
    post = frontmatter.loads(text)
    assert post["title"] == "Research note five"
    assert "Study 5 part 0:" in post.content and "Study 5 part 3:" in post.content
    assert not any(ch in text for ch in NOT_TEXT)


def test_a_noncharacter_in_the_metadata_is_dropped_too(cli, serve):
    html = article(6).decode().replace(
        "<head>", '<head><meta name="author" content="Ada\ufffe Lovelace">'
                  '<meta name="description" content="A summary&#xFFFF; of it">', 1)
    result = cli("url", serve("/posts/6", html.encode()))
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    post = frontmatter.loads(note.read_text(encoding="utf-8"))
    assert post["author"] == "Ada Lovelace"
    assert "\ufffe" not in str(post.metadata) and "\uffff" not in str(post.metadata)
