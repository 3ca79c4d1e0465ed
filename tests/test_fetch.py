"""Fetcher against a real HTTP server on 127.0.0.1 (pytest-httpserver); nothing in httpx is mocked."""

from __future__ import annotations

import gzip
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import replace
from datetime import timezone

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from ingest import fetch as fetch_module
from ingest.config import Settings
from ingest.errors import FetchError
from ingest.fetch import Fetcher, _retry_after, check_address, is_public

# loopback addresses that the address rule is told to take for public, so that a test can play a
# site on the internet without a packet leaving this machine; nothing listens on the second
STAND_IN, STAND_IN_UNUSED = "127.0.0.2", "127.0.0.3"


def settings(**changes) -> Settings:
    base = dict(allow_private_networks=True, timeout=5.0, deadline=10.0, retries=0, backoff=0.0)
    return replace(Settings(), **{**base, **changes})


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def get(sleeps):
    """get(url, **settings) -> FetchResult, with sleeps recorded instead of waited."""
    fetchers: list[Fetcher] = []

    def run(url: str, headers: dict[str, str] | None = None, **changes):
        fetcher = Fetcher(settings(**changes), sleep=sleeps.append)
        fetchers.append(fetcher)
        return fetcher.fetch(url, headers)

    yield run
    for fetcher in fetchers:
        fetcher.close()


@pytest.fixture
def dns(monkeypatch):
    """dns({name: [answer, ...]}) makes the resolver give each name its answers in turn, repeating
    the last; an answer is an address or a tuple of them. Other names do not resolve, so no test
    reaches the internet by name. Returns the list of names looked up, filled in as it goes.

    Proxy variables are cleared too, so that requests go straight to the address resolved."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    real = socket.getaddrinfo
    lookups: list[str] = []

    def install(answers: dict[str, list[str | tuple[str, ...]]]) -> list[str]:
        queues = {name: list(queue) for name, queue in answers.items()}

        def getaddrinfo(host, port, *args, **kwargs):
            host = host.decode() if isinstance(host, bytes) else host
            if host not in queues:
                try:
                    ipaddress.ip_address(host)
                except ValueError:
                    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
                return real(host, port, *args, **kwargs)
            lookups.append(host)
            queue = queues[host]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            addresses = (answer,) if isinstance(answer, str) else answer
            return [info for address in addresses for info in real(address, port, *args, **kwargs)]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return lookups

    return install


@pytest.fixture
def stand_in(monkeypatch):
    """The address rule takes STAND_IN and STAND_IN_UNUSED for public addresses."""
    rule = fetch_module.is_public
    monkeypatch.setattr(
        fetch_module, "is_public", lambda addr: str(addr) in (STAND_IN, STAND_IN_UNUSED) or rule(addr)
    )


@pytest.fixture
def public_server(httpserver, stand_in):
    """A second server, on STAND_IN at httpserver's port: a public site, as far as fetch knows."""
    server = HTTPServer(host=STAND_IN, port=httpserver.port)
    server.start()
    yield server
    server.clear()
    server.stop()


def fails(get, url: str, **changes) -> FetchError:
    with pytest.raises(FetchError) as info:
        get(url, **changes)
    assert info.value.url == url
    assert "\n" not in info.value.message
    return info.value


# --- success -------------------------------------------------------------------------------------


def test_200_page_with_headers(httpserver, get):
    httpserver.expect_request("/page").respond_with_data(
        "<html>ok</html>", content_type="text/html; charset=utf-8", headers={"X-Custom": "Yes"}
    )
    url = httpserver.url_for("/page")
    result = get(url)
    assert result.status == 200
    assert result.content == b"<html>ok</html>"
    assert result.url == result.final_url == url
    assert result.redirects == ()
    assert result.headers["x-custom"] == "Yes"
    assert all(name == name.lower() for name in result.headers)
    assert (result.content_type, result.charset) == ("text/html", "utf-8")
    assert result.fetched_at.tzinfo == timezone.utc
    assert 0 <= result.elapsed < 5


def test_sends_user_agent_accept_and_caller_headers(httpserver, get):
    httpserver.expect_request("/ua").respond_with_data("ok")
    get(httpserver.url_for("/ua"), {"If-None-Match": '"abc"'})
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == Settings().agent
    assert request.headers["Accept"].startswith("text/html")
    assert "gzip" in request.headers["Accept-Encoding"]
    assert request.headers["If-None-Match"] == '"abc"'


