"""Subscriptions and polling: feeds in, episode rows out.

Polling sends the stored ETag / Last-Modified, treats 304 as nothing new,
records permanent redirects and 410 Gone, follows RFC 5005 paging, and
upserts only the columns the poller owns (db.POLLER_COLUMNS).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils

import pipeline.net.client as net
from pipeline.errors import PipelineError
from pipeline.feeds.opml import read_opml
from pipeline.feeds.parse import FeedParseError, parse_feed
from pipeline.models import Episode, FeedInfo
from pipeline.net.urls import (
    WEB_SCHEMES,
    file_url,
    is_local,
    local_path,
    may_reach_private,
    subscribed_private,
)
from pipeline.net.urls import enclosure_problem as _enclosure_problem
from pipeline.run.threads import worker_pool
from pipeline.store.db import (
    FAILED,
    FEED_ACTIVE,
    FEED_GONE,
    NEW,
    POLLER_COLUMNS,
    transaction,
    utcnow,
)
from pipeline.store.episodes import mark_done, mark_failed

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 20 * 1024 * 1024
MAX_PAGES = 50
POLL_WORKERS = 4  # feeds fetched at once


class FeedError(PipelineError):
    """A subscription cannot be added, found or polled."""


# Subscriptions ---------------------------------------------------------------


def normalize_feed_url(url_or_path: str) -> str:
    """A URL as given, or an existing local file as a file:// URL."""
    text = url_or_path.strip()
    scheme = text.split(":", 1)[0].lower() if "://" in text else ""
    if scheme in WEB_SCHEMES:
        return text
    if scheme == "file":
        return text if local_path(text).is_file() else _missing(text)
    if scheme:
        raise FeedError(f"{text} is not a feed: only http, https and local files are supported.")
    if Path(text).is_file():
        return file_url(text)
    return _missing(text)


def _missing(text: str) -> str:
    raise FeedError(f"{text} is neither an http(s) URL nor an existing feed file.")


def add_feed(
    db: sqlite_utils.Database,
    url_or_path: str,
    title: str | None = None,
    model: str | None = None,
    *,
    typed: bool = True,
) -> dict:
    """Subscribe (idempotent: an existing subscription is returned as it is, with
    ``model`` set on it when given). ``typed``: the user gave this URL themselves
    (not an OPML entry), so a private address it resolves to is their choice."""
    url = normalize_feed_url(url_or_path)
    existing = list(db.table("feeds").rows_where("url = ? or previous_url = ?", [url, url]))
    if existing:
        return set_feed_model(db, str(existing[0]["id"]), model) if model else existing[0]
    private = subscribed_private(url, typed=typed)
    db.table("feeds").insert({"url": url, "title": title, "model": model, "private": private})
    return next(db.table("feeds").rows_where("url = ?", [url]))


def set_feed_model(db: sqlite_utils.Database, ident: str, model: str | None) -> dict:
    """The Whisper model this feed's episodes are transcribed with (None: the run's)."""
    feed = find_feed(db, ident)
    db.table("feeds").update(feed["id"], {"model": model or None})
    return db.table("feeds").get(feed["id"])


def import_opml(db: sqlite_utils.Database, path: str | Path) -> list[dict]:
    entries = read_opml(path)
    return [add_feed(db, entry["url"] or "", entry["title"], typed=False) for entry in entries]


def find_feed(db: sqlite_utils.Database, ident: str) -> dict:
    """A subscription by id, URL or path."""
    candidates = [ident]
    if not ident.isdigit():
        with contextlib.suppress(FeedError):
            candidates.append(normalize_feed_url(ident))
    for candidate in candidates:
        rows = list(db.table("feeds").rows_where("id = ? or url = ?", [candidate, candidate]))
        if rows:
            return rows[0]
    raise FeedError(f"No subscription matches {ident}: see `podinsights feeds list`.")


def remove_feed(db: sqlite_utils.Database, ident: str) -> dict:
    """Unsubscribe; the feed's episodes and everything derived from them go too."""
    feed = find_feed(db, ident)
    db.table("feeds").delete(feed["id"])
    return feed


