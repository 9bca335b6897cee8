"""Publisher transcripts: every real file in realdata/transcripts, then each format's corners."""

from __future__ import annotations

import html
import itertools
import json
import re

import pytest

from pipeline.models import Segment
from pipeline.transcribe.publisher import (
    ESTIMATED,
    FORMATS,
    TranscriptError,
    choose_transcript,
    detect_format,
    parse_transcript,
)

from .conftest import REALDATA

FOLDER = REALDATA / "transcripts"
SPEC = "podcastindex_transcripts_spec.md"


def parse_real(name: str) -> list[Segment]:
    return parse_transcript((FOLDER / name).read_bytes(), name=name)


def vtt(text: str) -> list[Segment]:
    return parse_transcript(f"WEBVTT\n\n{text}".encode(), "vtt")


def srt(text: str) -> list[Segment]:
    return parse_transcript(text.encode(), "srt")


def json_words(*words: tuple[str | None, float, float, str]) -> list[Segment]:
    items = [
        {"speaker": speaker, "startTime": start, "endTime": end, "body": body}
        for speaker, start, end, body in words
    ]
    document = {"version": "1.0.0", "segments": items}
    return parse_transcript(json.dumps(document).encode(), "json")


def summary(segment: Segment) -> tuple[float, float, str | None, str]:
    return (segment.start, segment.end, segment.speaker, segment.text)


# The real files ------------------------------------------------------------------------

# name: (count, first segment, last segment, speakers); a segment is (start, end,
# speaker, start of text).
PARSED = {
    "antennapod_vttStrSimple.vtt": (
        11,
        (0.0, 2.0, None, "Intro without speaker"),
        (3600.0, 3601.0, "Speaker 1", "Still talking after one hour."),
        {None, "Speaker 1", "Speaker 2"},
    ),
    "antennapod_vttStrComplex.vtt": (
        11,
        (0.0, 2.0, None, "Intro without speaker"),
        (3600.0, 3601.0, "Speaker 1", "Still talking after one hour."),
        {None, "Speaker 1", "Speaker 2"},
    ),
    "podcastindex_transcript_example.vtt": (
        7,
        (0.0, 2.76, "Sarah", "In today's episode, you'll learn whether or not you"),
        (21.45, 25.35, "Gillian", "careers podcast. My question is, do we need a podcast"),
        {"Sarah", "Gillian"},
    ),
    "podcastindex_transcript_example.srt": (
        222,
        (0.179, 2.399, "Travis", "When you first get started in podcasting, it's"),
        (752.671, 754.769, "Travis", "best thing to do is to batch your episodes."),
        {"Travis", "Sarah", "Gilon"},
    ),
    "podcastindex_transcript_example.html": (
        10,
        (0.0, 53.0, "Travis", "When you first get started in podcasting, it's almost"),
        (691.0, 782.2, "Travis", "Batch production of your podcast episodes."),
        {"Travis", "Sarah", "Gilon"},
    ),
    "podcastindex_transcript_example.json": (
        2,
        (0.5, 2.5, "Darth Vader", "I am your father."),
        (2.75, 3.0, "Luke", "Nooooo"),
        {"Darth Vader", "Luke"},
    ),
    "transcriptator_one_word_segments.json": (
        22,
        (0.3, 1.65, "Travis", "Hey, Travis Albritain here."),
        (117.29, 117.77, "Eric", "We got an extra"),
        {"Travis", "Eric"},
    ),
    "transcriptator_podnews_daily_2024-01-25.vtt": (
        44,
        (0.86, 7.38, "SPEAKER_1", "Podcasting is coming back to New Zealand again"),
        (224.1, 225.62, "SPEAKER_1", "We're at podnews.net."),
        {"SPEAKER_1"},
    ),
    "transcriptator_podnews_weekly_review_2024-01-19.vtt": (
        189,
        (0.0, 3.48, "SPEAKER_1", "It's Friday, the 19th of January, 2024."),
        (850.72, 855.04, "SPEAKER_3", "The best known hosting monetization business is Acast."),
        {"SPEAKER_1", "SPEAKER_2", "SPEAKER_3", "SPEAKER_4"},
    ),
    "transcriptator_podnews_weekly_review_2023-03-17.html": (
        9,
        (0.0, 67.0, None, "Hello. And just before we start"),
        (1130.0, 3320.4, "Jingle", "So thank you Norma Jean Belinky from Podbean."),
        {None, "Norma-Jean Belenky", "Jingle"},
    ),
    "transcriptator_podnews_weekly_review_2023-05-05.json": (
        67,
        (0.035, 3.455, "James C", "it's Friday, the 5th of May 20, 23."),
        (206.694, 207.504, "Sam Sethi", "to more countries."),
        {"James C", "Jingles", "Sam Sethi", "Nick Hilton", "Chris Quamme Rhoden"},
    ),
    "transcriptator_podnews_weekly_review_2023-06-02.json": (
        3,
        (0.221, 3.09, "Speaker 1", "It's Friday, the 2nd of June 2023."),
        (7.186, 8.729, "Speaker 2", "This is the Pod News"),
        {"Speaker 1", "Speaker 2"},
    ),
}
FAILING = {
    # "00:00:90,740": seconds past 59. The srt library and AntennaPod read it as
    # 1:30.740, but it may as well be a typo for 00:00:50,740, so we refuse to guess.
    "antennapod_srtStr_malformed.srt": (
        "the SRT transcript antennapod_srtStr_malformed.srt is malformed: cue 2 (line 6) has "
        "an impossible time '00:00:90,740' (minutes and seconds must be below 60)"
    ),
    "antennapod_jsonStr_singlequoted.json": (
        "the JSON transcript antennapod_jsonStr_singlequoted.json is malformed: it is not valid "
        "JSON (Expecting property name enclosed in double quotes at line 1, column 2)"
    ),
}


