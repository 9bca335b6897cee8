"""The hostile corpus: whatever feeds, audio and text the world serves, one run goes through
all of it; each item ends with a clear outcome and the database stays whole."""

from __future__ import annotations

import gzip
import ipaddress
import json
import shutil
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import sqlite_utils
from typer.testing import CliRunner

import pipeline.net.client as net
from pipeline.cli import app
from pipeline.net.urls import may_reach_private

from .conftest import DEMO, REALDATA, ROOT
from .feedgen import item, rss
from .server import Reply
from .test_reliability import assert_whole


def invoke(db: Path, *args: str):
    return CliRunner().invoke(app, ["--db", str(db), "--quiet", *args])


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i + 1} "{("&lol" + (str(i) if i else "") + ";") * 10}">' for i in range(9)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><rss version="2.0"><channel>'
        "<title>&lol9;</title>" + item("laughs") + "</channel></rss>"
    ).encode()


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>&xxe;</title>'
    + item("xxe", title="&xxe;").encode()
    + b"</channel></rss>"
)


def endless(chunk: bytes, total: int):
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


# Each case: route -> (reply, expected outcome). Outcome: ("error", text in the feed's
# error) or ("episodes", how many episodes the feed yields).
def feed_cases(server) -> dict[str, tuple[Reply, tuple[str, object]]]:
    audio = server.url("/a.mp3")
    rss_type = {"Content-Type": "application/rss+xml"}
    return {
        "/malformed": (
            Reply(200, b"<rss><channel><title>x<item><title>a</title>", rss_type),
            ("episodes", 0),
        ),
        "/html": (
            Reply(
                200,
                b"<!doctype html><html><body><h1>Not found</h1></body></html>",
                {"Content-Type": "text/html"},
            ),
            ("error", "not a podcast feed"),
        ),
        "/empty": (Reply(200, b"", rss_type), ("error", "empty")),
        "/lying-encoding": (
            Reply(
                200,
                rss(item("enc", title="Caf\xe9 culture", url=audio)).replace(
                    "Café".encode(), "Caf\xe9".encode("latin-1")
                ),
                {"Content-Type": "application/rss+xml; charset=utf-8"},
            ),
            ("episodes", 1),
        ),
        "/gzip-body": (
            Reply(200, gzip.compress(rss(item("gz", url=audio))), rss_type),
            ("episodes", 1),
        ),
        "/gzip-encoded": (
            Reply(
                200,
                gzip.compress(rss(item("gz2", url=audio))),
                {**rss_type, "Content-Encoding": "gzip"},
            ),
            ("episodes", 1),
        ),
        "/billion-laughs": (Reply(200, billion_laughs(), rss_type), ("episodes", 1)),
        "/xxe": (Reply(200, XXE, rss_type), ("episodes", 1)),
        "/huge": (
            Reply(200, endless(b"<!-- padding -->" * 4096, 200_000_000), rss_type),
            ("error", "larger than"),
        ),
        "/loop": (Reply(302, headers={"Location": "/loop2"}), ("error", "loop")),
        "/loop2": (Reply(302, headers={"Location": "/loop"}), ("skip", None)),
        "/slowloris": (
            Reply(200, iter([b"<rss>"] + [b" "] * 100), rss_type, delay=0.2),
            ("error", "took longer"),
        ),
        "/trickled-headers": (
            Reply(
                200,
                rss(item("t", url=audio)),
                {**rss_type, **{f"X-Pad-{n}": "x" for n in range(100)}},
                header_delay=0.2,
            ),
            ("error", "took longer"),
        ),
        "/duplicate-guids": (
            Reply(200, rss(item("same", url=audio), item("same", url=audio)), rss_type),
            ("episodes", 1),
        ),
        "/missing-guids": (
            Reply(
                200,
                rss(
                    item(None, url=audio),
                    item(None, title="B", url=None, extra="<link>http://x/b</link>"),
                ),
                rss_type,
            ),
            ("episodes", 2),
        ),
        "/bad-schemes": (
            Reply(
                200,
                rss(
                    item("f", url="file:///etc/passwd"),
                    item("j", url="javascript:alert(1)"),
                    item("d", url="data:audio/mpeg;base64,AAAA"),
                ),
                rss_type,
            ),
            ("episodes", 3),
        ),
        "/relative": (Reply(200, rss(item("rel", url="a.mp3")), rss_type), ("episodes", 1)),
        "/escape": (
            Reply(200, rss(item("esc", url=server.url("/../../etc/passwd.mp3"))), rss_type),
            ("episodes", 1),
        ),
    }


