"""The one HTTP client: GET a web page with redirects, retries, time and size limits, and a refusal
to reach private networks."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable
from urllib.request import getproxies

import httpcore
import httpx

from .compression import ACCEPTED, codings, decoded
from .config import Settings
from .errors import FetchError
from .records import FetchResult
from .urls import host_problem

ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}  # we only ever GET, so 303's switch to GET is a no-op
PERMANENT_REDIRECTS = {301, 308}
MAX_BACKOFF = 60.0
MAX_RETRY_AFTER = 300.0


class _Redirect(NamedTuple):
    status: int
    location: str


# RFC 6052 NAT64 carries the IPv4 address in its last 32 bits; RFC 8215's local-use prefix leads
# into whatever network runs the translator, so it is never public
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `addr` is on the public internet: global in the standard library's registry and of
    none of its special kinds (is_global alone lets multicast through before Python 3.13, and
    site-local fec0::/10 through at all).

    An IPv6 address that is another spelling of an IPv4 one (IPv4-mapped, NAT64) is judged as that
    IPv4 address; one that carries IPv4 addresses to a relay (6to4, Teredo) only passes with public
    ones. The deprecated IPv4-compatible ::a.b.c.d and the translators' ::ffff:0:a.b.c.d lie in
    the reserved ::/8 and never pass, and neither do :: and ::1."""
    if isinstance(addr, ipaddress.IPv6Address):
        spelled = addr.ipv4_mapped or (ipaddress.IPv4Address(int(addr) & 0xFFFF_FFFF) if addr in NAT64 else None)
        if spelled is not None:
            return is_public(spelled)  # the mapped and NAT64 ranges themselves are reserved
        if addr in LOCAL_NAT64:
            return False
        carried = [addr.sixtofour] if addr.sixtofour else list(addr.teredo or ())
        if not all(is_public(inner) for inner in carried):
            return False
    special = (addr.is_private or addr.is_reserved or addr.is_loopback or addr.is_link_local or addr.is_multicast
               or addr.is_unspecified or (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local))
    return addr.is_global and not special


def check_address(host: str, port: int | None = None) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order; refused if any of them lies
    outside the public internet, as one private answer is enough to lead inside."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host}: {exc}", code="dns") from None
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0]).split("%")[0]  # an IPv6 scope (%eth0) is not part of the address
        if not is_public(ipaddress.ip_address(address)):
            raise FetchError(
                f"refused: {host} resolves to non-public address {address}"
                " (set allow_private_networks to fetch it)",
                code="blocked_address",
            )
        if address not in addresses:
            addresses.append(address)
    return addresses


class _Refused(httpcore.ConnectError):
    """A FetchError from inside httpcore, worn as a connect error so that httpx passes it up as
    the cause of its own ConnectError; _transport_error takes it back out."""

    def __init__(self, error: FetchError):
        super().__init__(error.message)
        self.error = error


# when the request running in this thread must be over, in time.monotonic(); None outside a request
_request_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


class _DeadlinePassed(httpcore.ReadTimeout):
    """The request's deadline came during a wait on the network; _get and _read_body look for it
    among the causes of the httpx error."""


def _by_deadline(call: Callable[[float | None], Any], timeout: float | None) -> Any:
    """call(timeout), with the timeout cut to the time left before the request's deadline."""
    deadline = _request_deadline.get()
    if deadline is None:
        return call(timeout)
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed("the request's deadline has passed")
    if timeout is not None and timeout < left:
        return call(timeout)
    try:
        return call(left)
    except httpcore.TimeoutException as exc:
        raise _DeadlinePassed("the request's deadline has passed") from exc


