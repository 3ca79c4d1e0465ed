"""ingest.pdf on the PDFs of tests/fixtures/pdf/ (made by make_fixture.py there; the text is ours)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from ingest.errors import ExtractError
from ingest.pdf import read_pdf

FIXTURES = Path(__file__).parent / "fixtures" / "pdf"
URL = "https://papers.example.org/2024/duplicates.pdf"


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_fixture", FIXTURES / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_fixture"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)  # reportlab is imported only to make PDFs, not here
    return module


MAKER = _load_maker()
PAPER = MAKER.FIXTURE
PARAGRAPHS = [p for _, paragraphs in PAPER.sections for p in paragraphs]


def pdf(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def plain_text(data: bytes) -> str:
    """What PDFium's own text extraction gives: the content stream's order, furniture included."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


@pytest.fixture(scope="module")
def paper():
    return read_pdf(pdf("paper.pdf"), URL)


def test_title_authors_and_date_come_from_page_one_when_the_metadata_is_garbage(paper):
    # the file's metadata says "Microsoft Word - draft3.docx", "Administrator" and no date
    assert paper.title == "Counting Duplicate Sources in a Hand-Kept Research Archive"
    assert paper.authors == ("Maria Okafor", "Jonas Lindqvist", "Wei Zhang")
    assert paper.date == date(2024, 3, 14)
    assert (paper.pages, paper.pages_read, paper.truncated) == (3, 3, False)


def test_plausible_metadata_is_preferred():
    found = read_pdf(pdf("paper-rows.pdf"), URL)
    assert found.date == date(2024, 3, 20)  # /CreationDate, where page 1 says 14 March 2024
    assert found.authors == ("Maria Okafor", "Jonas Lindqvist", "Wei Zhang")  # "; "-separated there
    assert found.title == PAPER.title


def test_abstract_and_every_body_paragraph_come_out_whole_and_in_order(paper):
    text = paper.text
    assert "## Abstract\n\n" + PAPER.abstract + "\n\n" in text
    blocks = text.strip().split("\n\n")
    positions = [blocks.index(p) for p in PARAGRAPHS]  # ValueError: a paragraph was cut or altered
    assert positions == sorted(positions)
    assert not text.startswith(PAPER.title)  # the title is a field, not part of the text


def test_headings_are_markdown_headings_in_order(paper):
    headings = re.findall(r"^## (.+)$", paper.text, flags=re.MULTILINE)
    assert headings == ["Abstract"] + [heading for heading, _ in PAPER.sections]


def test_two_columns_drawn_line_by_line_still_read_column_after_column(paper):
    rows = pdf("paper-rows.pdf")
    stream = " ".join(plain_text(rows).split())
    interleaved = [p for p in PARAGRAPHS if " ".join(p.split()[:14]) not in stream]
    assert len(interleaved) > len(PARAGRAPHS) // 2  # the premise: this file's stream mixes the columns
    assert read_pdf(rows, URL).text == paper.text


def test_running_heads_and_page_numbers_are_dropped(paper):
    raw = plain_text(pdf("paper.pdf"))
    assert "Preprint" in raw and re.search(r"^2$", raw, flags=re.MULTILINE)  # the premise
    assert "Preprint" not in paper.text
    assert "Okafor, Lindqvist and Zhang:" not in paper.text
    assert not re.search(r"^\d+$", paper.text, flags=re.MULTILINE)


def test_words_hyphenated_at_line_ends_are_joined_and_real_hyphens_kept(paper):
    assert "Interannotator" not in plain_text(pdf("paper.pdf"))  # the premise: split over two lines
    assert "Interannotator agreement" in paper.text
    assert "syndication feeds" in paper.text
    assert "personal recommendations" in paper.text
    assert not re.search(r"[a-z]- ?[a-z]", paper.text.replace("thirty-three", "").replace("Hand-Kept", "")
                         .replace("Near-duplicate", ""))
    assert "thirty-three repeat" in paper.text


