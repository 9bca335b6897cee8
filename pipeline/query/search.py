"""Search: every hit is a moment in an episode, with a link that plays it.

Ranking is SQLite FTS5's bm25. Ranking every match of a word that appears in most
segments costs about a microsecond per match (a second at a million segments), so
the ranking looks at the CANDIDATES most recent matches of a query (FTS5 reads
them in rowid order and stops); below that many matches, the ranking is exact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from sqlite_utils.utils import sqlite3  # the driver store.db connects with

from pipeline.errors import PipelineError
from pipeline.timecodes import clock

CANDIDATES = 1000
FTS_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
HIGHLIGHT = ("\x02", "\x03")  # markers the CLI turns into colour, JSON into **bold**


class SearchError(PipelineError):
    pass


@dataclass
class Filters:
    theme: str | None = None
    person: str | None = None
    role: str | None = None  # host or guest: said by the episode's host or a guest
    feed: str | None = None
    since: str | None = None
    until: str | None = None
    high_only: bool = False  # leave out keyword hits the classifier disputes
    confirmed: bool = False  # only codes a person confirmed (pipeline.review)
    episodes: list[str] | None = None  # only these episode ids (a nightly run's digest)

    @property
    def codes(self) -> str:
        """The table of theme codes these filters count: the machine's mentions, or the
        codes people applied and nobody rejected (a view, db.py migration 12)."""
        return "confirmed_codes" if self.confirmed else "theme_mentions"


def audio_link(enclosure_url: str | None, seconds: float) -> str | None:
    """The enclosure with a media fragment: players start it at that second."""
    if not enclosure_url:
        return None
    return f"{enclosure_url.split('#')[0]}#t={int(seconds)}"


def plain_query(query: str) -> str:
    """Any text as FTS5 words: each word quoted, so punctuation cannot be syntax."""
    words = [w for w in re.findall(r"[\w']+", query) if w not in FTS_OPERATORS]
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


def search(
    db: sqlite_utils.Database, query: str | None, filters: Filters | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Ranked hits for a query (FTS5 syntax, or plain words if it is not valid FTS5);
    with no query, every mention of the --theme, newest first. Keyword search alone:
    pipeline.query.hybrid fuses it with search by meaning."""
    filters = filters or Filters()
    check_theme(db, filters.theme)
    if not query or not query.strip():
        if not filters.theme:
            raise SearchError("Give words to search for, or --theme to list a theme's mentions.")
        return _theme_mentions(db, filters, limit)
    best, expression = keyword_ranking(db, query, filters, limit)
    marked = snippets(db, expression, [c["id"] for c in best])
    return hits(db, [(c["id"], c["score"]) for c in best], marked, filters.codes)


def keyword_ranking(
    db: sqlite_utils.Database, query: str, filters: Filters, limit: int
) -> tuple[list[dict[str, Any]], str]:
    """The best ``limit`` matches ({id, score}, best first) and the FTS5 expression
    that found them (for snippets)."""
    try:
        return _ranked(db, query, filters, limit)
    except sqlite3.OperationalError as exc:
        # Not valid FTS5 (an unbalanced quote, a stray operator, "word:" read as a
        # column name): search the words themselves instead of failing.
        plain = plain_query(query)
        if not plain or plain == query:
            raise SearchError(f"{query!r} cannot be searched: {exc}.") from exc
        return _ranked(db, plain, filters, limit)


def speaker_role_sql(episode: str, speaker: str) -> str:
    """SQL for the role (host, guest, mentioned) of the person a speaker label names in
    that episode, by name or alias; null for an unnamed voice ("Speaker 2") or none."""
    return f"""(select ep.role from episode_people ep join people p on p.id = ep.person_id
        where ep.episode_id = {episode}
          and ({speaker} = p.name or {speaker} in (select value from json_each(p.aliases)))
        order by ep.role = 'mentioned', ep.role = 'guest' limit 1)"""


def check_theme(db: sqlite_utils.Database, theme: str | None) -> None:
    """A theme filter must name a theme of the codebook (a typo would find nothing)."""
    if not theme:
        return
    known = {row[0] for row in db.execute("select id from themes")}
    if known and theme not in known:
        raise SearchError(f"Unknown theme {theme!r}: `podinsights themes` lists the codebook's.")


