"""ingest.urls: normalize_url, url_key, same_site, try_key."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.urls import InvalidURLError, normalize_url, same_site, try_key, url_key

TRACKING = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid")


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in ("fbclid", "gclid")


# -- examples -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("HTTPS://Example.COM/a/b", "https://example.com/a/b"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8080/a", "https://example.com:8080/a"),  # a non-default port stays
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://example.com/a"),
        ("https://example.com/a?fbclid=IwAR0abc", "https://example.com/a"),
        ("https://example.com/a?gclid=Cj0KCQ", "https://example.com/a"),
        ("https://example.com/a?id=7&utm_source=x&fbclid=y", "https://example.com/a?id=7"),
        ("https://example.com/a?z=1&a=2&m=3", "https://example.com/a?a=2&m=3&z=1"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://example.com/a?mc_cid=1&mc_eid=2&_ga=3&ref=hn&msclkid=4", "https://example.com/a"),
        # other pages than the one without them
        ("https://example.com/item?1234", "https://example.com/item?1234"),
        ("https://example.com/a?page=&id=1", "https://example.com/a?id=1&page="),
        ("https://example.com/?game=go&gallery=2&refresh=1", "https://example.com/?gallery=2&game=go&refresh=1"),
        ("https://example.com/q?q=caf%e9", "https://example.com/q?q=caf%E9"),  # not UTF-8, kept
        # one page, one spelling
        ("https://example.com/%7euser/caf%c3%a9", "https://example.com/~user/caf%C3%A9"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
        ("https://XN--P1AI:8080/x", "https://рф:8080/x"),
    ],
)
def test_normalize_url_examples(given_url, expected):
    assert normalize_url(given_url) == expected


def test_path_case_is_kept():
    # hosts are case-insensitive, paths are not
    assert normalize_url("https://EXAMPLE.com/Some/Path") == "https://example.com/Some/Path"


def test_url_key_drops_scheme_www_and_trailing_slash():
    assert url_key("https://www.example.org/post/") == "example.org/post"
    assert url_key("http://example.org/post") == "example.org/post"
    assert url_key("https://example.org/") == "example.org/"
    assert url_key("https://example.org") == "example.org/"
    assert url_key("https://example.org/p?b=2&a=1#x") == "example.org/p?a=1&b=2"


def test_url_key_keeps_distinct_articles_apart():
    assert url_key("https://example.org/a") != url_key("https://example.org/b")
    assert url_key("https://example.org/a?id=1") != url_key("https://example.org/a?id=2")
    assert url_key("https://blog.example.org/a") != url_key("https://example.org/a")
    assert url_key("https://example.org:8443/a") != url_key("https://example.org/a")


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("javascript:alert(1)", "scheme 'javascript:'"),
        ("file:///etc/passwd", "scheme 'file:'"),
        ("ftp://example.com/pub/x.pdf", "scheme 'ftp:'"),
        ("mailto:someone@example.org", "scheme 'mailto:'"),
        ("https:///just/a/path", "no host"),
        ("https://", "no host"),
        ("https://example.com/a b", "spaces"),
        ("http://exa mple.com/", "spaces"),
        ("hello", "not a URL"),
        ("example.com/post", "not a URL"),
        ("", "not a URL"),
    ],
)
def test_bad_urls_raise_helpful_errors(bad, hint):
    with pytest.raises(InvalidURLError) as info:
        normalize_url(bad)
    err = info.value
    assert hint in str(err)
    assert err.url == bad
    assert err.code == "invalid_url"
    # the caller can catch it as either family
    assert isinstance(err, IngestError) and isinstance(err, ValueError)
    with pytest.raises(InvalidURLError):
        url_key(bad)


def test_scheme_errors_say_what_is_supported():
    with pytest.raises(InvalidURLError, match=r"http:// and https://"):
        normalize_url("ftp://example.com/x")


def test_doi_names_are_the_one_other_scheme_accepted():
    # given on the command line, doi:10.1000/xyz is fetched as its doi.org URL
    assert normalize_url("doi:10.1000/xyz") == "https://doi.org/10.1000/xyz"
    assert url_key("doi:10.1000/XYZ") == url_key("https://dx.doi.org/10.1000/xyz") == "doi.org/10.1000/xyz"
    with pytest.raises(InvalidURLError, match="not a DOI"):
        normalize_url("doi:example")
    with pytest.raises(InvalidURLError, match="scheme 'urn:'"):
        normalize_url("urn:isbn:0451450523")


def test_one_paper_one_key():
    # the rules themselves are in tests/test_scholarly.py
    assert url_key("https://arxiv.org/pdf/2401.01234v2") == url_key("http://export.arxiv.org/abs/2401.01234")
    assert url_key("https://arxiv.org/abs/2401.01234") != url_key("https://arxiv.org/abs/2401.01235")


def test_idn_host_is_accepted():
    url = "https://bücher.example/x"
    normalized = normalize_url(url)
    assert urlsplit(normalized).path == "/x"
    assert urlsplit(normalized).scheme == "https"
    assert "bücher.example" in url_key(url) or "xn--bcher-kva.example" in url_key(url)
    assert normalize_url(normalized) == normalized


def test_same_site():
    assert same_site("https://blog.example.org/x", "https://example.org/y")
    assert same_site("http://www.example.org/", "https://example.org/post")
    assert same_site("https://a.example.co.uk/1", "https://b.example.co.uk/2")
    assert not same_site("https://example.org/", "https://example.com/")
    assert not same_site("https://evil-example.org/", "https://example.org/")
    assert not same_site("", "")
    assert not same_site("not a url", "not a url")


def test_try_key():
    assert try_key("https://www.example.org/a/") == "example.org/a"
    assert try_key(None) is None
    assert try_key("") is None
    assert try_key("javascript:void(0)") is None
    assert try_key("/relative/path") is None
    assert try_key("https://exa mple.org/") is None


# -- properties ---------------------------------------------------------------------------
#
# URLs are built from parts (host labels, path segments, query fields) so each property can
# compare the normalized URL with the parts it was made of: the oracle is the parts, never a
# second run of the code under test.

# Every tracker courlan's list names (utm_*, fbclid, gclid, mc_cid, …): none may survive.
TRACKING_NAMES = (
    *TRACKING, "utm_id", "UTM_Source", "fbclid", "gclid", "dclid", "msclkid", "yclid", "ysclid", "twclid", "gbraid",
    "wbraid", "igshid", "clickid", "partnerid", "mc_cid", "mc_eid", "_ga", "_gl", "ga_source", "gs_lcp", "itm_source",
    "mkt_tok", "ml_subscriber", "mtm_campaign", "oly_enc_id", "pk_campaign", "vero_id", "ad_id", "ads_id", "ref",
    "referrer", "referer", "source", "campaign", "medium", "affiliate", "aff_id", "xtor", "session_id", "sessionid",
    "uid", "cid", "clid", "eid", "kwd", "keyword", "ref_src", "share_source",
)  # fmt: skip
# Real parameters, among them names that merely start with a tracker word (ga-llery, ref-resh…)
REAL_NAMES = (
    "id", "p", "page", "q", "s", "lang", "v", "t", "sort", "year", "tag", "category", "article", "game", "gallery",
    "global", "glossary", "reference", "refresh", "resource", "sourcecode", "eidos", "título", "名前", "a b", "a&b",
    "a=b", "x+y", "100%", "k/v",
)  # fmt: skip

_UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;=:@"
_UNICODE = "éüßçñåø日本語例えשלוםمرحباпример"
_MUST_ENCODE = " %/?#[]\"<>\\^`{|}"  # in a path segment: always percent-encoded


def _pct(ch: str, upper: bool) -> str:
    return "".join(f"%{b:02X}" if upper else f"%{b:02x}" for b in ch.encode("utf-8"))


@st.composite
def _spelling(draw, text: str, *, reserved: str, encode_reserved: bool, form: bool = False) -> str:
    """One of the many equivalent ways to write `text` in a URL: unreserved and non-ASCII
    characters raw or percent-encoded (either hex case); `reserved` ones as the shared choice says."""
    out = []
    for ch in text:
        if form and ch == " " and draw(st.booleans()):
            out.append("+")
        elif ch in _MUST_ENCODE or (form and ch in "&=+") or (ch in reserved and encode_reserved):
            out.append(_pct(ch, draw(st.booleans())))
        elif ch in reserved or not draw(st.booleans()):
            out.append(ch)
        else:
            out.append(_pct(ch, draw(st.booleans())))
    return "".join(out)


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10).filter(
    lambda s: s != "www"
)
# IDN labels (no ß or final sigma: IDNA2003 and IDNA2008 disagree on those)
_idn_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789äöüéñçåøæпримерχανιά日本例え", max_size=8).filter(bool)
_host = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(_label, min_size=1, max_size=3),
                  st.sampled_from(["com", "org", "net", "io", "co.uk", "example"]))
_idn_host = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(st.one_of(_label, _idn_label),
                      min_size=1, max_size=3), st.sampled_from(["com", "org", "de", "jp", "рф", "example"]))  # fmt: skip
_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_.~", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
# a decoded path segment: unreserved, reserved and non-ASCII characters, `/` and `%` included
_rich_segment = st.text(alphabet=_UNRESERVED + _SUB_DELIMS + _UNICODE + " %/?#[]", max_size=10).filter(
    lambda s: s not in ("", ".", "..")
)
_param_name = st.one_of(
    st.sampled_from(TRACKING),
    st.sampled_from(["id", "page", "q", "lang", "p", "v"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6),
)
_param_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=8)
# no tracker word can be spelled with these letters
_plain_name = st.text(alphabet="bfhjnpqstvwxyz0123456789", min_size=1, max_size=6)
_rich_value = st.text(alphabet=_UNRESERVED + _SUB_DELIMS + _UNICODE + " %/?#", max_size=10)


def _idna(host: str) -> str:
    return host.encode("idna").decode("ascii")


@st.composite
def urls(draw):
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    www = draw(st.sampled_from(["", "www.", "WWW."]))
    host = draw(_host)
    if draw(st.booleans()):
        host = host.upper()
    port = draw(st.sampled_from(["", ":443" if scheme.lower() == "https" else ":80", ":8080"]))
    path = "/" + "/".join(draw(st.lists(_segment, max_size=4)))
    if draw(st.booleans()):
        path += "/"
    params = draw(st.lists(st.tuples(_param_name, _param_value), max_size=5, unique_by=lambda p: p[0]))
    query = ("?" + "&".join(f"{k}={v}" for k, v in params)) if params else ""
    fragment = draw(st.sampled_from(["", "#top", "#section-2"]))
    return f"{scheme}://{www}{host}{port}{path}{query}{fragment}"


class Parts:
    """What a generated URL addresses, decoded: host, path, the (name, value) query fields."""

    def __init__(self, scheme, host, port, segments, slash, fields):
        self.scheme, self.host, self.port = scheme, host, port
        self.segments, self.slash, self.fields = segments, slash, fields

    @property
    def path(self) -> str:
        return "/".join(["", *self.segments]) + ("/" if self.slash and self.segments else "") or "/"

    @property
    def real_fields(self) -> list[tuple[str, str]]:
        """The non-tracking fields as a normalized URL lists them: by name, a name's values in order."""
        kept = [(n, v) for n, v, _ in self.fields if n not in TRACKING_NAMES]
        return sorted(kept, key=lambda f: f[0])


