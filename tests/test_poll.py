"""Polling real HTTP feeds on a loopback server."""

import pipeline.feeds.subscriptions as feeds
from pipeline.store.db import DOWNLOADED

from .feedgen import item, rss
from .server import Reply, static_with_etag


def _poll(db):
    """Results in feed order (feeds are polled a few at once, saved as each arrives)."""
    return sorted(feeds.poll_feeds(db), key=lambda result: result.feed_id)


def test_etag_is_sent_and_304_means_nothing_new(db, server):
    server.route("/feed", static_with_etag(rss(item("a"), item("b")), '"v1"'))
    feeds.add_feed(db, server.url("/feed"))
    (first,) = _poll(db)
    (second,) = _poll(db)
    assert (first.outcome, first.new) == ("updated", 2)
    assert second.outcome == "unchanged"
    assert server.requests("/feed")[1].headers["if-none-match"] == '"v1"'


def test_if_modified_since_is_sent_from_last_modified(db, server):
    stamp = "Tue, 11 Feb 2025 07:00:00 GMT"

    def handler(request):
        if request.headers.get("if-modified-since") == stamp:
            return Reply(304)
        return Reply(200, rss(item()), {"Last-Modified": stamp})

    server.route("/feed", handler)
    feeds.add_feed(db, server.url("/feed"))
    assert [r.outcome for r in _poll(db) + _poll(db)] == ["updated", "unchanged"]


def test_permanent_redirect_records_the_new_url(db, server):
    server.route("/old", Reply(301, headers={"Location": "/new"}))
    server.route("/new", rss(item()))
    feeds.add_feed(db, server.url("/old"))
    _poll(db)
    (feed,) = db["feeds"].rows
    assert feed["url"] == server.url("/new")
    assert feed["previous_url"] == server.url("/old")
    _poll(db)
    assert server.requests("/old").__len__() == 1  # the next poll goes straight to /new
    # Re-adding the old URL finds the same subscription.
    assert feeds.add_feed(db, server.url("/old"))["id"] == feed["id"]


def test_temporary_redirect_keeps_the_url(db, server):
    server.route("/feed", Reply(302, headers={"Location": "/elsewhere"}))
    server.route("/elsewhere", rss(item()))
    feeds.add_feed(db, server.url("/feed"))
    _poll(db)
    assert next(db["feeds"].rows)["url"] == server.url("/feed")
    assert db["episodes"].count == 1


def test_redirect_loop_is_an_error_for_that_feed_only(db, server):
    server.route("/a", Reply(302, headers={"Location": "/b"}))
    server.route("/b", Reply(302, headers={"Location": "/a"}))
    server.route("/good", rss(item()))
    feeds.add_feed(db, server.url("/a"))
    feeds.add_feed(db, server.url("/good"))
    looped, good = _poll(db)
    assert looped.outcome == "error" and "loop" in looped.error
    assert good.outcome == "updated"


def test_410_marks_the_feed_gone_and_it_is_not_polled_again(db, server):
    server.route("/feed", Reply(410))
    feeds.add_feed(db, server.url("/feed"))
    (result,) = _poll(db)
    assert result.outcome == "gone"
    assert next(db["feeds"].rows)["status"] == "gone"
    assert _poll(db) == []


def test_http_errors_are_recorded_on_the_feed(db, server):
    feeds.add_feed(db, server.url("/missing"))
    (result,) = _poll(db)
    assert result.outcome == "error" and "404" in result.error
    assert "404" in next(db["feeds"].rows)["last_error"]


def test_html_page_instead_of_a_feed_is_an_error(db, server):
    server.route(
        "/feed",
        Reply(
            200,
            b"<html><head><title>Hi</title></head><body>x</body></html>",
            {"Content-Type": "text/html"},
        ),
    )
    feeds.add_feed(db, server.url("/feed"))
    (result,) = _poll(db)
    assert result.outcome == "error" and "not a podcast feed" in result.error


