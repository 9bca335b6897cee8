"""Fuzzing the parsers that read what strangers send us (`make fuzz`; bounded in time).

Any bytes must give either records or the parser's own one-sentence error: never a
crash, a hang, or some other exception."""

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.feedparse import FeedParseError, parse_feed
from pipeline.transcripts import TranscriptError, parse_transcript

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=1500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

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