def test_every_real_transcript_file_is_covered_here(realdata):
    on_disk = {path.name for path in FOLDER.iterdir()} - {SPEC}
    assert on_disk == set(PARSED) | set(FAILING)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_real_transcript_parses_with_expected_segments(realdata, name):
    count, first, last, speakers = PARSED[name]
    segments = parse_real(name)
    assert len(segments) == count
    for segment, (start, end, speaker, text) in ((segments[0], first), (segments[-1], last)):
        assert (segment.start, segment.end, segment.speaker) == (start, end, speaker)
        assert segment.text.startswith(text)
    assert {s.speaker for s in segments} == speakers


@pytest.mark.parametrize("name", sorted(PARSED))
def test_real_transcript_segments_are_indexed_ordered_and_clean(realdata, name):
    segments = parse_real(name)
    assert [s.index for s in segments] == list(range(len(segments)))
    for segment in segments:
        assert isinstance(segment.start, float) and isinstance(segment.end, float)
        assert 0 <= segment.start <= segment.end
        assert segment.text and segment.text == " ".join(segment.text.split())
        assert "<" not in segment.text and "&amp;" not in segment.text
        assert segment.quality == "ok"  # every real file carries real timings
    assert [s.start for s in segments] == sorted(s.start for s in segments)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_malformed_real_transcript_fails_whole_with_one_sentence_naming_the_problem(realdata, name):
    with pytest.raises(TranscriptError) as info:
        parse_real(name)
    assert str(info.value) == FAILING[name]


def test_vtt_voice_tags_with_classes_keep_speaker_until_the_next_tag(realdata):
    segments = parse_real("antennapod_vttStrComplex.vtt")
    assert [s.speaker for s in segments] == [None, None] + ["Speaker 1"] * 2 + ["Speaker 2"] * 5 + [
        "Speaker 1"
    ] * 2
    assert summary(segments[4]) == (13.0, 15.0, "Speaker 2", "And this is the second.")
    assert segments[8].text == "Too long to collapse with previous."
    assert segments[9].text == "And again. Je suis speaker 1."
    simple = parse_real("antennapod_vttStrSimple.vtt")
    assert [summary(s) for s in simple] == [summary(s) for s in segments]


