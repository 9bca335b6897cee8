"""Downloads against a real loopback server."""

import hashlib

import httpx
import pytest

import pipeline.feeds.download as download
import pipeline.feeds.subscriptions as feeds

from .feedgen import item, rss
from .server import Reply, cut_short, ranged

AUDIO = bytes(range(256)) * 4000  # ~1 MB of "audio"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(download, "RETRY_DELAY", 0.01)


def subscribe(db, server, *items):
    server.route("/feed", rss(*items))
    feeds.add_feed(db, server.url("/feed"))
    list(feeds.poll_feeds(db))


def run(db, tmp_path, **kwargs):
    return list(download.download_episodes(db, tmp_path, **kwargs))


def episode(db, guid="ep-1"):
    return next(db["episodes"].rows_where("guid = ?", [guid]))


def test_download_writes_audio_records_sha_and_size(db, server, tmp_path):
    server.route("/a.mp3", ranged(AUDIO))
    subscribe(db, server, item(url=server.url("/a.mp3"), length=len(AUDIO)))
    (result,) = run(db, tmp_path)
    row = episode(db)
    assert result.ok and row["status"] == "downloaded"
    path = tmp_path / row["audio_path"]
    assert path.read_bytes() == AUDIO
    assert row["audio_path"] == f"audio/{row['feed_id']}/{row['id']}.mp3"
    assert row["audio_sha256"] == hashlib.sha256(AUDIO).hexdigest()
    assert row["audio_size"] == len(AUDIO)
    assert not list(tmp_path.rglob("*.part"))
    assert run(db, tmp_path) == []  # incremental: nothing left to do


def interrupted(db, server, tmp_path, monkeypatch, after=300_000):
    """A first download cut off after ``after`` bytes: a .part is left to resume."""
    monkeypatch.setattr(download, "TRIES", 1)
    monkeypatch.setattr(download, "RETRY_DELAY", 0.01)
    server.route("/a.mp3", cut_short(AUDIO, after))
    subscribe(db, server, item(url=server.url("/a.mp3"), length=len(AUDIO)))
    (result,) = run(db, tmp_path)
    assert not result.ok
    db["episodes"].update(episode(db)["id"], {"retry_after": "2000-01-01T00:00:00Z"})  # due now
    part = tmp_path / (str(download.audio_path(episode(db))) + ".part")
    assert part.stat().st_size == after
    server.log.clear()


def test_partial_download_resumes_with_a_range_request(db, server, tmp_path, monkeypatch):
    interrupted(db, server, tmp_path, monkeypatch)
    server.route("/a.mp3", ranged(AUDIO))
    (result,) = run(db, tmp_path)
    assert result.ok
    request = server.requests("/a.mp3")[0].headers
    assert (request["range"], request["if-range"]) == ("bytes=300000-", '"v1"')
    assert (tmp_path / episode(db)["audio_path"]).read_bytes() == AUDIO


