"""Real-world feeds from other projects' test suites (read from ../shared/realdata)."""

import json

import pytest

import pipeline.feeds.subscriptions as feeds
from pipeline.feeds.parse import parse_feed

from .conftest import REALDATA
from .server import Reply

FEED_FILES = (
    sorted(p.name for p in (REALDATA / "feeds").glob("*") if p.suffix in (".xml", ".rss"))
    if REALDATA.is_dir()
    else []
)
GOLDEN = [name for name in FEED_FILES if name.startswith("podcastparser_")]

# Where we deliberately differ from gPodder's podcastparser, and why.
DEVIATIONS = {
    # gPodder falls back to the item <link> as GUID; the podinsights rule is
    # GUID, then the enclosure URL (stable across page redesigns), then title+date.
    "podcastparser_no_guid.rss": {"guid": "http://example.com/test.ogg"},
    # gPodder drops an item without a title; we keep it (it has audio) and
    # title it from the enclosure's file name.
    "podcastparser_no_title_multi_enclosure.rss": {"keep": ["test"]},
}


@pytest.mark.parametrize("name", GOLDEN)
def test_parse_matches_gpodder_golden_output(realdata, name):
    expected = json.loads((realdata / "feeds" / name.replace(".rss", ".expected.json")).read_text())
    data = (realdata / "feeds" / name).read_bytes()
    parsed = parse_feed(data, "file://tests/data/" + name.removeprefix("podcastparser_"))
    deviation = DEVIATIONS.get(name, {})
    if "keep" in deviation:
        assert [e.title for e in parsed.episodes] == deviation["keep"]
        return
    assert len(parsed.episodes) == len(expected["episodes"])
    for ours, theirs in zip(parsed.episodes, expected["episodes"], strict=True):
        assert ours.title == theirs["title"]
        assert ours.guid == deviation.get("guid", theirs["guid"])
        first = theirs["enclosures"][0]["url"] if theirs["enclosures"] else None
        assert ours.enclosure_url == first


@pytest.mark.parametrize("name", FEED_FILES)
def test_every_real_feed_polls_over_http_without_a_crash(realdata, db, server, name):
    server.route(
        "/feed",
        Reply(
            body=(realdata / "feeds" / name).read_bytes(),
            headers={"Content-Type": "application/rss+xml"},
        ),
    )
    feeds.add_feed(db, server.url("/feed"))
    (result,) = feeds.poll_feeds(db)
    assert result.outcome in ("updated", "error")
    if result.outcome == "error":
        assert result.error and "\n" not in result.error
    stored = db["episodes"].count
    assert stored == (0 if result.error else result.new)
    # A second poll changes nothing.
    (again,) = feeds.poll_feeds(db, force=True)
    assert db["episodes"].count == stored and again.new == 0


@pytest.mark.parametrize(
    "name, count",
    [
        ("node-feedparser_compressed.xml", 10),  # gzip bytes without Content-Encoding
        ("node-feedparser_iconv.xml", 10),  # windows-1251
        ("partytime_1865.xml", 61),
        ("partytime_dk-podcast.xml", 59),  # duplicate titles, distinct GUIDs
        ("podcastindex_example.xml", 3),
        ("node-feedparser_saxerror.xml", 3),  # unescaped & in the 2nd of 3 items
    ],
)
def test_real_feeds_yield_every_episode(realdata, db, name, count):
    feeds.add_feed(db, str(realdata / "feeds" / name))
    (result,) = feeds.poll_feeds(db)
    assert (result.outcome, db["episodes"].count) == ("updated", count)


def test_empty_real_feed_is_an_error_not_a_crash(realdata, db):
    feeds.add_feed(db, str(realdata / "feeds" / "badpod_empty_file.xml"))
    (result,) = feeds.poll_feeds(db)
    assert result.outcome == "error" and "empty" in result.error


def test_podcastindex_example_people_and_transcripts(realdata, db):
    parsed = parse_feed(
        (realdata / "feeds" / "podcastindex_example.xml").read_bytes(),
        "https://example.com/feed.xml",
    )
    newest = parsed.episodes[0]
    assert {t["type"] for t in newest.transcripts} >= {"text/vtt"}
    assert any(p["role"] == "host" for p in newest.persons)
    assert all(p["name"] for p in newest.persons)


def test_remote_feed_with_relative_enclosures_resolves_them(realdata, server, db):
    body = (realdata / "feeds" / "podcastparser_relative.rss").read_bytes()
    server.route(
        "/shows/feed.rss", Reply(body=body, headers={"Content-Type": "application/rss+xml"})
    )
    feeds.add_feed(db, server.url("/shows/feed.rss"))
    list(feeds.poll_feeds(db))
    (row,) = db["episodes"].rows
    assert row["enclosure_url"] == server.url("/shows/example.mp3")