def test_a_footnote_stands_apart_and_the_sentence_it_interrupted_stays_whole(paper):
    assert "\n\n1 Correspondence to the first author. The notes and counts are available on request.\n\n" \
        in paper.text
    assert "both notes describe the same document." in paper.text


def one_page_pdf(lines: list[tuple[float, str]]) -> bytes:
    """A one-page PDF that prints each (type size, text) on a line of its own."""
    stream, y = ["BT"], 760.0
    for size, text in lines:
        y -= 1.6 * size
        stream.append(f"/F1 {size} Tf 1 0 0 1 72 {y} Tm ({text}) Tj")
    return MAKER.raw_pdf(["\n".join([*stream, "ET"]).encode("latin-1")])


@pytest.mark.parametrize("printed, day", [
    ("12 mars 2024", date(2024, 3, 12)),  # French
    ("3. Mai 2021", date(2021, 5, 3)),  # German
    ("14 March 2024", date(2024, 3, 14)),
])
def test_a_date_printed_on_page_one_is_read_in_any_language_the_html_reader_knows(printed, day):
    body = [(10, "Les sources se recoupent souvent, et cette note compte combien de fois cela arrive.")] * 6
    found = read_pdf(one_page_pdf([(20, "Compter les doublons dans une archive"), (11, "Marie Dupont"),
                                   (11, printed), *body]), URL)
    assert found.title == "Compter les doublons dans une archive"
    assert found.authors == ("Marie Dupont",)
    assert found.date == day


def test_an_owner_password_alone_does_not_stop_reading():
    found = read_pdf(pdf("restricted.pdf"), URL)
    assert found.title == PAPER.title
    assert PARAGRAPHS[0] in found.text


@pytest.mark.parametrize("data, code, words", [
    (pdf("encrypted.pdf"), "pdf_encrypted", "encrypted with a password"),
    (pdf("paper.pdf")[:5000], "pdf_truncated", "truncated"),
    (pdf("paper.pdf")[:5000] + b"\n%%EOF\n", "pdf_corrupt", "damaged"),
    (b"%PDF-1.7\n" + b"\x00 not a pdf body " * 50 + b"\n%%EOF\n", "pdf_corrupt", "damaged"),
    (b"", "pdf_empty", "empty"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "not_pdf", "not a PDF"),
    (pdf("image-only.pdf"), "pdf_no_text", "no text layer"),
    (pdf("blank.pdf"), "pdf_blank", "blank"),
], ids=["encrypted", "truncated", "corrupt-cut", "corrupt-garbage", "empty", "html", "image-only", "blank"])
def test_unreadable_pdfs_raise_one_clear_line(data, code, words):
    with pytest.raises(ExtractError) as caught:
        read_pdf(data, URL)
    error = caught.value
    assert error.code == code
    assert words in error.message
    assert "\n" not in error.message and error.url == URL


def test_a_huge_pdf_stops_at_max_pages():
    data = pdf("long-report.pdf")  # 300 pages
    found = read_pdf(data, URL, max_pages=5)
    assert (found.pages, found.pages_read, found.truncated) == (300, 5, True)
    assert "Section 5 of a very long report." in found.text
    assert "Section 6 of" not in found.text
    default = read_pdf(data, URL)
    assert default.pages_read == 200 and "Section 200 of" in default.text and "Section 201 of" not in default.text


def test_the_text_cap_stops_reading_early():
    found = read_pdf(pdf("long-report.pdf"), URL, max_chars=2_000)
    assert found.truncated
    assert 10 < found.pages_read < 100
    assert len(found.text) < 3_000


def test_threads_can_read_at_once(paper):
    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(lambda _: read_pdf(pdf("paper.pdf"), URL).text, range(8)))
    assert texts == [paper.text] * 8


def test_the_pdf_library_is_imported_only_when_a_pdf_is_read():
    code = "import sys, ingest.pdf; print('pypdfium2' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
