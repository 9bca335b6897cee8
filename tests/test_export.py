"""Exports that subtitle-aware players and other tools can open."""

import json

import pytest
import sqlite_utils

from pipeline.cli import app
from pipeline.transcribe.guard import SEARCHABLE


@pytest.fixture(scope="module")
def episodes(demo_db):
    db = sqlite_utils.Database(demo_db)
    rows = {
        r["id"]: r
        for r in db.query(
            "select e.id, t.source from episodes e join transcripts t on t.episode_id = e.id"
        )
    }
    publisher = next(i for i, r in rows.items() if r["source"] == "publisher")
    whisper = next(i for i, r in rows.items() if r["source"] == "whisper")
    return {"publisher": publisher, "whisper": whisper, "db": db}


def export(runner, demo_db, *args):
    result = runner.invoke(app, ["--db", str(demo_db), "export", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def segment_count(db, episode):
    return db.execute(
        "select count(*) from segments where episode_id = ? and quality in (?, ?)",
        [episode, *SEARCHABLE],
    ).fetchone()[0]


def test_srt_parses_with_the_srt_library(runner, demo_db, episodes):
    srt = pytest.importorskip("srt")
    text = export(runner, demo_db, episodes["whisper"], "--format", "srt")
    cues = list(srt.parse(text))
    assert len(cues) == segment_count(episodes["db"], episodes["whisper"])
    assert all(c.start < c.end for c in cues)
    assert [c.start for c in cues] == sorted(c.start for c in cues)


def test_vtt_parses_with_webvtt_and_carries_voice_tags(runner, demo_db, episodes, tmp_path):
    webvtt = pytest.importorskip("webvtt")
    path = tmp_path / "ep.vtt"
    path.write_text(export(runner, demo_db, episodes["publisher"], "--format", "vtt"))
    captions = webvtt.read(str(path))
    assert len(captions) == segment_count(episodes["db"], episodes["publisher"])
    assert {c.voice for c in captions} == {"Dana Whitfield", "Grace Walker"}


def test_json_is_a_podcasting20_transcript(runner, demo_db, episodes):
    document = json.loads(export(runner, demo_db, episodes["publisher"], "--format", "json"))
    assert document["version"] == "1.0.0"
    first = document["segments"][0]
    assert set(first) == {"speaker", "startTime", "endTime", "body"}
    assert first["startTime"] < first["endTime"]


def test_markdown_cites_show_episode_date_and_timestamp_link(runner, demo_db, episodes):
    text = export(runner, demo_db, episodes["whisper"], "--format", "md")
    citations = [line for line in text.splitlines() if line.startswith("> —")]
    assert len(citations) == segment_count(episodes["db"], episodes["whisper"])
    assert all("#t=" in line and "](" in line and "20" in line for line in citations)


def test_export_all_writes_every_format_for_every_episode(runner, demo_db, tmp_path):
    result = runner.invoke(app, ["--db", str(demo_db), "export", "--all", str(tmp_path / "out")])
    assert result.exit_code == 0
    files = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert files.count(".srt") == files.count(".vtt") == files.count(".json") == 4


def test_exporting_an_unknown_episode_is_one_clear_error(runner, demo_db):
    result = runner.invoke(app, ["--db", str(demo_db), "export", "nope", "--format", "srt"])
    assert result.exit_code == 1 and "No episode matches 'nope'" in result.stderr
