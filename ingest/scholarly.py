"""arXiv identifiers and DOIs: which addresses name one paper, the paper's key, and what to fetch
for it (pure).

Only arxiv.org and doi.org themselves are known here. A publisher's own page is recognised by
what it declares (metadata.py), never by its address.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

ARXIV_HOST = "arxiv.org"
DOI_HOST = "doi.org"

# new style since 2007: YYMM.NNNN, five digits from 2015; old style: archive[.CLASS]/YYMMNNN,
# where the subject class is not part of the identifier (math.GT/0309136 is math/0309136)
_ARXIV_ID = (r"(?:(?P<new>\d{4}\.\d{4,5})|(?P<archive>[a-z]+(?:-[a-z]+)*)(?:\.[a-z]{2})?/(?P<number>\d{7}))"
             r"(?P<version>v\d+)?")
ARXIV_NAME = re.compile(rf"(?:arxiv:\s*)?{_ARXIV_ID}", re.I)
# the paper's own pages; anything below them (/html/ID/x1.png) is another resource
ARXIV_PATH = re.compile(rf"/(?P<kind>abs|pdf|html)/(?:arxiv:)?{_ARXIV_ID}(?:\.pdf)?/?", re.I)
DOI_NAME = re.compile(r"10\.\d{4,9}(?:\.\d+)*/\S+")
DOI_PREFIX = re.compile(r"^(?:doi:|info:doi/|urn:doi:|doi\s+)\s*", re.I)
# what a DOI may keep unescaped in a URL path: RFC 3986 pchar and "/"
DOI_SAFE = "/:@!$&'()*+,;="


def arxiv_id(url_or_text: str) -> str | None:
    """The arXiv identifier of the paper that an arXiv URL (any host of arxiv.org; abstract, PDF
    or HTML page) or an arXiv name (`arXiv:2401.01234v2`, `hep-th/9901001`) names, without its
    version: `2401.01234`, `math/0309136`. None for anything else."""
    found = _arxiv(url_or_text)
    return found[0] if found else None


def arxiv_abs_url(identifier: str) -> str:
    """The abstract page of an arXiv paper (its metadata and abstract), version kept if given."""
    return f"https://{ARXIV_HOST}/abs/{_versioned(identifier)}"


def arxiv_pdf_url(identifier: str) -> str:
    """The PDF of an arXiv paper (its full text), version kept if given."""
    return f"https://{ARXIV_HOST}/pdf/{_versioned(identifier)}"


def doi(url_or_text: str) -> str | None:
    """The DOI that a doi.org URL, a `doi:` name or a bare `10.…/…` names, percent-decoded and as
    written (DOIs compare without case: see paper_key). None for anything else."""
    text = (url_or_text or "").strip()
    parts = _split(text)
    if parts is not None and _on(parts.hostname, DOI_HOST):
        text = unquote(parts.path.strip("/"))
    elif re.match(r"(?:[\w-]+\.)*doi\.org/", text, re.I):  # "doi.org/10.…" written without a scheme
        text = unquote(text.partition("/")[2].rstrip("/"))
    else:
        text = DOI_PREFIX.sub("", text)
    return text if DOI_NAME.fullmatch(text) else None


def doi_url(name: str) -> str:
    """The doi.org URL that resolves a DOI."""
    return f"https://{DOI_HOST}/{quote(name, safe=DOI_SAFE)}"


def paper_key(url: str) -> str | None:
    """The identity of a paper whatever address names it: `arxiv.org/abs/<id>` for its arXiv
    pages (any version, PDF or HTML, any arxiv.org host), `doi.org/<doi in lower case>` for a
    doi.org URL or a `doi:` name. None for other URLs: they keep their own url_key."""
    found = _arxiv_url(url)
    if found:
        return f"{ARXIV_HOST}/abs/{found[0]}"
    parts = _split(url)
    if parts is not None and (parts.scheme.lower() == "doi" or _on(parts.hostname, DOI_HOST)):
        name = doi(url)
        if name:
            return doi_url(name.lower()).removeprefix("https://")
    return None


def fetch_url(given: str) -> str:
    """What to fetch for an item given as `given`: a `doi:` name's doi.org URL (which redirects
    to the publisher), an arXiv PDF or HTML page's abstract page (where the paper's metadata is:
    arxiv_pdf_url gives the full text); any other URL as given."""
    given = given.strip()
    parts = _split(given)
    if parts is not None and parts.scheme.lower() == "doi":
        name = doi(given)
        return doi_url(name) if name else given
    found = _arxiv_url(given)
    if found and found[2] != "abs":
        return arxiv_abs_url(found[0] + found[1])
    return given


def tidy_url(url: str) -> str:
    """One spelling for arxiv.org and doi.org addresses, which serve only https and answer
    `www.` (and `dx.doi.org`) with a redirect: `https://arxiv.org/…`, `https://doi.org/…`.
    Other hosts, export.arxiv.org among them, are left alone."""
    parts = _split(url)
    if parts is None or parts.scheme not in ("http", "https") or parts.port is not None:
        return url
    host = parts.hostname or ""
    if host in ("www.arxiv.org", ARXIV_HOST):
        return parts._replace(scheme="https", netloc=ARXIV_HOST).geturl()
    if host in ("dx.doi.org", "www.doi.org", DOI_HOST):
        return parts._replace(scheme="https", netloc=DOI_HOST).geturl()
    return url


def _arxiv(text: str) -> tuple[str, str, str] | None:
    """(identifier without version, version or '', page kind or '') of an arXiv URL or name."""
    text = (text or "").strip()
    found = _arxiv_url(text)
    if found:
        return found
    match = ARXIV_NAME.fullmatch(text)
    return (_identifier(match), match.group("version") or "", "") if match else None


def _arxiv_url(url: str) -> tuple[str, str, str] | None:
    parts = _split(url)
    if parts is None or parts.scheme.lower() not in ("http", "https") or not _on(parts.hostname, ARXIV_HOST):
        return None
    match = ARXIV_PATH.fullmatch(unquote(parts.path))
    if not match:
        return None
    return _identifier(match), (match.group("version") or "").lower(), match.group("kind").lower()


def _identifier(match: re.Match) -> str:
    if match.group("new"):
        return match.group("new")
    return f"{match.group('archive').lower()}/{match.group('number')}"


def _versioned(identifier: str) -> str:
    found = _arxiv(identifier)
    if found is None:
        raise ValueError(f"not an arXiv identifier: {identifier!r}")
    return found[0] + found[1]


def _on(host: str | None, domain: str) -> bool:
    if not host:
        return False
    return host == domain or host.endswith("." + domain)


def _split(url: str):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        return None
    return parts