def theme_token(theme: str) -> str:
    """How a theme id is written in the FTS index's themes column: one token."""
    return theme.lower().replace("-", "")


THEME_TOKEN_SQL = "replace(lower(theme_id), '-', '')"  # theme_token, in SQL


def fts_query(query: str, theme: str | None) -> str:
    """The user's query on the text column; a theme filter is an AND on the themes column."""
    expression = f"text : ({query})"
    return f"{expression} AND themes : {theme_token(theme)}" if theme else expression


def where_sql(filters: Filters, params: dict[str, Any], *, theme_in_fts: bool = False) -> str:
    clauses = []
    if filters.theme and (filters.high_only or filters.confirmed or not theme_in_fts):
        high = " and confidence = 'high'" if filters.high_only else ""
        clauses.append(
            f"s.id in (select segment_id from {filters.codes} where theme_id = :theme{high})"
        )
        params["theme"] = filters.theme
    elif filters.confirmed:
        clauses.append("s.id in (select segment_id from confirmed_codes)")
    clauses += episode_clauses(filters, params)
    if filters.person:
        clauses.append(_person_clause())
        params["person"] = filters.person
        params["person_like"] = f'%"{filters.person}"%'
    if filters.role:
        clauses.append(f"{speaker_role_sql('s.episode_id', 's.speaker')} = :role")
        params["role"] = filters.role
    return " and ".join(clauses) or "1"


def episode_clauses(filters: Filters, params: dict[str, Any]) -> list[str]:
    """The filters that keep or drop whole episodes (aliases e and f): show, dates, ids."""
    clauses = []
    if filters.feed:
        clauses.append("(cast(f.id as text) = :feed or f.title like :feed_like or f.url = :feed)")
        params.update(feed=filters.feed, feed_like=f"%{filters.feed}%")
    if filters.since:
        clauses.append("e.published >= :since")
        params["since"] = filters.since
    if filters.until:
        clauses.append("e.published < date(:until, '+1 day')")
        params["until"] = filters.until
    if filters.episodes is not None:
        clauses.append("e.id in (select value from json_each(:episodes))")
        params["episodes"] = json.dumps(filters.episodes)
    return clauses


def _segment_span(db: sqlite_utils.Database, filters: Filters) -> tuple[int, int] | None:
    """The lowest and highest segment id of the episodes the date and show filters keep
    (None when they keep none). Episodes usually arrive in date order, so the span lets
    FTS5 seek to them instead of reading every newer match first."""
    params: dict[str, Any] = {}
    where = " and ".join(episode_clauses(filters, params))
    first, last = db.execute(
        "select min((select min(id) from segments where episode_id = e.id)),"
        " max((select max(id) from segments where episode_id = e.id))"
        f" from episodes e join feeds f on f.id = e.feed_id where {where}",
        params,
    ).fetchone()
    return None if first is None else (first, last)


def _person_clause() -> str:
    """Said by the person (speaker label), or, where speakers are unknown, in an episode
    the person took part in."""
    person_ids = (
        "select id from people where name = :person collate nocase"
        " or aliases like :person_like collate nocase"
    )
    names = (
        f"select name from people where id in ({person_ids}) union "
        f"select value from people, json_each(people.aliases) where people.id in ({person_ids})"
    )
    return (
        f"(s.speaker in ({names}) or (s.speaker is null and e.id in "
        f"(select episode_id from episode_people where person_id in ({person_ids}))))"
    )


HIT_COLUMNS = """
    s.id as segment_id, s.episode_id, f.title as show, e.title as episode,
    substr(e.published, 1, 10) as date, s.start_time, s.end_time, s.speaker,
    e.enclosure_url, s.text
"""
JOINS = """
    join episodes e on e.id = s.episode_id
    join feeds f on f.id = e.feed_id
"""


