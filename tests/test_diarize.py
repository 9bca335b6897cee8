"""Who said it: diarization on real recordings, names on voices, voiceprints, corrections."""

import json

import pytest
import sqlite_utils

from pipeline.bench.diarization import der, one_voice_oracle, overlap_share, read_rttm
from pipeline.cli import app

from .conftest import DEMO

diarize = pytest.importorskip("pipeline.diarize")
if not diarize.available():
    pytest.skip("the [diarize] extra is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def encoder():
    return diarize.VoiceEncoder()


def test_der_follows_the_standard_definition():
    reference = [(0.0, 10.0, "a"), (10.0, 20.0, "b")]
    assert der(reference, [(0.0, 10.0, "x"), (10.0, 20.0, "y")])["der"] == 0.0  # names don't matter
    missed = der(reference, [(0.0, 10.0, "x")])
    assert missed["miss"] == pytest.approx(0.5, abs=0.02) and missed["confusion"] == 0
    confused = der(reference, [(0.0, 20.0, "x")])
    assert confused["confusion"] == pytest.approx(0.5, abs=0.02)
    # The 0.25 s collar forgives a boundary placed a little late.
    assert der(reference, [(0.0, 10.2, "x"), (10.2, 20.0, "y")])["der"] == 0.0


def test_one_voice_at_a_time_misses_exactly_the_overlapped_speech():
    reference = [(0.0, 10.0, "a"), (5.0, 15.0, "b")]  # 5 of 20 speaker-seconds overlap
    oracle = der(reference, one_voice_oracle(reference))
    assert oracle["der"] == oracle["miss"] == pytest.approx(0.25, abs=0.02)
    assert der(reference[:1], one_voice_oracle(reference[:1]))["der"] == 0.0
    assert overlap_share(reference) == pytest.approx(5 / 15, abs=0.01)  # 5 of 15 s of speech
    assert overlap_share(reference, scored=(0.0, 5.0)) == 0.0


def test_demo_episode_with_three_voices_is_diarized_accurately(encoder):
    result = diarize.diarize_file(DEMO / "audio" / "ep02.mp3", encoder)
    reference = read_rttm(DEMO / "audio" / "ep02.rttm")
    assert len(result.talk_time()) == 3
    assert der(reference, result.turns)["der"] < 0.10


def test_stereo_with_one_speaker_per_channel_is_split_by_channel(runner, tmp_path, realdata):
    left = (realdata / "audio" / "stereo_diarization.left.ref.txt").read_text().strip()
    right = (realdata / "audio" / "stereo_diarization.right.ref.txt").read_text().strip()
    result = runner.invoke(
        app,
        [
            "--db",
            str(tmp_path / "x.db"),
            "transcribe-file",
            str(realdata / "audio" / "stereo_diarization.wav"),
            "--diarize",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    segments = json.loads(result.stdout)
    by_speaker = {}
    for segment in segments:
        by_speaker.setdefault(segment["speaker"], []).append(segment["text"])
        assert all(w["speaker"] == segment["speaker"] for w in segment["words"])
    assert " ".join(by_speaker["Speaker 1"]) == left
    assert " ".join(by_speaker["Speaker 2"]) == right


def test_a_mono_file_gets_speaker_labels_on_segments_and_words(runner, tmp_path):
    result = runner.invoke(
        app,
        [
            "--db",
            str(tmp_path / "x.db"),
            "transcribe-file",
            str(DEMO / "audio" / "ep03.mp3"),
            "--diarize",
            "--json",
        ],
    )
    segments = json.loads(result.stdout)
    assert {s["speaker"] for s in segments} == {"Speaker 1", "Speaker 2"}
    assert all(w["speaker"] for s in segments for w in s["words"])


def speakers(demo_db):
    return {
        (r["guid"], r["name"]): r["source"]
        for r in sqlite_utils.Database(demo_db).query(
            "select e.guid, s.name, s.source from episode_speakers s"
            " join episodes e on e.id = s.episode_id"
        )
    }


def test_ingest_names_every_voice_in_the_demo(demo_db):
    found = speakers(demo_db)
    assert {name for _, name in found} == {
        "Dana Whitfield",
        "Antonio Marino",
        "Priya Shah",
        "Marcus Hale",
    }
    assert ("long-table-ep02", "Priya Shah") in found and (
        "long-table-ep02",
        "Marcus Hale",
    ) in found


def test_the_host_is_recognised_by_voice_where_she_never_says_her_name(demo_db):
    assert speakers(demo_db)[("long-table-ep04", "Dana Whitfield")] == "voiceprint"


def test_show_prints_speaker_names(runner, demo_db):
    db = sqlite_utils.Database(demo_db)
    episode = next(db.query("select id from episodes where guid = 'long-table-ep04'"))["id"]
    lines = runner.invoke(app, ["--db", str(demo_db), "show", episode]).stdout.splitlines()
    assert sum("Dana Whitfield:" in line for line in lines) >= 5
    assert sum("Antonio Marino:" in line for line in lines) >= 5


def test_themes_are_attributed_to_who_raised_them(demo_db):
    db = sqlite_utils.Database(demo_db)
    speakers_of = {
        r[0]
        for r in db.execute("select distinct speaker from theme_mentions where speaker is not null")
    }
    assert {"Dana Whitfield", "Antonio Marino"} <= speakers_of


def test_a_correction_renames_everywhere_and_teaches_the_registry(runner, demo_db, tmp_path):
    import sqlite3

    copy = tmp_path / "copy.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    db = sqlite_utils.Database(copy)
    episode = next(db.query("select id from episodes where guid = 'long-table-ep02'"))["id"]
    before = next(db.query("select samples from voiceprints where name = 'Marcus Hale'"))
    result = runner.invoke(
        app, ["--db", str(copy), "speakers", "name", episode, "Marcus Hale", "Marcus J. Hale"]
    )
    assert result.exit_code == 0, result.stderr
    assert db.execute("select count(*) from segments where speaker = 'Marcus J. Hale'").fetchone()[
        0
    ]
    assert not db.execute(
        "select count(*) from segments where speaker = 'Marcus Hale' and episode_id = ?", [episode]
    ).fetchone()[0]
    assert next(db.query("select samples from voiceprints where name = 'Marcus J. Hale'"))
    assert before["samples"] >= 1
    listed = json.loads(runner.invoke(app, ["--db", str(copy), "speakers", "--json"]).stdout)
    assert any(r["name"] == "Marcus J. Hale" and r["source"] == "correction" for r in listed)
    wrong = runner.invoke(app, ["--db", str(copy), "speakers", "name", episode, "Nobody", "X"])
    assert wrong.exit_code == 1 and "has no speaker 'Nobody'" in wrong.stderr
