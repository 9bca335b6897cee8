"""The analysis stage: every transcribed episode gets themes, people and key phrases.

Incremental: an episode is analysed once per codebook and embedding model; editing
data/themes.toml (a new hash) or another embedding model re-analyses everything.
Results, the segment vectors search reads included, replace the episode's previous
analysis in one transaction.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.analysis.codebook import Codebook, load_codebook
from pipeline.analysis.engine import Analysis, Analyzer
from pipeline.analysis.people import Person, same_person
from pipeline.models import Segment, segment_from_row
from pipeline.progress import NullProgress, Progress
from pipeline.query.search import THEME_TOKEN_SQL
from pipeline.speakers.naming import sync_mention_speakers
from pipeline.store import vectors
from pipeline.store.db import ANALYSED, TRANSCRIBED, transaction, utcnow
from pipeline.store.episodes import mark_done, mark_failed, pending
from pipeline.transcribe.guard import SEARCHABLE

log = logging.getLogger(__name__)

STAGE = "analyze"


@dataclass
class AnalyzeResult:
    episode_id: str
    title: str | None
    analysis: Analysis | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def ensure_themes(db: sqlite_utils.Database, codebook: Codebook) -> None:
    """The themes table mirrors the codebook; a theme removed from it takes its mentions."""
    rows = [
        {
            "id": t.id,
            "label": t.label,
            "category": t.category,
            "definition": t.definition,
            "codebook_hash": codebook.digest,
        }
        for t in codebook.themes
    ]
    with transaction(db):
        db.table("themes").upsert_all(rows, pk="id")
        ids = [t.id for t in codebook.themes]
        marks = ",".join("?" * len(ids))
        db.execute(f"delete from themes where id not in ({marks})", ids)


def pending_analyses(
    db: sqlite_utils.Database,
    digest: str,
    limit: int | None = None,
    force: bool = False,
    embedding_model: str | None = None,
) -> list[dict[str, Any]]:
    """Episodes to analyse: transcribed ones, and analysed ones whose analysis used
    another codebook or (where ``embedding_model`` embeds) stored no vectors of it."""
    condition, pending_params = pending(STAGE, TRANSCRIBED)
    params: dict[str, Any] = dict(pending_params)
    current = "codebook_hash = :digest"
    if embedding_model:
        current += " and embedding_model is :model"
    stale = f"(status = :analysed and id not in (select episode_id from analyses where {current}))"
    where = f"({condition} or {stale}" + (" or status = :analysed)" if force else ")")
    params.update(analysed=ANALYSED, digest=digest, model=embedding_model)
    rows = db.table("episodes").rows_where(where, params, order_by="published, id", limit=limit)
    return list(rows)


def episode_segments(db: sqlite_utils.Database, episode_id: str) -> list[tuple[int, Segment]]:
    """(segment id, Segment) for the searchable segments of an episode, in order."""
    marks = ",".join("?" * len(SEARCHABLE))
    rows = db.query(
        f"select * from segments where episode_id = ? and quality in ({marks}) order by idx",
        [episode_id, *SEARCHABLE],
    )
    return [(row["id"], segment_from_row(row)) for row in rows]


def analyze_episodes(
    db: sqlite_utils.Database,
    *,
    analyzer: Analyzer | None = None,
    codebook_path: Path | None = None,
    limit: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Iterator[AnalyzeResult]:
    codebook = analyzer.codebook if analyzer else load_codebook(codebook_path)
    ensure_themes(db, codebook)
    model = embedding_model(analyzer)
    episodes = pending_analyses(db, codebook.digest, limit, force, model)
    if not episodes:
        return
    analyzer = analyzer or Analyzer(codebook)
    progress = progress or NullProgress()
    progress.start(STAGE, "analysing", len(episodes))
    try:
        for episode in episodes:
            yield _analyze_one(db, analyzer, episode)
            progress.advance(STAGE, 1)
        update_keyphrase_scores(db)
    finally:
        progress.finish(STAGE)


def embedding_model(analyzer: Analyzer | None = None) -> str | None:
    """The model whose segment vectors an analysis stores here (None: no [semantic])."""
    from pipeline.analysis import semantic

    if analyzer is not None:
        return analyzer.semantic.name if analyzer.semantic else None
    return semantic.MODEL_NAME if semantic.available() else None


def _analyze_one(
    db: sqlite_utils.Database, analyzer: Analyzer, episode: dict[str, Any]
) -> AnalyzeResult:
    result = AnalyzeResult(episode["id"], episode.get("title"))
    segments = episode_segments(db, episode["id"])
    persons = json.loads(episode.get("persons") or "[]")
    result.analysis, result.error = analyze_segments(
        analyzer, [s for _, s in segments], persons, episode.get("description")
    )
    if result.analysis is None:
        mark_failed(db, episode["id"], STAGE, result.error or "")
        return result
    save_analysis(db, episode["id"], [i for i, _ in segments], result.analysis, analyzer.provenance)
    return result


def analyze_segments(
    analyzer: Analyzer, segments: list[Segment], persons: list[Any], notes: str | None
) -> tuple[Analysis | None, str | None]:
    """The analysis of one episode's segments, or why it failed: the one task of this
    stage, run here for `analyze` and in worker processes for `ingest` (run/tasks.py)."""
    try:
        return analyzer.analyze(segments, persons=persons, notes=notes), None
    except ValueError as exc:  # spaCy on pathological text; the other episodes go on
        return None, f"analysis failed: {exc}"


def save_analysis(
    db: sqlite_utils.Database,
    episode_id: str,
    segment_ids: list[int],
    analysis: Analysis,
    provenance: dict[str, Any],
) -> None:
    """Replace the episode's mentions, people and key phrases in one transaction."""
    with transaction(db):
        for table in ("theme_mentions", "episode_people", "keyphrases"):
            db.execute(f"delete from {table} where episode_id = ?", [episode_id])
        db.table("theme_mentions").insert_all(
            {
                "episode_id": episode_id,
                "segment_id": segment_ids[m.segment_index] if segment_ids else None,
                "theme_id": m.theme,
                "start_time": m.start,
                "end_time": m.end,
                "matched_text": m.text,
                "method": m.method,
                "score": m.score,
                "speaker": m.speaker,
                "confidence": m.confidence,
            }
            for m in analysis.mentions
        )
        sync_segment_themes(db, episode_id)
        sync_mention_speakers(db, episode_id)  # credited only where diarization is sure
        for person in analysis.people:
            _save_person(db, episode_id, person)
        db.table("keyphrases").insert_all(
            {"episode_id": episode_id, "phrase": phrase, "count": count}
            for phrase, count in analysis.keyphrases.items()
        )
        save_embeddings(db, episode_id, segment_ids, analysis)
        db.table("analyses").upsert(
            {
                "episode_id": episode_id,
                **provenance,
                "embedding_model": analysis.embedding_model,
                "words": analysis.words,
                "wall_time": round(analysis.wall_time, 4),
                "analysed_at": utcnow(),
            },
            pk="episode_id",
        )
        mark_done(db, episode_id, ANALYSED)