def test_304_is_a_result_not_an_error(httpserver, get):
    httpserver.expect_request("/same").respond_with_data(b"", status=304)
    result = get(httpserver.url_for("/same"), {"If-None-Match": '"abc"'})
    assert (result.status, result.content) == (304, b"")


# --- redirects -----------------------------------------------------------------------------------


def redirect(httpserver, path: str, location: str, status: int = 302) -> None:
    httpserver.expect_request(path).respond_with_data("", status=status, headers={"Location": location})


def test_relative_redirect_chain_is_followed_and_recorded(httpserver, get):
    redirect(httpserver, "/a", "b")
    redirect(httpserver, "/b", "/c/d", 301)
    redirect(httpserver, "/c/d", "../final", 307)
    redirect(httpserver, "/final", "/end", 303)
    httpserver.expect_request("/end").respond_with_data("done")
    result = get(httpserver.url_for("/a"), max_redirects=4)
    assert result.content == b"done"
    assert result.final_url == httpserver.url_for("/end")
    assert result.redirects == tuple(httpserver.url_for(p) for p in ("/a", "/b", "/c/d", "/final"))


def test_too_many_redirects(httpserver, get):
    for i in range(4):
        redirect(httpserver, f"/r{i}", f"/r{i + 1}")
    httpserver.expect_request("/r4").respond_with_data("end")
    assert get(httpserver.url_for("/r0"), max_redirects=4).content == b"end"
    error = fails(get, httpserver.url_for("/r0"), max_redirects=3)
    assert error.code == "too_many_redirects"
    assert not error.transient


def test_redirect_loop(httpserver, get):
    redirect(httpserver, "/x", "/y")
    redirect(httpserver, "/y", "/x")
    error = fails(get, httpserver.url_for("/x"))
    assert error.code == "redirect_loop"
    assert len(httpserver.log) == 2


def test_redirect_to_another_scheme_is_refused(httpserver, get):
    redirect(httpserver, "/go", "ftp://example.com/file")
    assert fails(get, httpserver.url_for("/go")).code == "unsupported_scheme"


def test_every_redirect_hop_is_address_checked(httpserver, public_server, get, dns):
    dns({"site.test": [STAND_IN]})
    redirect(public_server, "/hop", f"http://127.0.0.1:{httpserver.port}/inner")
    httpserver.expect_request("/inner").respond_with_data("secret")
    error = fails(get, f"http://site.test:{httpserver.port}/hop", allow_private_networks=False)
    assert error.code == "blocked_address"
    assert [entry[0].path for entry in public_server.log] == ["/hop"]
    assert httpserver.log == []


# --- status codes and retries --------------------------------------------------------------------


def test_404_is_permanent_and_not_retried(httpserver, get, sleeps):
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    error = fails(get, httpserver.url_for("/missing"), retries=3)
    assert (error.code, error.status, error.transient) == ("http_404", 404, False)
    assert error.message == "HTTP 404 Not Found"
    assert len(httpserver.log) == 1
    assert sleeps == []


def test_500_then_200_is_retried(httpserver, get, sleeps):
    httpserver.expect_oneshot_request("/flaky").respond_with_data("boom", status=500)
    httpserver.expect_request("/flaky").respond_with_data("fine")
    result = get(httpserver.url_for("/flaky"), retries=1)
    assert result.content == b"fine"
    assert len(httpserver.log) == 2
    assert sleeps == [0.0]


def test_429_retry_after_seconds_is_honoured(httpserver, get, sleeps):
    httpserver.expect_oneshot_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "7"})
    httpserver.expect_request("/busy").respond_with_data("ok")
    assert get(httpserver.url_for("/busy"), retries=2, backoff=1.0).content == b"ok"
    assert sleeps == [7.0]


def test_retry_after_beyond_deadline_gives_up_at_once(httpserver, get, sleeps):
    httpserver.expect_request("/busy").respond_with_data("", status=503, headers={"Retry-After": "120"})
    error = fails(get, httpserver.url_for("/busy"), retries=3, deadline=5.0)
    assert (error.code, error.transient, error.retry_after) == ("http_503", True, 120.0)
    assert sleeps == []
    assert len(httpserver.log) == 1


def test_retries_exhausted_raise_the_transient_error(httpserver, get, sleeps):
    httpserver.expect_request("/down").respond_with_data("down", status=503)
    error = fails(get, httpserver.url_for("/down"), retries=2, backoff=0.5)
    assert (error.code, error.status, error.transient) == ("http_503", 503, True)
    assert len(httpserver.log) == 3
    assert sleeps == [0.5, 1.0]  # doubling backoff