def _webvtt_cues(name: str) -> list[tuple[float, float, str | None, str]]:
    webvtt = pytest.importorskip("webvtt")
    return [
        (
            c.start_time.in_milliseconds() / 1000,
            c.end_time.in_milliseconds() / 1000,
            c.voice,
            " ".join(html.unescape(c.text).split()),
        )
        for c in webvtt.read(str(FOLDER / name))
    ]


@pytest.mark.parametrize("name", sorted(n for n in PARSED if n.endswith(".vtt")))
def test_vtt_cues_match_webvtt_py_except_seconds_only_timestamps(realdata, name):
    ours = parse_real(name)
    theirs = _webvtt_cues(name)
    # webvtt-py silently drops cues timed "0.860 --> 7.380" (no minutes field);
    # we keep them. Every other cue must agree on times, text and voice.
    timings = [line for line in (FOLDER / name).read_text().splitlines() if "-->" in line]
    seconds_only = [not re.match(r"\s*\d+:", line) for line in timings]
    assert len(timings) == len(ours)
    kept = [s for s, skipped in zip(ours, seconds_only, strict=True) if not skipped]
    assert len(kept) == len(theirs) == len(ours) - sum(seconds_only)
    for segment, (start, end, voice, text) in zip(kept, theirs, strict=True):
        assert (segment.start, segment.end, segment.text) == (start, end, text)
        assert voice is None or segment.speaker == voice


def test_srt_cues_match_the_srt_library(realdata):
    srt_lib = pytest.importorskip("srt")
    name = "podcastindex_transcript_example.srt"
    ours = parse_real(name)
    theirs = list(srt_lib.parse((FOLDER / name).read_text()))
    assert len(ours) == len(theirs) == 222
    for segment, cue in zip(ours, theirs, strict=True):
        assert (segment.start, segment.end) == (
            cue.start.total_seconds(),
            cue.end.total_seconds(),
        )
        text = " ".join(cue.content.split())
        prefix = f"{segment.speaker}: "
        assert segment.text == (text.removeprefix(prefix) if text.startswith(prefix) else text)


def test_srt_library_accepts_the_malformed_time_we_reject(realdata):
    srt_lib = pytest.importorskip("srt")
    cues = list(srt_lib.parse((FOLDER / "antennapod_srtStr_malformed.srt").read_text()))
    assert cues[1].start.total_seconds() == 90.74  # its reading of "00:00:90,740"


def test_srt_and_html_of_the_same_episode_agree_on_turns_speakers_words_and_times(realdata):
    cues = parse_real("podcastindex_transcript_example.srt")
    monologues = parse_real("podcastindex_transcript_example.html")
    turns = [list(group) for _, group in itertools.groupby(cues, key=lambda s: s.speaker)]
    assert len(turns) == len(monologues) == 10
    for turn, monologue in zip(turns, monologues, strict=True):
        assert turn[0].speaker == monologue.speaker
        assert " ".join(s.text for s in turn).split() == monologue.text.split()
        assert int(turn[0].start) == monologue.start  # HTML has whole seconds


def _spec_snippets() -> dict[str, str]:
    """The spec's example blocks by language; for HTML the transcript, not the player."""
    blocks = re.findall(r"```(\w+)\n(.*?)```", (FOLDER / SPEC).read_text(), re.S)
    return {lang: body for lang, body in blocks if lang != "html" or "<cite>" in body}


