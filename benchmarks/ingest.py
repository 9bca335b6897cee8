"""End-to-end benchmark: the demo podcast from an empty database, the stages overlapped
(`ingest`) against the stages one after another, a no-op night with 50 feeds, 1 against
2 Dask workers, and the peak memory of the whole process tree."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import ROOT, local_cluster, machine, table, write_section

DEMO_FEED = ROOT / "data" / "demo" / "feed.xml"


def podinsights(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "--db", str(db), "--quiet", *args]


def subscribe(db: Path, *feeds: Path) -> None:
    """Subscriptions made before the clock starts (as `feeds add` would make them)."""
    from pipeline.feeds.subscriptions import add_feed
    from pipeline.store.db import connect

    db.parent.mkdir(parents=True, exist_ok=True)
    database = connect(db)
    for feed in feeds:
        add_feed(database, str(feed))
    database.close()


def run_measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak MB of the process and all its children, sampled every 50 ms)."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(process.pid)
        while not stop.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree) / 1e6)
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = process.communicate()
    stop.set()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed: {err.decode()[-2000:]}")
    return time.perf_counter() - started, peak


def overlapped_vs_sequential(scratch: Path) -> dict[str, Any]:
    subscribe(scratch / "a" / "p.db", DEMO_FEED)
    # No digest: the stages run one after another write none either.
    overlapped, peak = run_measured(podinsights(scratch / "a" / "p.db", "ingest", "--no-report"))
    analysis_share = analysis_vs_transcription(scratch / "a" / "p.db")
    db = scratch / "b" / "p.db"
    subscribe(db, DEMO_FEED)
    stages: dict[str, float] = {}
    for name, args in (
        ("poll", ["poll"]),
        ("download", ["download"]),
        ("transcribe", ["transcribe"]),
        ("diarize", ["diarize"]),  # ingest diarizes where the extra is installed
        ("analyze", ["analyze"]),
    ):
        stages[name], _ = run_measured(podinsights(db, *args))
    return {"overlapped": overlapped, "peak_mb": peak, "stages": stages, **analysis_share}


def analysis_vs_transcription(db: Path) -> dict[str, float]:
    """Per-episode work as the stages record it (models already loaded), over the
    episodes Whisper transcribed: analysis time as a share of transcription time."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        transcribed, analysed, words = conn.execute(
            "select sum(t.wall_time), sum(a.wall_time), sum(a.words) from transcripts t"
            " join analyses a using (episode_id) where t.source = 'whisper'"
        ).fetchone()
    return {"analysis_share": analysed / transcribed, "analysis_wps": words / analysed}


def noop_night(scratch: Path, feeds: int = 50) -> float:
    """50 feeds that have not changed since the last run (their files keep their
    modification time, so each poll is a 304 equivalent): the whole command, start-up
    included, as cron would run it."""
    folder = scratch / "feeds"
    folder.mkdir()
    source = (ROOT / "data" / "demo" / "feed.xml").read_text()
    paths = []
    for n in range(feeds):
        path = folder / f"show{n}" / "feed.xml"
        path.parent.mkdir()
        shutil.copytree(ROOT / "data" / "demo" / "audio", path.parent / "audio")
        path.write_text(
            source.replace("<title>The Long Table</title>", f"<title>Show {n}</title>", 1)
        )
        paths.append(path)
    db = scratch / "noop" / "p.db"
    # The first night subscribes and polls; mark everything done so only the polls remain.
    subscribe(db, *paths)
    subprocess.run(podinsights(db, "poll"), check=True, cwd=ROOT, capture_output=True)
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("update episodes set status = 'analysed'")
    times = [run_measured(podinsights(db, "ingest", "--no-report"))[0] for _ in range(3)]
    return sorted(times)[1]


def dask_scaling(scratch: Path) -> dict[int, float]:
    walls = {}
    for workers in (1, 2):
        with local_cluster(workers) as cluster:
            db = scratch / f"dask{workers}" / "p.db"
            subscribe(db, DEMO_FEED)
            walls[workers], _ = run_measured(
                podinsights(db, "ingest", "--no-report", "--scheduler", cluster.scheduler_address)
            )
    return walls


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ingest")
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        print("overlapped vs sequential ...", file=sys.stderr, flush=True)
        both = overlapped_vs_sequential(scratch)
        print("no-op night ...", file=sys.stderr, flush=True)
        noop = noop_night(scratch)
        print("dask 1 and 2 workers ...", file=sys.stderr, flush=True)
        scaling = dask_scaling(scratch)
    sequential = sum(both["stages"].values())
    rows = [[stage, f"{seconds:.1f}"] for stage, seconds in both["stages"].items()]
    text = "\n".join(
        [
            "## End to end (`python -m benchmarks ingest`)",
            "",
            f"Machine: {machine()}.",
            "The demo podcast (4 episodes, 14 minutes of audio, one with a publisher transcript)"
            " from an empty database; every figure is the wall time of the real command,"
            " Python start-up and model loading included.",
            "",
            "Stages one after another (separate commands):",
            "",
            table(["stage", "seconds"], rows),
            "",
            f"- One after another: {sequential:.1f} s. Overlapped (`ingest`: downloads in threads,"
            " transcription with diarization, and analysis, as tasks in a local process pool,"
            " one writer):"
            f" {both['overlapped']:.1f} s, a speed-up of {sequential / both['overlapped']:.2f}x.",
            f"- Analysis took {both['analysis_share']:.1%} of the time transcription took"
            f" ({both['analysis_wps']:.0f} words per second), as the two stages record it per"
            " episode in `analyses.wall_time` and `transcripts.wall_time` (models loaded).",
            f"- Peak memory of a full ingest (the process and its workers, RSS summed):"
            f" {both['peak_mb']:.0f} MB.",
            f"- A night with nothing new, 50 feeds (each unchanged since the last poll):"
            f" {noop:.2f} s for the whole `podinsights ingest` command (median of 3).",
            f"- Dask (LocalCluster on this machine, one thread per worker): 1 worker"
            f" {scaling[1]:.1f} s, 2 workers {scaling[2]:.1f} s"
            f" ({scaling[1] / scaling[2]:.2f}x); both include starting the workers' models.",
        ]
    )
    print(text)
    print(f"wrote {write_section('ingest', text)}", file=sys.stderr)
    return 0