class _DeadlineStream(httpcore.NetworkStream):
    """A connection each of whose waits ends by the request's deadline. The socket timeouts bound
    one wait each, so a server that sends its status line and headers a byte at a time, each
    within the timeout, would otherwise hold the request for as long as it liked."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _by_deadline(lambda t: self._stream.read(max_bytes, t), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _by_deadline(lambda t: self._stream.write(buffer, t), timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(_by_deadline(lambda t: self._stream.start_tls(ssl_context, server_hostname, t), timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.SyncBackend):
    """Opens connections whose waits end by the deadline of the request using them (pooled ones too)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = _by_deadline(lambda t: super(DeadlineBackend, self).connect_tcp(
            host, port, t, local_address, socket_options), timeout)
        return _DeadlineStream(stream)


class PublicOnlyBackend(DeadlineBackend):
    """Resolves each host itself and connects only to the addresses it has just checked, so a DNS
    server cannot show the check a public address and the connection a private one (rebinding)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        give_up_at = None if timeout is None else time.monotonic() + timeout
        try:
            addresses = check_address(host, port)
        except FetchError as exc:
            raise _Refused(exc) from None
        failure = httpcore.ConnectError(f"no address to connect to for {host}")
        for address in addresses:
            remaining = None if give_up_at is None else give_up_at - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"timed out connecting to {host}")
            try:
                # an IP literal: the socket layer has nothing left to resolve. TLS still runs on
                # the returned stream with the URL's host name, for SNI and the certificate.
                return super().connect_tcp(address, port, remaining, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure


def _install_backends(client: httpx.Client, *, public_only: bool) -> None:
    """Put DeadlineBackend under every connection of the client, and PublicOnlyBackend under its
    direct ones when `public_only`.

    httpx takes no network backend, and handing the client our own transport would turn off its
    proxies from the environment; so the backend goes into each transport's pool, which reads it
    only when opening a connection. Proxy transports are not address-checked: a proxy is the
    operator's choice and may well sit on a private address, and it resolves the origin itself,
    out of our reach (Fetcher checks those names before the request instead)."""
    transports = [(getattr(client, "_transport", None), public_only)]
    transports += [(t, False) for t in getattr(client, "_mounts", {}).values() if t is not None]
    for transport, checked in transports:
        pool = getattr(transport, "_pool", None)
        if pool is None or not isinstance(getattr(pool, "_network_backend", None), httpcore.NetworkBackend):
            # fail closed: without the backend every private address would be reachable, and no
            # deadline would hold while the headers arrive
            raise RuntimeError("cannot install the address check and deadline: httpx or httpcore internals changed")
        pool._network_backend = PublicOnlyBackend() if checked else DeadlineBackend()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


E = TypeVar("E", bound=BaseException)


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of `kind` in the chain of causes of `exc`, itself included."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@runtime_checkable
class FetchClient(Protocol):
    """What a run fetches with: a Fetcher, or a PoliteFetcher around one."""

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult: ...

    def close(self) -> None: ...


class Fetcher:
    """Fetches pages over one connection pool; use as a context manager or call close()."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(
            follow_redirects=False,  # each hop must pass the address check
            timeout=httpx.Timeout(settings.timeout),
            headers={"User-Agent": settings.agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPTED},
        )
        _install_backends(self._client, public_only=not settings.allow_private_networks)
        # a proxy resolves the origin's name itself, so for proxied requests the only check we
        # can make is on the name before the request; httpx reads the same getproxies()
        self._check_names_first = not settings.allow_private_networks and bool(getproxies())

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        """GET `url`, following redirects and retrying transient failures; raise FetchError."""
        start = self._clock()
        deadline_at = start + self.settings.deadline
        attempt = 0
        while True:
            try:
                result = self._follow(url, headers or {}, deadline_at)
                break
            except FetchError as exc:
                exc.url = url
                if not exc.transient or attempt >= self.settings.retries:
                    raise
                if exc.retry_after is not None:
                    delay = min(exc.retry_after, MAX_RETRY_AFTER)
                else:
                    delay = min(self.settings.backoff * 2**attempt, MAX_BACKOFF)
                if delay >= deadline_at - self._clock():
                    raise  # waiting would overrun the deadline; the caller can try again later
                self._sleep(delay)
                attempt += 1
        final_url, status, response_headers, content, redirects, permanent = result
        return FetchResult(
            url=url,
            final_url=final_url,
            status=status,
            headers=response_headers,
            content=content,
            fetched_at=datetime.now(timezone.utc),
            elapsed=self._clock() - start,
            redirects=tuple(redirects),
            moved_permanently=permanent,
        )

    def _follow(
        self, url: str, headers: dict[str, str], deadline_at: float
    ) -> tuple[str, int, dict[str, str], bytes, list[str], bool]:
        """Final URL, status, headers, body, the URLs redirected through, and whether every
        redirect was permanent."""
        current = url
        visited: list[str] = []
        permanent = True
        seen: set[str] = set()  # normalised, so that a loop through a differently spelled URL is caught
        while True:
            target = self._check_url(current, redirected=bool(visited))
            seen.add(str(target))
            outcome = self._get(target, headers, deadline_at)
            if isinstance(outcome, _Redirect):
                visited.append(current)
                permanent = permanent and outcome.status in PERMANENT_REDIRECTS
                try:
                    current = str(target.join(outcome.location))
                except httpx.InvalidURL as exc:
                    raise _unusable(str(exc), redirected=True) from None
                if current in seen:
                    message = f"redirect loop: {visited[-1]} leads back to {current}"
                    raise FetchError(message, code="redirect_loop")
                if len(visited) > self.settings.max_redirects:
                    message = f"more than {self.settings.max_redirects} redirects"
                    raise FetchError(message, code="too_many_redirects")
                continue
            return (current, *outcome, visited, permanent and bool(visited))

    def _check_url(self, url: str, *, redirected: bool = False) -> httpx.URL:
        """The URL parsed, or a FetchError for one that cannot be fetched."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise _unusable(f"not a valid URL: {exc}", redirected) from None
        if not parsed.scheme:
            raise _unusable(f"not an absolute URL: {url}", redirected)
        if parsed.scheme not in ("http", "https"):
            raise FetchError(
                f"unsupported scheme '{parsed.scheme}:'; only http and https URLs are fetched",
                code="unsupported_scheme",
            )
        if not parsed.raw_host:
            raise _unusable(f"URL has no host: {url}", redirected)
        problem = _problem(parsed)
        if problem:
            raise _unusable(problem, redirected)
        if self._check_names_first:
            check_address(parsed.raw_host.decode("ascii"))
        return parsed

    def _get(
        self, url: httpx.URL, headers: dict[str, str], deadline_at: float
    ) -> _Redirect | tuple[int, dict[str, str], bytes]:
        """One request: a redirect (its status and unresolved Location), or (status, headers, body)."""
        remaining = deadline_at - self._clock()
        if remaining <= 0:
            raise self._deadline_error()
        # shrink the socket timeouts so that no single wait can carry us past the deadline, and
        # end every wait by it (_DeadlineStream): many short waits cannot add up past it either
        timeout = min(self.settings.timeout, remaining)
        token = _request_deadline.set(time.monotonic() + remaining)
        try:
            with self._client.stream("GET", url, headers=headers, timeout=httpx.Timeout(timeout)) as response:
                status = response.status_code
                if status in REDIRECT_STATUSES and response.headers.get("location"):
                    return _Redirect(status, response.headers["location"])
                self._check_status(response)
                content = b"" if status == 304 else self._read_body(response, deadline_at)
                return status, {k.lower(): v for k, v in response.headers.items()}, content
        except (httpx.InvalidURL, UnicodeError) as exc:
            # httpx reads every Location header, even one we would refuse, and decodes its host
            raise _unusable(str(exc), redirected=True) from None
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.TimeoutException) and (
                    _cause(exc, _DeadlinePassed) is not None or timeout < self.settings.timeout):
                raise self._deadline_error(" waiting for the response") from None
            raise _transport_error(exc, url.host, timeout) from None
        finally:
            _request_deadline.reset(token)

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300 or status == 304:
            return
        # the standard phrase, not the server's ("NOT FOUND"), so messages read the same everywhere
        message = f"HTTP {status} {httpx.codes.get_reason_phrase(status) or response.reason_phrase}".strip()
        if status in REDIRECT_STATUSES:
            message += " without a Location header"
        transient = status == 429 or status >= 500
        raise FetchError(
            message,
            code=f"http_{status}",
            transient=transient,
            status=status,
            retry_after=_retry_after(response.headers.get("retry-after")) if transient else None,
        )

    def _read_body(self, response: httpx.Response, deadline_at: float) -> bytes:
        limit = self.settings.max_bytes
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise FetchError(f"body larger than {limit} bytes (Content-Length {length})", code="too_large")
        names = codings(response.headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        try:
            # undone here, not by httpx, which inflates a whole chunk of every layer at once: each
            # layer of a stacked compression bomb is stopped at the limit
            for chunk in decoded(response.iter_raw(), names, limit):
                if self._clock() > deadline_at:
                    raise self._deadline_error(" reading the body")
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            if _cause(exc, _DeadlinePassed) is None:
                raise
            raise self._deadline_error(" reading the body") from None
        return b"".join(chunks)

    def _deadline_error(self, where: str = "") -> FetchError:
        # transient: a slow server may be quicker on a later run, though this call has no time left
        message = f"gave up after the {self.settings.deadline:g}s deadline{where}"
        return FetchError(message, code="deadline", transient=True)


def _problem(url: httpx.URL) -> str | None:
    """What in a parsed URL would end a request in a traceback or at the wrong place, or None."""
    try:
        _ = url.host  # decodes a host that starts with an A-label; a bad one raises
    except UnicodeError as exc:
        return f"invalid host: '{url.raw_host.decode('ascii')}' is not a valid international (IDNA) name ({exc})"
    problem = host_problem(url.raw_host.decode("ascii"))
    if problem:
        return f"invalid host: {problem}"
    if url.port is not None and not 0 < url.port < 65536:  # the socket layer would take it modulo 65536
        return f"invalid port {url.port}; a port is a number from 1 to 65535"
    return None


def _unusable(reason: str, redirected: bool) -> FetchError:
    """A URL that cannot be fetched; one a redirect gave is the server's fault, not the caller's."""
    if redirected:
        return FetchError(f"the server redirected to an unusable URL ({reason})", code="invalid_redirect")
    return FetchError(reason, code="invalid_url")


def _transport_error(exc: httpx.HTTPError, host: str, seconds: float) -> FetchError:
    """Name a failure below HTTP; all are worth a retry except TLS, DNS and undecodable bodies."""
    refused = _cause(exc, _Refused)
    if refused is not None:
        return refused.error  # the address check said no, or the name did not resolve
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and _cause(exc, ssl.SSLError) is not None:
        return FetchError(f"TLS handshake with {host} failed: {reason}", code="tls")
    if isinstance(exc, httpx.ConnectError) and _cause(exc, socket.gaierror) is not None:
        return FetchError(f"cannot resolve host {host}: {reason}", code="dns")
    if isinstance(exc, httpx.DecodingError):
        return FetchError(f"cannot decompress the response: {reason}", code="decoding")
    if isinstance(exc, httpx.ConnectTimeout):
        code, message = "connect_timeout", f"timed out after {seconds:g}s connecting to {host}"
    elif isinstance(exc, httpx.ReadTimeout):
        code, message = "read_timeout", f"timed out after {seconds:g}s reading the response"
    elif isinstance(exc, httpx.TimeoutException):
        code, message = "timeout", f"timed out after {seconds:g}s ({type(exc).__name__})"
    elif isinstance(exc, httpx.ConnectError):
        code, message = "connect", f"could not connect to {host}: {reason}"
    elif isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        code, message = "connect", f"connection to {host} broke: {reason}"
    elif isinstance(exc, httpx.RemoteProtocolError):
        code, message = "protocol", f"{host} broke the HTTP protocol: {reason}"
    else:
        code, message = "network", f"request to {host} failed: {reason}"
    return FetchError(message, code=code, transient=True)