@st.composite
def parts(draw) -> Parts:
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(_idn_host)
    port = draw(st.sampled_from(["", ":8080"]))
    segments = draw(st.lists(_rich_segment, max_size=4))
    fields = draw(st.lists(st.tuples(
        st.one_of(st.sampled_from(TRACKING_NAMES), st.sampled_from(REAL_NAMES), _plain_name),
        _rich_value,
        st.booleans(),  # written `name=value`, or a bare `name` when the value is empty
    ), max_size=6))  # fmt: skip
    fields = [(n, v, bare and not v) for n, v, bare in fields]
    return Parts(scheme, host, port, segments, draw(st.booleans()), fields)


@st.composite
def spell(draw, p: Parts, encode_reserved: bool) -> str:
    """One URL for `p`, with the cosmetic differences a page or feed may add: scheme and host
    case, punycode or Unicode host, default port, percent-encoding, a fragment."""
    scheme = draw(st.sampled_from([p.scheme, p.scheme.upper()]))
    host = draw(st.sampled_from([p.host, p.host.upper(), _idna(p.host), _idna(p.host).upper()]))
    port = p.port or draw(st.sampled_from(["", ":443" if p.scheme == "https" else ":80"]))
    segments = [draw(_spelling(s, reserved=_SUB_DELIMS, encode_reserved=encode_reserved)) for s in p.segments]
    path = "/".join(["", *segments]) + ("/" if p.slash and segments else "")
    fields = []
    for name, value, bare in p.fields:
        name = draw(_spelling(name, reserved="", encode_reserved=False, form=True))
        value = draw(_spelling(value, reserved="", encode_reserved=False, form=True))
        fields.append(name if bare else f"{name}={value}")
    query = ("?" + "&".join(fields)) if fields else ""
    fragment = draw(st.sampled_from(["", "#top", "#a=1&utm_source=x", "#:~:text=Ünï", "#"]))
    return f"{scheme}://{host}{port}{path}{query}{fragment}"


