"""Fuzzing the parsers that read what strangers send us (bounded in time).

Any bytes must give either records or the parser's own one-sentence error: never a
crash, a hang, or some other exception; and what is stored is stored whole.  The
long runs are `make fuzz` (marked slow); the short ones run with every `make test`."""

import contextlib
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.feeds.subscriptions as feeds
import pipeline.store.db as dbmod
from pipeline.feeds.opml import OpmlError, read_opml
from pipeline.feeds.parse import FeedParseError, parse_feed
from pipeline.text import printable
from pipeline.transcribe.publisher import MAX_SECONDS, PARSERS, TranscriptError, parse_transcript

FUZZ = settings(max_examples=1500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=120, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

TAGS = [
    "rss",
    "channel",
    "item",
    "title",
    "guid",
    "enclosure",
    "link",
    "pubDate",
    "podcast:person",
    "podcast:transcript",
    "podcast:chapters",
    "itunes:duration",
    "description",
    "content:encoded",
    "entry",
    "feed",
    "atom:link",
]


@st.composite
def feedish(draw):
    """Text shaped like a feed: nested tags from the podcast vocabulary, odd attributes,
    entities, CDATA, broken closings."""
    parts = []
    for _ in range(draw(st.integers(0, 40))):
        tag = draw(st.sampled_from(TAGS))
        attribute = draw(
            st.sampled_from(
                [
                    "",
                    ' url="x.mp3"',
                    ' role="host"',
                    ' href="//"',
                    ' length="-1"',
                    ' type="audio/mpeg"',
                    ' url="&#0;"',
                ]
            )
        )
        body = draw(st.text(max_size=30))
        closing = draw(st.sampled_from([f"</{tag}>", "", "</wrong>", "/>"]))
        parts.append(
            draw(
                st.sampled_from(
                    [
                        f"<{tag}{attribute}>{body}{closing}",
                        f"<![CDATA[{body}]]>",
                        f"&{body[:5]};",
                        body,
                    ]
                )
            )
        )
    return "".join(parts).encode(
        draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), errors="replace"
    )


@pytest.mark.slow
@FUZZ
@given(st.one_of(st.binary(max_size=2000), feedish()))
def test_feed_parser_never_crashes(data):
    with contextlib.suppress(FeedParseError):
        parse_feed(data, "https://example.com/feed.xml")


@st.composite
def cueish(draw):
    lines = ["WEBVTT", ""] if draw(st.booleans()) else []
    for n in range(draw(st.integers(0, 20))):
        stamp = draw(
            st.sampled_from(
                [
                    "00:00:01.000 --> 00:00:02.000",
                    "00:01,5 --> 00:00:00,0",
                    "99:99:99.999 --> 1",
                    "1.5 --> 0.2",
                    "-->",
                    "",
                ]
            )
        )
        lines += [str(n), stamp, draw(st.text(max_size=40)), ""]
    return "\n".join(lines).encode()


@pytest.mark.slow
@FUZZ
@given(
    st.one_of(st.binary(max_size=2000), cueish(), st.text(max_size=500).map(str.encode)),
    st.sampled_from(
        [None, "text/vtt", "application/srt", "application/json", "text/html", "text/plain"]
    ),
)
def test_transcript_parser_never_crashes(data, mime):
    try:
        segments = parse_transcript(data, mime=mime)
    except TranscriptError:
        return
    assert all(s.start <= s.end and s.text for s in segments)


# Quick runs, with every `make test` ------------------------------------------------------

CHAPTERS = st.sampled_from(
    [
        '<podcast:chapters url="c.json" type="application/json+chapters"/>',
        '<podcast:chapters url="" type="x"/>',
        '<psc:chapters version="1.2"><psc:chapter start="00:00:00.000" title="A"/>'
        '<psc:chapter start="1e999" title="&lt;b&gt;"/><psc:chapter start="-5"/></psc:chapters>',
        '<psc:chapters><psc:chapter start="99:99:99" href="javascript:x"/></psc:chapters>',
    ]
)


