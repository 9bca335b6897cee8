"""Hand-written feeds for tests."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def item(
    guid: str | None = "ep-1",
    title: str = "Episode one",
    url: str | None = "http://example.com/ep1.mp3",
    length: int | None = None,
    mime: str = "audio/mpeg",
    extra: str = "",
    pubdate: str = "Tue, 11 Feb 2025 07:00:00 GMT",
) -> str:
    parts = [f"<title>{escape(title)}</title>", f"<pubDate>{pubdate}</pubDate>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if url is not None:
        length_attr = f" length={quoteattr(str(length))}" if length is not None else ""
        parts.append(f"<enclosure url={quoteattr(url)} type={quoteattr(mime)}{length_attr}/>")
    return "<item>" + "".join(parts) + extra + "</item>"


def rss(*items: str, title: str = "Test Show", channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>{escape(title)}</title><link>http://example.com/</link>"
        f"{channel_extra}{''.join(items)}</channel></rss>"
    ).encode()