def list_feeds(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every subscription, with whether its requests may reach private addresses (how it
    was subscribed decides: a local file, or an address the user gave that is private)."""
    rows = db.query(
        """
        select f.id, f.url, f.title, f.status, f.model, f.http_status, f.polled_at,
               f.last_error, f.private, count(e.id) as episodes
        from feeds f left join episodes e on e.feed_id = f.id
        group by f.id order by f.id
        """
    )
    return [{**row, "private": may_reach_private(row)} for row in rows]


# Polling ---------------------------------------------------------------------


@dataclass
class Fetched:
    """The outcome of fetching one feed (every page)."""

    status: int  # 200, 304 (nothing new) or 410 (gone)
    url: str
    permanent_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    info: FeedInfo = field(default_factory=FeedInfo)
    episodes: list[Episode] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class PollResult:
    feed_id: int
    url: str
    title: str | None
    outcome: str  # "updated", "unchanged", "gone" or "error"
    new: int = 0
    updated: int = 0
    error: str | None = None


@dataclass
class _Budget:
    """One feed's fetches: its address policy, and one deadline for every page."""

    allow_private: bool
    until: float

    def get(self, http: httpx.Client, url: str, headers: dict[str, str]) -> net.Response:
        left = self.until - time.monotonic()
        if left <= 0:
            raise net.FetchError(f"the feed took longer than {net.DEADLINE:.0f} s in all")
        return net.get(
            http,
            url,
            headers=headers,
            max_bytes=MAX_FEED_BYTES,
            deadline=left,
            allow_private=self.allow_private,
        )


def fetch_feed(http: httpx.Client, feed: dict[str, Any]) -> Fetched:
    """Fetch and parse a feed and its further pages; raises FeedError."""
    if is_local(feed["url"]):
        return _fetch_local(feed)
    headers = {}
    if feed.get("etag"):
        headers["If-None-Match"] = feed["etag"]
    if feed.get("last_modified"):
        headers["If-Modified-Since"] = feed["last_modified"]
    # One deadline (net.DEADLINE) for the feed and all its pages, redirects and headers.
    budget = _Budget(may_reach_private(feed), time.monotonic() + net.DEADLINE)
    try:
        response = budget.get(http, feed["url"], headers)
    except net.FetchError as exc:
        raise FeedError(str(exc)) from exc
    fetched = Fetched(
        status=response.status,
        url=response.url,
        permanent_url=response.permanent_url,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )
    if response.status in (304, 410):
        return fetched
    if response.status >= 400:
        raise FeedError(f"{response.url} answered HTTP {response.status}")
    _parse_into(fetched, response.body, response.url, response.headers.get("content-type"))
    _follow_pages(http, fetched, budget)
    return fetched


def _fetch_local(feed: dict[str, Any]) -> Fetched:
    """A feed file: unchanged since the last poll (same mtime) counts as a 304."""
    path = local_path(feed["url"])
    try:
        stat = path.stat()
        if stat.st_size > MAX_FEED_BYTES:
            raise FeedError(f"{path} is larger than the feed size limit")
        modified = formatdate(stat.st_mtime, usegmt=True)
        fetched = Fetched(status=200, url=feed["url"], last_modified=modified)
        if feed.get("last_modified") == modified:
            fetched.status = 304
            return fetched
        data = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"{path} cannot be read: {exc.strerror}") from exc
    _parse_into(fetched, data, feed["url"], None)
    return fetched


def _parse_into(fetched: Fetched, data: bytes, url: str, content_type: str | None) -> None:
    try:
        parsed = parse_feed(data, url, content_type)
    except FeedParseError as exc:
        raise FeedError(f"{url}: {exc}") from exc
    if not fetched.episodes:
        fetched.info = parsed.info
    known = {e.guid for e in fetched.episodes}
    fetched.episodes.extend(e for e in parsed.episodes if e.guid not in known)
    fetched.warnings.extend(parsed.warnings)


def _follow_pages(http: httpx.Client, fetched: Fetched, budget: _Budget) -> None:
    """RFC 5005 paged feeds: older episodes live on rel="next" pages (under the same
    guard and deadline as the feed itself)."""
    seen = {fetched.url}
    page_url = fetched.info.next_page
    pages = 1
    while page_url and page_url not in seen and pages < MAX_PAGES:
        seen.add(page_url)
        pages += 1
        try:
            response = budget.get(http, page_url, {})
            if response.status >= 400:
                raise FeedError(f"HTTP {response.status}")
            before = fetched.info
            _parse_into(fetched, response.body, response.url, response.headers.get("content-type"))
            page_url = _next_page(response.body, response.url)
            fetched.info = before
        except (net.FetchError, FeedError) as exc:
            fetched.warnings.append(f"page {page_url} skipped: {exc}")
            return


def _next_page(data: bytes, url: str) -> str | None:
    try:
        return parse_feed(data, url).info.next_page
    except FeedParseError:
        return None


def save_poll(db: sqlite_utils.Database, feed: dict[str, Any], fetched: Fetched) -> PollResult:
    """Write one feed's poll: the feed row, then new and changed episodes."""
    with transaction(db):
        return _save_poll(db, feed, fetched)


