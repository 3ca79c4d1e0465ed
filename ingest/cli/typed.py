"""URLs as a person types them: as arguments, or one a line in a `-i` file.

A host without a scheme (`example.org/post`) is https://. A line may end with a comment: `#`
after a space or at the start of the line (a `#` inside a URL begins its fragment). A file may
begin with a byte-order mark, and must be UTF-8: a line that is not is one error naming the file
and the line. URLs found in feeds and pages are never read here: they must be full addresses.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from typing import BinaryIO

from . import Fatal

# a host, optionally a port, then the end or the path: "example.org", "127.0.0.1:8080/x", "[::1]/x"
_AUTHORITY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s/?#@:\[\]]+)(?::\d+)?(?=[/?#]|$)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_COMMENT = re.compile(r"(?:^|\s)#.*", re.DOTALL)


def typed_url(text: str) -> str:
    """`text` with https:// in front when it begins with a host name or address and has no
    scheme; anything else as it is, for the URL check to accept or refuse."""
    text = text.strip()
    match = _AUTHORITY.match(text)
    if _SCHEME.match(text) or match is None or not _is_host(match.group(1)):
        return text
    return "https://" + text


def _is_host(host: str) -> bool:
    if host.startswith("[") or host.lower() == "localhost":
        return True
    labels = host.removesuffix(".").split(".")
    if len(labels) < 2 or not all(labels):
        return False
    # a top-level domain has a letter; four numbers are an IPv4 address ("10.1000/x" is a DOI)
    return any(c.isalpha() for c in labels[-1]) or (len(labels) == 4 and all(p.isdigit() for p in labels))


def read_url_lines(data: bytes, name: str) -> list[str]:
    """The URLs of a `-i` file's bytes, comments and blank lines left out; `name` is the file's
    name in the error a line that is not UTF-8 makes."""
    urls = []
    for number, raw in enumerate(data.removeprefix(codecs.BOM_UTF8).splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Fatal(f"{name} line {number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                        f"{exc.start + 1}); save the file as UTF-8") from None
        line = _COMMENT.sub("", line).strip()
        if line:
            urls.append(typed_url(line))
    return urls


def given_urls(arguments: Iterable[str], input_file: BinaryIO | None) -> list[str]:
    """The URLs of a command: its arguments, then the lines of its `-i` file (or standard input)."""
    urls = [typed_url(u) for u in arguments]
    if input_file is not None:
        name = getattr(input_file, "name", "-")
        shown = "standard input" if name in ("-", "<stdin>") or not isinstance(name, str) else name
        urls += read_url_lines(input_file.read(), shown)
    return urls
