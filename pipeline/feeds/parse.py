"""Turn feed bytes into a FeedInfo and Episode records.

feedparser does the heavy lifting (RSS, Atom, encodings, dates, broken XML).
It keeps only the attributes of the last ``podcast:person`` and drops element
text, so a small tolerant scanner (the stdlib HTML tokenizer: never raises,
never expands entities, never fetches anything) reads the Podcasting 2.0 tags
``podcast:transcript``, ``podcast:person`` and ``podcast:chapters``.
"""

from __future__ import annotations

import calendar
import gzip
import hashlib
import html
import io
import re
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser

from pipeline.errors import PipelineError
from pipeline.models import Episode, FeedInfo, ParsedFeed
from pipeline.text import printable
from pipeline.timecodes import parse_clock

PODCAST_NAMESPACES = {
    "https://podcastindex.org/namespace/1.0",
    "http://podcastindex.org/namespace/1.0",
    "https://github.com/podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
}
AUDIO_TYPES = ("audio/", "video/")
GZIP_MAGIC = b"\x1f\x8b"
MAX_GUNZIPPED = 50 * 1024 * 1024


class FeedParseError(PipelineError):
    """The bytes are not a feed at all (HTML page, empty body, garbage)."""


def parse_feed(data: bytes, base_url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse one feed document; relative URLs resolve against ``base_url``."""
    data = _maybe_gunzip(data)
    if not data.strip():
        raise FeedParseError("the feed is empty")
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    # Always a stream: given bytes or a str, feedparser first tries them as a URL or a
    # file path, so a body of "/dev/zero" or "/home/me/notes.xml" would be opened.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False)
    if not parsed.version and not parsed.entries and not parsed.feed.get("title"):
        reason = parsed.get("bozo_exception") or "no RSS or Atom elements"
        raise FeedParseError(f"not a podcast feed ({reason})")
    scanner = _PodcastTags.scan(data, parsed.get("encoding") or "utf-8")
    info = _feed_info(parsed, data, base_url)
    episodes: list[Episode] = []
    seen: set[str] = set()
    warnings: list[str] = []
    for position, entry in enumerate(parsed.entries):
        tags = scanner.for_entry(entry, position, len(parsed.entries))
        episode = _episode(entry, tags, scanner.channel, base_url)
        if episode is None:
            continue
        if episode.guid in seen:
            warnings.append(f"duplicate GUID {episode.guid!r}: kept the first item")
            continue
        seen.add(episode.guid)
        episodes.append(episode)
    return ParsedFeed(info=info, episodes=episodes, warnings=warnings)


def _maybe_gunzip(data: bytes) -> bytes:
    """A gzip body saved or served without Content-Encoding still parses."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(MAX_GUNZIPPED + 1)
    except (OSError, EOFError) as exc:
        raise FeedParseError(f"the feed is a broken gzip file ({exc})") from exc
    if len(out) > MAX_GUNZIPPED:
        raise FeedParseError("the feed unpacks to more than the size limit")
    return out


def _feed_info(parsed: Any, data: bytes, base_url: str) -> FeedInfo:
    feed = parsed.feed
    links = feed.get("links", [])
    image = feed.get("image", {}).get("href") or feed.get("image", {}).get("url")
    return FeedInfo(
        title=_clean(feed.get("title")),
        link=_clean(feed.get("link")),
        description=_plain(feed.get("subtitle") or feed.get("summary")),
        language=_clean(feed.get("language")),
        author=_clean(feed.get("author") or feed.get("itunes_author")),
        image=_clean(image),
        new_url=_new_url(feed, data),
        next_page=next(
            (urljoin(base_url, link["href"]) for link in links if link.get("rel") == "next"),
            None,
        ),
    )


def _new_url(feed: Any, data: bytes) -> str | None:
    """itunes:new-feed-url, or the old <redirect><newLocation> convention."""
    url = feed.get("itunes_new-feed-url") or feed.get("newlocation")
    if not url:
        match = re.search(rb"<(?:itunes:new-feed-url|newLocation)>\s*([^<\s]+)\s*<", data)
        url = match.group(1).decode("utf-8", "replace") if match else None
    return _clean(url)


def _episode(
    entry: Any, tags: dict[str, Any], channel: dict[str, Any], base: str
) -> Episode | None:
    enclosure = _pick_enclosure(entry, base)
    link = _clean(entry.get("link"))
    if enclosure is None and not link:
        return None  # neither audio nor a page: not an episode (gPodder agrees)
    url, mime, length = enclosure or (None, None, None)
    title = _clean(entry.get("title"))
    published = _iso(entry.get("published_parsed") or entry.get("updated_parsed"))
    if not title and url:
        title = url.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or None
    guid = _clean(entry.get("id")) or _normalize_url(url) or _fallback_guid(title, published)
    if not guid:
        return None
    html_body = _description_html(entry)
    return Episode(
        guid=guid,
        title=title,
        published=published,
        description=_plain(html_body) if html_body else None,
        description_html=html_body,
        link=link,
        image=_clean(entry.get("image", {}).get("href")),
        enclosure_url=url,
        enclosure_type=mime,
        enclosure_length=length,
        itunes_duration=parse_duration(entry.get("itunes_duration")),
        season=_int(entry.get("itunes_season")),
        episode_number=_int(entry.get("itunes_episode") or entry.get("podcast_episode")),
        transcripts=[{**t, "url": urljoin(base, t["url"])} for t in tags["transcripts"]],
        persons=tags["persons"] or [{**p, "source": "channel"} for p in channel["persons"]],
        chapters=_chapters(entry, tags, base),
    )


def _pick_enclosure(entry: Any, base: str) -> tuple[str, str | None, int | None] | None:
    """The first audio or video enclosure, else the first enclosure of any type."""
    enclosures = [e for e in entry.get("enclosures", []) if (e.get("href") or "").strip()]
    if not enclosures:
        return None
    media = [e for e in enclosures if (e.get("type") or "").startswith(AUDIO_TYPES)]
    chosen = (media or enclosures)[0]
    length = _int(chosen.get("length"))
    return (
        urljoin(base, chosen["href"].strip()),
        _clean(chosen.get("type")),
        length if length and length > 0 else None,
    )


def _description_html(entry: Any) -> str | None:
    """content:encoded where present (it is the full show notes), else the summary."""
    for content in entry.get("content", []):
        if content.get("value", "").strip():
            return str(content["value"]).strip()
    summary = entry.get("summary")
    return str(summary).strip() if summary and summary.strip() else None


def _chapters(entry: Any, tags: dict[str, Any], base: str) -> dict[str, Any] | None:
    if tags["chapters"]:
        return {**tags["chapters"], "url": urljoin(base, tags["chapters"]["url"])}
    psc = entry.get("psc_chapters", {}).get("chapters")
    if psc:
        return {
            "type": "psc",
            "items": [
                {
                    "start": parse_duration(c.get("start")) or 0.0,
                    **{k: c[k] for k in ("title", "href", "image") if c.get(k)},
                }
                for c in psc
            ],
        }
    return None


def parse_duration(value: Any) -> float | None:
    """itunes:duration as seconds: "3600", "60:00", "1:00:00" or "01:02:03.400"."""
    return parse_clock(value)


def _iso(parsed_time: time.struct_time | None) -> str | None:
    if not parsed_time:
        return None
    stamp = calendar.timegm(parsed_time)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _normalize_url(url: str | None) -> str | None:
    """Enclosure URLs as GUID fallback: tracking query strings change, the path does not."""
    if not url:
        return None
    return url.strip().split("#", 1)[0]


def _fallback_guid(title: str | None, published: str | None) -> str | None:
    if not title:
        return None
    digest = hashlib.sha1(f"{title}\n{published or ''}".encode()).hexdigest()[:16]
    return f"title-date:{digest}"


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(printable(value).split())
    return text or None


class _TextOnly(HTMLParser):
    BLOCKS = {"p", "br", "div", "li", "h1", "h2", "h3", "h4", "tr", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain(markup: str | None) -> str | None:
    """Show notes as plain text: tags dropped, entities decoded, paragraphs kept."""
    if not markup:
        return None
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(line for line in lines if line)
    return printable(html.unescape(text)) or None


class _PodcastTags(HTMLParser):
    """Collect podcast:transcript/person/chapters per item, tolerant of any markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.prefixes = {"podcast"}
        self.channel: dict[str, Any] = _empty_tags()
        self.items: list[dict[str, Any]] = []
        self._item: dict[str, Any] | None = None
        self._text: list[str] | None = None

    @classmethod
    def scan(cls, data: bytes, encoding: str) -> _PodcastTags:
        scanner = cls()
        try:
            text = data.decode(encoding, "replace")
        except LookupError:
            text = data.decode("utf-8", "replace")
        scanner.feed(text)
        scanner.close()
        return scanner

    def for_entry(self, entry: Any, position: int, count: int) -> dict[str, Any]:
        """The tags of feedparser's entry: matched by GUID, else by position."""
        guid = entry.get("id")
        for item in self.items:
            if guid and item["guid"] and guid.endswith(item["guid"]):
                return item
        if len(self.items) == count:
            return self.items[position]
        return _empty_tags()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: (value or "").strip() for key, value in attrs}
        for key, value in attributes.items():
            if key.startswith("xmlns:") and value.rstrip("/") in PODCAST_NAMESPACES:
                self.prefixes.add(key[6:])
        if tag in ("item", "entry"):
            self._item = _empty_tags()
            self.items.append(self._item)
            return
        target = self._item if self._item is not None else self.channel
        prefix, _, local = tag.rpartition(":")
        if tag == "guid" and self._item is not None:
            self._text = []
        elif prefix in self.prefixes:
            self._podcast_tag(local, attributes, target)

    def _podcast_tag(self, local: str, attributes: dict[str, str], target: dict[str, Any]) -> None:
        if local == "transcript" and attributes.get("url"):
            target["transcripts"].append(
                {k: attributes[k] for k in ("url", "type", "language", "rel") if attributes.get(k)}
            )
        elif local == "person":
            target["persons"].append(
                {
                    "name": "",
                    "role": (attributes.get("role") or "host").lower(),
                    "group": (attributes.get("group") or "cast").lower(),
                    "href": attributes.get("href") or None,
                    "img": attributes.get("img") or None,
                }
            )
            self._text = []
        elif local == "chapters" and attributes.get("url"):
            target["chapters"] = {"url": attributes["url"], "type": attributes.get("type")}

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._text = None if tag.endswith("person") or tag == "guid" else self._text

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        target = self._item if self._item is not None else self.channel
        if self._text is not None and tag.endswith(":person") and target["persons"]:
            target["persons"][-1]["name"] = " ".join("".join(self._text).split())
            if not target["persons"][-1]["name"]:
                target["persons"].pop()
            self._text = None
        elif self._text is not None and tag == "guid" and self._item is not None:
            self._item["guid"] = "".join(self._text).strip() or None
            self._text = None
        elif tag in ("item", "entry"):
            self._item = None


def _empty_tags() -> dict[str, Any]:
    return {"transcripts": [], "persons": [], "chapters": None, "guid": None}
