"""OPML subscription lists: what podcast apps import and export."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from pipeline.errors import PipelineError
from pipeline.net.urls import WEB_SCHEMES, is_local, local_path

log = logging.getLogger(__name__)


class OpmlError(PipelineError):
    """The file is not readable OPML."""


def read_opml(path: str | Path) -> list[dict[str, str | None]]:
    """Every http(s) feed outline in the file as {url, title}.

    An OPML file comes from elsewhere (an app's export, a shared list), so it may
    only name web feeds: ``xmlUrl="/etc/hostname"`` or ``"../../etc/passwd"`` would
    otherwise subscribe to this machine's files.  Local feed files are subscribed
    to by ``feeds add PATH``, which the user types."""
    path = Path(path)
    try:
        root = fromstring(path.read_bytes())
    except FileNotFoundError as exc:
        raise OpmlError(f"No OPML file at {path}.") from exc
    except (ParseError, DefusedXmlException) as exc:
        raise OpmlError(f"{path} is not valid OPML: {exc}.") from exc
    if root.tag.lower() != "opml":
        raise OpmlError(f"{path} is not OPML: its root element is <{root.tag}>.")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        if not _is_web_url(url):
            log.warning(
                "%s: skipped %r: an OPML file may only list http(s) feeds; "
                "subscribe to a local feed file with `podinsights feeds add PATH`",
                path,
                url,
            )
            continue
        feeds.append({"url": url, "title": outline.get("title") or outline.get("text")})
    return feeds


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in WEB_SCHEMES and bool(parts.hostname)
    except ValueError:  # "http://[oops"
        return False


def write_opml(feeds: list[dict[str, str | None]], title: str = "podinsights subscriptions") -> str:
    root = Element("opml", version="2.0")
    SubElement(SubElement(root, "head"), "title").text = title
    body = SubElement(root, "body")
    for feed in feeds:
        url = str(feed["url"])
        attributes = {"type": "rss", "text": feed.get("title") or url, "xmlUrl": url}
        if is_local(url):
            attributes["xmlUrl"] = str(local_path(url))
        SubElement(body, "outline", attributes)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + tostring(root, encoding="unicode") + "\n"