@pytest.fixture
def hostile_feeds(server, tmp_path, monkeypatch):
    monkeypatch.setattr(net, "DEADLINE", 3.0)  # so the slow-loris case ends quickly
    server.route(
        "/a.mp3",
        Reply(200, (DEMO / "audio" / "ep04.mp3").read_bytes(), {"Content-Type": "audio/mpeg"}),
    )
    server.route(
        "/etc/passwd.mp3",
        Reply(200, (DEMO / "audio" / "ep04.mp3").read_bytes(), {"Content-Type": "audio/mpeg"}),
    )
    cases = feed_cases(server)
    for route, (reply, _) in cases.items():
        server.route(route, reply)
    db = tmp_path / "p.db"
    for route, (_, expected) in cases.items():
        if expected[0] != "skip":
            assert invoke(db, "feeds", "add", server.url(route)).exit_code == 0
    if REALDATA.is_dir():  # the real broken feeds, as files
        for name in (
            "badpod_empty_file.xml",
            "badpod_root_not_rss.xml",
            "feedparser_rss_empty_document.xml",
            "feedparser_aaa_illformed.xml",
            "feedparser_rss_incomplete_cdata.xml",
            "node-feedparser_saxerror.xml",
            "feedparser_bozo_invalid-bytes-with-bom.xml",
            "node-feedparser_compressed.xml",
        ):
            invoke(db, "feeds", "add", str(REALDATA / "feeds" / name))
    return db, cases, server


def test_one_ingest_goes_through_every_hostile_feed(hostile_feeds):
    db, cases, server = hostile_feeds
    started = time.monotonic()
    assert invoke(db, "poll").exit_code == 1
    # Slow feeds are polled side by side, each cut off at its deadline (3 s here).
    assert time.monotonic() - started < 15
    result = invoke(db, "ingest")
    assert result.exit_code == 1  # some things failed, and the run says so
    assert "Traceback" not in result.stderr + result.stdout
    store = sqlite_utils.Database(db)
    feeds = {row["url"]: row for row in store["feeds"].rows}
    for route, (_, (kind, expected)) in cases.items():
        if kind == "skip":
            continue
        feed = feeds[server.url(route)]
        count = store["episodes"].count_where("feed_id = ?", [feed["id"]])
        if kind == "error":
            assert expected in (feed["last_error"] or ""), (route, feed["last_error"])
            assert "\n" not in feed["last_error"]
        else:
            assert (count, feed["last_error"]) == (expected, None), route
    assert_whole(db)
    # Nothing from /etc/passwd was read into the database.
    assert "root:" not in json.dumps(list(store["episodes"].rows)) + json.dumps(
        list(store["feeds"].rows)
    )
    # Refused enclosures are parked with the reason; audio never lands outside audio/.
    refused = list(store.query("select last_error from episodes where guid in ('f', 'j', 'd')"))
    assert len(refused) == 3 and all("not allowed" in r["last_error"] for r in refused)
    audio_root = (db.parent / "audio").resolve()
    for row in store.query("select audio_path from episodes where audio_path is not null"):
        assert (db.parent / row["audio_path"]).resolve().is_relative_to(audio_root)
    laughs = next(r for r in store["feeds"].rows if r["url"].endswith("/billion-laughs"))
    assert len(laughs["title"] or "") < 100  # the entities were never expanded


@pytest.mark.parametrize(
    "address, public",
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 wrapping loopback
        ("64:ff9b::a00:1", False),  # NAT64 wrapping 10.0.0.1
        ("64:ff9b:1::1", False),  # a site's own NAT64 prefix
        ("2002:7f00:1::1", False),  # 6to4 wrapping loopback
        ("224.0.0.1", False),
        ("93.184.216.34", True),
        ("64:ff9b::5db8:d822", True),  # NAT64 wrapping a public address
        ("2606:2800:220:1::", True),
    ],
)
def test_private_addresses_include_their_ipv6_wrappings(address, public):
    assert net.is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url, flag, allowed",
    [
        ("https://example.com/feed.xml", None, False),
        ("https://example.com/feed.xml", 0, False),
        ("https://nas.example/feed.xml", 1, True),  # the user typed a name of their LAN
        ("http://127.0.0.1:9000/feed.xml", None, True),
        ("http://[::1]/feed.xml", None, True),
        ("http://localhost/feed.xml", None, True),
        ("file:///srv/show/feed.xml", None, True),
    ],
)
def test_only_how_the_user_subscribed_lets_a_feed_reach_private_addresses(
    monkeypatch, url, flag, allowed
):
    monkeypatch.delenv("PODINSIGHTS_ALLOW_PRIVATE", raising=False)
    assert may_reach_private({"url": url, "private": flag}) is allowed
    monkeypatch.setenv("PODINSIGHTS_ALLOW_PRIVATE", "1")
    assert may_reach_private({"url": url, "private": flag}) is True


