"""decode_html: BOM, then header, then the page's declaration, then UTF-8, then detection."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.charset import decode_html

PAGE = "<html><head><title>Menu</title></head><body><p>{}</p></body></html>"


def test_windows_1252_without_any_declaration():
    content = PAGE.format("caf\xe9 \x93quoted\x94").encode("latin-1")  # raw bytes 0xE9, 0x93, 0x94
    assert "café “quoted”" in decode_html(content, None)


def test_windows_1252_bare_text_without_markup():
    assert decode_html(b"caf\xe9 \x93quoted\x94", None) == "café “quoted”"


def test_header_charset_wins_over_meta():
    content = b'<meta charset="koi8-r">' + PAGE.format("caf\xe9").encode("latin-1")
    assert "café" in decode_html(content, "windows-1252")


def test_meta_charset_used_without_header():
    content = b'<meta charset="windows-1251">' + PAGE.format("Привет").encode("cp1251")
    assert "Привет" in decode_html(content, None)


def test_meta_http_equiv_content_type():
    head = b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
    assert "Привет" in decode_html(head + "Привет".encode("koi8-r"), None)


def test_xml_declaration():
    declaration = b'<?xml version="1.0" encoding="windows-1251"?>'
    content = declaration + b"<feed>" + "Привет".encode("cp1251") + b"</feed>"
    assert "Привет" in decode_html(content, None)


def test_declaration_beyond_4kb_is_ignored():
    content = b"<p>" + b"a" * 5000 + b'</p><meta charset="koi8-r"><p>caf\xc3\xa9</p>'
    assert "café" in decode_html(content, None)  # valid UTF-8, and no declaration in range


def test_bom_wins_over_header_and_meta():
    content = codecs.BOM_UTF8 + b'<meta charset="windows-1252">' + "café “q”".encode()
    assert decode_html(content, "iso-8859-1") == '<meta charset="windows-1252">café “q”'


def test_utf16_bom():
    assert decode_html(codecs.BOM_UTF16_LE + "<p>café</p>".encode("utf-16-le"), None) == "<p>café</p>"
    assert decode_html(codecs.BOM_UTF16_BE + "<p>café</p>".encode("utf-16-be"), "utf-8") == "<p>café</p>"


def test_iso_8859_1_means_windows_1252():
    content = PAGE.format("\x93hi\x94").encode("latin-1")
    assert "“hi”" in decode_html(content, "iso-8859-1")
    assert "“hi”" in decode_html(b'<meta charset="ISO-8859-1">' + content, None)
    assert "“hi”" in decode_html(content, "us-ascii")


def test_wrong_header_charset_falls_through_to_meta():
    content = b'<meta charset="windows-1252">' + PAGE.format("caf\xe9").encode("latin-1")
    assert "café" in decode_html(content, "utf-8")  # 0xE9 alone is not UTF-8


def test_unknown_header_charset_is_ignored():
    assert decode_html("<p>café</p>".encode(), "x-no-such-charset") == "<p>café</p>"


def test_valid_utf8_without_declaration_is_utf8():
    text = "<p>Grüße, naïve café — “ok”</p>"
    assert decode_html(text.encode(), None) == text


def test_meta_declaring_utf16_means_utf8():
    content = b'<meta charset="utf-16">' + "<p>café</p>".encode()
    assert decode_html(content, None).endswith("<p>café</p>")


def test_empty_content():
    assert decode_html(b"", None) == ""
    assert decode_html(b"", "utf-8") == ""


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.binary(max_size=400),
    st.sampled_from([None, "utf-8", "iso-8859-1", "shift_jis", "utf-16", "bogus"]),
)
def test_never_raises(content, header):
    assert isinstance(decode_html(content, header), str)
