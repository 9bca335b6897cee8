"""The segment vectors' index: a sqlite-vec ``vec0`` table over ``segment_embeddings``.

The float vectors themselves are a plain table (migration 13), so every database opens
without the extension. The index is made by ``ensure_vector_index`` on connections where
sqlite-vec loads, not by a migration: a migration that needs an extension would make
the file unopenable without it. Triggers on the plain table list changed segments in
``vector_queue`` (they need no extension), and the next connection with the extension
applies them, so a writer without sqlite-vec never leaves the index wrong for long.

The index holds each vector quantised to one bit per dimension (48 bytes instead of
1,536): the nearest candidates by Hamming distance are re-scored with the float
vectors. Ranking k candidates costs sqlite-vec k passes over every chunk, so the
candidates are gathered in two cheaper passes: the Hamming radius of the nearest few in
one of SAMPLES partitions, then every vector within that radius (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib.util
import logging
import math
from typing import Any

import numpy as np
import sqlite_utils

from pipeline.store.transactions import transaction

log = logging.getLogger(__name__)

DIMENSIONS = 384  # all-MiniLM-L6-v2; vectors of another size are not indexed
INDEX = "segment_vectors"
SAMPLES = 8  # partitions by segment id: one of them estimates the candidates' radius
COARSE = 200  # Hamming candidates re-scored with float vectors (recall: docs/benchmarks.md)
MAX_K = 4096  # sqlite-vec's largest k
EXACT_BELOW = 10_000  # fewer vectors than this are all scored exactly (3.6 µs each)


def available() -> bool:
    """sqlite-vec is installed and the SQLite driver may load extensions."""
    from sqlite_utils.utils import sqlite3

    loadable = hasattr(sqlite3.Connection, "enable_load_extension")
    return loadable and importlib.util.find_spec("sqlite_vec") is not None


def load(conn: Any) -> bool:
    """Load sqlite-vec into a connection; False where it cannot be."""
    if not available():
        return False
    import sqlite_vec

    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
    except Exception as exc:  # the driver's own error classes differ: keyword search goes on
        log.warning("sqlite-vec did not load (%s): keyword search only", exc)
        return False
    return True


def loaded(db: sqlite_utils.Database) -> bool:
    try:
        db.execute("select vec_version()")
    except Exception:
        return False
    return True


def usable(db: sqlite_utils.Database) -> bool:
    """Vector search can run here: the extension is loaded and the index exists."""
    return loaded(db) and db[INDEX].exists()


def encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def ensure_vector_index(db: sqlite_utils.Database) -> None:
    """Create the index if it is missing (queueing every stored vector) and apply the
    queue. Idempotent; a no-op costs one lookup."""
    if not db[INDEX].exists():
        with transaction(db):
            db.execute(
                f"create virtual table if not exists {INDEX} using vec0("
                f"sample integer partition key, embedding bit[{DIMENSIONS}])"
            )
            db.execute(
                "insert or ignore into vector_queue select segment_id from segment_embeddings"
            )
    if db.execute("select 1 from vector_queue limit 1").fetchone():
        with transaction(db):
            apply_queue(db)


def apply_queue(db: sqlite_utils.Database, fresh: bool = False) -> None:
    """Bring the index in line with segment_embeddings for every queued segment (inside
    the caller's transaction); ``fresh``: the index is new, nothing to delete."""
    queued = [] if fresh else [row[0] for row in db.execute("select segment_id from vector_queue")]
    for segment_id in queued:
        db.execute(f"delete from {INDEX} where rowid = ?", [segment_id])
    db.execute(
        f"""insert into {INDEX} (rowid, sample, embedding)
        select e.segment_id, e.segment_id % {SAMPLES}, vec_quantize_binary(e.vector)
        from vector_queue q join segment_embeddings e on e.segment_id = q.segment_id
        where length(e.vector) = {DIMENSIONS * 4}"""
    )
    db.execute("delete from vector_queue")
    log.debug("vector index: %d segments updated", len(queued))


def nearest(
    db: sqlite_utils.Database,
    query: np.ndarray,
    model: str,
    limit: int,
    where: str = "1",
    params: dict[str, Any] | None = None,
    joins: str = "",
) -> list[tuple[int, float]]:
    """(segment id, cosine distance) of the ``limit`` segments closest to ``query``
    among those ``where`` keeps (SQL over ``segments s`` and ``joins``), closest first.

    The filter is part of the search, never applied to a cut list: a filter keeping
    few segments scores them all exactly, a wider one restricts the index scan."""
    params = {**(params or {}), "query": encode(query), "model": model}
    kept = f"select s.id from segments s {joins} where {where}" if where != "1" else None
    scope = kept or "select segment_id from segment_embeddings"
    count = db.execute(f"select count(*) from ({scope} limit {EXACT_BELOW})", params).fetchone()
    if count[0] < EXACT_BELOW:
        return _rescored(db, scope, params, limit)
    candidates = _candidates(db, params, max(COARSE, limit * 4), kept)
    if not candidates:
        return []
    marks = ",".join(str(int(c)) for c in candidates)
    return _rescored(db, marks, params, limit)


def _candidates(
    db: sqlite_utils.Database, params: dict[str, Any], wanted: int, kept: str | None
) -> list[int]:
    """Segment ids within the Hamming radius that holds about ``wanted`` vectors."""
    restrict = f" and rowid in ({kept})" if kept else ""
    knn = f"embedding match vec_quantize_binary(:query){restrict}"
    per_sample = min(MAX_K, math.ceil(wanted / SAMPLES))
    nearest_in_sample = db.execute(
        f"select distance from {INDEX} where {knn} and k = {per_sample} and sample = 0", params
    ).fetchall()
    radius = max((row[0] for row in nearest_in_sample), default=None)
    if radius is None:  # the first partition has none of the kept segments
        rows = db.execute(f"select rowid from {INDEX} where {knn} and k = {wanted}", params)
        return [row[0] for row in rows]
    rows = db.execute(
        f"select rowid from {INDEX} where {knn} and k = {MAX_K} and distance <= :radius",
        {**params, "radius": radius},
    )
    return [row[0] for row in rows]


def _rescored(
    db: sqlite_utils.Database, ids: str, params: dict[str, Any], limit: int
) -> list[tuple[int, float]]:
    """The float cosine distance of the segments ``ids`` (a list or a subquery) that
    are still searchable (a segment flagged since it was embedded is left out)."""
    from pipeline.transcribe.guard import SEARCHABLE

    searchable = ",".join(f"'{q}'" for q in SEARCHABLE)
    rows = db.execute(
        f"""select e.segment_id, vec_distance_cosine(e.vector, :query) as distance
        from segment_embeddings e join segments s on s.id = e.segment_id
        where e.segment_id in ({ids}) and e.model = :model
          and length(e.vector) = {DIMENSIONS * 4} and s.quality in ({searchable})
        order by distance, e.segment_id limit {int(limit)}""",
        params,
    )
    return [(row[0], float(row[1])) for row in rows]


def exact_nearest(
    db: sqlite_utils.Database, query: np.ndarray, model: str, limit: int
) -> list[tuple[int, float]]:
    """Every vector scored in float: what ``nearest`` is measured against."""
    params = {"query": encode(query), "model": model}
    return _rescored(db, "select segment_id from segment_embeddings", params, limit)
