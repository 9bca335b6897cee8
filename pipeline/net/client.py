"""One HTTP client configuration for every stage, bounded reads, and the address guard.

Redirects are followed by hand so a poll can tell a permanent move (record the
new URL) from a temporary one, and so loops end with a clear message.

Every request a feed causes (the feed, its next pages, enclosures, transcripts,
every redirect hop) goes through ``Guarded``: the address a connection is about to
be made to is checked, and that same address is connected to.  A name that answers
public for a check and loopback for the connection (DNS rebinding) therefore gets
nowhere: there is no second lookup.  Each request also carries one deadline for
the whole exchange, headers included, enforced on every socket read.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from pipeline import __version__

USER_AGENT = f"podinsights/{__version__} (+https://github.com/podinsights/podinsights)"
MAX_REDIRECTS = 8
PERMANENT = (301, 308)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEADLINE = 120.0  # seconds for a whole response: a trickling server cannot hold a run
POLICY = "podinsights.policy"  # the request extension that carries a Policy
ALLOW_PRIVATE_ENV = "PODINSIGHTS_ALLOW_PRIVATE"  # =1: every feed may use private addresses

NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: an IPv4 address inside IPv6
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a site's own NAT64


class FetchError(Exception):
    """A network fetch failed; the message is one sentence for the user."""


class Refused(FetchError):
    """The server is on this machine or a private network, and the feed may not reach it.
    No later attempt does better: a permanent failure."""


@dataclass(frozen=True)
class Policy:
    allow_private: bool
    until: float  # time.monotonic() by which the whole exchange must be over
    seconds: float  # the deadline as given, for the message


class _PrivateAddress(httpcore.ConnectError):
    pass


class _Overdue(httpcore.ReadTimeout):
    pass


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally routable unicast address, once unwrapped from IPv6 forms that carry an
    IPv4 address (IPv4-mapped, NAT64, 6to4): ``64:ff9b::7f00:1`` is loopback."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            return False
        if address.ipv4_mapped:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.sixtofour:
            address = address.sixtofour
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host} cannot be resolved ({exc})") from exc
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


class _Backend(httpcore.SyncBackend):
    """Connects only to addresses the request's Policy allows, and only to the address
    it checked; the stream it returns keeps the request's deadline."""

    def __init__(self, policy: threading.local):
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy: Policy = self.policy.current
        candidates = resolve(host, port)
        allowed = [
            a for a in candidates if policy.allow_private or is_public(ipaddress.ip_address(a))
        ]
        if not allowed:
            raise _PrivateAddress(candidates[0])
        stream = super().connect_tcp(
            allowed[0], port, _remaining(policy, timeout), local_address, socket_options
        )
        return _DeadlineStream(stream, policy)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write waits at most until the deadline, however the server trickles."""

    def __init__(self, stream: httpcore.NetworkStream, policy: Policy):
        self.stream, self.policy = stream, policy

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _overdue_is_named(self.policy):
            return self.stream.read(max_bytes, _remaining(self.policy, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _overdue_is_named(self.policy):
            self.stream.write(buffer, _remaining(self.policy, timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self.stream.start_tls(ssl_context, server_hostname, _remaining(self.policy, timeout))
        return _DeadlineStream(tls, self.policy)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


@contextmanager
def _overdue_is_named(policy: Policy) -> Iterator[None]:
    """A socket timeout cut short by the deadline is the deadline's, and says so."""
    try:
        yield
    except (httpcore.ReadTimeout, httpcore.WriteTimeout):
        _remaining(policy, None)
        raise


def _remaining(policy: Policy, timeout: float | None) -> float:
    left = policy.until - time.monotonic()
    if left <= 0:
        raise _Overdue(f"took longer than {policy.seconds:.0f} s")
    return left if timeout is None else min(timeout, left)


class Guarded(httpx.HTTPTransport):
    """httpx's own transport over the guarded backend, without keep-alive: every request
    opens (and so checks) its own connection; a connection made for a private feed is
    never reused by a public one's request."""

    def __init__(self) -> None:
        super().__init__()
        self._policy = threading.local()
        # httpx builds its pool with the default backend and offers no way to pass one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_keepalive_connections=0,
            network_backend=_Backend(self._policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Sync httpx connects in the calling thread, inside this call.
        self._policy.current = request.extensions.get(POLICY) or _policy(False, DEADLINE)
        try:
            return super().handle_request(request)
        finally:
            del self._policy.current


def client() -> httpx.Client:
    # A transport of our own also means no proxy from the environment: a proxy would
    # make the connection for us, out of the guard's sight.
    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=Guarded(),
        # Servers that send gzip get decoded transparently; we never ask for brotli.
    )


def _policy(allow_private: bool, seconds: float) -> Policy:
    return Policy(allow_private, time.monotonic() + seconds, seconds)


@dataclass
class Response:
    status: int
    url: str  # where the body came from
    permanent_url: str | None  # set when every hop was a permanent redirect
    headers: httpx.Headers
    body: bytes


def get(
    http: httpx.Client,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    max_bytes: int,
    deadline: float | None = None,
    allow_private: bool = False,
) -> Response:
    """GET with redirects followed by hand and the body capped at max_bytes; the
    deadline covers every hop, headers and body.  Raises FetchError (Refused for a
    private address when ``allow_private`` is false)."""
    with stream(
        http, url, headers=headers, deadline=deadline, allow_private=allow_private
    ) as response:
        final = str(response.url)
        permanent = all(r.status_code in PERMANENT for r in response.history)
        body = b"".join(read_capped(response, max_bytes, final))
    return Response(
        status=response.status_code,
        url=final,
        permanent_url=final if permanent and final != url else None,
        headers=response.headers,
        body=body,
    )


@contextmanager
def stream(
    http: httpx.Client,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    deadline: float | None = None,
    allow_private: bool = False,
) -> Iterator[httpx.Response]:
    """A streamed GET whose redirects are followed by hand, every hop guarded, all of
    it within one deadline; ``response.history`` holds the redirects, in order."""
    policy = _policy(allow_private, deadline or DEADLINE)
    seen = {url}
    history: list[httpx.Response] = []
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            extensions = {POLICY: policy}
            with http.stream("GET", current, headers=headers, extensions=extensions) as response:
                if response.is_redirect and "location" in response.headers:
                    history.append(response)
                    current = str(response.url.join(response.headers["location"]))
                    if current in seen:
                        raise FetchError(f"{url} redirects in a loop")
                    seen.add(current)
                    continue
                response.history = history
                yield response
                return
    except httpx.HTTPError as exc:
        raise _fetch_error(exc, current) from exc
    raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times")


def _fetch_error(exc: httpx.HTTPError, url: str) -> FetchError:
    cause = exc.__cause__
    if isinstance(cause, _PrivateAddress):
        return Refused(
            f"{url} is on this machine or a private network ({cause}), which only a feed "
            f"subscribed at a private address may use; {ALLOW_PRIVATE_ENV}=1 allows it for all"
        )
    if isinstance(cause, _Overdue):
        return FetchError(f"{url} {cause} to arrive")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"{url} timed out ({type(exc).__name__})")
    return FetchError(f"{url} could not be fetched: {exc}")


def read_capped(response: httpx.Response, max_bytes: int, label: str) -> Iterator[bytes]:
    """The body in chunks; stops a body over max_bytes (the deadline stops a slow one)."""
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"{label} is larger than the {max_bytes // 1_000_000} MB limit")
        yield chunk