def test_spec_snippets_parse_with_speakers_carried_forward(realdata):
    snippets = _spec_snippets()
    vtt_snippet = parse_transcript(snippets["vtt"].encode(), "vtt")
    assert [s.speaker for s in vtt_snippet] == ["John", "Tom", "Tom", "Tom", "John", "Tom", "John"]
    html_snippet = parse_transcript(snippets["html"].encode(), "html")
    assert [(s.speaker, s.start, s.end) for s in html_snippet] == [
        ("Kevin", 0.0, 9.0),
        ("Alban", 9.0, 13.8),  # the last one: 12 words at 2.5 words/s
    ]
    json_snippet = parse_transcript(snippets["json"].encode(), "json")
    assert [summary(s) for s in json_snippet] == [
        summary(s) for s in parse_real("podcastindex_transcript_example.json")
    ]


def test_spec_srt_snippet_agrees_with_example_vtt_on_times_and_speakers(realdata):
    cards = parse_transcript(_spec_snippets()["srt"].encode(), "srt")
    cues = {s.start: s for s in parse_real("podcastindex_transcript_example.vtt")}
    assert len(cards) == 5
    for card in cards:
        cue = cues[card.start]
        assert (card.end, card.speaker) == (cue.end, cue.speaker)
        assert cue.text.split()[:3] == card.text.split()[:3]


def test_word_level_real_json_keeps_word_timings_and_attaches_punctuation(realdata):
    segments = parse_real("transcriptator_podnews_weekly_review_2023-06-02.json")
    first = segments[0]
    assert [w.word for w in first.words] == ["It's", "Friday,", "the", "2nd", "of", "June", "2023."]
    assert (first.words[0].start, first.words[-1].end) == (0.221, 3.09)
    name = "transcriptator_one_word_segments.json"
    tokens = [s["body"] for s in json.loads((FOLDER / name).read_text())["segments"]]
    long = parse_real(name)
    assert sum(len(s.words) for s in long) == sum(bool(re.search(r"\w", t)) for t in tokens)
    assert " ".join(s.text for s in long).replace(" ,", ",") == " ".join(tokens).replace(
        " ,", ","
    ).replace(" .", ".")
    assert all(s.end - s.start <= 30 for s in long)


# WebVTT --------------------------------------------------------------------------------


def test_vtt_strips_tags_and_decodes_entities():
    (segment,) = vtt(
        "00:01.000 --> 00:02.000\n"
        "<c.yellow>Fish</c> &amp; <i>chips</i> <b>&lt;3</b>&nbsp;<00:00:01.500>now\n"
        "a < b > c"
    )
    assert segment.text == "Fish & chips <3 now a < b > c"


def test_vtt_hours_are_optional_and_seconds_only_stamps_are_accepted():
    segments = vtt("01:02.500 --> 1:02:03.250\nmm:ss\n\n7.5 --> 8.25\nbare seconds")
    assert [(s.start, s.end) for s in segments] == [(62.5, 3723.25), (7.5, 8.25)]


def test_vtt_skips_header_lines_notes_styles_regions_identifiers_and_settings():
    text = (
        "WEBVTT - a title\nKind: captions\nLanguage: en\n\n"
        "STYLE\n::cue { color: red }\n\nREGION\nid:fred\n\n"
        "NOTE a note\nspanning lines\n\n"
        "intro\n00:00:01.000 --> 00:00:02.000 align:start position:10%\n<v Ann>Hello\n\n\n\n"
        "42\n00:00:03.000 --> 00:00:04.000\nthere\n"
    )
    segments = parse_transcript(text.encode(), "vtt")
    assert [summary(s) for s in segments] == [
        (1.0, 2.0, "Ann", "Hello"),
        (3.0, 4.0, "Ann", "there"),
    ]


def test_vtt_joins_multi_line_cues_and_tolerates_a_missing_blank_line_after_the_header():
    segments = parse_transcript(b"\n\nWEBVTT\n00:01.000 --> 00:02.000\none\ntwo\n", "vtt")
    assert [s.text for s in segments] == ["one two"]


