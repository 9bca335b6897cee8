"""The segment vectors' index: a sqlite-vec ``vec0`` table over ``segment_embeddings``.

The float vectors themselves are a plain table (migration 13), so every database opens
without the extension. The index is made by ``ensure_vector_index`` on connections where
sqlite-vec loads, not by a migration: a migration that needs an extension would make
the file unopenable without it. Triggers on the plain table list changed segments in
``vector_queue`` (they need no extension), and the next connection with the extension
applies them, so a writer without sqlite-vec never leaves the index wrong for long.

The index is partitioned (store/partitions.py: k-means, sqrt(N) partitions) and holds
each vector as int8 (384 bytes instead of 1,536): a search scans the partitions nearest
the query, ranks each one's vectors in int8, and re-scores the best candidates with the
float vectors. Partitions are trained again when the vectors have grown fourfold since.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np
import sqlite_utils

from pipeline.store import partitions
from pipeline.store.transactions import transaction

log = logging.getLogger(__name__)

DIMENSIONS = 384  # all-MiniLM-L6-v2; vectors of another size are not indexed
INDEX = "segment_vectors"
CENTROIDS = "segment_vector_centroids"  # plain table: partition, centroid (float32)
PROBE_SHARE = 0.04  # of partitions scanned (recall against exact: docs/benchmarks.md)
COARSE = 200  # int8 candidates re-scored with float vectors (at least 4 x the limit)
GROWTH = 4  # train again once the vectors outnumber GROWTH x partitions^2 (4x since)
INT8_RANGE = 0.35  # |component| mapped to 127: MiniLM's unit vectors stay below 0.31
MAX_K = 4096  # sqlite-vec's largest k
EXACT_BELOW = 10_000  # fewer vectors than this are all scored exactly (3.6 µs each)
BATCH = 20_000  # vectors read, assigned and indexed at a time


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
    """Vector search can run here: the extension is loaded and the index exists (in
    this version's form: an older index is rebuilt by the next writer)."""
    return loaded(db) and db[INDEX].exists() and db[CENTROIDS].exists()


def encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def decode(blobs: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), DIMENSIONS)


def quantize(vector: np.ndarray) -> bytes:
    """int8 components: INT8_RANGE maps to 127 (the rare larger component is clipped)."""
    scaled = np.round(np.asarray(vector, dtype=np.float32) * (127 / INT8_RANGE))
    return np.clip(scaled, -127, 127).astype(np.int8).tobytes()


def ensure_vector_index(db: sqlite_utils.Database) -> None:
    """Create the index if it is missing and apply the queue. Idempotent; a no-op
    costs two lookups (this runs on every connection)."""
    if not (db[INDEX].exists() and db[CENTROIDS].exists()):
        with transaction(db):
            rebuild(db)
    elif db.execute("select 1 from vector_queue limit 1").fetchone():
        with transaction(db):
            apply_queue(db)


def _outgrown(db: sqlite_utils.Database) -> bool:
    """The index holds more than GROWTH x partitions^2 vectors. Counts the vectors
    indexed (vec0's rowid table), not those stored: vectors of another size are never
    indexed, so counting them would train again on every write."""
    partitions = db.execute(f"select count(*) from {CENTROIDS}").fetchone()[0]
    indexed = db.execute(f"select count(*) from {INDEX}_rowids").fetchone()[0]
    return bool(indexed > GROWTH * max(partitions, 1) ** 2)


