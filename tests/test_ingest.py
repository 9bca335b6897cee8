"""End to end: the CLI ingests real feeds into a real SQLite file, checked through the database."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlite_utils
from typer.testing import CliRunner

from pipeline.cli import app

from .conftest import DEMO
from .feedgen import item, rss


def invoke(db_path, *args):
    result = CliRunner().invoke(app, ["--db", str(db_path), "--quiet", *args])
    return result


def test_ingest_of_the_demo_transcribes_every_episode(demo_db):
    rows = json.loads(invoke(demo_db, "episodes", "--json").stdout)
    assert len(rows) == 4
    assert {r["status"] for r in rows} == {"analysed"}
    db = sqlite_utils.Database(demo_db)
    assert db["segments"].count > 100
    text = " ".join(r["text"] for r in db["segments"].rows).lower()
    assert "followers" in text and "silo" in text


def test_files_are_written_only_beside_the_database(demo_db):
    db = sqlite_utils.Database(demo_db)
    paths = [demo_db.parent / r["audio_path"] for r in db["episodes"].rows]
    assert len(paths) == 4 and all(p.is_file() for p in paths)
    assert {p.parent.parent for p in paths} == {demo_db.parent / "audio"}


def test_whisper_transcripts_record_their_provenance(demo_db):
    db = sqlite_utils.Database(demo_db)
    rows = list(db.query("select * from transcripts where source = 'whisper'"))
    assert len(rows) == 3
    for row in rows:
        assert row["engine"] == "faster-whisper" and row["model"] == "tiny.en"
        assert row["engine_version"] and row["compute_type"] == "int8"
        assert row["language"] == "en"
        assert 120 < row["audio_duration"] < 240
        assert 0 < row["speech_duration"] <= row["audio_duration"]
        assert row["wall_time"] > 0 and row["real_time_factor"] < 0.5
        options = json.loads(row["options"])
        assert options["vad"] is True and "recovery" in options
        # Whisper was told the episode's people and the codebook's terms.
        assert "Dana Whitfield" in options["vocabulary"]
        assert "followership" in options["vocabulary"]
        assert row["created_at"].endswith("Z")


def test_the_publisher_transcript_is_used_with_its_speakers(demo_db):
    db = sqlite_utils.Database(demo_db)
    (row,) = db.query("select * from transcripts where source = 'publisher'")
    assert row["source_url"].endswith("ep03.vtt") and row["engine"] is None
    speakers = {
        r["speaker"]
        for r in db.query("select speaker from segments where episode_id = ?", [row["episode_id"]])
    }
    assert speakers == {"Dana Whitfield", "Grace Walker"}


def test_segments_are_timed_within_the_episode(demo_db):
    db = sqlite_utils.Database(demo_db)
    for episode in db.query("select episode_id, audio_duration from transcripts"):
        times = list(
            db.query(
                "select start_time, end_time from segments where episode_id = ? order by idx",
                [episode["episode_id"]],
            )
        )
        assert all(
            0 <= t["start_time"] <= t["end_time"] <= episode["audio_duration"] + 1 for t in times
        )
        assert [t["start_time"] for t in times] == sorted(t["start_time"] for t in times)


@pytest.fixture
def scratch(tmp_path, realdata):
    """A private copy of a small show: jfk.flac as audio, plus a broken 'mp3'."""
    show = tmp_path / "show"
    show.mkdir()
    shutil.copy(realdata / "audio" / "jfk.flac", show / "jfk.flac")
    (show / "broken.mp3").write_text("this is a text file, not audio\n" * 40)
    return show


def test_broken_audio_fails_that_episode_and_the_run_goes_on(tmp_path, scratch):
    (scratch / "feed.xml").write_bytes(
        rss(item("good", url="jfk.flac"), item("bad", url="broken.mp3", title="Broken"))
    )
    db_path = tmp_path / "p.db"
    invoke(db_path, "feeds", "add", str(scratch / "feed.xml"))
    result = invoke(db_path, "ingest")
    assert result.exit_code == 1
    assert "cannot be read as audio" in result.stderr
    rows = {r["title"]: r for r in json.loads(invoke(db_path, "episodes", "--json").stdout)}
    assert rows["Episode one"]["status"] == "analysed"
    assert rows["Broken"]["status"] == "failed" and rows["Broken"]["failed_stage"] == "transcribe"
    # Nothing half-written: the failed episode has no segments.
    db = sqlite_utils.Database(db_path)
    assert (
        db.execute(
            "select count(*) from segments s join episodes e on e.id = s.episode_id "
            "where e.status = 'failed'"
        ).fetchone()[0]
        == 0
    )


def test_transcribe_is_incremental_and_force_redoes_it(tmp_path, scratch):
    (scratch / "feed.xml").write_bytes(rss(item("good", url="jfk.flac")))
    db_path = tmp_path / "p.db"
    invoke(db_path, "feeds", "add", str(scratch / "feed.xml"))
    assert invoke(db_path, "ingest").exit_code == 0
    db = sqlite_utils.Database(db_path)
    before = [r["id"] for r in db["segments"].rows]
    again = invoke(db_path, "transcribe")
    assert "0 transcribed" in again.stderr
    forced = invoke(db_path, "transcribe", "--force")
    assert "1 transcribed" in forced.stderr
    after = [r["id"] for r in db["segments"].rows]
    assert len(after) == len(before) and set(after).isdisjoint(before)


def test_a_feed_is_transcribed_with_its_own_model(tmp_path, scratch):
    """A feed's model wins over the run's; a model that cannot load fails that feed's
    episodes, not the night."""
    other = tmp_path / "other"
    shutil.copytree(scratch, other)
    (scratch / "feed.xml").write_bytes(rss(item("good", url="jfk.flac")))
    (other / "feed.xml").write_bytes(rss(item("good", url="jfk.flac", title="Other")))
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    db_path = tmp_path / "p.db"
    invoke(db_path, "feeds", "add", str(scratch / "feed.xml"))
    invoke(db_path, "feeds", "add", str(other / "feed.xml"), "--model", str(not_a_model))
    result = invoke(db_path, "ingest")
    assert result.exit_code == 1 and "not a CTranslate2 Whisper model" in result.stderr
    rows = {r["title"]: r for r in json.loads(invoke(db_path, "episodes", "--json").stdout)}
    assert rows["Episode one"]["status"] == "analysed" and rows["Other"]["status"] == "failed"

    assert invoke(db_path, "feeds", "set", "2", "--model", "base").exit_code == 0
    assert invoke(db_path, "retry", rows["Other"]["id"]).exit_code == 0
    assert invoke(db_path, "transcribe").exit_code == 0
    db = sqlite_utils.Database(db_path)
    models = dict(
        db.execute(
            "select e.title, t.model from transcripts t join episodes e on e.id = t.episode_id"
        ).fetchall()
    )
    assert models == {"Episode one": "tiny.en", "Other": "base"}


def test_a_broken_publisher_transcript_falls_back_to_whisper(tmp_path, scratch, realdata):
    shutil.copy(realdata / "transcripts" / "antennapod_srtStr_malformed.srt", scratch / "t.srt")
    extra = '<podcast:transcript url="t.srt" type="application/srt"/>'
    (scratch / "feed.xml").write_bytes(rss(item("good", url="jfk.flac", extra=extra)))
    db_path = tmp_path / "p.db"
    invoke(db_path, "feeds", "add", str(scratch / "feed.xml"))
    assert invoke(db_path, "ingest").exit_code == 0
    (row,) = sqlite_utils.Database(db_path).query("select * from transcripts")
    assert row["source"] == "whisper"
    assert "impossible time" in json.loads(row["options"])["publisher_transcript_error"]


def test_force_asr_ignores_a_good_publisher_transcript(tmp_path, scratch, realdata):
    shutil.copy(DEMO / "audio" / "ep03.vtt", scratch / "t.vtt")
    extra = '<podcast:transcript url="t.vtt" type="text/vtt"/>'
    (scratch / "feed.xml").write_bytes(rss(item("good", url="jfk.flac", extra=extra)))
    db_path = tmp_path / "p.db"
    invoke(db_path, "feeds", "add", str(scratch / "feed.xml"))
    invoke(db_path, "poll")
    invoke(db_path, "download")
    assert invoke(db_path, "transcribe", "--force-asr").exit_code == 0
    (row,) = sqlite_utils.Database(db_path).query("select source from transcripts")
    assert row["source"] == "whisper"