@st.composite
def spelled(draw):
    p = draw(parts())
    return p, draw(spell(p, draw(st.booleans())))


@settings(max_examples=200, deadline=None)
@given(st.one_of(urls(), spelled().map(lambda c: c[1])))
def test_normalize_url_is_idempotent(url):
    once = normalize_url(url)
    assert normalize_url(once) == once


@settings(max_examples=200, deadline=None)
@given(st.one_of(urls(), spelled().map(lambda c: c[1])))
def test_url_key_is_idempotent(url):
    key = url_key(url)
    assert url_key(normalize_url(url)) == key
    # a key read back as a URL names the same item
    assert url_key(f"https://{key}") == key
    assert try_key(url) == key


@settings(max_examples=200, deadline=None)
@given(st.one_of(urls(), spelled().map(lambda c: c[1])))
def test_no_tracking_parameter_survives(url):
    normalized = normalize_url(url)
    names = [k for k, _ in parse_qsl(urlsplit(normalized).query, keep_blank_values=True)]
    assert not [n for n in names if n in TRACKING_NAMES], normalized
    assert "#" not in normalized
    key = url_key(url)
    assert "#" not in key
    assert not [k for k, _ in parse_qsl(key.partition("?")[2], keep_blank_values=True) if k in TRACKING_NAMES]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(spelled())