def test_retry_after_http_date():
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert _retry_after("soon") is None
    assert _retry_after("12") == 12.0


# --- time limits ---------------------------------------------------------------------------------


def test_read_timeout(httpserver, get):
    def slow(request):
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    error = fails(get, httpserver.url_for("/slow"), timeout=0.5)
    assert (error.code, error.transient) == ("read_timeout", True)
    assert error.message == "timed out after 0.5s reading the response"


def test_slow_drip_is_cut_off_at_the_deadline(httpserver, get):
    stop = threading.Event()

    def drip(request):
        def body():
            for _ in range(100):
                if stop.is_set():
                    return
                yield b"x"
                time.sleep(0.2)

        return Response(body(), mimetype="text/plain")

    httpserver.expect_request("/drip").respond_with_handler(drip)
    started = time.monotonic()
    try:
        error = fails(get, httpserver.url_for("/drip"), deadline=1.0, timeout=5.0)
    finally:
        stop.set()
    assert error.code == "deadline"
    assert time.monotonic() - started < 2.0


def test_connection_refused_is_transient(get):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = fails(get, f"http://127.0.0.1:{port}/")
    assert (error.code, error.transient) == ("connect", True)


def test_tls_failure_is_permanent(httpserver, get):
    # speaking TLS to a plain-HTTP server fails the handshake
    error = fails(get, f"https://localhost:{httpserver.port}/", retries=2)
    assert (error.code, error.transient) == ("tls", False)


# --- size limits ---------------------------------------------------------------------------------


def test_content_length_over_limit_is_refused(httpserver, get):
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000)
    error = fails(get, httpserver.url_for("/big"), max_bytes=1000)
    assert (error.code, error.transient) == ("too_large", False)
    assert "1000 bytes" in error.message


def test_body_without_length_is_cut_off(httpserver, get):
    def stream(request):
        return Response((b"x" * 1000 for _ in range(200)), mimetype="text/plain")

    httpserver.expect_request("/stream").respond_with_handler(stream)
    error = fails(get, httpserver.url_for("/stream"), max_bytes=10_000)
    assert error.code == "too_large"


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return gzip.compress(bytes(50_000_000), compresslevel=9)


def test_gzip_bomb_is_cut_off_by_decompressed_size(httpserver, get, gzip_bomb):
    assert len(gzip_bomb) < 1_000_000  # the Content-Length check alone would let it through
    httpserver.expect_request("/bomb").respond_with_data(
        gzip_bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    error = fails(get, httpserver.url_for("/bomb"), max_bytes=1_000_000)
    assert error.code == "too_large"


def test_gzip_is_decompressed(httpserver, get):
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(b"<p>hello</p>"), headers={"Content-Encoding": "gzip"}
    )
    assert get(httpserver.url_for("/gz")).content == b"<p>hello</p>"


# --- refused URLs and addresses ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://example.com/file", "javascript:alert(1)", "file:///etc/passwd"])
def test_other_schemes_are_refused(httpserver, get, url):
    error = fails(get, url)
    assert error.code == "unsupported_scheme"
    assert "only http and https" in error.message
    assert url.split(":")[0] in error.message


@pytest.mark.parametrize("url", ["http://", "http:///path", "example.com/page"])
def test_urls_without_host_are_invalid(get, url):
    assert fails(get, url).code == "invalid_url"


BAD_HOSTS = {  # id: a URL whose host httpx or the resolver would choke on
    "invalid-punycode": "http://xn--127-0.0.0.1/x",
    "a-label-ending-in-hyphen": "http://xn--zz-/y",
    "bad-a-label-after-a-good-one": "http://xn--p1ai.a_b.example/y",  # httpx decodes the whole host
    "label-of-64-characters": "http://" + "a" * 64 + ".example/x",
    "empty-label": "http://ex..ample/x",
    "lone-surrogates": "http://\udcff\udcfe.example/a",
}


