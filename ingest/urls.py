"""URL normalization and the keys that decide whether two URLs name the same item (pure)."""

from __future__ import annotations

import re
import string
from urllib.parse import quote_plus, unquote_plus, unquote_to_bytes, urlsplit, urlunsplit

import courlan
import idna  # httpx's own IDNA 2008 rules: a host they refuse is one the fetcher cannot reach

from . import scholarly
from .errors import IngestError

SCHEMES = ("http", "https")

# courlan's tracker list (courlan.clean.TRACKERS_RE), but a tracker word must be a whole word of
# the name: courlan's pattern is open at the end, so it also dropped real parameters that merely
# start with one (game, gallery, global, reference, sourcecode…) and merged distinct pages.
TRACKING_PARAM = re.compile(
    r"^(?:dc|fbc|gc|twc|yc|ysc)lid|"
    r"^(?:click|gbra|msclk|igsh|partner|wbra)id|"
    r"^(?:ads?|ga|gs|itm|mc|mkt|ml|mtm|oly|pk|utm|vero)_|"
    r"(?:^|[\W_])(?:aff|affi|affiliate|campaign|cl?id|eid|ga|gl|"
    r"kwd|keyword|medium|ref|referr?er|session|source|uid|xtor)(?:id)?(?:$|[\W_])"
)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PUNYCODE = re.compile(r"(?<![^.@])xn--[a-z0-9-]+(?=[.:]|$)")
_SURROGATE = re.compile("[\ud800-\udfff]")  # what Python makes of bytes that are not UTF-8 (argv, files)
MAX_HOST, MAX_LABEL = 253, 63  # RFC 1035, as written (no root label): the resolver refuses longer ones


class InvalidURLError(IngestError, ValueError):
    code = "invalid_url"


def normalize_url(url: str) -> str:
    """The URL as it should be stored and shown: scheme and host lower case, default port,
    fragment and tracking parameters (utm_*, fbclid, gclid, …) removed, query sorted; a `doi:`
    name is its https://doi.org/ URL, and arxiv.org and doi.org are spelled one way (https, no www)."""
    raw = url.strip()
    if _SURROGATE.search(raw):  # the ledger, the note and the terminal could not store or show it
        raise InvalidURLError("URL is not valid UTF-8 text (undecodable bytes); percent-encode them, "
                              "as %FF", url=url)
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 bracket
        raise InvalidURLError(f"malformed URL ({exc}); check the address", url=url) from None
    if not parts.scheme:
        raise InvalidURLError("not a URL; give an address starting with https:// or http://", url=url)
    if parts.scheme.lower() == "doi":  # the one name that is not a URL but names a fetchable page
        name = scholarly.doi(raw)
        if name is None:
            raise InvalidURLError("not a DOI; write it like doi:10.1234/abc or https://doi.org/10.1234/abc",
                                  url=url)
        raw = scholarly.doi_url(name)
        parts = urlsplit(raw)
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidURLError(
            f"unsupported URL scheme '{parts.scheme}:'; only http:// and https:// pages are fetched",
            url=url,
        )
    if not parts.hostname:
        raise InvalidURLError("URL has no host; give a full address like https://example.org/post", url=url)
    problem = host_problem(parts.hostname)
    if problem:
        raise InvalidURLError(f"invalid host: {problem}; check the address", url=url)
    if any(c.isspace() for c in raw):
        raise InvalidURLError("URL contains spaces or line breaks; percent-encode a space as %20", url=url)
    try:
        port = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise InvalidURLError("URL has an invalid port; a port is a number from 1 to 65535", url=url)
    if parts.username is not None or parts.password is not None:
        # it would be stored in the ledger and written into the note, which is committed to git
        raise InvalidURLError("URL contains a user name or password; remove the part before '@'", url=url)
    try:
        # a SplitResult, not the string: courlan HTML-unescapes strings, turning "&lt=0" into "<=0"
        # the query is cleaned here, not by courlan (see clean_query)
        normalized = urlsplit(courlan.normalize_url(parts._replace(query="", fragment="")))
    except (ValueError, UnicodeError) as exc:
        raise InvalidURLError(f"malformed URL ({exc})", url=url) from None
    query = clean_query(parts.query)
    path = _ESCAPE.sub(_tidy_escape, normalized.path) or ("/" if query else "")
    netloc = _PUNYCODE.sub(_unicode_label, normalized.netloc)
    tidy = urlunsplit(normalized._replace(netloc=netloc, path=path, query=query, fragment=""))
    return scholarly.tidy_url(tidy)