def test_vtt_cue_with_two_voices_is_split_by_word_share():
    (ann, bob) = vtt("00:00.000 --> 00:04.000\n<v Ann>One two three.</v> <v Bob>Four.</v>")
    assert (summary(ann), summary(bob)) == (
        (0.0, 3.0, "Ann", "One two three."),
        (3.0, 4.0, "Bob", "Four."),
    )


def test_vtt_voice_tag_without_text_still_sets_the_speaker():
    segments = vtt("00:00.000 --> 00:01.000\n<v Ann>\n\n00:01.000 --> 00:02.000\nHi")
    assert [summary(s) for s in segments] == [(1.0, 2.0, "Ann", "Hi")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("00:01.000 --> 00:02.000\nfine\n\nstray text\n", "line 6 is not part of any cue"),
        ("00:02.000 --> 00:01.000\nbackwards\n", "cue 1 (line 3) ends before it starts"),
        ("00:01.000 --> soon\nx\n", "cue 1 (line 3) has an unreadable timing '00:01.000 --> soon'"),
        ("00:01:75.000 --> 00:01:76.000\nx\n", "cue 1 (line 3) has an impossible time"),
    ],
)
def test_vtt_with_an_unusable_block_fails_naming_cue_and_line(text, message):
    with pytest.raises(TranscriptError, match=re.escape(message)):
        vtt(text)


def test_vtt_without_header_is_refused():
    with pytest.raises(TranscriptError, match="does not start with the WEBVTT header"):
        parse_transcript(b"00:01.000 --> 00:02.000\nhi\n", "vtt", name="x.vtt")


# Decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nCaf\u00e9 ol\u00e9\r\n".encode(),
        "WEBVTT\r\r00:01.000 --> 00:02.000\rCaf\u00e9 ol\u00e9\r".encode(),
        "WEBVTT\n\n00:01.000 --> 00:02.000\nCaf\u00e9 ol\u00e9\n".encode("utf-16"),
        b"\xfe\xff" + "WEBVTT\n\n00:01.000 --> 00:02.000\nCaf\u00e9 ol\u00e9\n".encode("utf-16-be"),
        "WEBVTT\n\n00:01.000 --> 00:02.000\nCaf\u00e9 ol\u00e9\n".encode("cp1252"),
    ],
    ids=["utf-8 BOM + CRLF", "CR", "utf-16 LE BOM", "utf-16 BE BOM", "cp1252"],
)
def test_bom_utf16_cp1252_and_line_ends_are_decoded(data):
    (segment,) = parse_transcript(data)
    assert (segment.start, segment.end, segment.text) == (1.0, 2.0, "Caf\u00e9 ol\u00e9")


# SRT ---------------------------------------------------------------------------------------


def test_srt_tolerates_missing_numbers_extra_blank_lines_dots_and_a_missing_blank_line():
    segments = srt(
        "\n\n1\n00:00:01,000 --> 00:00:02,000\n<i>one</i>\n2\n00:00:02.500 --> 00:00:03.000\n"
        "two\n\n\n\n00:00:04,000 --> 00:00:05,000\nthree\nlines\n"
    )
    assert [(s.start, s.end, s.text) for s in segments] == [
        (1.0, 2.0, "one"),
        (2.5, 3.0, "two"),
        (4.0, 5.0, "three lines"),
    ]


def test_srt_speaker_prefix_is_taken_only_from_capitalised_names_and_carried_forward():
    segments = srt(
        "1\n00:00:01,000 --> 00:00:02,000\nBefore anyone: is named\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nJane Doe: Fish &amp; chips\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nso here is the thing: no\n\n"
        "4\n00:00:04,000 --> 00:00:05,000\nOne Two Three Four Five: too long\n\n"
        "5\n00:00:05,000 --> 00:00:06,000\nSpeaker 2:\nhello\n"
    )
    assert [(s.speaker, s.text) for s in segments] == [
        (None, "Before anyone: is named"),
        ("Jane Doe", "Fish & chips"),
        ("Jane Doe", "so here is the thing: no"),
        ("Jane Doe", "One Two Three Four Five: too long"),
        ("Speaker 2", "hello"),
    ]


