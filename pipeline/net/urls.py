"""Which URLs the pipeline may fetch, and where local files may come from."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from pipeline.net.client import ALLOW_PRIVATE_ENV, is_public

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
        try:
            target = local_path(enclosure_url).resolve()
        except (ValueError, OSError):  # a NUL byte ("%00"), a name too long
            return f"the enclosure {enclosure_url!r} is not a usable file path"
        if target.is_relative_to(folder):
            return None
        return f"the enclosure {enclosure_url} is outside the feed's folder {folder}"
    return f"the enclosure URL scheme {scheme or '(none)'}: is not allowed; only http and https"


def may_reach_private(feed: Mapping[str, Any]) -> bool:
    """Whether this feed's requests (the feed, its pages, enclosures, transcripts and
    their redirects) may go to this machine or a private network.

    Only the user decides that, by how they subscribed: a local feed file, or a URL
    they gave whose address is private (stored in ``feeds.private`` when subscribing).
    What the feed's own DNS answers never switches the guard off. Rows from before
    that column fall back to the URL's host literal. PODINSIGHTS_ALLOW_PRIVATE=1
    allows it for every feed."""
    if os.environ.get(ALLOW_PRIVATE_ENV) == "1" or is_local(feed["url"]):
        return True
    if feed.get("private") is not None:
        return bool(feed["private"])
    return _private_literal(urlsplit(feed["url"]).hostname or "")


def subscribed_private(url: str, *, typed: bool) -> bool:
    """The ``feeds.private`` flag of a new subscription: a local file, a private host
    literal, or, for a URL the user typed, a name whose every address is private now
    (their NAS, their LAN server; a name with a public answer is a public feed). An
    OPML entry is not typed: literals only."""
    if is_local(url):
        return True
    host = urlsplit(url).hostname or ""
    if _private_literal(host):
        return True
    if not typed:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False  # a name that does not resolve is not private
    return bool(infos) and not any(_public(str(info[4][0])) for info in infos)


def _private_literal(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return not _public(host)
    except ValueError:
        return False  # a name, not an address


def _public(address: str) -> bool:
    return is_public(ipaddress.ip_address(address.split("%")[0]))
