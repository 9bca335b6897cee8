"""Reports on the analysed corpus: mentions per theme, who raised each theme (role,
speaker) and how it changed (month, year), and the people summary. Read-only; the CLI,
the Datasette metadata (serve/app.py) and the notebook use these same queries."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from pipeline.errors import PipelineError
from pipeline.query.search import (
    Filters,
    audio_link,
    check_theme,
    episode_clauses,
    speaker_role_sql,
)
from pipeline.timecodes import clock
from pipeline.transcribe.guard import SEARCHABLE

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


# The insight report and the nightly digest (pipeline/report/) read the corpus through
# the queries below, with the same Filters as search and `themes`.

SEARCHABLE_SQL = "(" + ", ".join(f"'{quality}'" for quality in SEARCHABLE) + ")"
EPISODE_JOINS = "join feeds f on f.id = e.feed_id"
ANALYSED = "exists (select 1 from analyses a where a.episode_id = e.id)"


def _episode_where(filters: Filters | None, params: dict[str, Any]) -> str:
    """Analysed episodes the filters keep (a theme filter does not drop episodes)."""
    return " and ".join([*episode_clauses(filters or Filters(), params), ANALYSED])


def coverage(
    db: sqlite_utils.Database, filters: Filters | None = None, by: str | None = None
) -> list[dict[str, Any]]:
    """Analysed episodes, shows and hours (of audio; of speech, the segments analysis
    reads, which rates per hour divide by), first and last date: for the whole
    selection, or per month or year (by)."""
    if by is not None and by not in BY_TIME:
        raise PipelineError(f"Cannot count coverage by {by!r}: use {', '.join(BY_TIME)}.")
    params: dict[str, Any] = {}
    bucket = BREAKDOWNS[by] if by else "'all'"
    sql = f"""
        select {bucket} as bucket, count(*) as episodes, count(distinct e.feed_id) as shows,
               coalesce(sum(coalesce(t.audio_duration, e.itunes_duration)), 0) as audio_seconds,
               coalesce(sum((select sum(s.end_time - s.start_time) from segments s
                             where s.episode_id = e.id and s.quality in {SEARCHABLE_SQL})), 0)
                   as speech_seconds,
               min(substr(e.published, 1, 10)) as first, max(substr(e.published, 1, 10)) as last
        from episodes e {EPISODE_JOINS} left join transcripts t on t.episode_id = e.id
        where {_episode_where(filters, params)}
        group by bucket
        order by bucket
    """
    return list(db.query(sql, params))


# How people who reviewed a mention judged it (pipeline.review's codings, keyed by the
# segment's episode and idx): 1 applied by someone and rejected by nobody, -1 rejected
# by anyone (as confirmed_codes counts them), 0 not reviewed. Quotes put confirmed
# mentions first and never use rejected ones.
REVIEW_SQL = """coalesce((
    select case when sum(c.decision = 'rejected') > 0 then -1 else 1 end
    from codings c where c.episode_id = m.episode_id and c.theme_id = m.theme_id
     and s.idx between c.segment_idx and coalesce(c.end_idx, c.segment_idx)
    having count(*) > 0), 0)"""

QUOTE_MIN_CHARS = 40  # shorter segments are fragments, not a sentence worth citing

# The best quotes first: confirmed by a person; keywords and classifier agreeing; found
# by the codebook's words rather than by the classifier or by meaning; a whole sentence;
# credited to a speaker (diarization was sure); the highest score; the newest.
QUOTE_ORDER = f"""
    review desc,
    m.confidence = 'high' desc,
    case m.method when 'keyword' then 0 when 'classifier' then 1 else 2 end,
    length(s.text) >= {QUOTE_MIN_CHARS} desc,
    m.speaker is not null and m.speaker != '' desc,
    m.score desc,
    e.published desc,
    s.start_time
"""


def best_quotes(
    db: sqlite_utils.Database, filters: Filters | None = None, limit: int = 3
) -> list[dict[str, Any]]:
    """The most trustworthy mentions (QUOTE_ORDER), one per segment, as citable quotes:
    of the filters' theme, or without one, the best of each theme, best first."""
    filters = filters or Filters()
    params: dict[str, Any] = {"candidates": limit * 10 + 20}
    check_theme(db, filters.theme)
    # The speaker's role is looked up for the candidates only, not every mention sorted.
    sql = f"""
        select q.*, {speaker_role_sql("q.episode_id", "q.speaker")} as role from (
            select m.id as mention_id, m.theme_id as theme, t.label as theme_label,
                   m.method, m.score, m.confidence, {REVIEW_SQL} as review,
                   nullif(m.speaker, '') as speaker,
                   s.id as segment_id, s.start_time, s.end_time, s.text,
                   e.id as episode_id, e.title as episode, substr(e.published, 1, 10) as date,
                   e.enclosure_url, f.title as show
            from theme_mentions m {MENTION_JOINS}
            join segments s on s.id = m.segment_id
            join themes t on t.id = m.theme_id
            where {mention_filter(filters, params)} and s.quality in {SEARCHABLE_SQL}
            order by {QUOTE_ORDER}
            limit :candidates
        ) q where q.review >= 0
    """
    quotes: list[dict[str, Any]] = []
    segments: set[int] = set()
    themes: set[str] = set()
    for row in db.query(sql, params):
        if row["segment_id"] in segments or (not filters.theme and row["theme"] in themes):
            continue
        segments.add(row["segment_id"])
        themes.add(row["theme"])
        url = row.pop("enclosure_url")
        quotes.append(
            {**row, "time": clock(row["start_time"]), "link": audio_link(url, row["start_time"])}
        )
        if len(quotes) == limit:
            break
    return quotes


