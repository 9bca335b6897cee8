"""Transcription and analysis on a real Dask cluster (scheduler and 2 worker processes on
127.0.0.1), with results identical to the local run."""

import json

import pytest
import sqlite_utils
from typer.testing import CliRunner

from benchmarks import local_cluster
from pipeline.cli import app

from .conftest import ROOT, subscribe_demo

pytest.importorskip("distributed")


def results(path):
    db = sqlite_utils.Database(path)
    segments = {
        (r["guid"], r["idx"]): (r["start_time"], r["end_time"], r["text"])
        for r in db.query(
            "select e.guid, s.idx, s.start_time, s.end_time, s.text from segments s"
            " join episodes e on e.id = s.episode_id"
        )
    }
    mentions = sorted(
        (r["guid"], r["theme_id"], r["start_time"], r["method"])
        for r in db.query(
            "select e.guid, m.theme_id, m.start_time, m.method from theme_mentions m"
            " join episodes e on e.id = m.episode_id"
        )
    )
    return segments, mentions


def test_ingest_on_a_dask_cluster_matches_the_local_run(tmp_path, demo_db):
    with local_cluster(2) as cluster:
        db = tmp_path / "dask.db"
        subscribe_demo(db)
        args = [
            "--db",
            str(db),
            "--quiet",
            "ingest",
            "--feeds",
            str(ROOT / "data" / "feeds.opml"),
            "--scheduler",
            cluster.scheduler_address,
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.stderr + result.stdout
        workers = cluster.scheduler_info["workers"]
        assert len(workers) == 2
    assert results(db) == results(demo_db)


def test_audio_can_travel_to_workers_as_bytes(demo_db, tmp_path):
    """A worker without the shared folder gets the audio itself and transcribes it."""
    from dataclasses import replace

    from pipeline.run.tasks import TranscribeJob, transcribe_task
    from pipeline.transcribe.engines import AsrOptions

    db = sqlite_utils.Database(demo_db)
    episode = next(db.query("select * from episodes where guid = 'long-table-ep04'"))
    audio = (demo_db.parent / episode["audio_path"]).read_bytes()
    elsewhere = {**episode, "audio_path": "audio/1/not-on-this-worker.mp3"}
    feed = db["feeds"].get(episode["feed_id"])["url"]
    told = json.loads(db["transcripts"].get(episode["id"])["options"])["vocabulary"]
    job = TranscribeJob(
        elsewhere,
        feed,
        tmp_path,
        "faster-whisper",
        "tiny.en",
        replace(AsrOptions(), workers=1),
        audio,
        vocabulary=told,  # the words the ingest gave Whisper, so the text is the same
    )
    outcome = transcribe_task(job)
    assert outcome.error is None
    stored = [
        r["text"]
        for r in db.query(
            "select text from segments where episode_id = ? order by idx", [episode["id"]]
        )
    ]
    assert [s.text for s in outcome.transcript.segments] == stored
