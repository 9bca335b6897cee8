"""Which URLs the pipeline may fetch, and where local files may come from."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

WEB_SCHEMES = ("http", "https")


def is_local(url: str) -> bool:
    return urlsplit(url).scheme == "file"


def file_url(path: str | Path) -> str:
    return Path(path).resolve().as_uri()


def local_path(url: str) -> Path:
    """The filesystem path of a file:// URL."""
    parts = urlsplit(url)
    return Path(url2pathname(unquote(parts.path)))


def enclosure_problem(feed_url: str, enclosure_url: str | None) -> str | None:
    """Why an enclosure may not be downloaded, or None when it may.

    A remote feed may only point at http(s) audio: a file: URL in it would read
    this machine's files, and javascript: or data: URLs are never audio.  A local
    feed (the demo podcast) may use files, but only inside its own folder.
    """
    if not enclosure_url:
        return None
    scheme = urlsplit(enclosure_url).scheme.lower()
    if scheme in WEB_SCHEMES:
        return None
    if scheme == "file" and is_local(feed_url):
        folder = local_path(feed_url).resolve().parent
        target = local_path(enclosure_url).resolve()
        if target.is_relative_to(folder):
            return None
        return f"the enclosure {enclosure_url} is outside the feed's folder {folder}"
    return f"the enclosure URL scheme {scheme or '(none)'}: is not allowed; only http and https"


ALLOW_PRIVATE_ENV = "PODINSIGHTS_ALLOW_PRIVATE"


def is_private_host(host: str) -> bool:
    """Loopback, private, link-local or otherwise non-public: by IP, or by what the
    name resolves to (a name that does not resolve is not private)."""
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except (OSError, UnicodeError):
            return False
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    return any(not a.is_global or a.is_multicast for a in addresses)


def private_target_problem(feed_url: str, url: str) -> str | None:
    """A public feed may not send us to this machine or its network (an SSRF guard);
    a feed that is itself local or private may. PODINSIGHTS_ALLOW_PRIVATE=1 allows it."""
    if os.environ.get(ALLOW_PRIVATE_ENV) == "1" or is_local(feed_url):
        return None
    feed_host = urlsplit(feed_url).hostname or ""
    host = urlsplit(url).hostname or ""
    if is_private_host(feed_host) or not is_private_host(host):
        return None
    return (
        f"{url} points at a private or loopback address from a public feed; "
        f"set {ALLOW_PRIVATE_ENV}=1 to allow it"
    )