def save_embeddings(
    db: sqlite_utils.Database, episode_id: str, segment_ids: list[int], analysis: Analysis
) -> None:
    """The episode's segment vectors, as the analysis computed them (inside the caller's
    transaction); the vector index follows where sqlite-vec is loaded."""
    db.execute("delete from segment_embeddings where episode_id = ?", [episode_id])
    if analysis.vectors is not None and len(segment_ids) == len(analysis.vectors) > 0:
        db.conn.executemany(
            "insert into segment_embeddings (segment_id, episode_id, model, vector)"
            " values (?, ?, ?, ?)",
            [
                (segment_id, episode_id, analysis.embedding_model, vectors.encode(vector))
                for segment_id, vector in zip(segment_ids, analysis.vectors, strict=True)
            ],
        )
    if vectors.usable(db):
        vectors.apply_queue(db)


def sync_segment_themes(db: sqlite_utils.Database, episode_id: str) -> None:
    """segments.themes (read by the search index) from the episode's theme mentions."""
    db.execute(
        f"""
        update segments set themes = (
            select group_concat(distinct {THEME_TOKEN_SQL}) from theme_mentions
            where segment_id = segments.id
        )
        where episode_id = ?
        """,
        [episode_id],
    )


def _save_person(db: sqlite_utils.Database, episode_id: str, person: Person) -> None:
    """One row per person across the whole database, found by any of their names."""
    person_id, aliases = _find_person(db, person)
    names = (aliases | person.aliases | {person.name}) - {_name_of(db, person_id)}
    if person_id is None:
        person_id = int(db.table("people").insert({"name": person.name}).last_rowid or 0)
        names.discard(person.name)
    db.table("people").update(person_id, {"aliases": json.dumps(sorted(names))})
    db.table("episode_people").upsert(
        {
            "episode_id": episode_id,
            "person_id": person_id,
            "role": person.role,
            "mention_count": person.mentions,
            "source": ",".join(sorted(person.sources)),
        },
        pk=("episode_id", "person_id"),
    )


def _find_person(db: sqlite_utils.Database, person: Person) -> tuple[int | None, set[str]]:
    multi = [n for n in person.names() if len(n.split()) > 1] or [person.name]
    for row in db.query("select id, name, aliases from people"):
        known = {row["name"], *json.loads(row["aliases"] or "[]")}
        if row["name"] == person.name or any(
            same_person(a, b) for a in multi for b in known if len(b.split()) > 1
        ):
            return row["id"], known
    return None, set()


def _name_of(db: sqlite_utils.Database, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    return str(db.table("people").get(person_id)["name"])


def update_keyphrase_scores(db: sqlite_utils.Database) -> None:
    """tf-idf over the whole corpus: phrases every episode uses do not win."""
    total = db.execute("select count(distinct episode_id) from keyphrases").fetchone()[0]
    if not total:
        return
    frequency = dict(
        db.execute("select phrase, count(*) from keyphrases group by phrase").fetchall()
    )
    rows = db.execute("select episode_id, phrase, count from keyphrases").fetchall()
    with transaction(db):
        db.conn.executemany(
            "update keyphrases set score = ? where episode_id = ? and phrase = ?",
            [
                (round(count * (math.log((1 + total) / (1 + frequency[phrase])) + 1), 4), e, phrase)
                for e, phrase, count in rows
            ],
        )


def analysis_json(analysis: Analysis) -> dict[str, Any]:
    """analyze-text's output: themes with method and score, people with roles."""
    return {
        "themes": [
            {
                "id": m.theme,
                "text": m.text,
                "method": m.method,
                "score": m.score,
                "confidence": m.confidence,
                "segment": m.segment_index,
            }
            for m in analysis.mentions
        ],
        "people": [
            {"name": p.name, "role": p.role, "aliases": sorted(p.aliases), "mentions": p.mentions}
            for p in analysis.people
        ],
        "keyphrases": [p for p, _ in analysis.keyphrases.most_common(10)],
    }
