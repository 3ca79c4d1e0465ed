"""Papers: every address of one arXiv paper or one DOI is one item (ingest/scholarly.py, url_key),
and a paper's page gives its title, every author, date, abstract, DOI, arXiv ID and PDF
(ingest/metadata.py through the real extraction path), end to end through `ingest url`."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import frontmatter
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, requests_to
from ingest.config import Settings
from ingest.extract import extract_document
from ingest.guess import guess
from ingest.scholarly import arxiv_abs_url, arxiv_id, arxiv_pdf_url, doi, fetch_url, paper_key
from ingest.taxonomy import load_taxonomy
from ingest.urls import InvalidURLError, normalize_url, try_key, url_key

PAPERS = FIXTURES / "scholarly"
TODAY = date(2026, 1, 1)


# -- arXiv: every address of one paper, one key -----------------------------------------------

ARXIV_FORMS = (  # {id}: the identifier as arXiv writes it, {v}: a version suffix or nothing
    "https://arxiv.org/abs/{id}{v}",
    "http://arxiv.org/abs/{id}{v}",
    "https://www.arxiv.org/abs/{id}{v}",
    "http://export.arxiv.org/abs/{id}{v}",
    "https://arxiv.org/abs/{id}{v}/",
    "https://arxiv.org/abs/{id}{v}?context=cs",
    "https://arxiv.org/abs/{id}{v}#comments",
    "https://arxiv.org/pdf/{id}{v}",
    "https://arxiv.org/pdf/{id}{v}.pdf",
    "http://export.arxiv.org/pdf/{id}{v}",
    "https://arxiv.org/html/{id}{v}",
    "https://arxiv.org/html/{id}{v}/",
    "https://arxiv.org/html/{id}{v}#S3",
    "HTTPS://ArXiv.org/abs/{id}{v}",
)
OLD_ARCHIVES = ("hep-th", "hep-ph", "astro-ph", "cond-mat", "gr-qc", "quant-ph", "math", "cs", "nlin", "q-bio")

new_ids = st.builds(lambda yy, mm, n, five: f"{yy:02d}{mm:02d}.{n:05d}" if five else f"{yy:02d}{mm:02d}.{n % 10000:04d}",
                    st.integers(7, 29), st.integers(1, 12), st.integers(1, 99999), st.booleans())
old_ids = st.builds(lambda archive, yy, mm, n: (f"{archive}/{yy:02d}{mm:02d}{n:03d}", archive),
                    st.sampled_from(OLD_ARCHIVES), st.sampled_from([91, 95, 99, 0, 3, 6]), st.integers(1, 12),
                    st.integers(1, 999))


@settings(max_examples=150, deadline=None)
@given(new_ids, st.sampled_from(["", "v1", "v2", "v13"]))
def test_every_address_of_a_new_style_arxiv_paper_has_one_key(identifier, version):
    keys = {url_key(form.format(id=identifier, v=version)) for form in ARXIV_FORMS}
    assert keys == {f"arxiv.org/abs/{identifier}"}
    assert url_key(f"https://{keys.pop()}") == f"arxiv.org/abs/{identifier}"  # a key read back is the key
    assert arxiv_id(f"arXiv:{identifier}{version}") == identifier


@settings(max_examples=100, deadline=None)
@given(old_ids, st.sampled_from(["", "v1", "v3"]), st.sampled_from(["", ".GT", ".AI"]))
def test_every_address_of_an_old_style_arxiv_paper_has_one_key(case, version, subject):
    identifier, archive = case
    # the subject class (math.GT/0309136, cs.AI/0101001) is not part of the identifier
    spelled = identifier.replace(archive, archive + subject, 1) if archive in ("math", "cs") else identifier
    keys = {url_key(form.format(id=spelled, v=version)) for form in ARXIV_FORMS}
    assert keys == {f"arxiv.org/abs/{identifier}"}
    assert arxiv_id(spelled + version) == identifier


@pytest.mark.parametrize("given_url, key", [
    ("https://arxiv.org/abs/2401.01234", "arxiv.org/abs/2401.01234"),
    ("https://arxiv.org/pdf/2401.01234v2", "arxiv.org/abs/2401.01234"),
    ("https://arxiv.org/pdf/2401.01234.pdf", "arxiv.org/abs/2401.01234"),
    ("https://arxiv.org/html/2401.01234v3", "arxiv.org/abs/2401.01234"),
    ("https://export.arxiv.org/abs/2401.01234", "arxiv.org/abs/2401.01234"),
    ("https://www.arxiv.org/abs/2401.01234", "arxiv.org/abs/2401.01234"),
    ("https://arxiv.org/abs/0704.0001v1", "arxiv.org/abs/0704.0001"),
    ("https://arxiv.org/abs/hep-th/9901001", "arxiv.org/abs/hep-th/9901001"),
    ("https://arxiv.org/pdf/hep-th/9901001v2", "arxiv.org/abs/hep-th/9901001"),
    ("https://arxiv.org/abs/math.GT/0309136", "arxiv.org/abs/math/0309136"),
    ("https://arxiv.org/abs/math/0309136v1", "arxiv.org/abs/math/0309136"),
])
def test_arxiv_examples(given_url, key):
    assert url_key(given_url) == key == paper_key(given_url)
    assert try_key(given_url) == key


@pytest.mark.parametrize("given_url, key", [
    # other papers, other resources and other sites keep keys of their own
    ("https://example.org/abs/2401.01234", "example.org/abs/2401.01234"),
    ("https://example.org/papers/2401.01234v2.pdf", "example.org/papers/2401.01234v2.pdf"),
    ("https://notarxiv.org/abs/2401.01234", "notarxiv.org/abs/2401.01234"),
    ("https://arxiv.org.example.com/abs/2401.01234", "arxiv.org.example.com/abs/2401.01234"),
    ("https://arxiv.org/list/cs.LG/recent", "arxiv.org/list/cs.LG/recent"),
    ("https://arxiv.org/html/2401.01234v1/x1.png", "arxiv.org/html/2401.01234v1/x1.png"),
    ("https://arxiv.org/abs/2401.01234/references", "arxiv.org/abs/2401.01234/references"),
    ("https://info.arxiv.org/help/submit/index.html", "info.arxiv.org/help/submit/index.html"),
    ("https://www.example.org/post/", "example.org/post"),
])
def test_other_urls_keep_their_own_keys(given_url, key):
    assert url_key(given_url) == key
    assert paper_key(normalize_url(given_url)) is None
    assert arxiv_id(given_url) is None


def test_distinct_papers_stay_apart():
    assert url_key("https://arxiv.org/abs/2401.01234") != url_key("https://arxiv.org/abs/2401.01235")
    assert url_key("https://arxiv.org/abs/hep-th/9901001") != url_key("https://arxiv.org/abs/hep-ph/9901001")
    assert url_key("https://arxiv.org/abs/2401.01234") != url_key("https://arxiv.org/abs/2401.12340")


def test_what_to_fetch_for_an_arxiv_paper():
    # the abstract page has the metadata; the PDF is the full text
    assert arxiv_abs_url("2401.01234") == "https://arxiv.org/abs/2401.01234"
    assert arxiv_pdf_url("2401.01234") == "https://arxiv.org/pdf/2401.01234"
    assert arxiv_abs_url("arXiv:2401.01234v2") == "https://arxiv.org/abs/2401.01234v2"
    assert arxiv_pdf_url("hep-th/9901001") == "https://arxiv.org/pdf/hep-th/9901001"
    assert arxiv_pdf_url("https://arxiv.org/html/2401.01234v3") == "https://arxiv.org/pdf/2401.01234v3"
    with pytest.raises(ValueError):
        arxiv_abs_url("not an id")
    assert fetch_url("http://arxiv.org/pdf/2401.01234v2") == "https://arxiv.org/abs/2401.01234v2"
    assert fetch_url("https://arxiv.org/html/2401.01234") == "https://arxiv.org/abs/2401.01234"
    assert fetch_url("http://arxiv.org/abs/2401.01234v2") == "http://arxiv.org/abs/2401.01234v2"  # already there
    assert fetch_url("https://example.org/a.pdf") == "https://example.org/a.pdf"


def test_arxiv_and_doi_org_are_spelled_one_way():
    assert normalize_url("http://www.arxiv.org/abs/2401.01234v2") == "https://arxiv.org/abs/2401.01234v2"
    assert normalize_url("http://dx.doi.org/10.1000/XYZ") == "https://doi.org/10.1000/XYZ"
    # export.arxiv.org is the service arXiv asks robots to use: not rewritten, only keyed alike
    assert normalize_url("http://export.arxiv.org/abs/2401.01234") == "http://export.arxiv.org/abs/2401.01234"
    assert normalize_url("http://arxiv.org:8080/abs/1") == "http://arxiv.org:8080/abs/1"


# -- DOIs: every spelling of one DOI, one key --------------------------------------------------

@pytest.mark.parametrize("given_url", [
    "https://doi.org/10.1000/XYZ",
    "https://doi.org/10.1000/xyz",
    "http://doi.org/10.1000/xyz",
    "http://dx.doi.org/10.1000/xyz",
    "https://dx.doi.org/10.1000/Xyz",
    "https://www.doi.org/10.1000/xyz",
    "https://doi.org/10.1000%2Fxyz",
    "https://doi.org/10.1000/%78%79%7A",
    "https://doi.org/10.1000/xyz#top",
    "https://doi.org/10.1000/xyz/",
    "doi:10.1000/xyz",
    "DOI:10.1000/XYZ",
    "doi: 10.1000/xyz",
    "  doi:10.1000/xyz  ",
])
def test_every_spelling_of_a_doi_has_one_key(given_url):
    assert url_key(given_url) == "doi.org/10.1000/xyz"
    assert paper_key(given_url) == "doi.org/10.1000/xyz"


def test_doi_input_becomes_a_fetchable_url():
    assert normalize_url("doi:10.1000/xyz") == "https://doi.org/10.1000/xyz"
    assert normalize_url("DOI:10.1000/XYZ") == "https://doi.org/10.1000/XYZ"  # as written: doi.org ignores case
    assert fetch_url("doi:10.1000/xyz") == "https://doi.org/10.1000/xyz"
    assert fetch_url(" doi:10.1000/a b") == "doi:10.1000/a b"  # no DOI: left for the fetcher to refuse
    odd = "doi:10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-0"
    assert fetch_url(odd) == "https://doi.org/10.1002/(SICI)1097-4571(199806)49:8%3C693::AID-ASI4%3E3.0.CO;2-0"
    assert url_key(odd) == url_key(fetch_url(odd)) == url_key(normalize_url(odd))
    assert url_key(f"https://{url_key(odd)}") == url_key(odd)


@pytest.mark.parametrize("bad", ["doi:", "doi:hello", "doi:11.1000/xyz", "doi:10.1000", "doi:10.1000/"])
def test_a_doi_name_that_is_no_doi_is_refused(bad):
    with pytest.raises(InvalidURLError, match="not a DOI"):
        normalize_url(bad)
    assert try_key(bad) is None


def test_distinct_dois_and_doi_like_paths_elsewhere_stay_apart():
    assert url_key("https://doi.org/10.1000/xyz") != url_key("https://doi.org/10.1000/xyz2")
    # a publisher's /doi/ page is its own URL: the redirect from doi.org links the two in the ledger
    assert url_key("https://journals.example.org/doi/10.1000/xyz") == "journals.example.org/doi/10.1000/xyz"
    assert url_key("https://doi.org/") == "doi.org/"


@pytest.mark.parametrize("text, expected", [
    ("10.1000/xyz", "10.1000/xyz"),
    ("doi:10.1000/XYZ", "10.1000/XYZ"),
    ("info:doi/10.1000/xyz", "10.1000/xyz"),
    ("urn:doi:10.1000/xyz", "10.1000/xyz"),
    ("https://doi.org/10.1000/xyz", "10.1000/xyz"),
    ("doi.org/10.1000%2Fxyz", "10.1000/xyz"),
    ("https://dx.doi.org/10.1000.1/abc(1)", "10.1000.1/abc(1)"),
    ("ISSN 1234-5678", None),
    ("https://example.org/10.1000/xyz", None),
    ("", None),
])
def test_doi_of_text_and_urls(text, expected):
    assert doi(text) == expected


# -- papers' pages through the real extraction path --------------------------------------------

def extracted(name: str, url: str, drop: str = ""):
    html = (PAPERS / name).read_text(encoding="utf-8")
    return extract_document(html.replace(drop, "") if drop else html, url, today=TODAY)


ARXIV_AUTHORS = "Wei Zhang, Lucia Di Marco, Anna van der Berg, Chinedu Okafor, Di He"
ARXIV_ABSTRACT = ("We introduce attribution graphs for small language models: sparse, human-readable maps of the "
                  "intermediate features a model uses when it answers a question that needs two or more reasoning "
                  "steps. Each graph is built from a cross-layer transcoder trained on the model's residual stream")


def test_an_arxiv_abstract_page():
    document = extracted("arxiv-abs.html", "http://arxiv.org/abs/2401.01234v2")
    assert document.title == "Attribution Graphs for Tracing Multi-Step Reasoning in Small Language Models"
    assert document.author == ARXIV_AUTHORS  # every citation_author, in order, "Last, First" turned round
    assert document.date == "2024-01-02"  # first submitted (citation_date), not the v2 revision
    assert document.abstract.startswith(ARXIV_ABSTRACT)
    assert document.abstract.endswith("the graphs and an interactive viewer.")
    assert document.arxiv_id == "2401.01234"
    assert document.pdf_url == "https://arxiv.org/pdf/2401.01234"
    assert document.doi is None  # arXiv declares a DOI only for a journal version
    assert document.canonical_url == "https://arxiv.org/abs/2401.01234"  # the paper, not one version
    assert "citation" in document.page_types


def test_an_arxiv_abstract_page_without_citation_abstract_reads_the_blockquote():
    html = (PAPERS / "arxiv-abs.html").read_text(encoding="utf-8")
    start = html.index('<meta name="citation_abstract"')
    document = extract_document(html[:start] + html[html.index("/>", start) + 2:],
                                "https://arxiv.org/abs/2401.01234", today=TODAY)
    assert document.abstract.startswith(ARXIV_ABSTRACT)  # "Abstract:" label gone
    assert document.abstract.endswith("the graphs and an interactive viewer.")


def test_an_arxiv_page_without_citation_pdf_url_gets_arxivs():
    document = extracted("arxiv-abs.html", "https://export.arxiv.org/abs/2401.01234v2",
                         drop='<meta name="citation_pdf_url" content="https://arxiv.org/pdf/2401.01234" />')
    assert document.pdf_url == "https://arxiv.org/pdf/2401.01234"
    assert document.canonical_url == "https://arxiv.org/abs/2401.01234"


def test_a_publisher_page_with_dublin_core_only():
    document = extracted("dublin-core.html", "https://journals.example.org/jcs/article/view/457")
    assert document.title == "Deliberation at Scale: How Online Assemblies Reach Agreement"
    assert document.author == "Keiko Nakamura, Sean O'Brien, Mariana de la Cruz"
    assert document.date == "2023-05-17"  # DC.date, never DC.date.modified
    assert document.doi == "10.5281/JCS.2023.0457"
    assert document.abstract.startswith("Online citizens' assemblies promise deliberation")
    assert document.arxiv_id is None and document.pdf_url is None
    assert "citation" in document.page_types  # it declares a DOI


def test_a_publisher_page_with_json_ld_only():
    document = extracted("json-ld.html", "https://tmlp.example.net/articles/2022/reward-models-under-shift")
    assert document.title == "Reward Models Under Distribution Shift"
    assert document.author == "Priya Raman, Tomás Herrera, Ji-woo Park"
    assert document.date == "2022-11-08"
    assert document.doi == "10.5555/TMLP.2022.118"
    assert document.abstract.startswith("Reward models trained on human preferences are deployed")
    assert "<p>" not in document.abstract and "–" in document.abstract  # markup gone, entities decoded


def test_an_ordinary_article_has_no_paper_fields():
    document = extract_document((FIXTURES / "pages" / "v8-blog.html").read_text(encoding="utf-8"),
                                "https://v8.dev/blog/emscripten-standalone-wasm", today=TODAY)
    assert (document.abstract, document.doi, document.arxiv_id, document.pdf_url) == (None, None, None, None)


@pytest.mark.parametrize("name, url", [
    ("arxiv-abs.html", "https://arxiv.org/abs/2401.01234v2"),
    ("dublin-core.html", "https://journals.example.org/jcs/article/view/457"),
    ("json-ld.html", "https://tmlp.example.net/articles/2022/reward-models-under-shift"),
])
def test_papers_are_guessed_as_papers(name, url):
    assert guess(extracted(name, url), Settings(), taxonomy=load_taxonomy()).format == "paper"


# -- end to end: `ingest url`, with arxiv.org and doi.org answered by the test server -------------

def ledger(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "state" / "ledger.db") as db:
        return db.execute("SELECT url, url_key, outcome FROM items ORDER BY id").fetchall()


def test_one_arxiv_paper_by_several_addresses_is_one_note(cli, proxy):
    page = (PAPERS / "arxiv-abs.html").read_bytes()
    proxy.expect_request("/abs/2401.01234v2").respond_with_data(page, content_type="text/html; charset=utf-8")
    first = cli("url", "http://arxiv.org/abs/2401.01234v2")
    assert first.exit_code == 0, first.output
    [note] = cli.notes()
    assert first.output == f"created seeds/{note.name}\n"
    post = frontmatter.load(note)
    assert post["url"] == "https://arxiv.org/abs/2401.01234"
    assert post["title"] == "Attribution Graphs for Tracing Multi-Step Reasoning in Small Language Models"
    assert post["author"] == ARXIV_AUTHORS
    assert str(post["date"]) == "2024-01-02"
    assert post["format"] == "paper"

    again = cli("url", "http://arxiv.org/pdf/2401.01234")
    assert again.exit_code == 0
    assert again.output == f"duplicate http://arxiv.org/pdf/2401.01234 (archived as seeds/{note.name})\n"
    more = cli("url", "http://export.arxiv.org/abs/2401.01234", "http://arxiv.org/html/2401.01234v3",
               "http://www.arxiv.org/pdf/2401.01234v1.pdf")
    assert more.output.count("duplicate ") == 3, more.output
    assert cli.notes() == [note]
    assert requests_to(proxy, "/abs/2401.01234v2") == 1  # known by key: nothing else fetched
    assert [path for path in (r.path for r, _ in proxy.log) if path != "/robots.txt"] == ["/abs/2401.01234v2"]
    assert ledger(cli.root) == [("http://arxiv.org/abs/2401.01234v2", "arxiv.org/abs/2401.01234", "created")]


def test_a_doi_redirected_to_the_publisher_is_one_note(cli, proxy):
    proxy.expect_request("/10.5281/JCS.2023.0457").respond_with_data(
        b"", status=302, headers={"Location": "http://journals.example.org/jcs/article/view/457"})
    proxy.expect_request("/jcs/article/view/457").respond_with_data(
        (PAPERS / "dublin-core.html").read_bytes(), content_type="text/html; charset=utf-8")
    # doi.org answers https only and a proxy on 127.0.0.1 cannot answer https: the first fetch
    # goes by http; the `doi:` and https names that follow are the same item by key, unfetched
    first = cli("url", "http://dx.doi.org/10.5281/JCS.2023.0457")
    assert first.exit_code == 0, first.output
    [note] = cli.notes()
    post = frontmatter.load(note)
    assert post["url"] == "http://journals.example.org/jcs/article/view/457"  # the publisher's page
    assert post["title"] == "Deliberation at Scale: How Online Assemblies Reach Agreement"
    assert post["author"] == "Keiko Nakamura, Sean O'Brien, Mariana de la Cruz"
    assert str(post["date"]) == "2023-05-17"
    assert post["format"] == "paper"

    for again in ("https://dx.doi.org/10.5281/jcs.2023.0457", "doi:10.5281/JCS.2023.0457",
                  "https://doi.org/10.5281%2FJCS.2023.0457", "http://journals.example.org/jcs/article/view/457"):
        result = cli("url", again)
        assert result.exit_code == 0
        assert result.output == f"duplicate {again} (archived as seeds/{note.name})\n"
    assert cli.notes() == [note]
    assert requests_to(proxy, "/10.5281/JCS.2023.0457") == 1
    assert requests_to(proxy, "/jcs/article/view/457") == 1
    assert ledger(cli.root) == [("http://dx.doi.org/10.5281/JCS.2023.0457", "doi.org/10.5281/jcs.2023.0457", "created")]
