"""Hybrid search at a million segments (part of `python -m benchmarks search`): the
vector half through the partitioned int8 index against exact float search (recall@20 and time),
and the fused query against keyword search alone, on the same corpus and queries."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline.query import hybrid
from pipeline.query.search import Filters, search
from pipeline.store import vectors

from . import ROOT, table
from .retrieval import QUERIES
from .retrieval import run as retrieval

MODEL = "all-MiniLM-L6-v2"
SHARES = (0.01, 0.02, 0.04, 0.08)


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]


def timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def row(label: str, times: list[float]) -> list[object]:
    return [label, len(times), f"{statistics.median(times):.1f}", f"{p95(times):.1f}"]


def embedding_cost() -> tuple[float, float]:
    """Seconds to embed the demo's segment texts per hour of its audio (one thread)."""
    from benchmarks.themes import as_segments
    from pipeline.analysis.semantic import embedder

    scripts = sorted((ROOT / "data" / "demo" / "episodes").glob("*.toml"))
    import tomllib

    texts, seconds = [], 0.0
    for script in scripts:
        document = tomllib.loads(script.read_text())
        for line in document.get("lines", []):
            for segment in as_segments(line.get("text", "")):
                texts.append(segment.text)
                seconds += segment.end - segment.start
    embedder().embed(texts[:8])  # warm
    started = time.perf_counter()
    embedder().embed(texts)
    spent = time.perf_counter() - started
    return spent / (seconds / 3600), len(texts)


def probe_sweep(db: sqlite_utils.Database, queries: list[Any], exact: list[set[int]]) -> str:
    """Recall@20 and time of the vector half for other shares of partitions scanned."""
    default, rows = vectors.PROBE_SHARE, []
    try:
        for share in SHARES:
            vectors.PROBE_SHARE = share
            recall, times = [], []
            for query, truth in zip(queries, exact, strict=True):
                started = time.perf_counter()
                found = {i for i, _ in vectors.nearest(db, query, MODEL, 20)}
                times.append((time.perf_counter() - started) * 1000)
                recall.append(len(found & truth) / 20)
            rows.append(
                [
                    f"{share:.0%}",
                    f"{statistics.mean(recall):.3f}",
                    f"{min(recall):.2f}",
                    f"{statistics.median(times):.1f}",
                    f"{p95(times):.1f}",
                ]
            )
    finally:
        vectors.PROBE_SHARE = default
    return table(["partitions scanned", "recall@20", "worst query", "p50 ms", "p95 ms"], rows)


def hybrid_section(db: sqlite_utils.Database, path: Path, build_seconds: float) -> str:
    quality, best = retrieval()
    hybrid.WEIGHTS.update(  # measure what was chosen
        {hybrid.WORDS: best["words"], hybrid.MEANING: best["meaning"], hybrid.THEME: best["theme"]}
    )
    texts = [json.loads(line)["query"] for line in QUERIES.read_text().splitlines() if line]
    embedded = {t: hybrid.embed_query(t) for t in texts}
    recalls, index_times, exact_times = [], [], []
    exact_sets: list[set[int]] = []
    for text in texts:
        started = time.perf_counter()
        exact = vectors.exact_nearest(db, embedded[text], MODEL, 20)
        exact_times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        found = vectors.nearest(db, embedded[text], MODEL, 20)
        index_times.append((time.perf_counter() - started) * 1000)
        recalls.append(len({i for i, _ in exact} & {i for i, _ in found}) / 20)
        exact_sets.append({i for i, _ in exact})
    print(f"vector recall@20 {statistics.mean(recalls):.3f}", file=sys.stderr)
    sweep = probe_sweep(db, [embedded[t] for t in texts], exact_sets)
    rows, keyword_times, hybrid_times = [], [], []
    for text in texts:
        keyword_times.append(timed(lambda t=text: search(db, t, Filters())))
        hybrid_times.append(timed(lambda t=text: hybrid.search(db, t, mode=hybrid.HYBRID)))
    semantic_times = [
        timed(lambda t=t: hybrid.meaning_ranking(db, embedded[t], Filters(), 100)) for t in texts
    ]
    embed_times = [timed(lambda t=t: hybrid.embed_query.__wrapped__(t)) for t in texts[:10]]  # type: ignore[attr-defined]
    dated = Filters(since="2018-01-01", until="2019-12-31")
    themed = Filters(theme="trust")
    dated_times = [
        timed(lambda t=t: hybrid.search(db, t, dated, mode=hybrid.HYBRID)) for t in texts[:10]
    ]
    themed_times = [
        timed(lambda t=t: hybrid.search(db, t, themed, mode=hybrid.HYBRID)) for t in texts[:10]
    ]
    tagged = db.execute(
        "select count(distinct segment_id) from theme_mentions where theme_id = 'trust'"
    ).fetchone()[0]
    rows = [
        row("keyword only (search(), the same query texts)", keyword_times),
        row("vector half: partitioned int8 index + float re-scoring (100 nearest)", semantic_times),
        row("vector half: exact float scan of every vector (20 nearest)", exact_times),
        row("query embedding (MiniLM, model loaded)", embed_times),
        row("hybrid: embedding, words, meaning, themes, fusion, hits", hybrid_times),
        row("hybrid + date range (2 of 10 years: index scan restricted)", dated_times),
        row(f"hybrid + theme filter ({tagged:,} segments: scored exactly)", themed_times),
    ]
    marker = json.loads(path.with_suffix(".json").read_text())
    size = path.stat().st_size / 1e6
    extra = size - marker.get("text_mb", size)
    segments = db["segments"].count
    partitions = db[vectors.CENTROIDS].count
    cost, count = embedding_cost()
    ratio = statistics.median(hybrid_times) / statistics.median(keyword_times)
    return "\n".join(
        [
            "### Hybrid search at scale",
            "",
            f"The same {segments:,} segments, each with a 384-dimension vector mixed from two"
            " real MiniLM embeddings of training-passage sentences plus noise (so the corpus has"
            " clusters, as talk does); the queries are the 46 of tests/eval/retrieval.jsonl,"
            " embedded for real. Vectors add"
            f" {extra:,.0f} MB to the database ({extra * 1e6 / segments:,.0f} bytes a segment:"
            " 1,536 of float32 kept for re-scoring, 384 of int8 index, keys and pages), i.e."
            f" {extra * 1e6 / segments * 1e6 / 1e9:.1f} GB per million segments. Training the"
            f" partitions (k-means) and indexing every vector took"
            f" {marker.get('index_seconds', 0):.0f} s; it is done again when the vectors have"
            f" grown {vectors.GROWTH}-fold.",
            "",
            table(["query", "runs", "p50 ms", "p95 ms"], rows),
            "",
            f"Recall@20 of the vector half ({partitions:,} k-means partitions, the nearest"
            f" {vectors.PROBE_SHARE:.0%} scanned in int8, the best {vectors.COARSE} re-scored in"
            f" float) against exact float search: {statistics.mean(recalls):.3f}"
            f" (min {min(recalls):.2f}) over {len(recalls)} queries."
            f" Hybrid costs {ratio:.1f}x keyword search alone (median)."
            f" Embedding cost: analysis embeds every segment already (nothing extra to search"
            f" by meaning); embedding {count} demo-script sentences took {cost:.1f} s per hour"
            " of audio on one thread.",
            "",
            "Scanning more partitions buys recall at the cost of time (the same queries; the"
            f" default is {vectors.PROBE_SHARE:.0%}):",
            "",
            sweep,
            "",
            quality,
        ]
    )