def host_problem(host: str) -> str | None:
    """What makes `host` (brackets removed) a name no resolver can look up, or None.

    The rules are those of the two layers below the fetcher: httpx encodes an international name
    by IDNA 2008 (and decodes a host that starts with an A-label), the socket layer refuses an
    empty label or one of more than 63 characters. Either would end a run with a traceback."""
    if not host or ":" in host:  # an IPv6 literal; its parser has checked it
        return None
    if not host.isascii():
        try:
            host = idna.encode(host.lower()).decode("ascii")
        except UnicodeError as exc:  # idna.IDNAError among them
            return f"'{host}' is not a valid international (IDNA) name ({exc})"
    if len(host.removesuffix(".")) > MAX_HOST:
        return f"the host name is longer than {MAX_HOST} characters"
    for label in host.removesuffix(".").split("."):
        if not label:
            return f"'{host}' has an empty label (two dots in a row)"
        if len(label) > MAX_LABEL:
            return f"'{host}' has a label longer than {MAX_LABEL} characters"
        if label[:4].lower() == "xn--":
            try:
                idna.decode(label)
            except UnicodeError as exc:
                return f"'{label}' is not a valid international (IDNA) label ({exc})"
    return None


def _unicode_label(match: re.Match) -> str:
    # courlan decodes punycode labels only where no port follows ("xn--p1ai:8080" stayed)
    try:
        return match.group(0).encode("ascii").decode("idna")
    except UnicodeError:
        return match.group(0)


def _tidy_escape(match: re.Match) -> str:
    # RFC 3986 6.2.2: "%7e", "%7E" and "~" spell one path, which courlan leaves as written
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def clean_query(query: str) -> str:
    """The query without tracking parameters, fields sorted by name (a name's values in order),
    each written one way (form encoding).

    courlan's clean_query went through parse_qs, which drops fields without a value (`?1234`,
    `?page=`) and replaces bytes that are not UTF-8 (`?q=caf%E9`): other pages than the one linked."""
    fields = []
    for field in query.split("&"):
        if not field:
            continue
        name, eq, value = field.partition("=")
        decoded = unquote_plus(name)
        if TRACKING_PARAM.search(decoded.lower()):
            continue
        fields.append((decoded, _form_encode(name) + eq + _form_encode(value)))
    fields.sort(key=lambda f: f[0])  # stable: repeated names keep their order
    return "&".join(f for _, f in fields)


def _form_encode(text: str) -> str:
    return quote_plus(unquote_to_bytes(text.replace("+", " ")), safe="")


def url_key(url: str) -> str:
    """The identity of an item: its normalized URL without scheme, `www.` and trailing slash,
    so http/https and www/bare variants of one article meet on one key. A paper's addresses
    share its paper key (scholarly.paper_key): every arXiv page of one paper, every spelling of
    one DOI."""
    normalized = normalize_url(url)
    paper = scholarly.paper_key(normalized)
    if paper:
        return paper
    parts = urlsplit(normalized)
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def same_site(a: str, b: str) -> bool:
    """True when two URLs belong to one registered domain (blog.example.org ~ example.org)."""
    da, db = courlan.extract_domain(a), courlan.extract_domain(b)
    if da or db:
        return da == db
    # no registered domain (localhost, an IP address): the hosts themselves must agree
    try:
        ha, hb = urlsplit(a).hostname, urlsplit(b).hostname
    except ValueError:  # an unclosed IPv6 bracket names no site at all
        return False
    return bool(ha) and ha == hb


def try_key(url: str | None) -> str | None:
    """url_key, or None for a missing or unusable URL (a page's odd canonical link, say)."""
    if not url:
        return None
    try:
        return url_key(url)
    except InvalidURLError:
        return None
