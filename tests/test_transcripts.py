"""Publisher transcripts: the real files from other projects, and the formats' corners."""

import pytest

from pipeline.transcripts import (
    ESTIMATED,
    TranscriptError,
    choose_transcript,
    detect_format,
    parse_transcript,
)

from .conftest import REALDATA

FOLDER = REALDATA / "transcripts"


def parse_real(name):
    return parse_transcript((FOLDER / name).read_bytes(), name=name)


@pytest.mark.parametrize(
    "name, count, first, speakers",
    [
        (
            "antennapod_vttStrSimple.vtt",
            11,
            "Intro without speaker",
            {None, "Speaker 1", "Speaker 2"},
        ),
        (
            "antennapod_vttStrComplex.vtt",
            11,
            "Intro without speaker",
            {None, "Speaker 1", "Speaker 2"},
        ),
        ("podcastindex_transcript_example.vtt", 7, "In today's episode", {"Sarah", "Gillian"}),
        ("podcastindex_transcript_example.json", 2, "I am your father.", {"Darth Vader", "Luke"}),
        (
            "podcastindex_transcript_example.srt",
            222,
            "When you first get",
            {"Travis", "Sarah", "Gilon", None},
        ),
        (
            "podcastindex_transcript_example.html",
            10,
            "When you first get",
            {"Travis", "Sarah", "Gilon"},
        ),
        (
            "transcriptator_podnews_daily_2024-01-25.vtt",
            44,
            "Podcasting is coming back",
            {"SPEAKER_1"},
        ),
        ("transcriptator_one_word_segments.json", 22, "Hey, Travis Albritain here.", None),
    ],
)
def test_real_publisher_transcripts_parse(realdata, name, count, first, speakers):
    segments = parse_real(name)
    assert len(segments) == count
    assert segments[0].text.startswith(first)
    assert [s.index for s in segments] == list(range(count))
    assert all(s.start <= s.end and s.text for s in segments)
    if speakers is not None:
        assert {s.speaker for s in segments} <= speakers


@pytest.mark.parametrize(
    "name, message",
    [
        ("antennapod_srtStr_malformed.srt", "SRT cue 2 has an impossible time"),
        ("antennapod_jsonStr_singlequoted.json", "not valid JSON"),
    ],
)
def test_malformed_real_transcripts_fail_whole_with_one_clear_sentence(realdata, name, message):
    with pytest.raises(TranscriptError, match=message) as info:
        parse_real(name)
    assert "\n" not in str(info.value)


def test_vtt_voice_tags_classes_settings_and_times_past_an_hour(realdata):
    segments = parse_real("antennapod_vttStrComplex.vtt")
    second = next(s for s in segments if s.text == "And this is the second.")
    assert second.speaker == "Speaker 2" and (second.start, second.end) == (13.0, 15.0)
    assert segments[3].speaker == "Speaker 1"  # an untagged cue keeps the last speaker
    assert segments[-1].start == 3600.0
    assert "Je suis speaker 1." in segments[-2].text and "<" not in segments[-2].text


def test_vtt_and_srt_cue_times_match_reference_parsers(realdata):
    srt_lib = pytest.importorskip("srt")
    webvtt = pytest.importorskip("webvtt")
    ours = parse_real("podcastindex_transcript_example.srt")
    theirs = list(srt_lib.parse((FOLDER / "podcastindex_transcript_example.srt").read_text()))
    assert [(s.start, s.end) for s in ours] == [
        (c.start.total_seconds(), c.end.total_seconds()) for c in theirs
    ]
    ours = parse_real("podcastindex_transcript_example.vtt")
    theirs = webvtt.read(str(FOLDER / "podcastindex_transcript_example.vtt"))

    def seconds(t):
        return t.hours * 3600 + t.minutes * 60 + t.seconds + t.milliseconds / 1000

    expected = [t for c in theirs for t in (seconds(c.start_time), seconds(c.end_time))]
    assert [t for s in ours for t in (s.start, s.end)] == pytest.approx(expected)


def test_the_same_conversation_in_four_formats_agrees_on_who_speaks_first(realdata):
    firsts = {
        name: parse_real(f"podcastindex_transcript_example.{name}")[0].speaker
        for name in ("srt", "html")
    }
    assert firsts == {"srt": "Travis", "html": "Travis"}


def test_word_level_json_is_merged_into_sentences_with_word_timings():
    data = (
        b'{"version":"1.0.0","segments":['
        b'{"speaker":"Ann","startTime":0.5,"endTime":0.7,"body":"Hello"},'
        b'{"speaker":"Ann","startTime":0.8,"endTime":1.0,"body":"there."},'
        b'{"speaker":"Ann","startTime":1.1,"endTime":1.4,"body":"Next"},'
        b'{"speaker":"Bob","startTime":1.5,"endTime":1.9,"body":"Hi"}]}'
    )
    segments = parse_transcript(data, mime="application/json")
    assert [(s.text, s.speaker) for s in segments] == [
        ("Hello there.", "Ann"),
        ("Next", "Ann"),
        ("Hi", "Bob"),
    ]
    assert [(w.start, w.word) for w in segments[0].words] == [(0.5, "Hello"), (0.8, "there.")]


def test_srt_with_speaker_prefix_entities_bom_and_crlf():
    data = "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nJane Doe: Fish &amp; chips\r\n\r\n".encode()
    (segment,) = parse_transcript(data, name="x.srt")
    assert (segment.speaker, segment.text, segment.start, segment.end) == (
        "Jane Doe",
        "Fish & chips",
        1.0,
        2.5,
    )


def test_plain_text_gets_estimated_times_and_is_marked():
    segments = parse_transcript(
        b"Host: Welcome to the show.\n\nGuest: Thanks for having me here.", mime="text/plain"
    )
    assert [s.speaker for s in segments] == ["Host", "Guest"]
    assert all(s.quality == ESTIMATED for s in segments)
    assert segments[1].start == segments[0].end > 0


@pytest.mark.parametrize(
    "mime, name, data, expected",
    [
        ("text/vtt", None, b"", "vtt"),
        ("application/x-subrip", None, b"", "srt"),
        (None, "https://x/t.srt?sig=1", b"", "srt"),
        (None, None, b"WEBVTT\n\n00:01.000 --> 00:02.000\nhi", "vtt"),
        (None, None, b"1\n00:00:01,000 --> 00:00:02,000\nhi", "srt"),
        (None, None, b'{"segments": []}', "json"),
        (None, None, b"<p>hello</p>", "html"),
        (None, None, b"just words", "text"),
    ],
)
def test_format_detection(mime, name, data, expected):
    assert detect_format(mime, name, data) == expected


def test_empty_and_segmentless_transcripts_are_errors():
    with pytest.raises(TranscriptError, match="empty"):
        parse_transcript(b"  ")
    with pytest.raises(TranscriptError, match="no transcript segments"):
        parse_transcript(b"WEBVTT\n\nNOTE nothing here\n")


def test_choose_prefers_timed_formats_and_english():
    offered = [
        {"url": "https://x/t.txt", "type": "text/plain"},
        {"url": "https://x/t.es.json", "type": "application/json", "language": "es"},
        {"url": "https://x/t.vtt", "type": "text/vtt", "language": "en"},
        {"url": "https://x/t.srt", "type": "application/srt"},
    ]
    assert choose_transcript(offered)["url"] == "https://x/t.vtt"
    assert choose_transcript([]) is None
