"""End to end: papers as first-class sources. A PDF becomes a `format: paper` note; an arXiv
abstract page becomes one note holding the abstract and the paper's text from its PDF; both are
kept as snapshots, so reextract rebuilds them without a request. arxiv.org is answered by the test
server acting as HTTP proxy (HTTP_PROXY), never by the web."""

from __future__ import annotations

import shutil
from pathlib import Path

import frontmatter
import pytest
from conftest import FIXTURES, ledger_sql, requests_to

PDF = (FIXTURES / "pdf" / "paper.pdf").read_bytes()
# the PDF as the page declares it, on a mirror: the test proxy answers http, and arxiv.org is spelt https
ABSTRACT_PAGE = (FIXTURES / "scholarly" / "arxiv-abs.html").read_bytes().replace(
    b'content="https://arxiv.org/pdf/2401.01234"', b'content="http://mirror.example.org/pdf/2401.01234v2"')
TITLE = "Counting Duplicate Sources in a Hand-Kept Research Archive"
PDF_SENTENCE = "We counted such duplicates in a vault of three hundred notes"


@pytest.mark.parametrize("path, content_type", [
    ("/papers/duplicates.pdf", "application/pdf"),
    ("/download?id=57", "application/octet-stream"),  # no .pdf in the URL, a vague label: the bytes say PDF
])
def test_a_pdf_becomes_a_paper_note(cli, serve, path, content_type):
    url = serve(path.split("?")[0], PDF, content_type=content_type)
    url += "?id=57" if "?" in path else ""
    result = cli("url", url)
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    assert note.name == "2024-03-14-mariaokafor-counting-duplicate-sources-in-a-hand-kept-research.md"
    post = frontmatter.load(note)
    assert post["title"] == TITLE
    assert post["author"] == "Maria Okafor, Jonas Lindqvist, Wei Zhang"
    assert str(post["date"]) == "2024-03-14"
    assert post["format"] == "paper"
    assert PDF_SENTENCE in post.content and "## Abstract" in post.content


def test_an_arxiv_paper_note_holds_the_abstract_and_the_full_text(cli, proxy, workspace):
    proxy.expect_request("/abs/2401.01234v2").respond_with_data(ABSTRACT_PAGE, content_type="text/html; charset=utf-8")
    proxy.expect_request("/pdf/2401.01234v2").respond_with_data(PDF, content_type="application/pdf")
    result = cli("url", "http://arxiv.org/abs/2401.01234v2")
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    post = frontmatter.load(note)
    assert post["format"] == "paper" and post["url"] == "https://arxiv.org/abs/2401.01234"
    content = post.content.split("## Content", 1)[1]
    abstract_at = content.index("### Abstract\n\nWe introduce attribution graphs for small language models")
    assert abstract_at < content.index("### Full text") < content.index(PDF_SENTENCE)
    assert "Submission history" not in content  # the page around the abstract is not the paper
    assert ledger_sql(workspace, "SELECT role, final_url FROM snapshots ORDER BY id") == [
        ("page", "http://arxiv.org/abs/2401.01234v2"), ("full_text", "http://mirror.example.org/pdf/2401.01234v2")]

    again = cli("url", "http://arxiv.org/pdf/2401.01234v2")  # the PDF's address names the same paper
    assert again.output.startswith("duplicate ") and cli.notes() == [note]

    # a better template later: rebuilt from both snapshots, no request made
    template = workspace / "config" / "note.md.j2"
    shutil.copy(Path(__file__).resolve().parent.parent / "templates" / "source-note.md.j2", template)
    template.write_text(template.read_text(encoding="utf-8") + "\n## Reading log\n", encoding="utf-8")
    with open(workspace / "config" / "ingest.toml", "a", encoding="utf-8") as config:
        config.write('template = "note.md.j2"\n')
    requests = len(proxy.log)
    redone = cli("reextract")
    assert redone.exit_code == 0 and f"rewrote seeds/{note.name}" in redone.stdout
    assert len(proxy.log) == requests
    text = note.read_text(encoding="utf-8")
    assert "## Reading log" in text and PDF_SENTENCE in text


def test_an_arxiv_paper_whose_pdf_cannot_be_had_keeps_its_abstract(cli, proxy):
    proxy.expect_request("/abs/2401.01234v2").respond_with_data(ABSTRACT_PAGE, content_type="text/html; charset=utf-8")
    proxy.expect_request("/pdf/2401.01234v2").respond_with_data("gone", status=404)
    result = cli("url", "http://arxiv.org/abs/2401.01234v2")
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    content = frontmatter.load(note).content
    assert "### Abstract\n\nWe introduce attribution graphs" in content and "### Full text" not in content
    assert requests_to(proxy, "/pdf/2401.01234v2") == 1


def test_a_doi_name_is_fetched_through_its_resolver(cli, proxy, monkeypatch):
    # doi.org is https only, which the test proxy cannot answer: the resolver is asked by http here
    from ingest import scholarly

    monkeypatch.setattr(scholarly, "doi_url", lambda name: f"http://doi.org/{name}")
    proxy.expect_request("/10.5281/JCS.2023.0457").respond_with_data(
        b"", status=302, headers={"Location": "http://journals.example.org/jcs/article/view/457"})
    proxy.expect_request("/jcs/article/view/457").respond_with_data(
        (FIXTURES / "scholarly" / "dublin-core.html").read_bytes(), content_type="text/html; charset=utf-8")
    result = cli("url", "doi:10.5281/JCS.2023.0457")
    assert result.exit_code == 0, result.output
    [note] = cli.notes()
    post = frontmatter.load(note)
    assert post["url"] == "http://journals.example.org/jcs/article/view/457" and post["format"] == "paper"
    again = cli("url", "https://dx.doi.org/10.5281/jcs.2023.0457")
    assert again.output == f"duplicate https://dx.doi.org/10.5281/jcs.2023.0457 (archived as seeds/{note.name})\n"