def test_srt_text_outside_any_cue_fails_naming_the_line():
    with pytest.raises(TranscriptError, match=r"line 5 is not part of any cue: 'lost text'"):
        srt("1\n00:00:01,000 --> 00:00:02,000\nkept\n\nlost text\n")


def test_srt_number_without_timing_fails():
    with pytest.raises(TranscriptError, match="line 1 is not part of any cue: '1'"):
        srt("1\nno timing here\n")


# JSON ----------------------------------------------------------------------------------------


def test_json_words_merge_into_sentences_at_punctuation_speaker_change_and_pauses():
    segments = json_words(
        ("Ann", 0.5, 0.7, "Hello"),
        ("Ann", 0.8, 1.0, "there."),
        ("Ann", 1.1, 1.4, "Next"),
        ("Bob", 1.5, 1.9, "Hi"),
        ("Bob", 3.5, 3.9, "later"),
        ("Bob", 4.0, 4.0, "?"),
    )
    assert [(s.start, s.end, s.speaker, s.text) for s in segments] == [
        (0.5, 1.0, "Ann", "Hello there."),
        (1.1, 1.4, "Ann", "Next"),
        (1.5, 1.9, "Bob", "Hi"),
        (3.5, 4.0, "Bob", "later?"),
    ]
    assert [(w.start, w.end, w.word, w.speaker) for w in segments[0].words] == [
        (0.5, 0.7, "Hello", "Ann"),
        (0.8, 1.0, "there.", "Ann"),
    ]


def test_json_words_break_after_thirty_seconds_without_punctuation():
    words = [("Ann", t * 1.0, t + 0.5, "word") for t in range(70)]
    segments = json_words(*words)
    assert [len(s.words) for s in segments] == [30, 30, 10]
    assert all(s.end - s.start <= 30 for s in segments)


def test_json_segments_without_speaker_continue_the_previous_one():
    segments = json_words(("Ann", 0, 1, "Hello"), (None, 1, 2, "again"), (None, 2, 3, "you."))
    assert [(s.speaker, s.text) for s in segments] == [("Ann", "Hello again you.")]


def test_json_phrases_with_identical_times_are_one_caption():
    data = (
        b'{"segments": ['
        b'{"speaker": "A", "startTime": 0, "endTime": 2, "body": "first line of"},'
        b'{"speaker": "A", "startTime": 0, "endTime": 2, "body": "one caption."},'
        b'{"speaker": "A", "startTime": 2, "endTime": 4, "body": "another caption here"}]}'
    )
    segments = parse_transcript(data, "json")
    assert [(s.start, s.end, s.text, s.words) for s in segments] == [
        (0.0, 2.0, "first line of one caption.", []),
        (2.0, 4.0, "another caption here", []),
    ]


def test_json_missing_end_times_come_from_the_next_start_or_an_estimate():
    data = (
        b'[{"startTime": "1.5", "body": "two words"},'
        b' {"startTime": "0:03", "body": "five words are said here"}]'
    )
    segments = parse_transcript(data, "json")
    assert [(s.start, s.end) for s in segments] == [(1.5, 3.0), (3.0, 5.0)]


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"version": "1.0.0"}', 'it has no "segments" list'),
        (b'{"segments": [1]}', "segment 1 is not an object"),
        (b'{"segments": [{"body": "x"}]}', "segment 1 has no valid startTime"),
        (b'{"segments": [{"startTime": 1, "endTime": "x", "body": "x"}]}', "invalid endTime"),
        (
            b'{"segments": [{"startTime": 2, "endTime": 1, "body": "x"}]}',
            "segment 1 ends (1.0) before it starts (2.0)",
        ),
        (b'{"segments": [{"startTime": 1, "endTime": 2, "body": "x"},]}', "not valid JSON"),
    ],
)
def test_json_problems_fail_the_whole_file(data, message):
    with pytest.raises(TranscriptError, match=re.escape(message)):
        parse_transcript(data, "json", name="t.json")


