"""Security issue #15: what a hostile feed, transcript or audio file may try, one test (or
a few) per finding.  Servers are real, on 127.0.0.1; where a test needs a "public"
address, the name resolution below the guard is faked (see ``resolver``), never the
guard itself."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from pipeline.transcripts import TranscriptError, parse_transcript

from .conftest import DEMO
from .feedgen import item, rss
from .server import Reply
from .test_hostile import invoke
from .test_reliability import assert_whole

RSS = {"Content-Type": "application/rss+xml"}


def episodes(db: Path) -> dict[str, dict]:
    return {row["guid"]: row for row in sqlite_utils.Database(db)["episodes"].rows}


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# 1. A feed body is read as a file path --------------------------------------------------


@pytest.mark.parametrize("kind", ["local-file", "dev-zero"])
def test_a_feed_body_is_never_opened_as_a_file_path(server, tmp_path, kind):
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss(item("secret", title="Read from this machine"), title="Local file"))
    body = str(secret) if kind == "local-file" else "/dev/zero"
    server.route("/feed", Reply(200, body.encode(), RSS))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", server.url("/feed"))
    result = invoke(db, "poll")
    assert result.exit_code == 1
    no_traceback(result)
    (feed,) = sqlite_utils.Database(db)["feeds"].rows
    assert "not a podcast feed" in feed["last_error"]
    assert feed["title"] is None and episodes(db) == {}


# 8. A transcript the parser chokes on ----------------------------------------------------

NESTED = b'{"segments": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
HUGE_NUMBER = b'{"segments": [{"startTime": ' + b"9" * 5000 + b', "body": "trust"}]}'
BIG_FLOAT = b'{"segments": [{"startTime": ' + b"9" * 400 + b', "body": "trust"}]}'


@pytest.mark.parametrize("data", [NESTED, HUGE_NUMBER, BIG_FLOAT], ids=["nested", "digits", "big"])
def test_parser_errors_are_transcript_errors(data):
    with pytest.raises(TranscriptError, match="cannot be parsed|impossible"):
        parse_transcript(data, mime="application/json", name="t.json")


def transcript_feed(folder: Path, transcript: bytes, *, audio: bool = False, extra: str = ""):
    """A local feed with one item whose publisher transcript is ``transcript``."""
    folder.mkdir()
    (folder / "t.json").write_bytes(transcript)
    if audio:  # an eighth of a demo episode: Whisper has something short to do
        clip = (DEMO / "audio" / "ep04.mp3").read_bytes()
        (folder / "a.mp3").write_bytes(clip[: len(clip) // 8])
    tag = (
        "<link>http://example.com/e</link>"
        '<podcast:transcript url="t.json" type="application/json"/>'
    )
    entry = item("e", title="Episode", url="a.mp3" if audio else None, extra=tag + extra)
    (folder / "feed.xml").write_bytes(rss(entry))
    return folder / "feed.xml"


@pytest.mark.parametrize("data", [NESTED, HUGE_NUMBER], ids=["nested", "digits"])
def test_a_transcript_only_episode_with_a_bad_transcript_fails_with_a_reason(tmp_path, data):
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(transcript_feed(tmp_path / "show", data)))
    invoke(db, "poll")
    result = invoke(db, "transcribe")
    assert result.exit_code == 1
    no_traceback(result)
    episode = episodes(db)["e"]
    assert episode["status"] == "failed" and "cannot be parsed" in episode["last_error"]
    assert_whole(db)


def test_whisper_runs_when_the_publisher_transcript_cannot_be_parsed(tmp_path):
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(transcript_feed(tmp_path / "show", NESTED, audio=True)))
    result = invoke(db, "ingest")
    no_traceback(result)
    assert episodes(db)["e"]["status"] == "analysed", episodes(db)["e"]["last_error"]
    (row,) = sqlite_utils.Database(db)["transcripts"].rows
    assert row["source"] == "whisper"
    assert "cannot be parsed" in json.loads(row["options"])["publisher_transcript_error"]


# 9. Infinite or absurd timings -------------------------------------------------------------


def segments_json(*segments: tuple[object, object, str]) -> bytes:
    items = ", ".join(
        f'{{"startTime": {s}, "endTime": {e}, "body": "{b}"}}' for s, e, b in segments
    )
    return f'{{"version": "1.0.0", "segments": [{items}]}}'.encode()


@pytest.mark.parametrize(
    "data",
    [
        segments_json((0, "1e999", "trust")),
        segments_json(("1e999", "1e999", "trust")),
        segments_json((0, "NaN", "trust")),
        segments_json((0, "Infinity", "trust")),
        b"WEBVTT\n\n00:01.000 --> 00:00.500\nbackwards\n",
    ],
    ids=["end-inf", "start-inf", "nan", "infinity", "backwards"],
)
def test_impossible_times_reject_the_transcript(data):
    with pytest.raises(TranscriptError):
        parse_transcript(data, name="t")


def test_times_past_the_audio_are_dropped_or_clamped_with_a_warning():
    warnings: list[str] = []
    data = segments_json((0, 5, "trust"), (50, 5000, "clamped"), (99999, 99999.5, "dropped"))
    segments = parse_transcript(data, mime="application/json", duration=100, warnings=warnings)
    assert [(s.start, s.end, s.text) for s in segments] == [(0, 5, "trust"), (50, 160, "clamped")]
    assert len(warnings) == 1 and "1 segments" in warnings[0] and "1 end times" in warnings[0]


def test_an_infinite_time_never_reaches_search_or_export(tmp_path):
    data = segments_json((0, 2, "Followers build trust."), (2, "1e999", "Trust again."))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(transcript_feed(tmp_path / "show", data)))
    invoke(db, "poll")
    result = invoke(db, "transcribe")
    no_traceback(result)
    for command in (["search", "trust"], ["export", "--all", str(tmp_path / "out")]):
        result = invoke(db, *command)
        no_traceback(result)
        assert result.exit_code == 0, (command, result.stderr)
    store = sqlite3.connect(db)
    assert store.execute("select count(*) from segments where end_time > 1e300").fetchone() == (0,)


def test_a_long_clock_is_clamped_to_the_feeds_duration_and_the_warning_kept(tmp_path):
    data = segments_json((0, 2, "Followers build trust."), (30, 9000, "Too long."))
    db = tmp_path / "p.db"
    show = transcript_feed(tmp_path / "show", data, extra="<itunes:duration>60</itunes:duration>")
    invoke(db, "feeds", "add", str(show))
    invoke(db, "poll")
    assert invoke(db, "transcribe").exit_code == 0
    store = sqlite_utils.Database(db)
    assert max(r["end_time"] for r in store["segments"].rows) == 120
    (row,) = store["transcripts"].rows
    assert "clamped" in json.loads(row["options"])["warnings"][0]


# 6 and 7. Feed text breaks the CLI; terminal escapes ---------------------------------------

RETITLE = "\x1b]0;pwned\x07"  # OSC 0: sets the terminal's window title
CLEAR = "\x1b[2J"  # CSI 2 J: clears the screen


@pytest.fixture
def markup_feed(tmp_path):
    """A feed whose titles carry rich markup and terminal escapes; its transcript too."""
    show = tmp_path / "show"
    show.mkdir()
    (show / "t.vtt").write_text(
        f"WEBVTT\n\n00:01.000 --> 00:04.000\n<v [/red]Ann>Followers [/oops] trust{CLEAR}.\n"
    )
    tag = '<link>http://example.com/e</link><podcast:transcript url="t.vtt" type="text/vtt"/>'
    title = f"Episode [/oops] {RETITLE}{CLEAR}"
    feed = rss(item("e", title=title, url=None, extra=tag), title=f"Show [/bold] {RETITLE}")
    (show / "feed.xml").write_bytes(feed)
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(show / "feed.xml"))
    invoke(db, "poll")
    transcribed = invoke(db, "transcribe")
    assert transcribed.exit_code == 0, transcribed.stderr
    # What a hostile enclosure URL would leave in the database (search shows it as a link).
    store = sqlite_utils.Database(db)
    store.execute("update episodes set enclosure_url = ?", [f"http://x/a.mp3?[/bold]{CLEAR}"])
    store.conn.commit()
    return db, transcribed.stdout + transcribed.stderr


def test_stored_titles_carry_no_control_characters(markup_feed):
    store = sqlite_utils.Database(markup_feed[0])
    (feed,) = store["feeds"].rows
    (episode,) = store["episodes"].rows
    assert feed["title"] == "Show [/bold]" and episode["title"] == "Episode [/oops]"


def test_markup_and_escapes_in_feed_text_are_printed_as_plain_text(markup_feed):
    db, transcribed = markup_feed
    episode_id = next(iter(episodes(db).values()))["id"]
    outputs = {"transcribe": transcribed}
    for command in (["feeds", "list"], ["episodes"], ["show", episode_id], ["search", "trust"]):
        result = invoke(db, *command)
        no_traceback(result)
        assert result.exit_code == 0, (command, result.stderr)
        outputs[command[0]] = result.stdout + result.stderr
    for command, text in outputs.items():
        assert "\x1b" not in text and "\x07" not in text, command
    assert "[/oops]" in outputs["episodes"] and "[/bold]" in outputs["feeds"]
    assert "Followers [/oops] trust" in outputs["show"] and "[/red]Ann" in outputs["show"]
    assert "[/bold]" in outputs["search"]


def test_log_lines_carry_no_control_characters():
    import logging

    from pipeline.text import PrintableFormatter

    record = logging.LogRecord("pipeline", logging.WARNING, "", 0, "feed %s", (RETITLE,), None)
    assert "\x1b" not in PrintableFormatter("%(message)s").format(record)


# 11. OPML entries that are not URLs ----------------------------------------------------------


def test_an_opml_file_subscribes_only_to_web_feeds(tmp_path):
    (tmp_path / "local.xml").write_bytes(rss(item("l")))
    opml = tmp_path / "subs.opml"
    entries = ["/etc/hostname", "../../etc/passwd", "local.xml", "file:///etc/passwd", "ftp://x/f"]
    outlines = "".join(f'<outline text="t" xmlUrl="{url}"/>' for url in entries)
    opml.write_text(
        f'<opml version="2.0"><body>{outlines}'
        '<outline text="web" xmlUrl="https://example.com/feed.rss"/></body></opml>'
    )
    db = tmp_path / "p.db"
    result = invoke(db, "feeds", "import", str(opml))
    assert result.exit_code == 0
    no_traceback(result)
    urls = [row["url"] for row in sqlite_utils.Database(db)["feeds"].rows]
    assert urls == ["https://example.com/feed.rss"]
    # The user's own command line still subscribes to a local file.
    assert invoke(db, "feeds", "add", str(tmp_path / "local.xml")).exit_code == 0
