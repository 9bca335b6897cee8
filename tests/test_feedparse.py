import gzip

import pytest

from pipeline.feeds.parse import FeedParseError, parse_duration, parse_feed

from .feedgen import item, rss

BASE = "https://example.com/podcast/feed.xml"


def test_episode_fields_are_parsed_to_plain_records():
    extra = (
        "<itunes:duration>01:02:03</itunes:duration><itunes:season>2</itunes:season>"
        "<itunes:episode>7</itunes:episode><link>https://example.com/ep7</link>"
        "<description><![CDATA[<p>Show <b>notes</b> &amp; more</p>]]></description>"
    )
    feed = parse_feed(rss(item(length=1234, extra=extra)), BASE)
    (episode,) = feed.episodes
    assert episode.guid == "ep-1"
    assert episode.published == "2025-02-11T07:00:00Z"
    assert episode.itunes_duration == 3723
    assert (episode.season, episode.episode_number) == (2, 7)
    assert episode.enclosure_length == 1234
    assert episode.description == "Show notes & more"
    assert "<b>notes</b>" in episode.description_html
    assert feed.info.title == "Test Show"


def test_podcasting20_person_transcript_and_chapters_are_kept():
    extra = (
        '<podcast:person role="host" href="https://x/h">Dana Whitfield</podcast:person>'
        '<podcast:person role="Guest">Antonio Reyes</podcast:person>'
        '<podcast:transcript url="t/ep1.vtt" type="text/vtt" language="en" rel="captions"/>'
        '<podcast:transcript url="https://x/ep1.json" type="application/json"/>'
        '<podcast:chapters url="https://x/ch.json" type="application/json+chapters"/>'
    )
    (episode,) = parse_feed(rss(item(extra=extra)), BASE).episodes
    assert [(p["name"], p["role"], p["group"]) for p in episode.persons] == [
        ("Dana Whitfield", "host", "cast"),
        ("Antonio Reyes", "guest", "cast"),
    ]
    assert episode.transcripts[0] == {
        "url": "https://example.com/podcast/t/ep1.vtt",
        "type": "text/vtt",
        "language": "en",
        "rel": "captions",
    }
    assert len(episode.transcripts) == 2
    assert episode.chapters == {"url": "https://x/ch.json", "type": "application/json+chapters"}


def test_channel_level_people_apply_to_items_without_their_own():
    channel = '<podcast:person role="host">Dana Whitfield</podcast:person>'
    own = '<podcast:person role="guest">Priya Shah</podcast:person>'
    feed = parse_feed(rss(item("a"), item("b", extra=own), channel_extra=channel), BASE)
    by_guid = {e.guid: e for e in feed.episodes}
    assert [p["name"] for p in by_guid["a"].persons] == ["Dana Whitfield"]
    assert by_guid["a"].persons[0]["source"] == "channel"
    assert [p["name"] for p in by_guid["b"].persons] == ["Priya Shah"]


def test_guid_falls_back_to_enclosure_url_then_title_and_date():
    feed = parse_feed(
        rss(
            item(None, url="https://cdn.x/a.mp3#t=1"),
            item(None, url=None, extra="<link>https://x/page</link>"),
        ),
        BASE,
    )
    assert feed.episodes[0].guid == "https://cdn.x/a.mp3"
    assert feed.episodes[1].guid.startswith("title-date:")


def test_relative_enclosures_resolve_against_the_feed_url():
    (episode,) = parse_feed(rss(item(url=" audio/ep1.mp3")), BASE).episodes
    assert episode.enclosure_url == "https://example.com/podcast/audio/ep1.mp3"


def test_audio_enclosure_is_preferred_over_an_image():
    extra = '<enclosure url="https://x/real.mp3" type="audio/mpeg"/>'
    (episode,) = parse_feed(
        rss(item(url="https://x/cover.jpg", mime="image/jpeg", extra=extra)), BASE
    ).episodes
    assert episode.enclosure_url == "https://x/real.mp3"


def test_duplicate_guids_keep_the_first_item_and_warn():
    feed = parse_feed(rss(item("same", title="first"), item("same", title="second")), BASE)
    assert [e.title for e in feed.episodes] == ["first"]
    assert "duplicate GUID" in feed.warnings[0]


def test_gzip_body_without_content_encoding_is_unpacked():
    feed = parse_feed(gzip.compress(rss(item())), BASE)
    assert len(feed.episodes) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><body>Hello</body></html>", "not a podcast feed"),
    ],
)
def test_non_feeds_raise_a_clear_error(body, message):
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, BASE)


def test_next_page_and_new_feed_url_are_reported():
    channel = (
        '<atom:link rel="next" href="page2.xml"/>'
        "<itunes:new-feed-url>https://new.example.com/feed</itunes:new-feed-url>"
    )
    info = parse_feed(rss(item(), channel_extra=channel), BASE).info
    assert info.next_page == "https://example.com/podcast/page2.xml"
    assert info.new_url == "https://new.example.com/feed"


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("3600", 3600),
        ("60:00", 3600),
        ("1:00:00", 3600),
        ("01:02:03.400", 3723.4),
        ("", None),
        ("abc", None),
        (None, None),
    ],
)
def test_durations(value, seconds):
    assert (
        parse_duration(value) == pytest.approx(seconds)
        if seconds
        else parse_duration(value) is None
    )
