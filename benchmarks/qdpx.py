"""REFI-QDA export at scale: a synthetic corpus of 1,000 episodes (120 segments each,
machine codes on every 8th segment, two people's codings and memos on every 50th)
exported with the real `write_qdpx`, against the same project built whole in memory
(one ElementTree, then written), each in a fresh process so peak memory is its own.

The corpus is cached in data/bench/ (rebuilt when its parameters change).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import sqlite_utils

import pipeline.store.db as dbmod
from pipeline.analysis.codebook import load_codebook
from pipeline.analysis.stage import ensure_themes

from . import ROOT, machine, table, write_section
from .search import vocabulary

SEGMENTS_PER_EPISODE = 120
CODERS = ("ann", "bob")


def build(path: Path, episodes: int, seed: int = 18) -> sqlite_utils.Database:
    marker = path.with_suffix(".json")
    wanted = {"episodes": episodes, "seed": seed, "schema": dbmod.SCHEMA_VERSION}
    if path.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        return dbmod.connect(path)
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    db = dbmod.connect(path)
    ensure_themes(db, load_codebook(validate=False))
    themes = [row[0] for row in db.execute("select id from themes order by id")]
    rng = random.Random(seed)
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]
    with dbmod.transaction(db):
        db.execute("insert into feeds (id, url, title) values (1, 'http://bench/feed', 'Bench')")
        db.table("people").insert({"id": 1, "name": "Dana Whitfield"})
        for n in range(episodes):
            _episode(db, n, episodes, rng, words, weights, themes)
    marker.write_text(json.dumps(wanted))
    return db


def _episode(
    db: sqlite_utils.Database,
    n: int,
    episodes: int,
    rng: random.Random,
    words: list[str],
    weights: list[float],
    themes: list[str],
) -> None:
    episode = f"e{n:05d}"
    db.table("episodes").insert(
        {
            "id": episode,
            "feed_id": 1,
            "guid": f"g{n}",
            "title": f"Episode {n}",
            "published": f"{2015 + n * 10 // episodes}-{1 + n % 12:02d}-01T07:00:00Z",
            "enclosure_url": f"http://bench/{episode}.mp3",
            "status": "analysed",
        }
    )
    db.conn.executemany(
        "insert into segments (episode_id, idx, start_time, end_time, text, speaker)"
        " values (?, ?, ?, ?, ?, ?)",
        [
            (
                episode,
                i,
                i * 6.0,
                i * 6.0 + 5,
                " ".join(rng.choices(words, weights, k=rng.randint(8, 40))),
                ("Dana Whitfield", "Guest")[i % 2],
            )
            for i in range(SEGMENTS_PER_EPISODE)
        ],
    )
    ids = dict(db.execute("select idx, id from segments where episode_id = ?", [episode]))
    db.conn.executemany(
        "insert into theme_mentions (episode_id, segment_id, theme_id, start_time, end_time,"
        " method, score) values (?, ?, ?, ?, ?, 'keyword', 1.0)",
        [
            (episode, ids[i], rng.choice(themes), i * 6.0, i * 6.0 + 5)
            for i in range(0, SEGMENTS_PER_EPISODE, 8)
        ],
    )
    db.conn.executemany(
        "insert into codings (coder, episode_id, segment_idx, theme_id, decision, memo,"
        " coded_at) values (?, ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z')",
        [
            (
                coder,
                episode,
                i,
                rng.choice(themes),
                rng.choice(("applied", "rejected")),
                "a memo on this" if i % 100 == 0 else None,
            )
            for i in range(0, SEGMENTS_PER_EPISODE, 50)
            for coder in CODERS
        ],
    )
    db.table("analyses").insert({"episode_id": episode, "analysed_at": "2026-01-01T00:00:00Z"})
    db.table("episode_people").insert({"episode_id": episode, "person_id": 1, "role": "host"})


def run(mode: str, db_path: Path, out: Path, limit: int | None) -> dict[str, Any]:
    """One export in this process: its wall time and the process's peak memory."""
    from pipeline.query.search import Filters

    db = dbmod.connect(db_path)
    until = None
    if limit:
        until = db.execute(
            "select substr(published, 1, 10) from episodes order by published, id limit 1 offset ?",
            [limit - 1],
        ).fetchone()[0]
    started = time.perf_counter()
    if mode == "stream":
        from pipeline.query.qdpx import write_qdpx

        stats = write_qdpx(db, out, Filters(until=until))
        episodes, codings = stats.episodes, stats.codings
    else:
        episodes, codings = in_memory(db, out, Filters(until=until))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "episodes": episodes,
        "codings": codings,
        "size_mb": out.stat().st_size / 1e6,
    }