def distinctive_phrases(
    db: sqlite_utils.Database, filters: Filters | None = None, limit: int = 15
) -> list[dict[str, Any]]:
    """The key phrases of the selection scored against the whole corpus, with how many
    episodes of the selection and of the corpus use them. The score is the selection's
    count times the corpus idf, from the stored per-episode tf-idf (analysis/stage.py's
    update_keyphrase_scores) less its +1 smoothing, so a phrase every episode uses
    ("people") scores 0 and is left out: it is not what sets this period apart."""
    params: dict[str, Any] = {"limit": limit}
    rows = list(
        db.query(
            f"""
            select * from (
                select k.phrase, sum(k.count) as count, count(*) as episodes,
                       round(sum(k.score - k.count), 2) as score
                from keyphrases k join episodes e on e.id = k.episode_id {EPISODE_JOINS}
                where {_episode_where(filters, params)}
                group by k.phrase
            )
            where score > 0
            order by score desc, count desc, phrase
            limit :limit
            """,
            params,
        )
    )
    corpus = dict(
        db.execute(
            "select phrase, count(*) from keyphrases"
            " where phrase in (select value from json_each(?)) group by phrase",
            [json.dumps([row["phrase"] for row in rows])],
        ).fetchall()
    )
    return [{**row, "corpus_episodes": corpus.get(row["phrase"], 0)} for row in rows]


def provenance(db: sqlite_utils.Database, filters: Filters | None = None) -> dict[str, Any]:
    """How far to trust the selection: flagged and recovered audio, how sure the speakers
    are, and which transcripts and analysis models it rests on."""
    params: dict[str, Any] = {}
    where = _episode_where(filters, params)
    audio = next(
        db.query(
            f"""
            select coalesce(sum(s.end_time - s.start_time), 0) as seconds,
                   coalesce(sum(case when s.quality not in {SEARCHABLE_SQL}
                                then s.end_time - s.start_time end), 0) as flagged_seconds,
                   coalesce(sum(case when s.recovered then s.end_time - s.start_time end), 0)
                       as recovered_seconds
            from segments s join episodes e on e.id = s.episode_id {EPISODE_JOINS}
            where {where}
            """,
            params,
        )
    )
    speakers = next(
        db.query(
            f"""
            select coalesce(sum(x.talk_time), 0) as talk_seconds,
                   coalesce(sum(x.uncertain_time), 0) as uncertain_seconds
            from episode_speakers x join episodes e on e.id = x.episode_id {EPISODE_JOINS}
            where {where}
            """,
            params,
        )
    )
    transcripts = list(
        db.query(
            f"""
            select t.source, t.engine, t.engine_version, t.model, count(*) as episodes
            from transcripts t join episodes e on e.id = t.episode_id {EPISODE_JOINS}
            where {where}
            group by 1, 2, 3, 4 order by episodes desc
            """,
            params,
        )
    )
    analyses = list(
        db.query(
            f"""
            select a.spacy_model, a.spacy_version, a.codebook_hash, a.semantic_model,
                   a.classifier, count(*) as episodes
            from analyses a join episodes e on e.id = a.episode_id {EPISODE_JOINS}
            where {where}
            group by 1, 2, 3, 4, 5 order by episodes desc
            """,
            params,
        )
    )
    return {**audio, **speakers, "transcripts": transcripts, "analyses": analyses}


def analysed_episodes(
    db: sqlite_utils.Database, since: str, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Episodes analysed at or after `since` (UTC ISO 8601), newest first, with whether
    their transcript is that recent too (new to the corpus) or older (analysed again)."""
    params: dict[str, Any] = {"since": since}
    return list(
        db.query(
            f"""
            select e.id, f.title as show, e.title, substr(e.published, 1, 10) as date,
                   coalesce(t.audio_duration, e.itunes_duration) as audio_seconds,
                   a.analysed_at, coalesce(t.created_at >= :since, 1) as new
            from episodes e {EPISODE_JOINS}
            join analyses a on a.episode_id = e.id
            left join transcripts t on t.episode_id = e.id
            where a.analysed_at >= :since and {_episode_where(filters, params)}
            order by e.published desc, e.id
            """,
            params,
        )
    )


def episode_people(
    db: sqlite_utils.Database, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Who took part in each episode (hosts, then guests, then people mentioned)."""
    params: dict[str, Any] = {}
    return list(
        db.query(
            f"""
            select ep.episode_id, p.name, ep.role, ep.mention_count as mentions
            from episode_people ep join people p on p.id = ep.person_id
            join episodes e on e.id = ep.episode_id {EPISODE_JOINS}
            where {_episode_where(filters, params)}
            order by ep.episode_id, ep.role != 'host', ep.role != 'guest',
                     ep.mention_count desc, p.name
            """,
            params,
        )
    )


def ingest_runs(db: sqlite_utils.Database, day: str) -> list[dict[str, Any]]:
    """The ingest runs that started on a UTC day (YYYY-MM-DD), first first."""
    rows = db.query(
        "select * from runs where command = 'ingest' and substr(started_at, 1, 10) = ?"
        " order by started_at, id",
        [day],
    )
    return [
        {
            **row,
            "counts": json.loads(row["counts"] or "{}"),
            "errors": json.loads(row["errors"] or "[]"),
        }
        for row in rows
    ]
