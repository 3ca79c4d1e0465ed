"""Content-Encoding undone as the body streams in, one layer after another, each layer's output
counted against the size limit: a few hundred bytes of stacked gzip cannot grow into gigabytes
before the limit is seen (pure: bytes in, bytes out)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from .errors import FetchError

CHUNK = 64 * 1024  # the most one layer hands to the next at a time


def _bounded_brotli() -> ModuleType | None:
    """The brotli module when it can bound its output (1.2+, CVE-2025-6176); older ones cannot,
    so br is then neither asked for nor read."""
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        return None
    return brotli if hasattr(brotli.Decompressor(), "can_accept_more_data") else None


BROTLI = _bounded_brotli()
ACCEPTED = "gzip, deflate, br" if BROTLI else "gzip, deflate"  # never ask for what cannot be read
ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3


def codings(header: str) -> list[str]:
    """The Content-Encoding header's codings, in the order they were applied, identity left out;
    a FetchError for one this module cannot undo."""
    names = [ALIASES.get(n, n) for n in (part.strip().lower() for part in header.split(",")) if n]
    names = [n for n in names if n != "identity"]
    for name in names:
        if name not in ("gzip", "deflate") and not (name == "br" and BROTLI):
            raise FetchError(
                f"the server sent the body as Content-Encoding '{header.strip()}', which this client cannot"
                f" decode (it asks for {ACCEPTED})",
                code="unsupported_encoding",
            )
    return names


def decoded(raw: Iterable[bytes], names: list[str], limit: int) -> Iterator[bytes]:
    """The body's bytes with each coding in `names` undone, last applied first; raises FetchError
    (too_large) as soon as the raw body or any layer's output passes `limit` bytes, and
    (decoding) when a layer is not what it says."""
    stream = _counted(iter(raw), limit)
    for name in reversed(names):
        layer = _brotli(stream) if name == "br" else _inflate(stream, name)
        stream = _counted(layer, limit)
    return stream


def _counted(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise FetchError(f"body larger than {limit} bytes", code="too_large")
        yield chunk


def _inflate(source: Iterator[bytes], name: str) -> Iterator[bytes]:
    """gzip (member after member, as concatenated files are) or deflate: zlib-wrapped, as RFC 9110
    asks, or raw, as some servers send it. Whatever follows the last member is ignored."""
    machine: Any = _machine(name)
    probe = b"" if name == "deflate" else None  # the input so far, until deflate shows which kind it is
    after_member = False  # gzip: what follows a member may be another one, or trailing junk
    for data in source:
        while data and machine is not None:
            try:
                out = machine.decompress(data, CHUNK)
            except zlib.error as exc:
                if probe is not None:  # no zlib header: the same bytes again, as raw deflate
                    machine, data, probe = zlib.decompressobj(-zlib.MAX_WBITS), probe + data, None
                    continue
                if after_member:
                    machine = None
                    break
                raise _undecodable(name, exc) from None
            if probe is not None:
                probe = None if out else probe + data[: len(data) - len(machine.unconsumed_tail)]
            after_member = after_member and not out
            data = machine.unconsumed_tail
            if out:
                yield out
            if machine.eof:
                data, after_member = machine.unused_data, True
                machine = _machine(name) if name == "gzip" else None
        # the input is used up, but output that did not fit in the last CHUNK may wait in the machine
        while machine is not None and not machine.eof and (out := machine.decompress(b"", CHUNK)):
            yield out


def _machine(name: str) -> Any:  # zlib's Decompress type has no public name
    return zlib.decompressobj(16 + zlib.MAX_WBITS if name == "gzip" else zlib.MAX_WBITS)


def _brotli(source: Iterator[bytes]) -> Iterator[bytes]:
    assert BROTLI is not None  # codings() lets br through only then
    machine = BROTLI.Decompressor()
    try:
        for data in source:
            out = machine.process(data, CHUNK)
            while True:
                if out:
                    yield out
                if machine.can_accept_more_data() or machine.is_finished():
                    break
                out = machine.process(b"", CHUNK)
    except BROTLI.error as exc:
        raise _undecodable("br", exc) from None


def _undecodable(name: str, exc: Exception) -> FetchError:
    return FetchError(f"cannot decompress the response: not valid {name} data ({exc})", code="decoding")