@st.composite
def podcast_feed(draw):
    """A well-formed feed around fuzzed items: titles, enclosures, transcripts, chapters."""
    items = []
    for n in range(draw(st.integers(0, 4))):
        title = draw(st.text(max_size=30)).replace("<", "").replace("&", "")
        url = draw(st.sampled_from(["a.mp3", "http://x/a.mp3", "file:///etc/passwd", "%00", ""]))
        chapters = draw(CHAPTERS)
        items.append(
            f"<item><guid>{n}</guid><title>{title}</title>"
            f'<enclosure url="{url}" type="audio/mpeg"/>{chapters}'
            f'<podcast:transcript url="t{n}.vtt" type="text/vtt"/></item>'
        )
    return (
        '<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0" '
        'xmlns:psc="http://podlove.org/simple-chapters"><channel><title>S</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8", "replace")


@QUICK
@given(st.one_of(podcast_feed(), feedish(), st.binary(max_size=500)))
def test_a_polled_feed_is_stored_whole_or_not_at_all(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.xml"
        path.write_bytes(data)
        db = dbmod.connect(":memory:")
        feed = feeds.add_feed(db, str(path))
        result = feeds.poll_feed(db, None, feed)  # a local file: no HTTP client needed
        stored = list(db["episodes"].rows)
        if result.outcome == "error":
            assert stored == [] and result.error and "\n" not in result.error
            return
        assert len(stored) == result.new
        for row in stored:
            assert printable(row["title"] or "") == (row["title"] or "")
            json.loads(row["chapters"] or "null")


@st.composite
def opmlish(draw):
    urls = st.sampled_from(
        ["https://e.com/f", "http://[oops", "/etc/hostname", "../x", "file:///x", "", "ftp://x/"]
    )
    outlines = "".join(
        f'<outline text="t" xmlUrl="{draw(urls)}"/>' for _ in range(draw(st.integers(0, 5)))
    )
    return draw(st.sampled_from([f"<opml><body>{outlines}</body></opml>", outlines, "<opml"]))


@QUICK
@given(st.one_of(opmlish().map(str.encode), st.binary(max_size=300)))
def test_opml_gives_web_feeds_or_one_error(data):
    with tempfile.NamedTemporaryFile(suffix=".opml") as file:
        file.write(data)
        file.flush()
        try:
            entries = read_opml(file.name)
        except OpmlError:
            return
    assert all(entry["url"].startswith(("http://", "https://")) for entry in entries)


# JSON literals for times: ordinary, absurd, non-finite, wrongly typed, nested.
TIMES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10, 10**6).map(str),
    st.sampled_from(
        ["1e999", "NaN", "Infinity", "-Infinity", "-0", "9" * 400, '"1:02.5"', '"x"', "[[]]"]
    ),
)


@st.composite
def jsonish(draw):
    segments = [
        f'{{"startTime": {draw(TIMES)}, "endTime": {draw(TIMES)}, '
        f'"body": {json.dumps(draw(st.text(max_size=20)))}}}'
        for _ in range(draw(st.integers(0, 8)))
    ]
    return f'{{"segments": [{", ".join(segments)}]}}'.encode()


@QUICK
@given(
    st.one_of(jsonish(), cueish(), st.binary(max_size=500), st.text(max_size=300).map(str.encode)),
    st.sampled_from(sorted(PARSERS)),
    st.one_of(st.none(), st.floats(0, 10_000)),
)
def test_every_transcript_format_gives_sane_times_or_one_error(data, fmt, duration):
    try:
        segments = parse_transcript(data, fmt, duration=duration)
    except TranscriptError as exc:
        assert "\n" not in str(exc)
        return
    limit = duration + 60 if duration else MAX_SECONDS
    for segment in segments:
        assert 0 <= segment.start <= segment.end <= limit and math.isfinite(segment.end)
        assert all(0 <= w.start <= w.end <= limit for w in segment.words)
