"""Retrieval quality of search by words, meaning and theme (`python -m benchmarks search`).

Corpus: the labelled passages of tests/eval/themes.jsonl, each analysed as an episode
of Whisper-like segments (one a sentence) by the real analysis, vectors included.
Queries: tests/eval/retrieval.jsonl, written from the codebook's theme definitions; a
passage answers a query when it is labelled with the query's theme. RRF's weights, k
and the meaning floor are chosen on the dev half (odd passages, dev queries) and only
measured on the test half (even passages, test queries).
"""

from __future__ import annotations

import functools
import itertools
import json
from typing import Any

import sqlite_utils

import pipeline.store.db as dbmod
from pipeline.analysis.engine import Analyzer
from pipeline.analysis.stage import ensure_themes, save_analysis
from pipeline.analysis.training import load_passages, split
from pipeline.query import hybrid

from . import ROOT, table
from .themes import as_segments

QUERIES = ROOT / "tests" / "eval" / "retrieval.jsonl"
DEPTH = 10  # recall@10 and MRR over the first ten passages
GRID = {
    "rrf_k": (10, 30, 60),
    "words": (0.5, 1.0),
    "meaning": (0.5, 1.0, 2.0),
    "theme": (0.5, 1.0, 2.0),
    # Not lower: below 0.3 a query about nothing the shows discuss ("zebra" on the demo,
    # 0.25 at best) would still list moments "found by meaning".
    "min_similarity": (0.3,),
}


def corpus(analyzer: Analyzer, passages: list[dict[str, Any]]) -> sqlite_utils.Database:
    db = dbmod.connect(":memory:")
    ensure_themes(db, analyzer.codebook)
    db.table("feeds").insert({"id": 1, "url": "http://eval/feed", "title": "Eval"})
    for passage in passages:
        db.table("episodes").insert({"id": passage["id"], "feed_id": 1, "guid": passage["id"]})
        segments = as_segments(passage["text"])
        db.table("segments").insert_all(
            {
                "episode_id": passage["id"],
                "idx": s.index,
                "start_time": s.start,
                "end_time": s.end,
                "text": s.text,
            }
            for s in segments
        )
        ids = [
            r[0]
            for r in db.execute(
                "select id from segments where episode_id = ? order by idx", [passage["id"]]
            )
        ]
        save_analysis(db, passage["id"], ids, analyzer.analyze(segments), analyzer.provenance)
    return db


def ranked_passages(db: sqlite_utils.Database, query: str, mode: str, **options: Any) -> list[str]:
    """The passages of the hits, in the order their first hit comes."""
    hits = hybrid.search(db, query, limit=60, mode=mode, **options)
    return list(dict.fromkeys(hit["episode_id"] for hit in hits))


def scores(
    db: sqlite_utils.Database,
    queries: list[dict[str, Any]],
    relevant: dict[str, set[str]],
    mode: str,
    **options: Any,
) -> tuple[float, float]:
    """Mean recall@10 (of min(10, answers)) and MRR over the queries."""
    recall = mrr = 0.0
    for query in queries:
        answers = set().union(*(relevant.get(t, set()) for t in query["themes"]))
        found = ranked_passages(db, query["query"], mode, **options)[:DEPTH]
        recall += len(answers & set(found)) / min(DEPTH, len(answers))
        first = next((rank for rank, p in enumerate(found, 1) if p in answers), None)
        mrr += 1 / first if first else 0.0
    return round(recall / len(queries), 3), round(mrr / len(queries), 3)


def options_of(choice: dict[str, float]) -> dict[str, Any]:
    weights = {
        hybrid.WORDS: choice["words"],
        hybrid.MEANING: choice["meaning"],
        hybrid.THEME: choice["theme"],
    }
    return {
        "weights": weights,
        "rrf_k": int(choice["rrf_k"]),
        "min_similarity": choice["min_similarity"],
    }


def run() -> tuple[str, dict[str, Any]]:
    """The section text, and the chosen settings."""
    # A query is embedded once, however many settings are tried with it.
    hybrid.embed_query = functools.lru_cache(maxsize=None)(hybrid.embed_query)
    analyzer = Analyzer()
    passages = load_passages()
    queries = [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]
    parts = {}
    for part in ("dev", "test"):
        chosen = split(passages, part)
        relevant: dict[str, set[str]] = {}
        for passage in chosen:
            for theme in passage["themes"]:
                relevant.setdefault(theme, set()).add(passage["id"])
        parts[part] = (
            corpus(analyzer, chosen),
            [q for q in queries if q["split"] == part],
            relevant,
        )
    dev_db, dev_queries, dev_relevant = parts["dev"]
    grid = []
    for values in itertools.product(*GRID.values()):
        choice = dict(zip(GRID, values, strict=True))
        recall, mrr = scores(dev_db, dev_queries, dev_relevant, hybrid.HYBRID, **options_of(choice))
        grid.append((mrr, recall, choice))
    best_mrr, best_recall, best = max(grid, key=lambda g: (g[0], g[1]))
    rows = []
    test_db, test_queries, test_relevant = parts["test"]
    for mode, options in (
        (hybrid.KEYWORD, {}),
        (hybrid.SEMANTIC, {"min_similarity": best["min_similarity"]}),
        (hybrid.HYBRID, options_of(best)),
    ):
        dev = scores(dev_db, dev_queries, dev_relevant, mode, **options)
        test = scores(test_db, test_queries, test_relevant, mode, **options)
        rows.append([mode, *dev, *test])
    text = "\n".join(
        [
            "### Retrieval quality (words, meaning, hybrid)",
            "",
            f"Corpus: the {len(passages)} labelled passages of tests/eval/themes.jsonl, each"
            " analysed as one episode of sentence segments by the real analysis (keywords,"
            " classifier,"
            f" MiniLM vectors). Queries: tests/eval/retrieval.jsonl ({len(dev_queries)} dev,"
            f" {len(test_queries)} test), written from the codebook's theme definitions; a passage"
            " answers a query when it is labelled with the query's theme. recall@10 is the share"
            " of min(10, answers) among the first ten passages; MRR the mean of 1 / rank of the"
            f" first answer. Settings chosen on dev over {len(grid)} combinations"
            f" ({', '.join(f'{k} {v}' for k, v in GRID.items())}): k = {best['rrf_k']}, weights"
            f" words {best['words']}, meaning {best['meaning']}, theme {best['theme']}, meaning"
            f" floor {best['min_similarity']} (dev MRR {best_mrr}, recall@10 {best_recall}).",
            "",
            table(["mode", "dev recall@10", "dev MRR", "test recall@10", "test MRR"], rows),
        ]
    )
    return text, best
