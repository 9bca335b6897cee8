"""Crash safety: a real `podinsights ingest` killed at several points, stopped by signals,
and run twice at once; the database stays whole and the next run finishes the work."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.run.lock import run_lock

from .conftest import DEMO, ROOT, subscribe_demo
from .server import Reply

EPISODES = ("ep01", "ep02", "ep04")  # three Whisper episodes (ep03 has a publisher transcript)


def start(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--db", str(db), "--quiet", "ingest", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_for(condition, what: str = "the ingest", timeout: float = 600.0) -> None:
    """Polls until ``condition``; the bound only stops a hung run. A transcription on a
    loaded 2-core machine took over 120 s to reach its first save, so 600."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _stat(path: Path) -> list[str]:
    """A process's state, parent and the rest (Linux /proc/PID/stat, after the name);
    [] once it is gone."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    stats = {int(p.parent.name): _stat(p) for p in Path("/proc").glob("[0-9]*/stat")}
    return [child for child, fields in stats.items() if fields and int(fields[1]) == pid]


def alive(pid: int) -> bool:
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return bool(fields) and fields[0] != "Z"


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # schema not there yet
    finally:
        conn.close()


def statuses(db: Path) -> dict[str, int]:
    return dict(query(db, "select status, count(*) from episodes group by status"))


def assert_whole(db: Path) -> None:
    """What must hold whenever and however a run ended."""
    conn = sqlite3.connect(db)

    def none(sql: str) -> bool:
        return conn.execute(f"select count(*) from ({sql})").fetchone()[0] == 0

    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert none("select 1 from episodes group by feed_id, guid having count(*) > 1")
        # No segments without a transcript, no mentions without their segment.
        assert none(
            "select 1 from segments where episode_id not in (select episode_id from transcripts)"
        )
        assert none(
            "select 1 from theme_mentions where segment_id not in (select id from segments)"
        )
        # Audio recorded as downloaded is complete: its checksum matches the file.
        for path, digest in conn.execute(
            "select audio_path, audio_sha256 from episodes where audio_path is not null"
        ):
            data = (db.parent / path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest
        conn.execute("insert into segments_fts(segments_fts, rank) values ('integrity-check', 1)")
    finally:
        conn.close()


@pytest.fixture
def slow_show(server):
    """The demo's Whisper episodes behind a loopback server that sends audio slowly."""
    for name in EPISODES:
        data = (DEMO / "audio" / f"{name}.mp3").read_bytes()
        chunks = [data[i : i + 64_000] for i in range(0, len(data), 64_000)]
        server.route(f"/{name}.mp3", Reply(200, chunks, {"Content-Type": "audio/mpeg"}, delay=0.1))
    items = "".join(
        f"<item><title>{name}</title><guid>{name}</guid>"
        f'<enclosure url="{server.url(f"/{name}.mp3")}" type="audio/mpeg"/></item>'
        for name in EPISODES
    )
    feed = f'<rss version="2.0"><channel><title>Slow</title>{items}</channel></rss>'
    body = feed.encode()
    server.route(
        "/feed",
        Reply(200, [body[:100], body[100:]], {"Content-Type": "application/rss+xml"}, delay=0.5),
    )
    return server.url("/feed")


def test_sigkill_at_several_points_then_the_next_run_finishes(tmp_path, slow_show, server):
    db = tmp_path / "p.db"
    subprocess.run(
        [sys.executable, "-m", "pipeline", "--db", str(db), "feeds", "add", slow_show],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    moments = [
        ("fetching the feed", lambda: len(server.requests("/feed")) >= 1),
        ("downloading audio", lambda: any(server.requests(f"/{n}.mp3") for n in EPISODES)),
        ("transcribing", lambda: statuses(db).get("downloaded", 0) >= 2),
        ("saving transcripts", lambda: statuses(db).get("transcribed", 0) >= 1),
    ]
    for label, reached in moments:
        process = start(db)
        wait_for(lambda r=reached, p=process: r() or p.poll() is not None, label)
        time.sleep(0.3)
        workers = children(process.pid)
        process.kill()
        process.wait()
        # the pool's workers follow their parent out (they poll for it every second)
        wait_for(lambda w=workers: not any(alive(pid) for pid in w), "workers to exit", 30)
        assert_whole(db)
        server.log.clear()
    final = start(db)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    assert statuses(db) == {"analysed": len(EPISODES)}
    assert_whole(db)
    assert not list((tmp_path / "audio").rglob("*.part"))  # resumed and renamed


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_cleanly(tmp_path, signum, code):
    db = tmp_path / "p.db"
    subscribe_demo(db)
    process = start(db, "--feeds", str(ROOT / "data" / "feeds.opml"))
    wait_for(
        lambda: (
            statuses(db).get("downloaded", 0) + statuses(db).get("transcribed", 0) >= 3
            or process.poll() is not None
        )
    )
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert f"Stopped by {signal.Signals(signum).name}" in err
    assert query(db, "select status from runs order by id desc limit 1") == [("interrupted",)]
    assert_whole(db)
    again = start(db)
    again.communicate(timeout=600)
    assert again.returncode == 0 and statuses(db) == {"analysed": 4}


def test_a_second_run_exits_at_once_naming_the_first(tmp_path):
    db = tmp_path / "p.db"
    with run_lock(tmp_path, "ingest (a test holding the lock)"):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pipeline", "--db", str(db), "poll"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    assert result.returncode == 1 and time.monotonic() - started < 20
    assert f"pid {os.getpid()}" in result.stderr and "in progress" in result.stderr


def test_a_stale_lock_from_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / "podinsights.lock").write_text("pid 999999: ingest")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--db", str(tmp_path / "p.db"), "poll"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_runs_write_a_log_file_and_a_one_line_summary(demo_db):
    (run,) = query(demo_db, "select log_path, status, counts from runs")
    assert run[1] == "ok" and Path(run[0]).exists()
    assert "run 1 ok" in Path(run[0]).read_text()
    assert json.loads(run[2])["transcribed"] == 4
