"""Which URLs the pipeline may fetch, and where local files may come from."""

from __future__ import annotations

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
