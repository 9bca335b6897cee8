"""Search by words, meaning and theme, fused by reciprocal rank fusion; similar moments.

Three ranked lists, each built with every filter inside it (never filtered after a
cut): FTS5's bm25 (words), the segment vectors nearest the query's embedding
(meaning, store/vectors.py) and, where the query names a theme or says one of its
codebook phrases, that theme's mentions (theme). A segment's fused score is
sum(WEIGHTS[list] / (RRF_K + rank)) over the lists it is in; each hit says which.
WEIGHTS and RRF_K were chosen on the dev queries (`python -m benchmarks search`,
docs/benchmarks.md). Without the [semantic] extra or sqlite-vec, keyword search.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import sqlite_utils

from pipeline.query import search as keyword
from pipeline.query.search import JOINS, Filters, SearchError
from pipeline.store import vectors

log = logging.getLogger(__name__)

HYBRID, KEYWORD, SEMANTIC = "hybrid", "keyword", "semantic"
MODES = (HYBRID, KEYWORD, SEMANTIC)
WORDS, MEANING, THEME = "words", "meaning", "theme"
# Chosen on the dev queries and passages (best MRR of 54 settings; docs/benchmarks.md):
# a small k lets each list's first hits count; a theme the query names counts double.
RRF_K = 10
WEIGHTS = {WORDS: 0.5, MEANING: 0.5, THEME: 1.0}
DEPTH = 100  # how far down each list fusion looks
# Below this cosine a segment is not near the query in meaning (MiniLM puts unrelated
# text at 0.0-0.25: "zebra" against the demo's leadership talk tops out at 0.25).
MIN_SIMILARITY = 0.3


def semantic_ready(db: sqlite_utils.Database) -> bool:
    """Search by meaning can run: the model and sqlite-vec are installed and some
    segments have vectors of that model."""
    from pipeline.analysis import semantic

    if not (semantic.available() and vectors.usable(db)):
        return False
    found = db.execute(
        "select 1 from segment_embeddings where model = ? limit 1", [semantic.MODEL_NAME]
    )
    return found.fetchone() is not None


def default_mode(db: sqlite_utils.Database) -> str:
    return HYBRID if semantic_ready(db) else KEYWORD


def search(
    db: sqlite_utils.Database,
    query: str | None,
    filters: Filters | None = None,
    limit: int = 20,
    mode: str | None = None,
    weights: dict[str, float] | None = None,
    rrf_k: int = RRF_K,
    min_similarity: float = MIN_SIMILARITY,
) -> list[dict[str, Any]]:
    """Ranked hits, each with ``found_by`` (words, meaning, theme), ``similarity``
    (cosine, where found by meaning) and ``theme_match`` (themes the query named)."""
    filters = filters or Filters()
    mode = mode or default_mode(db)
    if mode not in MODES:
        raise SearchError(f"Unknown search mode {mode!r}: {', '.join(MODES)}.")
    if mode == KEYWORD or not query or not query.strip():
        return [
            {**hit, "found_by": [WORDS] if query else [THEME]}
            for hit in keyword.search(db, query, filters, limit)
        ]
    keyword.check_theme(db, filters.theme)
    if not semantic_ready(db):
        raise SearchError(
            f"--mode {mode} needs segment vectors: install the [semantic] extra (sqlite-vec"
            " and the embedding model) and run `podinsights analyze`."
        )
    lists: dict[str, list[int]] = {}
    expression = None
    if mode == HYBRID:
        ranked, expression = _words(db, query, filters)
        lists[WORDS] = ranked
    meaning = meaning_ranking(db, embed_query(query), filters, DEPTH)
    meaning = [(i, distance) for i, distance in meaning if 1 - distance >= min_similarity]
    lists[MEANING] = [segment_id for segment_id, _ in meaning]
    named = named_themes(db, query) if mode == HYBRID else []
    if named:
        lists[THEME] = theme_ranking(db, named, filters, DEPTH)
    fused = fuse(lists, weights or WEIGHTS, rrf_k)[:limit]
    snippets = keyword.snippets(db, expression, [i for i, _ in fused]) if expression else {}
    similarity = {segment_id: round(1 - distance, 4) for segment_id, distance in meaning}
    found = keyword.hits(db, fused, snippets, filters.codes)
    # A hit was found by a list if that list alone would have shown it (its first
    # ``limit``): rank 90 of 100 by meaning is no reason to show a moment.
    shown = {name: set(ids[:limit]) for name, ids in lists.items()}
    for hit in found:
        segment_id = hit["segment_id"]
        hit["found_by"] = [name for name in lists if segment_id in shown[name]]
        hit["similarity"] = similarity.get(segment_id)
        hit["theme_match"] = [t for t in named if t in hit["themes"]]
    return found


def _words(db: sqlite_utils.Database, query: str, filters: Filters) -> tuple[list[int], str | None]:
    try:
        best, expression = keyword.keyword_ranking(db, query, filters, DEPTH)
    except SearchError:  # no searchable words ("?!"): meaning alone
        return [], None
    return [c["id"] for c in best], expression


def fuse(
    lists: dict[str, list[int]], weights: dict[str, float], rrf_k: int
) -> list[tuple[int, float | None]]:
    """Reciprocal rank fusion: (segment id, score), best first; ties by list order."""
    scores: dict[int, float] = {}
    for name, ids in lists.items():
        for rank, segment_id in enumerate(ids, start=1):
            scores[segment_id] = scores.get(segment_id, 0.0) + weights[name] / (rrf_k + rank)
    order = sorted(scores, key=lambda i: -scores[i])
    return [(i, round(scores[i], 6)) for i in order]


def embed_query(query: str) -> np.ndarray:
    from pipeline.analysis import semantic

    return semantic.embedder().embed([query])[0]


def meaning_ranking(
    db: sqlite_utils.Database, vector: np.ndarray, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(segment id, cosine distance) of the segments nearest ``vector`` that the
    filters keep."""
    from pipeline.analysis.semantic import MODEL_NAME

    params: dict[str, Any] = {}
    where = keyword.where_sql(filters, params)
    return vectors.nearest(db, vector, MODEL_NAME, limit, where, params, JOINS)