@pytest.mark.parametrize("allow", [True, False])
@pytest.mark.parametrize("url", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
def test_a_host_no_resolver_can_look_up_is_an_invalid_url(get, dns, url, allow):
    dns({})
    error = fails(get, url, allow_private_networks=allow, retries=2)
    assert (error.code, error.transient) == ("invalid_url", False)


@pytest.mark.parametrize("port", ["0", "65536", "99999999"])
def test_a_port_out_of_range_is_an_invalid_url(httpserver, get, port):
    # 99999999 would otherwise reach port 99999999 % 65536 of the host
    error = fails(get, f"http://127.0.0.1:{port}/")
    assert (error.code, error.transient) == ("invalid_url", False)
    assert "port" in error.message


def test_private_address_refused_before_any_request(httpserver, get):
    httpserver.expect_request("/").respond_with_data("internal")
    error = fails(get, f"http://127.0.0.1:{httpserver.port}/", allow_private_networks=False, retries=2)
    assert (error.code, error.transient) == ("blocked_address", False)
    assert "127.0.0.1" in error.message
    assert len(httpserver.log) == 0


NOT_PUBLIC = {  # address: why it is no public host
    "10.0.0.1": "private",
    "100.64.0.1": "shared address space (carrier NAT)",
    "169.254.169.254": "link-local (cloud metadata)",
    "192.0.2.1": "documentation",
    "198.18.0.1": "benchmarking",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "broadcast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link-local",
    "fec0::1": "site-local (deprecated, still routed inside some networks)",
    "fc00::1": "unique local",
    "ff02::1": "multicast",
    "ff0e::1": "global-scope multicast",
    "2001:db8::1": "documentation",
    "100::1": "discard",
    "::127.0.0.1": "IPv4-compatible loopback",
    "::10.0.0.1": "IPv4-compatible private",
    "::8.8.8.8": "IPv4-compatible: deprecated, never a real host",
    "::ffff:0:127.0.0.1": "IPv4-translated loopback",
    "::ffff:0:8.8.8.8": "IPv4-translated: a translator's own range",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:169.254.169.254": "IPv4-mapped link-local",
    "64:ff9b::10.0.0.1": "NAT64 of a private address",
    "64:ff9b:1::808:808": "local-use NAT64",
    "2002:a9fe:a9fe::1": "6to4 of 169.254.169.254",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo",
    "2001:0:7f00:1::": "Teredo with a loopback server",
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"]


@pytest.mark.parametrize("address", NOT_PUBLIC, ids=[f"{a} {why}" for a, why in NOT_PUBLIC.items()])
def test_non_public_addresses(address):
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(FetchError) as info:
        check_address(address)
    assert info.value.code == "blocked_address"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["::127.0.0.1", "::ffff:0:127.0.0.1", "fec0::1"])
def test_a_non_public_ipv6_literal_is_refused_before_connecting(get, host):
    # ::127.0.0.1 used to pass for public: the fetcher tried to connect and timed out
    error = fails(get, f"http://[{host}]:8080/", allow_private_networks=False, retries=2, timeout=1.0)
    assert (error.code, error.transient) == ("blocked_address", False)
    assert error.message.startswith(f"refused: {host} resolves to non-public address")


@pytest.mark.parametrize(
    "host", ["localhost", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "224.0.0.1", "0.0.0.0"]
)
def test_check_address_refuses_non_public(host):
    with pytest.raises(FetchError) as info:
        check_address(host)
    assert info.value.code == "blocked_address"


@pytest.mark.parametrize("host", ["93.184.216.34", "::ffff:8.8.8.8"])
def test_check_address_allows_public(host):
    assert check_address(host) == [host]


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "2002:e000:1::",  # 6to4 of 224.0.0.1, multicast
        "64:ff9b::127.0.0.1",  # NAT64
        "64:ff9b::a00:1",
        "64:ff9b:1::808:808",  # local-use NAT64 leads into the translator's own network
    ],
)
def test_private_ipv4_carried_in_ipv6_is_refused(address):
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(FetchError) as info:
        check_address(address)
    assert info.value.code == "blocked_address"


@pytest.mark.parametrize("address", ["2002:808:808::1", "64:ff9b::8.8.8.8", "2606:4700:4700::1111"])
def test_public_ipv4_carried_in_ipv6_is_allowed(address):
    assert is_public(ipaddress.ip_address(address))


# --- the address connected to is the address checked (DNS rebinding) -----------------------------


def test_name_resolving_to_loopback_is_refused(httpserver, get, dns):
    lookups = dns({"rebind.test": ["127.0.0.1"]})
    httpserver.expect_request("/").respond_with_data("internal")
    error = fails(get, f"http://rebind.test:{httpserver.port}/", allow_private_networks=False, retries=2)
    assert (error.code, error.transient) == ("blocked_address", False)
    assert error.message == (
        "refused: rebind.test resolves to non-public address 127.0.0.1"
        " (set allow_private_networks to fetch it)"
    )
    assert httpserver.log == []
    assert lookups == ["rebind.test"]  # resolved once, by the connection itself