def _save_poll(db: sqlite_utils.Database, feed: dict[str, Any], fetched: Fetched) -> PollResult:
    now = utcnow()
    result = PollResult(feed["id"], fetched.url, feed.get("title"), "unchanged")
    update: dict[str, Any] = {"polled_at": now, "http_status": fetched.status, "last_error": None}
    if fetched.permanent_url:
        update.update(url=fetched.permanent_url, previous_url=feed["url"])
        log.info("feed %s moved permanently to %s", feed["url"], fetched.permanent_url)
    if fetched.status == 410:
        update["status"] = FEED_GONE
        result.outcome = "gone"
    if fetched.status == 200:
        update.update(_feed_columns(fetched))
        result.new, result.updated = save_episodes(db, feed["id"], fetched.url, fetched.episodes)
        result.outcome = "updated"
        result.title = fetched.info.title or feed.get("title")
    db.table("feeds").update(feed["id"], update)
    return result


def _feed_columns(fetched: Fetched) -> dict[str, Any]:
    info = fetched.info
    columns = {
        "etag": fetched.etag,
        "last_modified": fetched.last_modified,
        "status": FEED_ACTIVE,
        "title": info.title,
        "link": info.link,
        "description": info.description,
        "language": info.language,
        "author": info.author,
        "image": info.image,
    }
    return {k: v for k, v in columns.items() if v is not None or k in ("etag", "last_modified")}


def save_episodes(
    db: sqlite_utils.Database, feed_id: int, feed_url: str, episodes: list[Episode]
) -> tuple[int, int]:
    """Insert new episodes, refresh known ones; returns (new, changed enclosure)."""
    known = {
        row["id"]: row
        for row in db.query(
            "select id, enclosure_url, status, failed_stage from episodes where feed_id = ?",
            [feed_id],
        )
    }
    now = utcnow()
    rows = [_poller_row(episode, feed_id, now) for episode in episodes]
    db.table("episodes").upsert_all(rows, pk="id")
    changed = 0
    for episode, row in zip(episodes, rows, strict=True):
        old = known.get(row["id"], {"enclosure_url": episode.enclosure_url, "status": NEW})
        if old["enclosure_url"] != episode.enclosure_url:
            changed += 1
            _enclosure_changed(db, row["id"], old)
        problem = episode.problem or _enclosure_problem(feed_url, episode.enclosure_url)
        if problem and old["status"] in (NEW, FAILED):
            mark_failed(db, row["id"], "download", problem, permanent=True)
    return sum(row["id"] not in known for row in rows), changed


def _enclosure_changed(db: sqlite_utils.Database, episode_id: str, old: dict[str, Any]) -> None:
    """A new enclosure for a known GUID: a download that failed gets a fresh start."""
    if old["status"] == FAILED and old["failed_stage"] == "download":
        mark_done(db, episode_id, NEW)


def _poller_row(episode: Episode, feed_id: int, now: str) -> dict[str, Any]:
    row = episode.record(feed_id)
    for key in ("transcripts", "persons", "chapters"):
        row[key] = json.dumps(row[key]) if row[key] else None
    row["updated_at"] = now
    return {k: v for k, v in row.items() if k in POLLER_COLUMNS or k == "id"}


def poll_feeds(
    db: sqlite_utils.Database, http: httpx.Client | None = None, *, force: bool = False
) -> Iterator[PollResult]:
    """Poll every active subscription, a few at once, so one slow feed delays nobody;
    one feed's failure never stops the others. Only this thread writes."""
    own = http is None
    http = http or net.client()
    feeds = list(db.table("feeds").rows_where("status != ?", [FEED_GONE], order_by="id"))
    if force:
        feeds = [{**feed, "etag": None, "last_modified": None} for feed in feeds]
    try:
        with worker_pool(POLL_WORKERS, "poll") as pool:
            futures = {pool.submit(_fetch_or_error, http, feed): feed for feed in feeds}
            for future in as_completed(futures):
                yield _save_outcome(db, futures[future], future.result())
    finally:
        if own:
            http.close()


def poll_feed(db: sqlite_utils.Database, http: httpx.Client, feed: dict[str, Any]) -> PollResult:
    return _save_outcome(db, feed, _fetch_or_error(http, feed))


def _fetch_or_error(http: httpx.Client, feed: dict[str, Any]) -> Fetched | FeedError:
    try:
        return fetch_feed(http, feed)
    except FeedError as exc:
        return exc


def _save_outcome(
    db: sqlite_utils.Database, feed: dict[str, Any], fetched: Fetched | FeedError
) -> PollResult:
    if isinstance(fetched, FeedError):
        log.warning("feed %s: %s", feed["url"], fetched)
        db.table("feeds").update(feed["id"], {"polled_at": utcnow(), "last_error": str(fetched)})
        return PollResult(feed["id"], feed["url"], feed.get("title"), "error", error=str(fetched))
    for warning in fetched.warnings:
        log.info("feed %s: %s", feed["url"], warning)
    return save_poll(db, feed, fetched)