def test_normalization_never_changes_the_page_addressed(case):
    p, url = case
    normalized = urlsplit(normalize_url(url))
    assert normalized.scheme == p.scheme
    # the host: lower case, Unicode or punycode alike (IDNA compares them)
    assert _idna(normalized.hostname) == _idna(p.host).lower()
    assert normalized.netloc == normalized.netloc.lower()
    assert normalized.port == (int(p.port[1:]) if p.port else None)
    # the path, up to percent-encoding
    assert (unquote(normalized.path) or "/") == p.path, url  # "https://host" is "https://host/"
    # the real query fields, values and all, in name order (one name's values in their order)
    assert parse_qsl(normalized.query, keep_blank_values=True) == p.real_fields, url
    assert normalized.fragment == ""


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.data())
def test_equivalent_spellings_share_one_url_and_key(data):
    # percent-encoded or raw, hex in either case, punycode or Unicode host, default port or
    # none: one page, so one normalized URL and one key
    p = data.draw(parts())
    encode_reserved = data.draw(st.booleans())  # `;` and `%3B` may differ to a server: both spell it alike
    a, b = data.draw(spell(p, encode_reserved)), data.draw(spell(p, encode_reserved))
    assert normalize_url(a) == normalize_url(b), (a, b)
    assert url_key(a) == url_key(b)