def in_memory(db: sqlite_utils.Database, out: Path, filters: Any) -> tuple[int, int]:
    """The alternative: the whole project.qde as one tree in memory, then written."""
    from pipeline.query import qdc, qdpx

    episodes = qdpx._episodes(db, filters)
    stats = qdpx.Stats()
    root = ET.Element("Project", xmlns=qdpx.PROJECT_NS, name="podinsights")
    users = ET.SubElement(root, "Users")
    for name in ("machine", *CODERS):
        ET.SubElement(users, "User", guid=qdc.guid("user", name), name=name)
    ET.SubElement(root, "CodeBook").append(qdc.codebook_codes(db))
    variables = ET.SubElement(root, "Variables")
    for name, kind in qdpx.VARIABLES:
        ET.SubElement(
            variables, "Variable", guid=qdc.guid("variable", name), name=name, typeOfVariable=kind
        )
    sources = ET.SubElement(root, "Sources")
    notes: list[ET.Element] = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for episode in episodes:
            sources.append(qdpx._source(db, episode, archive, None, notes, stats))
        if notes:
            ET.SubElement(root, "Notes").extend(notes)
        archive.writestr("project.qde", ET.tostring(root, encoding="utf-8"))
    return len(episodes), stats.codings


def child(mode: str, db_path: Path, out: Path, limit: int | None) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "qdpx",
        "--run",
        mode,
        "--path",
        str(db_path),
        "--out",
        str(out),
    ] + (["--limit", str(limit)] if limit else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


def check(out: Path, expected: int) -> int:
    """Count the project's codings by reading project.qde back as a stream."""
    with zipfile.ZipFile(out) as archive, archive.open("project.qde") as qde:
        count = sum(1 for _, el in ET.iterparse(qde) if el.tag.endswith("}PlainTextSelection"))
    assert count == expected, (count, expected)
    return count


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks qdpx")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--path", type=Path, default=ROOT / "data" / "bench" / "qdpx.db")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench" / "bench.qdpx")
    parser.add_argument("--run", choices=("stream", "memory"))
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run(args.run, args.path, args.out, args.limit)))
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    db = build(args.path, args.episodes)
    built = time.perf_counter() - started
    rows, results = [], {}
    for limit in (args.episodes // 10, None):
        for mode in ("stream", "memory"):
            result = child(mode, args.path, args.out, limit)
            check(args.out, result["codings"])
            results[(mode, limit)] = result
            label = "write_qdpx (streamed)" if mode == "stream" else "one tree in memory"
            rows.append(
                [
                    label,
                    f"{result['episodes']:,}",
                    f"{result['codings']:,}",
                    f"{result['seconds']:.1f}",
                    f"{result['peak_mb']:.0f}",
                    f"{result['size_mb']:.1f}",
                ]
            )
            print(rows[-1], file=sys.stderr)
    full_stream, full_memory = results[("stream", None)], results[("memory", None)]
    tenth = results[("stream", args.episodes // 10)]
    text = "\n".join(
        [
            "## REFI-QDA export (`python -m benchmarks qdpx`)",
            "",
            f"Machine: {machine()}.",
            f"Corpus: {db['episodes'].count:,} synthetic episodes of {SEGMENTS_PER_EPISODE}"
            f" segments (8-40 words each), machine codes on every 8th segment, two people's"
            f" decisions on every 50th (half of them rejections; memos on every 100th); database"
            f" built in {built:.0f} s, cached. Each export ran in a fresh process (`--run`), and"
            " its project.qde was read back as a stream to count every coding; peak RSS is the"
            " process's whole (Python, sqlite and the module imports included).",
            "",
            table(["export", "episodes", "codings", "seconds", "peak RSS MB", "qdpx MB"], rows),
            "",
            f"1,000 episodes: {full_stream['seconds']:.1f} s streamed. Peak memory"
            f" {tenth['peak_mb']:.0f} MB for a tenth of the corpus and"
            f" {full_stream['peak_mb']:.0f} MB for all of it (streamed: one episode at a time),"
            f" against {full_memory['peak_mb']:.0f} MB for the same project built whole in"
            f" memory, a ratio of {full_memory['peak_mb'] / full_stream['peak_mb']:.1f}x; the"
            f" in-memory build took {full_memory['seconds']:.1f} s.",
        ]
    )
    write_section("qdpx", text)
    return 0