def test_paged_feed_pages_are_followed(db, server):
    server.route("/feed", rss(item("new"), channel_extra='<atom:link rel="next" href="/p2"/>'))
    server.route("/p2", rss(item("older"), channel_extra='<atom:link rel="next" href="/p3"/>'))
    server.route("/p3", rss(item("oldest"), channel_extra='<atom:link rel="next" href="/feed"/>'))
    feeds.add_feed(db, server.url("/feed"))
    (result,) = _poll(db)
    assert result.new == 3
    assert {r["guid"] for r in db["episodes"].rows} == {"new", "older", "oldest"}


def test_polling_twice_gives_the_same_rows(db, server):
    server.route("/feed", rss(item("a"), item("b"), item(None, url="http://x/c.mp3")))
    feeds.add_feed(db, server.url("/feed"))
    _poll(db)
    before = sorted((r["id"], r["guid"], r["title"]) for r in db["episodes"].rows)
    list(feeds.poll_feeds(db, force=True))
    after = sorted((r["id"], r["guid"], r["title"]) for r in db["episodes"].rows)
    assert before == after and len(after) == 3


def test_changed_enclosure_updates_the_same_episode(db, server):
    body = {"feed": rss(item("a", url="http://cdn/v1.mp3"))}
    server.route("/feed", lambda request: Reply(200, body["feed"]))
    feeds.add_feed(db, server.url("/feed"))
    _poll(db)
    body["feed"] = rss(item("a", url="http://cdn/v2.mp3", title="Renamed"))
    (result,) = _poll(db)
    (row,) = db["episodes"].rows
    assert (row["enclosure_url"], row["title"], result.updated) == (
        "http://cdn/v2.mp3",
        "Renamed",
        1,
    )


def test_repoll_never_wipes_what_later_stages_wrote(db, server):
    server.route("/feed", rss(item("a")))
    feeds.add_feed(db, server.url("/feed"))
    _poll(db)
    (row,) = db["episodes"].rows
    db["episodes"].update(
        row["id"], {"status": DOWNLOADED, "audio_path": "audio/1/x.mp3", "audio_sha256": "abc"}
    )
    list(feeds.poll_feeds(db, force=True))
    (row,) = db["episodes"].rows
    assert (row["status"], row["audio_path"], row["audio_sha256"]) == (
        DOWNLOADED,
        "audio/1/x.mp3",
        "abc",
    )


def test_remote_feed_enclosure_with_other_schemes_is_refused(db, server):
    server.route(
        "/feed",
        rss(
            item("f", url="file:///etc/passwd"),
            item("j", url="javascript:alert(1)"),
            item("d", url="data:audio/mpeg;base64,AAAA"),
            item("ok"),
        ),
    )
    feeds.add_feed(db, server.url("/feed"))
    _poll(db)
    rows = {r["guid"]: r for r in db["episodes"].rows}
    for guid in "fjd":
        assert rows[guid]["status"] == "failed"
        assert "not allowed" in rows[guid]["last_error"]
        assert rows[guid]["retry_after"] is None  # parked: no later run will do better
    assert rows["ok"]["status"] == "new"


def test_local_feed_enclosure_may_not_escape_its_folder(db, tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    (tmp_path / "secret.mp3").write_bytes(b"x")
    (show / "ep.mp3").write_bytes(b"x")
    (show / "feed.xml").write_bytes(rss(item("in", url="ep.mp3"), item("out", url="../secret.mp3")))
    feeds.add_feed(db, str(show / "feed.xml"))
    _poll(db)
    rows = {r["guid"]: r for r in db["episodes"].rows}
    assert rows["in"]["status"] == "new"
    assert (
        rows["out"]["status"] == "failed"
        and "outside the feed's folder" in rows["out"]["last_error"]
    )


def test_unchanged_local_feed_file_counts_as_not_modified(db, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(item()))
    feeds.add_feed(db, str(path))
    assert [r.outcome for r in _poll(db) + _poll(db)] == ["updated", "unchanged"]
