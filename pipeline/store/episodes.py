"""Episode states: what each stage picks up next, and how failures are retried.

An episode moves new -> downloaded -> transcribed -> analysed.  A stage that
fails sets status 'failed' with the stage name, the error and a time before
which it is not retried (exponential backoff); after MAX_ATTEMPTS the episode
is parked (retry_after NULL) until `podinsights retry` forces it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.store.db import DOWNLOADED, FAILED, NEW, TRANSCRIBED, utcnow

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(hours=1)  # 1 h, 2 h, 4 h, 8 h: nightly runs retry the next night


class EpisodeNotFound(PipelineError):
    pass


def pending(stage: str, ready_status: str) -> tuple[str, dict[str, str]]:
    """SQL condition and parameters for episodes a stage should take next:
    those in its ready state, and those that failed in it and are due a retry."""
    sql = (
        "(status = :ready or (status = :failed and failed_stage = :stage"
        " and retry_after is not null and retry_after <= :now))"
    )
    return sql, {"ready": ready_status, "failed": FAILED, "stage": stage, "now": utcnow()}


def mark_failed(
    db: sqlite_utils.Database, episode_id: str, stage: str, error: str, *, permanent: bool = False
) -> None:
    row = db.table("episodes").get(episode_id)
    attempts = (row["attempts"] or 0) + 1 if row["failed_stage"] == stage else 1
    parked = permanent or attempts >= MAX_ATTEMPTS
    retry_after = None
    if not parked:
        delay = BACKOFF_BASE * 2 ** (attempts - 1)
        retry_after = (datetime.now(UTC) + delay).replace(microsecond=0).isoformat()
        retry_after = retry_after.replace("+00:00", "Z")
    db.table("episodes").update(
        episode_id,
        {
            "status": FAILED,
            "failed_stage": stage,
            "attempts": attempts,
            "last_error": error,
            "retry_after": retry_after,
        },
    )


def mark_done(db: sqlite_utils.Database, episode_id: str, status: str, **columns: Any) -> None:
    """Move to the next state and clear any failure left from earlier attempts."""
    db.table("episodes").update(
        episode_id,
        {
            **columns,
            "status": status,
            "failed_stage": None,
            "attempts": 0,
            "last_error": None,
            "retry_after": None,
        },
    )


def find_episode(db: sqlite_utils.Database, ident: str) -> dict[str, Any]:
    """An episode by id, unique id prefix, or exact GUID."""
    rows = list(
        db.query(
            "select * from episodes where id = :i or guid = :i or id like :prefix limit 2",
            {"i": ident, "prefix": ident + "%"},
        )
    )
    if not rows:
        raise EpisodeNotFound(f"No episode matches {ident!r}: see `podinsights episodes`.")
    if len(rows) > 1 and rows[0]["id"] != ident:
        raise EpisodeNotFound(f"{ident!r} matches more than one episode: give more of its id.")
    return rows[0]


def list_episodes(
    db: sqlite_utils.Database, status: str | None = None, feed: int | None = None
) -> list[dict[str, Any]]:
    clauses: list[str] = ["1"]
    params: dict[str, Any] = {}
    if status:
        clauses.append("e.status = :status")
        params["status"] = status
    if feed is not None:
        clauses.append("e.feed_id = :feed")
        params["feed"] = feed
    sql = f"""
        select e.id, f.title as feed, e.title, e.published, e.status, e.failed_stage,
               e.attempts, e.last_error, e.retry_after, e.enclosure_url, e.audio_path,
               e.audio_size, e.itunes_duration
        from episodes e join feeds f on f.id = e.feed_id
        where {" and ".join(clauses)}
        order by e.published desc, e.id
    """
    return list(db.query(sql, params))


READY_FOR = {"download": NEW, "transcribe": DOWNLOADED, "analyze": TRANSCRIBED}


def retry_episode(db: sqlite_utils.Database, ident: str) -> dict[str, Any]:
    """Put a failed (or parked) episode back in line for the stage that failed."""
    episode = find_episode(db, ident)
    if episode["status"] != FAILED:
        raise EpisodeNotFound(
            f"Episode {episode['id']} is {episode['status']}, not failed: nothing to retry."
        )
    mark_done(db, episode["id"], READY_FOR.get(episode["failed_stage"] or "", NEW))
    return db.table("episodes").get(episode["id"])


def status_report(db: sqlite_utils.Database, runs: int = 5) -> dict[str, Any]:
    """The last runs, the backlog per state, and every failure with its reason."""
    return {
        "runs": [
            {
                **row,
                "counts": json.loads(row["counts"] or "{}"),
                "errors": len(json.loads(row["errors"] or "[]")),
            }
            for row in db.query("select * from runs order by id desc limit ?", [runs])
        ],
        "backlog": dict(db.execute("select status, count(*) from episodes group by status")),
        "failures": list(
            db.query(
                "select id, title, failed_stage, attempts, last_error, retry_after from episodes"
                " where status = ? order by retry_after is null, retry_after",
                [FAILED],
            )
        ),
    }