def named_themes(db: sqlite_utils.Database, query: str) -> list[str]:
    """The themes a query names (id or label) or says a codebook phrase of."""
    from pipeline.analysis.codebook import load_codebook

    text = " " + " ".join(re.findall(r"[\w']+", query.lower())) + " "
    phrases: dict[str, set[str]] = {}
    for row in db.query("select id, label from themes"):
        phrases[row["id"]] = {row["id"].replace("-", " "), row["label"].lower()}
    try:
        for entry in load_codebook(validate=False).themes:
            if entry.id in phrases:
                phrases[entry.id] |= {p.lower() for p in entry.phrases}
    except Exception as exc:  # a broken codebook file must not break search
        log.warning("codebook phrases not used for search: %s", exc)
    found = []
    for theme, said in phrases.items():
        words = {" " + " ".join(re.findall(r"[\w']+", p)) + " " for p in said}
        if any(len(w) > 2 and w in text for w in words):
            found.append(theme)
    return sorted(found)


def theme_ranking(
    db: sqlite_utils.Database, themes: list[str], filters: Filters, limit: int
) -> list[int]:
    """The segments tagged with any of ``themes``: surest first (high confidence, then
    score), newest episode first among equals."""
    params: dict[str, Any] = {"limit": limit}
    where = keyword.where_sql(filters, params)
    marks = ",".join(f":named{i}" for i in range(len(themes)))
    params.update({f"named{i}": theme for i, theme in enumerate(themes)})
    rows = db.execute(
        f"""select s.id from segments s {JOINS}
        join {filters.codes} m on m.segment_id = s.id and m.theme_id in ({marks})
        where {where} and s.quality in ('ok', 'estimated-time')
        group by s.id
        order by max(m.confidence = 'high') desc, max(m.score) desc, e.published desc, s.id
        limit :limit""",
        params,
    )
    return [row[0] for row in rows]


def similar(
    db: sqlite_utils.Database, segment_id: int, filters: Filters | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The moments closest in meaning to one segment, across every show."""
    filters = filters or Filters()
    keyword.check_theme(db, filters.theme)
    if not vectors.usable(db):
        raise SearchError("similar needs sqlite-vec and the [semantic] extra.")
    row = db.execute(
        "select vector from segment_embeddings where segment_id = ?", [segment_id]
    ).fetchone()
    if row is None:
        raise SearchError(
            f"Segment {segment_id} has no vector: it does not exist, is flagged, or its"
            " episode was analysed without the [semantic] extra."
        )
    vector = np.frombuffer(row[0], dtype="<f4")
    near = [n for n in meaning_ranking(db, vector, filters, limit + 1) if n[0] != segment_id]
    found = keyword.hits(db, [(i, round(1 - d, 4)) for i, d in near[:limit]], {}, filters.codes)
    for hit in found:
        hit["found_by"], hit["similarity"], hit["theme_match"] = [MEANING], hit["score"], []
    return found