@settings(max_examples=200, deadline=None)
@given(_host, st.lists(_segment, min_size=1, max_size=3), st.booleans())
def test_scheme_and_www_variants_share_one_key(host, segments, slash):
    path = "/" + "/".join(segments) + ("/" if slash else "")
    variants = [
        f"https://{host}{path}",
        f"http://{host}{path}",
        f"https://www.{host}{path}",
        f"http://www.{host}{path}",
    ]
    keys = {url_key(v) for v in variants}
    assert len(keys) == 1, (variants, keys)
    key = keys.pop()
    assert not key.startswith(("http://", "https://", "www."))


@settings(max_examples=100, deadline=None)
@given(urls())
def test_normalized_url_is_http_and_lower_case_host(url):
    parts = urlsplit(normalize_url(url))
    assert parts.scheme in ("http", "https")
    assert parts.netloc == parts.netloc.lower()
    assert not parts.netloc.endswith((":80", ":443"))


def test_query_names_that_look_like_html_entities_survive():
    # courlan unescapes URL strings, which made ?lt=0&id=0 into ?id=0<=0 on a second pass
    once = normalize_url("http://example.com/?lt=0&id=0")
    assert once == "http://example.com/?id=0&lt=0"
    assert normalize_url(once) == once


# -- hosts no resolver can look up, and text that is no text ------------------------------


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("http://xn--127-0.0.0.1/x", "'xn--127-0' is not a valid international (IDNA) label"),
        ("http://xn--zz-/y", "'xn--zz-' is not a valid international (IDNA) label"),
        ("http://www.xn--zz-.example/y", "'xn--zz-' is not a valid international (IDNA) label"),
        ("http://xn--/y", "'xn--' is not a valid international (IDNA) label"),
        ("http://" + "a" * 64 + ".example/x", "a label longer than 63 characters"),
        ("http://ex..ample/x", "an empty label"),
        ("http://" + "a." * 127 + "org/", "longer than 253 characters"),
        ("https://☃.net/", "'☃.net' is not a valid international (IDNA) name"),
        ("https://xn--ls8h.la/", "'xn--ls8h' is not a valid international (IDNA) label"),  # 💩.la: IDNA 2003 only
    ],
)
def test_hosts_no_resolver_can_look_up_are_invalid_urls(bad, hint):
    with pytest.raises(InvalidURLError) as info:
        normalize_url(bad)
    assert hint in info.value.message
    assert info.value.message.endswith("; check the address")
    assert info.value.url == bad and "\n" not in info.value.message
    assert try_key(bad) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://\udcff\udcfe.example/a",  # bytes \xff\xfe from argv, as Python decodes them (surrogateescape)
        "http://example.org/caf\udce9",  # a Latin-1 é in a UTF-8 world
        "http://example.org/a?q=\ud800",  # a lone surrogate of any kind
    ],
)
def test_urls_that_are_not_text_are_invalid_urls(url):
    with pytest.raises(InvalidURLError) as info:
        normalize_url(url)
    assert "not valid UTF-8 text" in info.value.message
    info.value.message.encode("utf-8")  # the message itself can be printed
    assert try_key(url) is None


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("http://" + "a" * 63 + ".example/x", "http://" + "a" * 63 + ".example/x"),
        ("https://example.org./x", "https://example.org./x"),  # a fully qualified name
        ("https://my_blog.example.org/x", "https://my_blog.example.org/x"),  # DNS allows it, httpx fetches it
        ("https://xn--bcher-kva.example/x", "https://bücher.example/x"),
        ("http://[::ffff:7f00:1]/x", "http://[::ffff:7f00:1]/x"),  # an address is checked elsewhere
    ],
)
def test_hosts_at_the_limits_are_accepted(given_url, expected):
    assert normalize_url(given_url) == expected


@pytest.mark.parametrize(("a", "b"), [("http://[::1/x", "http://127.0.0.1:5/"), ("http://127.0.0.1/", "http://[x")])
def test_same_site_of_an_unparsable_url_is_false(a, b):
    assert not same_site(a, b)
