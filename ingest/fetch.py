"""The one HTTP client: GET a web page with redirects, retries, time and size limits, and a refusal
to reach private networks."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import NamedTuple

import httpx

from .config import Settings
from .errors import FetchError
from .models import FetchResult

ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}  # we only ever GET, so 303's switch to GET is a no-op
PERMANENT_REDIRECTS = {301, 308}
MAX_BACKOFF = 60.0
MAX_RETRY_AFTER = 300.0


class _Redirect(NamedTuple):
    status: int
    location: str


def _accept_encoding() -> str:
    # httpx decodes br only when one of these is installed; never advertise what we cannot decode
    for module in ("brotli", "brotlicffi"):
        try:
            __import__(module)
            return "gzip, deflate, br"
        except ImportError:
            pass
    return "gzip, deflate"


def check_address(host: str) -> None:
    """Refuse a host that resolves to any address outside the public internet."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host}: {exc}", code="dns") from None
    for *_, sockaddr in infos:
        addr = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        # is_global alone lets multicast through on Python < 3.13
        if not addr.is_global or addr.is_multicast:
            raise FetchError(
                f"refused: {host} resolves to non-public address {addr}"
                " (set allow_private_networks to fetch it)",
                code="blocked_address",
            )


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


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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
            headers={"User-Agent": settings.agent, "Accept": ACCEPT, "Accept-Encoding": _accept_encoding()},
        )

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
            target = self._check_url(current)
            seen.add(str(target))
            outcome = self._get(target, headers, deadline_at)
            if isinstance(outcome, _Redirect):
                visited.append(current)
                permanent = permanent and outcome.status in PERMANENT_REDIRECTS
                current = str(target.join(outcome.location))
                if current in seen:
                    message = f"redirect loop: {visited[-1]} leads back to {current}"
                    raise FetchError(message, code="redirect_loop")
                if len(visited) > self.settings.max_redirects:
                    message = f"more than {self.settings.max_redirects} redirects"
                    raise FetchError(message, code="too_many_redirects")
                continue
            return (current, *outcome, visited, permanent and bool(visited))

    def _check_url(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(f"not a valid URL: {exc}", code="invalid_url") from None
        if not parsed.scheme:
            raise FetchError(f"not an absolute URL: {url}", code="invalid_url")
        if parsed.scheme not in ("http", "https"):
            raise FetchError(
                f"unsupported scheme '{parsed.scheme}:'; only http and https URLs are fetched",
                code="unsupported_scheme",
            )
        if not parsed.raw_host:
            raise FetchError(f"URL has no host: {url}", code="invalid_url")
        if not self.settings.allow_private_networks:
            check_address(parsed.raw_host.decode("ascii"))
        return parsed

    def _get(
        self, url: httpx.URL, headers: dict[str, str], deadline_at: float
    ) -> _Redirect | tuple[int, dict[str, str], bytes]:
        """One request: a redirect (its status and unresolved Location), or (status, headers, body)."""
        remaining = deadline_at - self._clock()
        if remaining <= 0:
            raise self._deadline_error()
        # shrink the socket timeouts so that no single wait can carry us past the deadline
        timeout = min(self.settings.timeout, remaining)
        try:
            with self._client.stream("GET", url, headers=headers, timeout=httpx.Timeout(timeout)) as response:
                status = response.status_code
                if status in REDIRECT_STATUSES and response.headers.get("location"):
                    return _Redirect(status, response.headers["location"])
                self._check_status(response)
                content = b"" if status == 304 else self._read_body(response, deadline_at)
                return status, {k.lower(): v for k, v in response.headers.items()}, content
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.TimeoutException) and timeout < self.settings.timeout:
                raise self._deadline_error() from None
            raise _transport_error(exc, url.host, timeout) from None

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
        chunks: list[bytes] = []
        total = 0
        # iter_bytes yields decompressed data, so a compression bomb is stopped at the same limit
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > limit:
                raise FetchError(f"body larger than {limit} bytes", code="too_large")
            if self._clock() > deadline_at:
                raise self._deadline_error(" reading the body")
            chunks.append(chunk)
        return b"".join(chunks)

    def _deadline_error(self, where: str = "") -> FetchError:
        # transient: a slow server may be quicker on a later run, though this call has no time left
        message = f"gave up after the {self.settings.deadline:g}s deadline{where}"
        return FetchError(message, code="deadline", transient=True)


def _transport_error(exc: httpx.HTTPError, host: str, seconds: float) -> FetchError:
    """Name a failure below HTTP; all are worth a retry except TLS, DNS and undecodable bodies."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and _caused_by(exc, ssl.SSLError):
        return FetchError(f"TLS handshake with {host} failed: {reason}", code="tls")
    if isinstance(exc, httpx.ConnectError) and _caused_by(exc, socket.gaierror):
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
