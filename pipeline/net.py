"""One HTTP client configuration for every stage, and bounded reads.

Redirects are followed by hand so a poll can tell a permanent move (record the
new URL) from a temporary one, and so loops end with a clear message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from . import __version__

USER_AGENT = f"podinsights/{__version__} (+https://github.com/podinsights/podinsights)"
MAX_REDIRECTS = 8
PERMANENT = (301, 308)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEADLINE = 120.0  # seconds for a whole response: a trickling server cannot hold a run


class FetchError(Exception):
    """A network fetch failed; the message is one sentence for the user."""


def client() -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        # Servers that send gzip get decoded transparently; we never ask for brotli.
    )


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
) -> Response:
    """GET with redirects followed by hand and the body capped at max_bytes."""
    seen = {url}
    permanent = True
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with http.stream("GET", current, headers=headers) as response:
                if response.is_redirect and "location" in response.headers:
                    permanent = permanent and response.status_code in PERMANENT
                    current = str(response.url.join(response.headers["location"]))
                    if current in seen:
                        raise FetchError(f"{url} redirects in a loop")
                    seen.add(current)
                    continue
                body = b"".join(read_capped(response, max_bytes, deadline or DEADLINE, url))
                return Response(
                    status=response.status_code,
                    url=current,
                    permanent_url=current if permanent and current != url else None,
                    headers=response.headers,
                    body=body,
                )
        except httpx.TimeoutException as exc:
            raise FetchError(f"{current} timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{current} could not be fetched: {exc}") from exc
    raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times")


@contextmanager
def stream(
    http: httpx.Client,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    guard: Callable[[str], None] | None = None,
) -> Iterator[httpx.Response]:
    """A streamed GET whose redirects are followed by hand, so ``guard`` sees (and may
    refuse, by raising) every URL on the way, not only the first."""
    seen: set[str] = set()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if guard:
            guard(current)
        with http.stream("GET", current, headers=headers) as response:
            if response.is_redirect and "location" in response.headers:
                seen.add(current)
                current = str(response.url.join(response.headers["location"]))
                if current in seen:
                    raise FetchError(f"{url} redirects in a loop")
                continue
            yield response
            return
    raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times")


def read_capped(
    response: httpx.Response, max_bytes: int, deadline: float, label: str
) -> Iterator[bytes]:
    """The body in chunks; stops a body over max_bytes or a server slower than deadline."""
    started = time.monotonic()
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"{label} is larger than the {max_bytes // 1_000_000} MB limit")
        if time.monotonic() - started > deadline:
            raise FetchError(f"{label} took longer than {deadline:.0f} s to arrive")
        yield chunk