# HTML ----------------------------------------------------------------------------------------


def test_html_monologue_ends_at_the_next_start_and_unclosed_paragraphs_are_kept():
    page = (
        "<html><body><cite>Ann Lee :</cite><time>1:02:03</time><p>Caf&eacute;<br>time"
        "<cite>Bob:</cite><time>1:02:10</time><p>Five words <b>are</b> said here.</p>"
    )
    segments = parse_transcript(page.encode(), name="t.html")
    assert [summary(s) for s in segments] == [
        (3723.0, 3730.0, "Ann Lee", "Caf\u00e9 time"),
        (3730.0, 3732.0, "Bob", "Five words are said here."),
    ]


def test_html_without_times_keeps_speakers_and_marks_times_estimated():
    page = b"<cite>Ann:</cite><p>one two three four five</p><cite>Bob:</cite><p>six</p>"
    segments = parse_transcript(page, "html")
    assert [summary(s) for s in segments] == [
        (0.0, 2.0, "Ann", "one two three four five"),
        (2.0, 2.4, "Bob", "six"),
    ]
    assert {s.quality for s in segments} == {ESTIMATED}


# Plain text ---------------------------------------------------------------------------------


def test_plain_text_speaker_lines_get_estimated_times_and_are_marked():
    segments = parse_transcript(
        b"Host: Welcome to the show.\nGuest: Thanks for having me.\n\nIt is great.\n"
        b"Speaker 2:\nA new turn.",
        mime="text/plain",
    )
    assert [(s.speaker, s.text) for s in segments] == [
        ("Host", "Welcome to the show."),
        ("Guest", "Thanks for having me."),
        ("Guest", "It is great."),
        ("Speaker 2", "A new turn."),
    ]
    assert all(s.quality == ESTIMATED for s in segments)
    assert [(s.start, s.end) for s in segments[:2]] == [(0.0, 1.6), (1.6, 3.2)]


def test_plain_text_long_paragraphs_are_cut_at_sentence_ends_into_30_second_chunks():
    sentence = "This sentence has exactly ten words in it, you see. "
    segments = parse_transcript((sentence * 20).encode(), "text")
    assert [len(s.text.split()) for s in segments] == [70, 70, 60]
    assert segments[0].end == 28.0 and segments[-1].end == 80.0


# Detection, errors and choosing --------------------------------------------------------------


@pytest.mark.parametrize(
    "mime, name, data, expected",
    [
        ("text/vtt", None, b"anything", "vtt"),
        ("application/x-subrip; charset=utf-8", None, b"x", "srt"),
        ("application/srt", None, b"x", "srt"),
        ("text/srt", None, b"x", "srt"),
        ("application/json+transcript", None, b"x", "json"),
        ("application/vnd.example+json", None, b"x", "json"),
        ("text/html", None, b"x", "html"),
        ("text/plain", None, b"just words", "text"),
        ("text/plain", None, b"WEBVTT\n", "vtt"),  # servers send text/plain for .vtt
        ("text/plain", "https://x/t.srt", b"x", "srt"),
        ("application/octet-stream", "https://x/t.json?sig=1#f", b"x", "json"),
        (None, "episode.mp3.vtt", b"x", "vtt"),
        (None, "T.HTM", b"x", "html"),
        (None, "notes.txt", b"WEBVTT\n", "text"),
        (None, None, b"\xef\xbb\xbfWEBVTT\n\n00:01.000 --> 00:02.000\nhi", "vtt"),
        (None, None, b"1\n00:00:01,000 --> 00:00:02,000\nhi", "srt"),
        (None, None, b"00:00:01,000 --> 00:00:02,000\nhi", "srt"),
        (None, None, b'  {"segments": []}', "json"),
        (None, None, b"{'segments': []}", "json"),
        (None, None, b'[{"startTime": 1}]', "json"),
        (None, None, b"<!DOCTYPE html><html>", "html"),
        (None, None, b"<cite>Ann:</cite>", "html"),
        (None, None, b"<time>0:00</time>", "html"),
        (None, None, b"[Music] Hello there", "text"),
    ],
)
def test_format_is_detected_by_mime_then_extension_then_content(mime, name, data, expected):
    assert detect_format(mime, name, data) == expected