def test_server_without_range_support_restarts_the_download(db, server, tmp_path):
    server.route("/a.mp3", Reply(200, AUDIO, {"Content-Type": "audio/mpeg"}))
    subscribe(db, server, item(url=server.url("/a.mp3")))
    part = tmp_path / (str(download.audio_path(episode(db))) + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes")
    (result,) = run(db, tmp_path)
    assert result.ok and (tmp_path / result.path).read_bytes() == AUDIO


@pytest.mark.parametrize(
    "reply, message",
    [
        (Reply(404, b"nope"), "HTTP 404"),
        (Reply(200, b"<html>hi</html>", {"Content-Type": "text/html"}), "not audio"),
        (Reply(200, b"", {"Content-Type": "audio/mpeg"}), "empty"),
    ],
)
def test_per_episode_failures_are_recorded_and_the_run_goes_on(
    db, server, tmp_path, reply, message
):
    server.route("/bad.mp3", reply)
    server.route("/good.mp3", ranged(AUDIO))
    subscribe(
        db,
        server,
        item("bad", url=server.url("/bad.mp3")),
        item("good", url=server.url("/good.mp3")),
    )
    results = {r.episode_id: r for r in run(db, tmp_path)}
    bad, good = episode(db, "bad"), episode(db, "good")
    assert results[good["id"]].ok and good["status"] == "downloaded"
    assert bad["status"] == "failed" and bad["failed_stage"] == "download"
    assert message in bad["last_error"] and bad["attempts"] == 1
    assert bad["retry_after"] is not None  # retried on a later run, after a backoff
    assert not list(tmp_path.rglob(f"{bad['id']}.mp3"))


def test_server_errors_are_retried_within_the_run(db, server, tmp_path):
    calls = []

    def flaky(request):
        calls.append(request)
        return (
            Reply(503, b"busy")
            if len(calls) < 3
            else Reply(200, AUDIO, {"Content-Type": "audio/mpeg"})
        )

    server.route("/a.mp3", flaky)
    subscribe(db, server, item(url=server.url("/a.mp3")))
    (result,) = run(db, tmp_path)
    assert result.ok and len(calls) == 3


def test_persistent_server_errors_fail_after_retries(db, server, tmp_path):
    server.route("/a.mp3", Reply(500, b"broken"))
    subscribe(db, server, item(url=server.url("/a.mp3")))
    (result,) = run(db, tmp_path)
    assert not result.ok and "500" in result.error
    assert len(server.requests("/a.mp3")) == download.TRIES


def test_slow_server_times_out(db, server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "TRIES", 1)
    server.route(
        "/slow.mp3", Reply(200, iter([b"a" * 10] * 50), {"Content-Type": "audio/mpeg"}, delay=0.5)
    )
    subscribe(db, server, item(url=server.url("/slow.mp3")))
    http = httpx.Client(timeout=0.2)
    (result,) = run(db, tmp_path, http=http)
    assert not result.ok and "timed out" in result.error


def test_truncated_body_is_not_taken_as_complete(db, server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "TRIES", 1)
    # The feed announces the full length; the server (no Content-Length) stops half-way.
    server.route("/a.mp3", Reply(200, iter([AUDIO[:1000]]), {"Content-Type": "audio/mpeg"}))
    subscribe(db, server, item(url=server.url("/a.mp3"), length=len(AUDIO)))
    (result,) = run(db, tmp_path)
    row = episode(db)
    assert not result.ok and "1000 of" in result.error
    assert row["status"] == "failed" and row["audio_path"] is None
    assert (tmp_path / (str(download.audio_path(row)) + ".part")).stat().st_size == 1000


def test_downloads_run_in_parallel(db, server, tmp_path):
    for n in range(4):
        server.route(
            f"/{n}.mp3",
            Reply(200, iter([AUDIO[:5000]] * 4), {"Content-Type": "audio/mpeg"}, delay=0.1),
        )
    subscribe(db, server, *(item(f"e{n}", url=server.url(f"/{n}.mp3")) for n in range(4)))
    results = run(db, tmp_path, workers=4)
    assert all(r.ok for r in results) and len(results) == 4
    assert server.max_active >= 2


def test_limit_caps_the_number_of_downloads(db, server, tmp_path):
    server.route("/a.mp3", ranged(AUDIO))
    subscribe(db, server, *(item(f"e{n}", url=server.url("/a.mp3")) for n in range(3)))
    assert len(run(db, tmp_path, limit=2)) == 2
    assert len(run(db, tmp_path)) == 1


def test_local_feed_enclosures_are_copied(db, tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    (show / "ep.mp3").write_bytes(AUDIO)
    (show / "feed.xml").write_bytes(rss(item(url="ep.mp3")))
    feeds.add_feed(db, str(show / "feed.xml"))
    list(feeds.poll_feeds(db))
    (result,) = run(db, tmp_path / "data")
    assert result.ok and (tmp_path / "data" / result.path).read_bytes() == AUDIO


def test_file_extension_comes_from_url_or_type_never_from_the_feed_verbatim():
    base = {"id": "abc", "feed_id": 3}
    assert (
        str(download.audio_path({**base, "enclosure_url": "http://x/a.M4A?x=1"}))
        == "audio/3/abc.m4a"
    )
    ogg = {**base, "enclosure_url": "http://x/get?id=1", "enclosure_type": "audio/ogg"}
    assert str(download.audio_path(ogg)) == "audio/3/abc.ogg"
    sneaky = {**base, "enclosure_url": "http://x/../../etc/passwd"}
    assert str(download.audio_path(sneaky)) == "audio/3/abc.audio"