def _ranked(
    db: sqlite_utils.Database, query: str, filters: Filters, limit: int
) -> tuple[list[dict[str, Any]], str]:
    # People's codes are not in the index's themes column: --confirmed filters by a join.
    indexed_theme = None if filters.confirmed else filters.theme
    params: dict[str, Any] = {"query": fts_query(query, indexed_theme), "candidates": CANDIDATES}
    where = where_sql(filters, params, theme_in_fts=True)
    if filters.since or filters.until or filters.feed:
        span = _segment_span(db, filters)
        if span is None:
            return [], params["query"]
        where += " and segments_fts.rowid between :first and :last"
        params.update(first=span[0], last=span[1])
    joins = f"join segments s on s.id = segments_fts.rowid {JOINS}" if where != "1" else ""
    phrase = '"' in query
    # bm25 of a phrase makes FTS5 count the phrase's matches in the whole corpus (70 ms
    # at a million segments for common words); every candidate contains the phrase,
    # so that IDF is the same for all and the order needs only tf and length.
    score = "0" if phrase else "bm25(segments_fts, 1.0, 0.0)"
    marked = "highlight(segments_fts, 0, char(2), char(3))" if phrase else "null"
    candidates = list(
        db.query(
            f"""
            select segments_fts.rowid as id, {score} as score, {marked} as marked
            from segments_fts {joins}
            where segments_fts match :query and {where}
            order by segments_fts.rowid desc
            limit :candidates
            """,
            params,
        )
    )
    if phrase:
        _score_phrases(candidates)
    return sorted(candidates, key=lambda c: c["score"])[:limit], params["query"]


def hits(
    db: sqlite_utils.Database,
    ranked: list[tuple[int, float | None]],
    snippets: dict[int, str],
    codes: str = "theme_mentions",
) -> list[dict[str, Any]]:
    """Finished hits (show, episode, time, link, themes from ``codes``, snippet) for
    (segment id, score) pairs, in their order."""
    if not ranked:
        return []
    marks = ",".join("?" * len(ranked))
    rows = {
        row["segment_id"]: row
        for row in db.query(
            f"select {HIT_COLUMNS} from segments s {JOINS} where s.id in ({marks})",
            [segment_id for segment_id, _ in ranked],
        )
    }
    return [
        _finish(db, {"score": score, **rows[segment_id]}, snippets.get(segment_id), codes)
        for segment_id, score in ranked
        if segment_id in rows
    ]


def _score_phrases(candidates: list[dict[str, Any]], k1: float = 1.2, b: float = 0.75) -> None:
    """bm25's term-frequency and length part, from the highlighted phrase instances;
    negative like FTS5's bm25, so lower is better."""
    lengths = [len(c["marked"].split()) for c in candidates]
    average = sum(lengths) / len(lengths) if lengths else 1.0
    for candidate, length in zip(candidates, lengths, strict=True):
        tf = candidate["marked"].count(HIGHLIGHT[0])
        candidate["score"] = -tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))


def snippets(db: sqlite_utils.Database, query: str, ids: list[int]) -> dict[int, str]:
    """Highlighted snippets of the ``ids`` the FTS5 expression ``query`` matches."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    # A rowid range lets FTS5 read only the hits' stretch of the index; "rowid in"
    # alone (or "rowid =" per hit) makes it merge a prefix query's every term from
    # the whole corpus first (60 ms for "out*" at a million segments, against 3).
    rows = db.execute(
        f"select rowid, snippet(segments_fts, 0, ?, ?, '…', 24) from segments_fts"
        f" where segments_fts match ? and rowid between ? and ? and +rowid in ({marks})",
        [*HIGHLIGHT, query, min(ids), max(ids), *ids],
    ).fetchall()
    return dict(rows)


def _theme_mentions(
    db: sqlite_utils.Database, filters: Filters, limit: int
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": limit}
    where = where_sql(filters, params)
    sql = f"""
        select null as score, {HIT_COLUMNS}
        from segments s {JOINS}
        where {where}
        order by e.published desc, s.start_time
        limit :limit
    """
    return [_finish(db, hit, None, filters.codes) for hit in db.query(sql, params)]


def _finish(
    db: sqlite_utils.Database,
    hit: dict[str, Any],
    snippet: str | None,
    codes: str = "theme_mentions",
) -> dict[str, Any]:
    themes = [
        row[0]
        for row in db.execute(
            f"select distinct theme_id from {codes} where segment_id = ? order by theme_id",
            [hit["segment_id"]],
        )
    ]
    return {
        **hit,
        "time": clock(hit["start_time"]),
        "snippet": snippet or hit["text"],
        "themes": themes,
        "link": audio_link(hit.pop("enclosure_url"), hit["start_time"]),
    }