def test_every_listed_mime_type_maps_to_a_parsable_format():
    assert {"vtt", "srt", "json", "html", "text"} == set(FORMATS.values())
    for mime, fmt in FORMATS.items():
        assert detect_format(mime, None, b"x") == fmt


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_empty_input_is_an_error(data):
    with pytest.raises(TranscriptError, match="is empty"):
        detect_format(None, "t.vtt", data)
    with pytest.raises(TranscriptError, match="contains no transcript segments"):
        parse_transcript(data, name="t.vtt")


@pytest.mark.parametrize(
    "data, fmt",
    [
        (b"WEBVTT\n\nNOTE nothing here\n", "vtt"),
        (b"WEBVTT\n\n00:01.000 --> 00:02.000\n<i> </i>\n", "vtt"),
        (b'{"version": "1.0.0", "segments": []}', "json"),
        (b"<html><body><h1>Transcript</h1></body></html>", "html"),
    ],
)
def test_a_transcript_without_segments_is_an_error(data, fmt):
    with pytest.raises(TranscriptError, match=r"^the \S+ transcript t contains no transcript"):
        parse_transcript(data, fmt, name="t")


def test_an_unknown_format_name_is_refused():
    with pytest.raises(TranscriptError, match="unknown transcript format 'pdf'"):
        parse_transcript(b"%PDF-1.4", "pdf")


def test_choose_prefers_timed_formats():
    offered = [
        {"url": "https://x/t.txt", "type": "text/plain"},
        {"url": "https://x/t.html", "type": "text/html"},
        {"url": "https://x/t.srt", "type": "application/srt"},
        {"url": "https://x/t.vtt", "type": "text/vtt"},
        {"url": "https://x/t.json", "type": "application/json"},
    ]
    order = []
    while offered:
        best = choose_transcript(offered)
        assert best is not None
        order.append(best["url"].rsplit(".", 1)[1])
        offered.remove(best)
    assert order == ["json", "vtt", "srt", "html", "txt"]


def test_choose_prefers_english_or_unlabelled_over_a_better_format_in_another_language():
    offered = [
        {"url": "https://x/t.es.json", "type": "application/json", "language": "es"},
        {"url": "https://x/t.fr.vtt", "type": "text/vtt", "language": "fr"},
        {"url": "https://x/t.srt", "type": "application/x-subrip", "language": "en-US"},
    ]
    assert choose_transcript(offered) == offered[2]
    offered[2].pop("language")
    assert choose_transcript(offered) == offered[2]
    assert choose_transcript(offered[:2]) == offered[0]  # no English: still the best format


def test_choose_skips_unusable_offers_and_keeps_feed_order_on_ties():
    offered = [
        {"url": "https://x/t.pdf", "type": "application/pdf"},
        {"type": "text/vtt"},
        {"url": "https://x/a.vtt", "type": "text/vtt", "rel": "captions"},
        {"url": "https://x/b.vtt", "type": "text/vtt"},
    ]
    assert choose_transcript(offered) == offered[2]
    assert choose_transcript(offered[:2]) is None
    assert choose_transcript([]) is None
    untyped = {"url": "https://x/transcript"}
    assert choose_transcript([untyped]) == untyped
