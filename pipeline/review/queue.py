"""What `podinsights review` works through: segments with the machine's proposed themes,
their neighbours, speaker, time and a link that plays the moment.

Without --sample the queue is every segment the machine coded (filtered by theme,
episode or low confidence), in episode and time order. With --sample N it is N
segments drawn at random, with a seed, from the segments the filters keep; with no
theme or confidence filter those include segments the machine left uncoded, as an
agreement study needs. Either way a segment the coder has already decided on is left
out, so a review stopped half-way resumes where it stopped, with the same sample.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from pipeline.query.search import audio_link, check_theme
from pipeline.store.episodes import find_episode
from pipeline.transcribe.guard import SEARCHABLE

DEFAULT_SEED = 18


@dataclass
class Proposal:
    theme: str
    label: str
    method: str
    score: float | None
    confidence: str


@dataclass
class Item:
    episode_id: str
    idx: int
    segment_id: int
    start_time: float
    speaker: str | None
    text: str
    episode: str | None
    show: str | None
    link: str | None
    before: str | None = None
    after: str | None = None
    proposals: list[Proposal] = field(default_factory=list)


@dataclass
class QueueFilter:
    theme: str | None = None
    episode: str | None = None
    low_only: bool = False
    sample: int | None = None
    seed: int = DEFAULT_SEED


def review_queue(db: sqlite_utils.Database, coder: str, filters: QueueFilter) -> list[Item]:
    """The segments left for this coder to review, each with the machine's proposals."""
    check_theme(db, filters.theme)
    keys = _pool(db, filters)
    if filters.sample is not None:
        keys = random.Random(filters.seed).sample(keys, min(filters.sample, len(keys)))
    done = {
        (row[0], row[1])
        for row in db.execute(
            "select episode_id, segment_idx from human_codes where coder = ?", [coder]
        )
    }
    return [_item(db, key) for key in keys if key not in done]


def _pool(db: sqlite_utils.Database, filters: QueueFilter) -> list[tuple[str, int]]:
    clauses, params = ["1"], {}
    if filters.episode:
        clauses.append("episode_id = :episode")
        params["episode"] = find_episode(db, filters.episode)["id"]
    coded = filters.theme or filters.low_only or filters.sample is None
    if not coded:  # a sample of every analysed, searchable segment
        marks = ",".join(f"'{q}'" for q in SEARCHABLE)
        sql = (
            "select episode_id, idx from segments where quality in "
            f"({marks}) and episode_id in (select episode_id from analyses) and "
            + " and ".join(clauses)
        )
    else:
        if filters.theme:
            clauses.append("theme_id = :theme")
            params["theme"] = filters.theme
        if filters.low_only:
            clauses.append("confidence = 'low'")
        sql = "select distinct episode_id, segment_idx from machine_codes where " + " and ".join(
            clauses
        )
    order = " order by (select published from episodes e where e.id = episode_id), 1, 2"
    return [(row[0], row[1]) for row in db.execute(sql + order, params)]


def _item(db: sqlite_utils.Database, key: tuple[str, int]) -> Item:
    episode_id, idx = key
    row = next(
        db.query(
            """
            select s.id, s.start_time, s.speaker, s.text, e.title, e.enclosure_url,
                   coalesce(f.title, f.url) as show
            from segments s join episodes e on e.id = s.episode_id
            join feeds f on f.id = e.feed_id
            where s.episode_id = ? and s.idx = ?
            """,
            [episode_id, idx],
        )
    )
    item = Item(
        episode_id=episode_id,
        idx=idx,
        segment_id=row["id"],
        start_time=row["start_time"],
        speaker=row["speaker"],
        text=row["text"],
        episode=row["title"],
        show=row["show"],
        link=audio_link(row["enclosure_url"], row["start_time"]),
        before=_neighbour(db, episode_id, idx, -1),
        after=_neighbour(db, episode_id, idx, 1),
    )
    item.proposals = [Proposal(**p) for p in _proposals(db, row["id"])]
    return item


def _neighbour(db: sqlite_utils.Database, episode_id: str, idx: int, step: int) -> str | None:
    marks = ",".join("?" * len(SEARCHABLE))
    compare, order = ("<", "desc") if step < 0 else (">", "asc")
    found = db.execute(
        f"select coalesce(speaker || ': ', '') || text from segments where episode_id = ?"
        f" and idx {compare} ? and quality in ({marks}) order by idx {order} limit 1",
        [episode_id, idx, *SEARCHABLE],
    ).fetchone()
    return found[0] if found else None


def _proposals(db: sqlite_utils.Database, segment_id: int) -> list[dict[str, Any]]:
    return list(
        db.query(
            """
            select mc.theme_id as theme, coalesce(t.label, mc.theme_id) as label,
                   mc.methods as method, mc.score, mc.confidence
            from machine_codes mc left join themes t on t.id = mc.theme_id
            where mc.segment_id = ? order by mc.theme_id
            """,
            [segment_id],
        )
    )
