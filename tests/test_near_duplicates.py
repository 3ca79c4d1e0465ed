"""End to end: the same article syndicated under another URL, with other boilerplate, is recorded
as a duplicate of the first; a different article on the same subject is not. The threshold itself
is justified in tests/test_fingerprint.py (and measured by bench/near_duplicates.py)."""

from __future__ import annotations

import html
from pathlib import Path

from conftest import ledger_sql

NEAR = Path(__file__).parent / "fixtures" / "near"


def paragraphs(name: str) -> list[str]:
    text = (NEAR / name).read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if p.strip() and not p.startswith(("#", "|", "!"))]


def page(title: str, body: list[str], *, header: str, footer: str) -> bytes:
    ps = "".join(f"<p>{html.escape(p)}</p>" for p in body)
    return (f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<meta property='article:published_time' content='2019-11-13'></head>"
            f"<body><header><nav>{header}</nav></header><article><h1>{html.escape(title)}</h1>{ps}</article>"
            f"<footer>{footer}</footer></body></html>").encode()


def test_a_syndicated_copy_is_a_duplicate_of_the_first_and_another_report_is_not(cli, serve, workspace):
    story = paragraphs("express-plague.md")
    original = serve("/news/plague", page("Plague in China", story, header="<a href='/'>Express</a> News Science",
                                          footer="© Express Newspapers"))
    # the newsletter's copy: its own header and footer, a line on where it first appeared, the
    # last paragraph trimmed, curly quotes
    copy_body = ([p.replace("'", "\u2019") for p in story[:-1]]
                 + ["This story first appeared in the Daily Express. Subscribe to our science newsletter."])
    copy = serve("/newsletter/2019-11-13", page("Plague in China", copy_body,
                                                header="<a href='/'>The Weekly Digest</a> Archive",
                                                footer="You are receiving this because you subscribed. Unsubscribe."))
    other = serve("/news/sun-plague", page("Plague cases in China", paragraphs("sun-plague.md"),
                                           header="<a href='/'>Express</a> News Science",
                                           footer="© Express Newspapers"))
    assert cli("url", original).exit_code == 0
    result = cli("url", copy, other)
    assert result.exit_code == 0, result.output
    [first_note] = [p for p in cli.notes() if f"url: {original}" in p.read_text(encoding="utf-8")]
    assert result.stdout.splitlines()[0] == f"duplicate {copy} (archived as seeds/{first_note.name})"
    assert result.stdout.splitlines()[1].startswith("created ")
    assert len(cli.notes()) == 2
    rows = {url: (item, outcome, of) for item, url, outcome, of in
            ledger_sql(workspace, "SELECT id, url, outcome, duplicate_of FROM items")}
    assert {url: outcome for url, (_, outcome, _) in rows.items()} == {
        original: "created", copy: "duplicate", other: "created"}
    assert rows[copy][2] == rows[original][0]  # recorded as a duplicate of the first