def write_audio(path: Path, samples: np.ndarray, rate: int, codec: str, video: bool = False):
    """An audio file, or a video (with or without sound) when ``video``; every stream is
    added before anything is written, as containers require."""
    with av.open(str(path), "w") as container:
        picture = container.add_stream("mpeg4", rate=10) if video else None
        sound = container.add_stream(codec, rate=rate, layout="mono") if samples.size else None
        if picture is not None:
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
            picture.time_base = Fraction(1, 10)
            for i in range(20):
                frame = av.VideoFrame.from_ndarray(
                    np.full((48, 64, 3), i * 10, np.uint8), format="rgb24"
                )
                frame.pts = i
                for packet in picture.encode(frame):
                    container.mux(packet)
            for packet in picture.encode(None):
                container.mux(packet)
        if sound is not None:
            resampler = av.AudioResampler(format=sound.format.name, layout="mono", rate=rate)
            frame = av.AudioFrame.from_ndarray(
                samples.reshape(1, -1).astype(np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = rate
            for chunk in resampler.resample(frame):
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)


@pytest.fixture
def hostile_audio(tmp_path, realdata):
    from pipeline.audio.decode import load_audio

    show = tmp_path / "show"
    show.mkdir()
    speech = load_audio(realdata / "audio" / "jfk.flac")
    demo = (DEMO / "audio" / "ep04.mp3").read_bytes()
    (show / "truncated.mp3").write_bytes(demo[: len(demo) // 3])
    (show / "zero.mp3").write_bytes(b"")
    (show / "text.mp3").write_text("this is not audio\n" * 100)
    write_audio(show / "video.mp4", speech, 16000, "aac", video=True)
    write_audio(show / "video-only.mp4", np.zeros(0), 16000, "aac", video=True)
    write_audio(show / "silence.flac", np.zeros(16000 * 3600, np.float32), 16000, "flac")
    phone = speech[::2]  # 8 kHz
    write_audio(show / "phone.wav", phone, 8000, "pcm_s16le")
    items = [
        item(name, title=name, url=name)
        for name in (
            "truncated.mp3",
            "zero.mp3",
            "text.mp3",
            "video.mp4",
            "video-only.mp4",
            "silence.flac",
            "phone.wav",
        )
    ]
    (show / "feed.xml").write_bytes(rss(*items))
    return show


def test_hostile_audio_each_episode_gets_a_clear_outcome(tmp_path, hostile_audio):
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(hostile_audio / "feed.xml"))
    result = invoke(db, "ingest")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    rows = {r["title"]: r for r in sqlite_utils.Database(db)["episodes"].rows}
    assert rows["zero.mp3"]["status"] == "failed" and "empty" in rows["zero.mp3"]["last_error"]
    assert "cannot be read as audio" in rows["text.mp3"]["last_error"]
    assert "no audio stream" in rows["video-only.mp4"]["last_error"]
    for done in ("truncated.mp3", "video.mp4", "silence.flac", "phone.wav"):
        assert rows[done]["status"] == "analysed", (done, rows[done]["last_error"])
    store = sqlite_utils.Database(db)
    segments = dict(
        store.execute(
            "select e.title, count(s.id) from episodes e"
            " left join segments s on s.episode_id = e.id"
            " group by e.id"
        ).fetchall()
    )
    assert segments["silence.flac"] == 0 and segments["video.mp4"] > 0 and segments["phone.wav"] > 0
    assert_whole(db)


def test_a_ten_hour_file_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "ten-hours.flac"
    rate = 8000
    with av.open(str(path), "w") as container:  # ten hours of near-silence, written in minutes
        stream = container.add_stream("flac", rate=rate, layout="mono")
        minute = (np.random.default_rng(0).standard_normal((1, rate * 60)) * 30).astype(np.int16)
        for _ in range(600):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    script = textwrap.dedent(rf"""
        import re
        from pathlib import Path
        from pipeline.audio.decode import windows
        total = sum(w.size for _, w in windows({str(path)!r}))
        # VmHWM, not ru_maxrss: the latter carries the parent's peak over fork on Linux.
        status = Path("/proc/self/status").read_text()
        print(total / 16000, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    seconds, peak_mb = map(float, done.stdout.split())
    assert seconds == pytest.approx(36000, abs=1)
    assert peak_mb < 400  # a whole 10 h file at 16 kHz would be 2.3 GB of float32


TEXTS = {
    "japanese": "リーダーシップとフォロワーシップについて話しましょう。信頼が大切です。",
    "arabic": "القيادة والثقة مهمتان جدا في العمل",
    "emoji": "Followers 🚀🚀🚀 love trust 💯 and community 🙏🏽👩🏿‍🤝‍👩🏻",
    "long": "Our followers trust the community. " * 3000,
}


def test_other_scripts_emoji_and_very_long_segments_are_analysed_and_searchable(tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    shutil.copy(DEMO / "audio" / "ep04.mp3", show / "a.mp3")
    cues = "\n".join(
        f"00:00:{i:02d}.000 --> 00:00:{i + 1:02d}.000\n<v Ann>{t}\n"
        for i, t in enumerate(TEXTS.values())
    )
    (show / "t.vtt").write_text("WEBVTT\n\n" + cues, encoding="utf-8")
    extra = '<podcast:transcript url="t.vtt" type="text/vtt"/>'
    (show / "feed.xml").write_bytes(rss(item("texts", url="a.mp3", extra=extra)))
    db = tmp_path / "p.db"
    invoke(db, "feeds", "add", str(show / "feed.xml"))
    assert invoke(db, "ingest").exit_code == 0
    for query in ("信頼が大切です", "القيادة", "trust", "🚀"):
        result = invoke(db, "search", query, "--json")
        assert result.exit_code == 0, result.stderr
    hits = json.loads(invoke(db, "search", "信頼が大切です", "--json").stdout)
    assert hits and hits[0]["speaker"] == "Ann"
    assert_whole(db)
