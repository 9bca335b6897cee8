"""Security issue #15: what a hostile feed, transcript or audio file may try, one test (or
a few) per finding.  Servers are real, on 127.0.0.1; where a test needs a "public"
address, the name resolution below the guard is faked (see ``resolver``), never the
guard itself."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlite_utils

import pipeline.feeds.download as download
import pipeline.feeds.subscriptions as feeds
import pipeline.net.client as net
import pipeline.store.db as dbmod
from pipeline.transcribe.publisher import TranscriptError, parse_transcript

from .conftest import DEMO, ROOT
from .feedgen import item, rss
from .server import Reply, ranged
from .test_download import AUDIO, interrupted
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
    commands = {
        "feeds": ["feeds", "list"],
        "episodes": ["episodes"],
        "show": ["show", episode_id],
        "search": ["search", "trust"],
        "export": ["export", episode_id, "--format", "vtt"],
        "json": ["show", episode_id, "--json"],
    }
    for name, command in commands.items():
        result = invoke(db, *command)
        no_traceback(result)
        assert result.exit_code == 0, (command, result.stderr)
        outputs[name] = result.stdout + result.stderr
    for command, text in outputs.items():
        assert "\x1b" not in text and "\x07" not in text, command
    assert "[/oops]" in outputs["episodes"] and "[/bold]" in outputs["feeds"]
    assert "Followers [/oops] trust" in outputs["show"] and "[/red]Ann" in outputs["show"]
    assert "[/bold]" in outputs["search"] and "Followers [/oops] trust" in outputs["export"]


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


# 2, 3, 4 and NAT64: one guard, decided on the address connected to ------------------------

PUBLIC_IP = "93.184.216.34"  # stands for any address on the internet


class FakeInternet:
    """Name resolution and routing as the test needs them, both below the guard.

    DNS: an attacker who runs the authoritative server for their own domain gives any
    answers, a different one on each lookup (TTL 0, so nothing caches it); this
    replaces socket.getaddrinfo for those names. Routing: PUBLIC_IP (and any address
    in ``routes``) has no route from the test machine, so socket connects to it are
    delivered to a loopback server instead, as the internet or a NAT64 gateway would
    deliver them. The guard still sees, and decides on, the address being connected to."""

    def __init__(self, monkeypatch, public_port: int):
        self.answers: dict[str, list[str]] = {}
        self.routes = {PUBLIC_IP: public_port}
        self.real_getaddrinfo = socket.getaddrinfo
        self.real_connect = socket.socket.connect
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

        def connect(sock: socket.socket, address) -> None:  # the socket's own method
            port = self.routes.get(address[0])
            if port is None:
                return self.real_connect(sock, address)
            loopback = "::ffff:127.0.0.1" if sock.family == socket.AF_INET6 else "127.0.0.1"
            return self.real_connect(sock, (loopback, port))

        monkeypatch.setattr(socket.socket, "connect", connect)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.answers:
            return self.real_getaddrinfo(host, port, family, type, proto, flags)
        queue = self.answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return [self._info(address, port) for address in answer.split(",")]

    @staticmethod
    def _info(address: str, port):
        if ":" in address:
            return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0))
        return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))


@pytest.fixture
def internet(server, monkeypatch):
    """(public server, internal server, FakeInternet): podcast.example is a public host."""
    from .server import Server

    monkeypatch.delenv("PODINSIGHTS_ALLOW_PRIVATE", raising=False)
    with Server() as internal:
        internal.route("/secret.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nthe admin password\n")
        internal.route("/a.mp3", Reply(200, b"ID3 internal", {"Content-Type": "audio/mpeg"}))
        internal.route("/feed", rss(item("internal", url="http://example.com/x.mp3")))
        fake = FakeInternet(monkeypatch, server.httpd.server_address[1])
        fake.answers["podcast.example"] = [PUBLIC_IP]
        yield server, internal, fake


def public_url(server, path: str) -> str:
    return f"http://podcast.example:{server.httpd.server_address[1]}{path}"


def test_a_public_feed_reaches_no_private_address_by_any_of_its_urls(internet, tmp_path):
    public, internal, _ = internet
    secret = internal.url("/secret.vtt")
    transcript = f'<link>http://e/1</link><podcast:transcript url="{secret}" type="text/vtt"/>'
    public.route(
        "/feed",
        rss(
            item("transcript-only", url=None, extra=transcript),
            item("redirected", url=public_url(public, "/moved.mp3")),
            channel_extra=f'<atom:link rel="next" href="{internal.url("/feed")}"/>',
        ),
    )
    public.route("/moved.mp3", Reply(302, headers={"Location": internal.url("/a.mp3")}))
    public.route("/feed-moved", Reply(301, headers={"Location": internal.url("/feed")}))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", public_url(public, "/feed"))
    invoke(db, "feeds", "add", public_url(public, "/feed-moved"))
    no_traceback(invoke(db, "poll"))
    no_traceback(invoke(db, "download"))
    no_traceback(invoke(db, "transcribe"))
    assert internal.log == []  # not one request reached this machine's service
    rows = episodes(db)
    assert set(rows) == {"transcript-only", "redirected"}  # nothing from the next page
    for guid in rows:
        assert rows[guid]["status"] == "failed" and "private" in rows[guid]["last_error"]
    assert rows["redirected"]["retry_after"] is None  # permanent: no retry will do better
    moved = next(r for r in sqlite_utils.Database(db)["feeds"].rows if r["url"].endswith("moved"))
    assert "private" in moved["last_error"]
    assert sqlite_utils.Database(db)["transcripts"].count == 0


def test_dns_rebinding_reaches_only_the_address_that_was_checked(internet, tmp_path):
    public, internal, fake = internet
    # Public for whoever looks first, loopback for whoever looks next.
    fake.answers["rebind.example"] = [PUBLIC_IP, "127.0.0.1", "127.0.0.1", "127.0.0.1"]
    port = internal.httpd.server_address[1]
    public.route("/feed", rss(item("e", url=f"http://rebind.example:{port}/a.mp3")))
    public.route("/a.mp3", Reply(200, b"ID3 public", {"Content-Type": "audio/mpeg"}))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", public_url(public, "/feed"))
    invoke(db, "poll")
    invoke(db, "download")
    assert internal.log == []
    assert [r.path for r in public.requests("/a.mp3")] == ["/a.mp3"]  # the checked address


@pytest.mark.parametrize(
    "answers",
    [f"{PUBLIC_IP},10.0.0.1", f"{PUBLIC_IP},127.0.0.1", f"{PUBLIC_IP},::1"],
    ids=["lan", "loopback", "ipv6-loopback"],
)
def test_a_private_answer_in_the_feeds_own_dns_does_not_turn_the_guard_off(
    internet, tmp_path, answers
):
    public, internal, fake = internet
    fake.answers["podcast.example"] = [answers]
    public.route("/feed", rss(item("e", url=internal.url("/a.mp3"))))
    assert_refused(tmp_path / "p.db", public, internal)


def assert_refused(db, public, internal):
    """The public feed's enclosure, at a private address, is refused: nothing reaches
    the internal server, and the episode says why."""
    invoke(db, "feeds", "add", public_url(public, "/feed"))
    invoke(db, "poll")
    invoke(db, "download")
    assert internal.log == []
    assert "private" in episodes(db)["e"]["last_error"]


@pytest.mark.parametrize(
    "address", ["64:ff9b::7f00:1", "64:ff9b::a00:1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"]
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(internet, tmp_path, address):
    public, internal, fake = internet
    # A NAT64 gateway delivers 64:ff9b::7f00:1 to its own 127.0.0.1, 64:ff9b::a00:1 to
    # 10.0.0.1 on its network: here, both to the internal server.
    fake.answers["wrapped.example"] = [address]
    fake.routes[address] = internal.httpd.server_address[1]
    public.route("/feed", rss(item("e", url="http://wrapped.example/a.mp3")))
    assert_refused(tmp_path / "p.db", public, internal)


def test_a_feed_the_user_gave_at_a_private_address_may_use_private_addresses(server, tmp_path):
    server.route("/feed", rss(item("e", url=server.url("/a.mp3"))))
    server.route("/a.mp3", Reply(200, b"ID3 lan", {"Content-Type": "audio/mpeg"}))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", server.url("/feed"))
    invoke(db, "poll")
    assert invoke(db, "download").exit_code == 0
    assert episodes(db)["e"]["status"] == "downloaded"


# 5. Trickled headers; one slow feed delays nobody ------------------------------------------

TRICKLE = Reply(200, rss(item("slow")), {**RSS, **{f"X-Pad-{n}": "x" for n in range(40)}})
TRICKLE.header_delay = 0.25  # ten seconds of headers, one line at a time


def test_the_deadline_covers_trickled_headers(server, tmp_path, monkeypatch):
    monkeypatch.setattr(net, "DEADLINE", 2.0)
    server.route("/slow", TRICKLE)
    db = dbmod.connect(tmp_path / "p.db")
    feeds.add_feed(db, server.url("/slow"))
    started = time.monotonic()
    (result,) = feeds.poll_feeds(db)
    assert "took longer than 2 s" in (result.error or "")
    assert time.monotonic() - started < 4


def test_one_slow_feed_delays_nobody(server, tmp_path, monkeypatch):
    monkeypatch.setattr(net, "DEADLINE", 2.0)
    server.route("/slow", TRICKLE)
    for n in range(3):
        server.route(f"/fast{n}", rss(item(f"fast{n}")))
    db = dbmod.connect(tmp_path / "p.db")
    for path in ("/slow", "/fast0", "/fast1", "/fast2"):  # the slow one first in line
        feeds.add_feed(db, server.url(path))
    started = time.monotonic()
    arrivals = {r.url.rsplit("/", 1)[1]: time.monotonic() - started for r in feeds.poll_feeds(db)}
    assert all(arrivals[f"fast{n}"] < 1.5 for n in range(3)), arrivals
    assert arrivals["slow"] < 4


# 10. A resumed download never splices two files -------------------------------------------

NEW_AUDIO = bytes(reversed(AUDIO))  # the same URL after a CDN re-inserted its ads


def downloaded(db, tmp_path) -> tuple[bytes, dict]:
    (result,) = download.download_episodes(db, tmp_path)
    assert result.ok, result.error
    row = next(db["episodes"].rows)
    return (tmp_path / row["audio_path"]).read_bytes(), row


@pytest.mark.parametrize("if_range", [True, False], ids=["honours-if-range", "ignores-it"])
def test_a_file_that_changed_between_attempts_is_downloaded_whole(
    db, server, tmp_path, monkeypatch, if_range
):
    interrupted(db, server, tmp_path, monkeypatch)
    server.route("/a.mp3", ranged(NEW_AUDIO, etag='"v2"', if_range=if_range))
    monkeypatch.setattr(download, "TRIES", 2)  # a careless server costs one attempt
    body, row = downloaded(db, tmp_path)
    assert body == NEW_AUDIO
    assert row["audio_sha256"] == hashlib.sha256(NEW_AUDIO).hexdigest()
    assert server.requests("/a.mp3")[0].headers["if-range"] == '"v1"'


def test_a_200_answer_to_a_range_request_starts_over(db, server, tmp_path, monkeypatch):
    interrupted(db, server, tmp_path, monkeypatch)
    server.route("/a.mp3", Reply(200, NEW_AUDIO, {"Content-Type": "audio/mpeg"}))
    assert downloaded(db, tmp_path)[0] == NEW_AUDIO


def test_a_resume_at_the_wrong_offset_starts_over(db, server, tmp_path, monkeypatch):
    interrupted(db, server, tmp_path, monkeypatch)
    wrong = {"Content-Type": "audio/mpeg", "Content-Range": f"bytes 0-99/{len(AUDIO)}"}
    replies = iter([Reply(206, AUDIO[:100], wrong), Reply(200, AUDIO, {"ETag": '"v1"'})])
    server.route("/a.mp3", lambda request: next(replies))
    monkeypatch.setattr(download, "TRIES", 2)
    body, row = downloaded(db, tmp_path)
    assert body == AUDIO and row["audio_size"] == len(AUDIO)


# Suspected: serve --immutable while ingest writes -------------------------------------------


def test_serve_sees_what_an_ingest_writes_while_it_serves(tmp_path):
    from .test_datasette import free_port

    path = tmp_path / "p.db"
    store = dbmod.connect(path)
    feeds.add_feed(store, "https://example.com/a.rss")
    port = free_port()
    command = [sys.executable, "-m", "pipeline", "--db", str(path), "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/p/feeds.json?_shape=array&_col=url"
    try:
        wait_until_answers(url, process)
        feeds.add_feed(store, "https://example.com/b.rss")  # the nightly run, meanwhile
        urls = [row["url"] for row in httpx.get(url, timeout=10).json()]
        assert urls == ["https://example.com/a.rss", "https://example.com/b.rss"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def wait_until_answers(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


# Suspected: two processes migrating at once ---------------------------------------------------


def test_a_migration_another_process_finished_meanwhile_is_not_run_again(tmp_path, monkeypatch):
    path = tmp_path / "p.db"
    real = dbmod.schema_version
    raced = []

    def stale_read(db):
        """The first, unlocked read: while it is in hand, another process migrates."""
        version = real(db)
        if not raced and not db.conn.in_transaction:
            raced.append(True)
            dbmod.connect(path).conn.close()
        return version

    monkeypatch.setattr(dbmod, "schema_version", stale_read)
    store = dbmod.connect(path)
    assert raced and real(store) == dbmod.SCHEMA_VERSION


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path):
    path = tmp_path / "p.db"
    script = f"from pipeline.store import db; db.connect({str(path)!r})"
    processes = [
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, errors


# Suspected: a NUL byte in a local feed's enclosure URL ----------------------------------------


def test_a_nul_byte_in_a_local_enclosure_fails_that_episode_only(tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    (show / "good.mp3").write_bytes(b"ID3")
    (show / "feed.xml").write_bytes(rss(item("nul", url="bad%00.mp3"), item("ok", url="good.mp3")))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(show / "feed.xml"))
    result = invoke(db, "poll")
    no_traceback(result)
    assert result.exit_code == 0
    rows = episodes(db)
    assert rows["ok"]["status"] == "new"
    assert (
        rows["nul"]["status"] == "failed" and "not a usable file path" in rows["nul"]["last_error"]
    )


# Suspected: a playlist disguised as audio ------------------------------------------------------


def test_playlists_saved_as_audio_are_refused_unopened(server, tmp_path):
    from pipeline.audio.decode import AudioError, duration, load_audio

    from .test_hostile import write_audio

    write_audio(tmp_path / "other.wav", np.zeros(8000, np.float32), 8000, "pcm_s16le")
    server.route("/segment.wav", (tmp_path / "other.wav").read_bytes())
    playlists = {
        "concat.mp3": "ffconcat version 1.0\nfile 'other.wav'\n",
        "hls.mp3": (
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n"
            f"{server.url('/segment.wav')}\n#EXT-X-ENDLIST\n"
        ),
    }
    for name, text in playlists.items():
        (tmp_path / name).write_text(text)
        for read in (load_audio, duration):
            with pytest.raises(AudioError, match="cannot be read as audio"):
                read(tmp_path / name)
    assert server.log == []
    assert load_audio(tmp_path / "other.wav").size == 16000  # real audio still opens
