"""Decode fetched HTML bytes to text, choosing the encoding the way a browser would.

The first of these that applies wins:
  1. a byte-order mark (UTF-8, UTF-16 LE/BE);
  2. UTF-8, when the bytes are valid UTF-8 and hold non-ASCII characters, whatever is declared:
     text in a legacy charset is practically never valid UTF-8 by accident, while a UTF-8 page
     under a stale "charset=iso-8859-1" header or template is common (a browser shows mojibake);
  3. the charset of the HTTP Content-Type header, if Python knows it ("utf-16" on bytes without
     a NUL, which UTF-16 markup always has, is a mislabelled 8-bit page and ignored);
  4. the document's own declaration in its first 4 KB: <meta charset=...>,
     <meta http-equiv=Content-Type content="...; charset=...">, or <?xml ... encoding=...?>;
  5. UTF-8, when the bytes are valid UTF-8 (so plain UTF-8 pages skip detection);
  6. detection by charset-normalizer, preferring windows-1252 among equally good guesses;
  7. UTF-8 with U+FFFD for the bytes that do not fit.
A declared charset (3, 4) that fails to decode the bytes strictly is passed over. As in the WHATWG
Encoding Standard, labels that browsers treat as aliases are mapped: "iso-8859-1", "latin-1" and
"us-ascii" all mean windows-1252, whose 0x80-0x9F range holds the curly quotes and dashes.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from .errors import ExtractError
from .records import FetchResult

BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
PRESCAN_BYTES = 4096

# Python codec name -> the codec browsers actually use for that label (WHATWG Encoding Standard)
WHATWG = {
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
}

META = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)
XML = re.compile(rb"""^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)""", re.IGNORECASE)


def decode_html(content: bytes, header_charset: str | None) -> str:
    """Return `content` as text; `header_charset` is the Content-Type charset parameter, if any."""
    for bom, encoding in BOMS:
        if content.startswith(bom):
            return content[len(bom):].decode(encoding, errors="replace")
    if not content.isascii():
        text = _try(content, "utf-8")
        if text is not None:
            return text
    declared = _codec(_declared(content))
    if declared is not None and declared.startswith("utf-16"):
        declared = "utf-8"  # a declaration readable as ASCII cannot be UTF-16; browsers take UTF-8
    header = _codec(header_charset)
    wide = header is not None and header.startswith(("utf-16", "utf-32"))
    if wide and b"\x00" not in content[:PRESCAN_BYTES]:
        header = None  # without a BOM or a single NUL, "charset=utf-16" is a mislabelled 8-bit page
    for label in (header, declared):
        text = _try(content, label)
        if text is not None:
            return text
    text = _try(content, "utf-8")
    if text is not None:
        return text
    detected = _detect(content)
    if detected is not None:
        return content.decode(detected, errors="replace")
    return content.decode("utf-8", errors="replace")


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, with browser aliases applied; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return WHATWG.get(name, name)


def _declared(content: bytes) -> str | None:
    head = content[:PRESCAN_BYTES]
    match = XML.match(head) or META.search(head)
    return match.group(1).decode("ascii") if match else None


def _try(content: bytes, encoding: str | None) -> str | None:
    if encoding is None:
        return None
    try:
        return content.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(content: bytes) -> str | None:
    results = from_bytes(content)
    best = results.best()
    if best is None:
        return None
    # Short Western texts fit many single-byte code pages equally well; windows-1252 is the web's
    # most common legacy encoding, and the browsers' default, so it breaks the tie.
    score = (best.percent_chaos, best.percent_coherence)
    ties = [m for m in results if (m.percent_chaos, m.percent_coherence) == score]
    if any("cp1252" in m.could_be_from_charset for m in ties) and _try(content, "cp1252") is not None:
        return "cp1252"
    return best.encoding


HTML_TYPES = ("text/html", "application/xhtml+xml")
# what a body is when its first bytes say so, whatever the Content-Type claims
SIGNATURES = (
    (b"%PDF-", "a PDF document"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"), (b"\x1f\x8b", "gzip-compressed data"),
    (b"PK\x03\x04", "a ZIP archive (or an Office file)"), (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"\x7fELF", "a program"),
)


def page_html(result: FetchResult) -> str:
    """The fetched body as HTML text; refuses what is not an HTML page, whatever its label."""
    body = result.content
    if not body.strip():
        raise ExtractError("the server sent an empty page", url=result.url, code="empty_body")
    kind = result.content_type
    head = body[:1024].lstrip().lower()
    looks_html = head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--", b"<body"))
    if kind and kind not in HTML_TYPES and not (kind == "text/plain" and looks_html):
        raise ExtractError(
            f"content type {kind} is not an HTML page; only web pages are archived for now",
            url=result.url,
            code="unsupported_content_type",
        )
    for magic, what in SIGNATURES:
        if body.startswith(magic):
            label = f"served as {kind}" if kind else "served without a content type"
            raise ExtractError(
                f"the body is {what}, not an HTML page ({label}); only web pages are archived for now",
                url=result.url, code="binary_body",
            )
    if b"\x00" in body[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError("the body is binary data, not an HTML page", url=result.url, code="binary_body")
    return decode_html(body, result.charset)