def test_rebinding_to_a_private_address_is_refused_at_connect_time(httpserver, public_server, get, dns):
    # a hostile resolver answers public first and 127.0.0.1 afterwards: each connection connects
    # to the answer it checked, so the first reaches the public site and the second is refused
    lookups = dns({"rebind.test": [STAND_IN, "127.0.0.1"]})
    public_server.expect_request("/").respond_with_data("public")
    httpserver.expect_request("/").respond_with_data("internal")
    url = f"http://rebind.test:{httpserver.port}/"
    assert get(url, allow_private_networks=False).content == b"public"
    error = fails(get, url, allow_private_networks=False)
    assert error.code == "blocked_address"
    assert httpserver.log == []
    assert lookups == ["rebind.test", "rebind.test"]


def test_one_private_answer_among_public_ones_is_refused(httpserver, public_server, get, dns):
    dns({"mixed.test": [(STAND_IN, "127.0.0.1")]})
    public_server.expect_request("/").respond_with_data("public")
    httpserver.expect_request("/").respond_with_data("internal")
    error = fails(get, f"http://mixed.test:{httpserver.port}/", allow_private_networks=False)
    assert error.code == "blocked_address"
    assert "127.0.0.1" in error.message
    assert public_server.log == [] and httpserver.log == []


def test_checked_addresses_are_tried_in_order(httpserver, public_server, get, dns):
    dns({"site.test": [(STAND_IN_UNUSED, STAND_IN)]})
    public_server.expect_request("/").respond_with_data("public")
    assert get(f"http://site.test:{httpserver.port}/", allow_private_networks=False).content == b"public"


@pytest.mark.parametrize("allow", [False, True])
def test_unresolvable_name_is_a_dns_error(get, dns, allow):
    dns({})
    error = fails(get, "http://nowhere.test/", allow_private_networks=allow, retries=2)
    assert (error.code, error.transient) == ("dns", False)
    assert "nowhere.test" in error.message


def test_allow_private_networks_fetches_a_name_on_loopback(httpserver, get, dns):
    dns({"rebind.test": ["127.0.0.1"]})
    httpserver.expect_request("/").respond_with_data("internal")
    assert get(f"http://rebind.test:{httpserver.port}/", allow_private_networks=True).content == b"internal"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A folder with key.pem and a self-signed cert.pem for secure.test."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=secure.test", "-addext", "subjectAltName=DNS:secure.test",
         "-keyout", folder / "key.pem", "-out", folder / "cert.pem"],
        check=True,
        capture_output=True,
    )
    return folder


def test_tls_uses_the_host_name_not_the_address_connected_to(stand_in, get, dns, monkeypatch, certificate):
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = HTTPServer(host=STAND_IN, port=0, ssl_context=context)
    server.expect_request("/").respond_with_data("private talk")
    server.start()
    try:
        dns({"secure.test": [STAND_IN]})
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
        # the certificate names secure.test, not 127.0.0.2: checking it against the address would fail
        result = get(f"https://secure.test:{server.port}/", allow_private_networks=False)
    finally:
        server.clear()
        server.stop()
    assert result.content == b"private talk"
    assert names == ["secure.test"]


# --- proxies -------------------------------------------------------------------------------------


def test_a_proxy_on_a_private_address_is_used(httpserver, stand_in, get, dns, monkeypatch):
    # the proxy is the operator's choice; httpserver plays it, on 127.0.0.1
    dns({"site.test": [STAND_IN_UNUSED]})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{httpserver.port}")
    httpserver.expect_request("/page").respond_with_data("via proxy")
    assert get("http://site.test/page", allow_private_networks=False).content == b"via proxy"
    assert httpserver.log[0][0].headers["Host"] == "site.test"


def test_a_proxied_name_is_checked_before_the_request(httpserver, get, dns, monkeypatch):
    dns({"rebind.test": ["127.0.0.1"]})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{httpserver.port}")
    httpserver.expect_request("/page").respond_with_data("internal")
    error = fails(get, "http://rebind.test/page", allow_private_networks=False)
    assert error.code == "blocked_address"
    assert httpserver.log == []


def test_check_address_unresolvable_name(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", no_such_host)
    with pytest.raises(FetchError) as info:
        check_address("no-such-host.invalid")
    assert (info.value.code, info.value.transient) == ("dns", False)
