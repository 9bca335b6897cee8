"""Reports on the analysed corpus: mentions per theme, who raised each theme (role,
speaker) and how it changed (month, year), and the people summary. Read-only; the CLI,
the Datasette metadata (serve/app.py) and the notebook use these same queries."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.query.search import Filters, check_theme, episode_clauses, speaker_role_sql

MENTION_JOINS = "join episodes e on e.id = m.episode_id join feeds f on f.id = e.feed_id"


def theme_counts(db: sqlite_utils.Database, filters: Filters | None = None) -> list[dict[str, Any]]:
    """Every theme with its mentions and episodes, and how many each method found."""
    params: dict[str, Any] = {}
    check_theme(db, filters.theme if filters else None)
    where = mention_filter(filters, params)
    sql = f"""
        select t.id, t.label, t.category,
               count(m.id) as mentions,
               count(distinct m.episode_id) as episodes,
               coalesce(sum(m.method = 'keyword'), 0) as keyword,
               coalesce(sum(m.method = 'classifier'), 0) as classifier,
               coalesce(sum(m.method = 'semantic'), 0) as semantic,
               coalesce(sum(m.confidence = 'low'), 0) as low_confidence,
               coalesce(sum(m.method = 'human'), 0) as human,
               min(m.published) as first_published,
               max(m.published) as last_published
        from themes t
        left join (
            select m.*, e.published from {(filters or Filters()).codes} m {MENTION_JOINS}
            where {where}
        ) m on m.theme_id = t.id
        group by t.id
        order by mentions desc, t.id
    """
    return list(db.query(sql, params))


def mention_filter(filters: Filters | None, params: dict[str, Any]) -> str:
    """SQL condition on theme mentions (m, with their episode e and feed f): one theme,
    one show, a date range, high confidence only."""
    filters = filters or Filters()
    clauses = episode_clauses(filters, params)
    if filters.theme:
        clauses.append("m.theme_id = :theme")
        params["theme"] = filters.theme
    if filters.high_only:
        clauses.append("m.confidence = 'high'")
    return " and ".join(clauses) or "1"


BY_TIME = ("month", "year")  # breakdowns that read as a timeline, in time order

# theme_breakdown's groupings: the speaker's role in the episode, the speaker, or when
# the episode was published.
BREAKDOWNS = {
    "role": "coalesce(r.role, 'unattributed')",
    "speaker": "coalesce(nullif(m.speaker, ''), 'unattributed')",
    "month": "coalesce(substr(e.published, 1, 7), 'undated')",
    "year": "coalesce(substr(e.published, 1, 4), 'undated')",
}


# Each (episode, speaker) pair's role, looked up once rather than once per mention
# (300,000 mentions over 2,000 episodes: 2.0 s instead of 3.8).
SPEAKER_ROLES = f"""
    with speaker_roles as materialized (
        select d.episode_id, d.speaker, {speaker_role_sql("d.episode_id", "d.speaker")} as role
        from (select distinct episode_id, speaker from theme_mentions) d
    )
"""


ROLE_JOIN = "left join speaker_roles r on r.episode_id = m.episode_id and r.speaker = m.speaker"


def theme_breakdown(
    db: sqlite_utils.Database, by: str, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Mentions of each theme per speaker role (who raised it: host or guest?), per
    speaker, or per month or year (how it changed)."""
    params: dict[str, Any] = {}
    check_theme(db, filters.theme if filters else None)
    codes = (filters or Filters()).codes
    return list(db.query(breakdown_sql(by, mention_filter(filters, params), codes), params))


def breakdown_sql(by: str, where: str = "1", codes: str = "theme_mentions") -> str:
    """theme_breakdown's query (Datasette serves it too). Themes with most mentions
    first; by time, in time order."""
    if by not in BREAKDOWNS:
        raise PipelineError(f"Cannot break themes down by {by!r}: use {', '.join(BREAKDOWNS)}.")
    order = (
        f"{by}, mentions desc, theme"
        if by in BY_TIME
        else "sum(count(*)) over (partition by m.theme_id) desc, theme, mentions desc"
    )
    roles = by == "role"
    return f"""
        {SPEAKER_ROLES.replace("theme_mentions", codes) if roles else ""}
        select m.theme_id as theme, {BREAKDOWNS[by]} as {by}, count(*) as mentions,
               count(distinct m.episode_id) as episodes
        from {codes} m {MENTION_JOINS}
        {ROLE_JOIN if roles else ""}
        where {where}
        group by m.theme_id, {by}
        order by {order}
    """


def people_summary(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = db.query(
        """
        select p.id, p.name, p.aliases,
               count(ep.episode_id) as episodes,
               coalesce(sum(ep.role = 'host'), 0) as host,
               coalesce(sum(ep.role = 'guest'), 0) as guest,
               coalesce(sum(ep.role = 'mentioned'), 0) as mentioned,
               coalesce(sum(ep.mention_count), 0) as mentions
        from people p join episode_people ep on ep.person_id = p.id
        group by p.id
        order by host desc, guest desc, episodes desc, p.name
        """
    )
    return [{**row, "aliases": json.loads(row["aliases"] or "[]")} for row in rows]