def rebuild(db: sqlite_utils.Database) -> None:
    """Train partitions on the stored vectors and index every one (inside the caller's
    transaction)."""
    stored = db.execute(
        f"select count(*) from segment_embeddings where length(vector) = {DIMENSIONS * 4}"
    ).fetchone()[0]
    count = partitions.partition_count(stored)
    step = max(1, stored // (count * partitions.SAMPLE_PER_CENTROID))
    sample = decode([row[0] for row in db.execute(_vectors_sql(f"rowid % {step} = 0"))])
    centroids = partitions.train(sample, count) if len(sample) else np.zeros((0, DIMENSIONS))
    db.execute(f"drop table if exists {INDEX}")
    db.execute(f"drop table if exists {CENTROIDS}")
    db.execute(
        f"create virtual table {INDEX} using vec0("
        f"partition integer partition key, embedding int8[{DIMENSIONS}])"
    )
    db.execute(f"create table {CENTROIDS} (partition integer primary key, centroid blob)")
    db.conn.executemany(
        f"insert into {CENTROIDS} values (?, ?)", [(i, encode(c)) for i, c in enumerate(centroids)]
    )
    _index(db, db.execute(_vectors_sql("1", ids=True)), centroids)
    db.execute("delete from vector_queue")
    log.info("vector index: %d vectors in %d partitions", stored, len(centroids))


def _vectors_sql(where: str, ids: bool = False) -> str:
    columns = "segment_id, vector" if ids else "vector"
    return (
        f"select {columns} from segment_embeddings"
        f" where length(vector) = {DIMENSIONS * 4} and {where}"
    )


def _index(db: sqlite_utils.Database, rows: Any, centroids: np.ndarray) -> None:
    """Add (segment id, float blob) rows to the index, each in its nearest partition."""
    while batch := rows.fetchmany(BATCH):
        found = decode([vector for _, vector in batch])
        labels = partitions.assign(found, centroids) if len(centroids) else [0] * len(batch)
        db.conn.executemany(
            f"insert into {INDEX} (rowid, partition, embedding) values (?, ?, vec_int8(?))",
            [
                (segment_id, int(label), quantize(vector))
                for (segment_id, _), label, vector in zip(batch, labels, found, strict=True)
            ],
        )


def apply_queue(db: sqlite_utils.Database) -> None:
    """Bring the index in line with segment_embeddings for every queued segment (inside
    the caller's transaction), and train the partitions again if the vectors outgrew them."""
    queued = [row[0] for row in db.execute("select segment_id from vector_queue")]
    for segment_id in queued:
        db.execute(f"delete from {INDEX} where rowid = ?", [segment_id])
    rows = db.conn.execute(
        "select e.segment_id, e.vector from vector_queue q"
        " join segment_embeddings e on e.segment_id = q.segment_id"
        f" where length(e.vector) = {DIMENSIONS * 4}"
    )
    _index(db, rows, _centroids(db))
    db.execute("delete from vector_queue")
    log.debug("vector index: %d segments updated", len(queued))
    if _outgrown(db):
        rebuild(db)


def _centroids(db: sqlite_utils.Database) -> np.ndarray:
    blobs = [row[0] for row in db.execute(f"select centroid from {CENTROIDS} order by partition")]
    return decode(blobs) if blobs else np.zeros((0, DIMENSIONS), dtype=np.float32)


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
    few segments scores them all exactly; a wider one is applied to every candidate of
    the partitions scanned, which are read deeper until enough of them pass it."""
    params = {**(params or {}), "query": encode(query), "model": model}
    kept = f"select s.id from segments s {joins} where {where}" if where != "1" else None
    scope = kept or "select segment_id from segment_embeddings"
    count = db.execute(f"select count(*) from ({scope} limit {EXACT_BELOW})", params).fetchone()
    if count[0] < EXACT_BELOW:
        return _rescored(db, scope, params, limit)
    order = partitions.nearest_partitions(query, _centroids(db))
    probes, depth = partitions.probes(len(order), PROBE_SHARE), limit
    while True:
        candidates, full = _candidates(db, quantize(query), order[:probes], depth)
        if kept is None:
            candidates = candidates[: max(COARSE, limit * 4)]
        marks = ",".join(str(c) for c in candidates)
        found = _rescored(db, marks, params, limit, joins, where)
        if len(found) >= limit:
            return found
        if full and depth < MAX_K:  # the filter left too few: read the partitions deeper
            depth = min(MAX_K, depth * 4)
        elif probes < len(order):  # and then more partitions
            probes = min(len(order), probes * 4)
        else:
            return found


def _candidates(
    db: sqlite_utils.Database, query: bytes, probed: list[int], depth: int
) -> tuple[list[int], bool]:
    """Segment ids of the ``depth`` nearest in each partition ``probed``, nearest first
    (by int8 distance), and whether a partition had more; one query per partition
    (sqlite-vec scans a list of them slower)."""
    found: list[tuple[float, int]] = []
    full = False
    for partition in probed:
        rows = db.execute(
            f"select distance, rowid from {INDEX} where embedding match vec_int8(:query)"
            f" and k = {depth} and partition = :partition",
            {"query": query, "partition": partition},
        ).fetchall()
        full = full or len(rows) == depth
        found += rows
    return [rowid for _, rowid in sorted(found)], full


def _rescored(
    db: sqlite_utils.Database,
    ids: str,
    params: dict[str, Any],
    limit: int,
    joins: str = "",
    where: str = "1",
) -> list[tuple[int, float]]:
    """The float cosine distance of the segments ``ids`` (a list or a subquery) that
    ``where`` keeps and are still searchable (one flagged since it was embedded is not)."""
    from pipeline.transcribe.guard import SEARCHABLE

    searchable = ",".join(f"'{q}'" for q in SEARCHABLE)
    rows = db.execute(
        f"""select v.segment_id, vec_distance_cosine(v.vector, :query) as distance
        from segment_embeddings v join segments s on s.id = v.segment_id {joins}
        where v.segment_id in ({ids}) and v.model = :model and ({where})
          and length(v.vector) = {DIMENSIONS * 4} and s.quality in ({searchable})
        order by distance, v.segment_id limit {int(limit)}""",
        params,
    )
    return [(row[0], float(row[1])) for row in rows]


def exact_nearest(
    db: sqlite_utils.Database, query: np.ndarray, model: str, limit: int
) -> list[tuple[int, float]]:
    """Every vector scored in float: what ``nearest`` is measured against."""
    params = {"query": encode(query), "model": model}
    return _rescored(db, "select segment_id from segment_embeddings", params, limit)
