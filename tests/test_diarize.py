"""Who said it: diarization on real recordings, names on voices, voiceprints, corrections."""

import json

import pytest
import sqlite_utils

from benchmarks.diarization import der, one_voice_oracle, overlap_share, read_rttm
from pipeline.cli import app

from .conftest import DEMO

diarize = pytest.importorskip("pipeline.speakers.diarize")
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


def test_speakers_say_how_much_of_their_talk_is_unsure(runner, demo_db):
    rows = json.loads(runner.invoke(app, ["--db", str(demo_db), "speakers", "--json"]).stdout)
    assert rows and all(0.0 <= r["uncertain"] <= 1.0 for r in rows)
    # The demo's voices are distinct: most of everyone's talk is sure (bench: 0-3%).
    assert sum(r["uncertain"] for r in rows) / len(rows) < 0.2
    confidences = [
        r[0]
        for r in sqlite_utils.Database(demo_db).execute(
            "select s.speaker_confidence from segments s join transcripts t using (episode_id)"
            " where t.source = 'whisper'"
        )
    ]
    # Diarized segments carry a confidence; a publisher's named speakers carry none.
    assert confidences and all(c is not None and 0.0 <= c <= 1.0 for c in confidences)


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


# Clustering on the embeddings alone: unit tests with made-up vectors whose geometry is
# known (two voices 0.5 apart in cosine similarity, windows scattered 0.05 around them).
def _voices(pattern: str, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = {c: rng.standard_normal(256) for c in sorted(set(pattern))}
    rows = [centres[c] + rng.standard_normal(256) * 0.25 for c in pattern]
    return np.array([r / np.linalg.norm(r) for r in rows], np.float32)


def test_one_odd_window_inside_a_turn_does_not_make_a_turn():
    import numpy as np

    windows = _voices("a" * 20 + "b" * 20)
    # A window of a's turn that sounds a little more like b (noise, a cough): alone it
    # would be b's, but not by more than a change of speaker costs.
    odd = 0.45 * windows[9] + 0.55 * windows[30]
    windows[10] = odd / np.linalg.norm(odd)
    labels, confidence = diarize.cluster(windows)
    assert len(set(labels.tolist())) == 2
    assert len(set(labels[:20].tolist())) == 1  # the Viterbi pass kept a's turn whole
    assert confidence[10] < diarize.LOW_CONFIDENCE < confidence[:5].min()


def test_a_voice_heard_for_less_than_min_talk_is_folded_into_the_nearest():
    talk = int(diarize.MIN_TALK / diarize.HOP)
    labels, _ = diarize.cluster(_voices("a" * 60 + "c" * (talk - 2) + "b" * 60))
    assert len(set(labels.tolist())) == 2
    labels, _ = diarize.cluster(_voices("a" * 60 + "c" * (talk + 4) + "b" * 60))
    assert len(set(labels.tolist())) == 3


def test_the_feeds_head_count_moves_the_cut_only_where_the_tree_is_undecided():
    from scipy.cluster.hierarchy import linkage

    windows = _voices("ab" * 30)
    tree = linkage(windows, method="average", metric="cosine")
    heights = tree[:, 2]
    # Two clear voices: a feed claiming five cannot split them, one claiming two agrees.
    assert diarize._cut(tree, diarize.THRESHOLD, 5) == diarize.THRESHOLD
    assert heights[-2] <= diarize._cut(tree, diarize.THRESHOLD, 2) < heights[-1]
    # A merge just above the threshold: the feed's count of one tips it.
    near = tree.copy()
    near[-1, 2] = diarize.THRESHOLD + diarize.PRIOR_SLACK / 2
    assert diarize._cut(near, diarize.THRESHOLD, 1) >= near[-1, 2]


def test_head_count_from_the_feed_counts_people_who_talk():
    from pipeline.speakers.naming import expected_speakers

    persons = [
        {"name": "Dana Whitfield", "role": "host"},
        {"name": "Antonio Marino", "role": "guest"},
        {"name": "Sam Editor", "role": "editor"},
        {"name": "Dana Whitfield", "role": "host"},
    ]
    assert expected_speakers(persons) == 2
    assert expected_speakers([]) is None


def test_a_theme_said_in_an_unsure_turn_is_not_credited_to_anyone(db):
    from pipeline.speakers.naming import sync_mention_speakers

    db["feeds"].insert({"id": 1, "url": "https://example.com/feed.xml"})
    db["themes"].insert({"id": "followership", "label": "Followership", "category": "followership"})
    db["episodes"].insert({"id": "e1", "feed_id": 1, "guid": "g"})
    for index, confidence in ((0, 0.9), (1, 0.2), (2, None)):
        db["segments"].insert(
            {
                "id": index + 1,
                "episode_id": "e1",
                "idx": index,
                "start_time": index * 5.0,
                "end_time": index * 5.0 + 4.0,
                "text": "followership",
                "speaker": "Dana Whitfield",
                "speaker_confidence": confidence,
            }
        )
        db["theme_mentions"].insert(
            {
                "episode_id": "e1",
                "segment_id": index + 1,
                "theme_id": "followership",
                "method": "keyword",
            }
        )
    sync_mention_speakers(db, "e1")
    credited = [r[0] for r in db.execute("select speaker from theme_mentions order by segment_id")]
    # Sure, unsure, and a publisher's transcript (speakers named by the publisher).
    assert credited == ["Dana Whitfield", None, "Dana Whitfield"]


# Real voices. Speaker counts are whole numbers, so no tolerance: these are the
# recordings whose count the bench finds right with margin on this machine
# (docs/benchmarks.md, "Diarization"); the others are reported there, not asserted.
def test_the_ami_meeting_clip_has_its_four_people(encoder, realdata):
    result = diarize.diarize_file(realdata / "audio" / "ami_tst00.wav", encoder)
    assert len(result.talk_time()) == 4


def test_a_stereo_file_with_two_people_gives_two_speakers(encoder, realdata):
    result = diarize.diarize_file(realdata / "audio" / "stereo_diarization.wav", encoder)
    assert result.by_channel and set(result.talk_time()) == {"S1", "S2"}


def test_conversations_of_real_voices_mostly_have_the_right_number_of_speakers(
    encoder, realdata, tmp_path
):
    from benchmarks.loops import write_wav
    from benchmarks.voices import built_conversations

    right, errors = 0, []
    built = [c for c in built_conversations([]) if not c[1].endswith("telephone")]
    for _, _, samples, turns in built:
        write_wav(tmp_path / "talk.wav", samples)
        result = diarize.diarize_file(tmp_path / "talk.wav", encoder)
        right += len(result.talk_time()) == len({t[2] for t in turns})
        errors.append(der(turns, result.turns)["der"])
    # The bench's six full-band conversations of 2-4 real voices: count right in all 6,
    # mean DER 0.013. One miss is allowed for another CPU's rounding, not two.
    assert len(built) == 6 and right >= 5
    assert sum(errors) / len(errors) < 0.1


def test_real_recordings_nobody_tuned_on_mostly_have_the_right_number_of_speakers(encoder):
    from benchmarks.diarization import audible_speakers
    from benchmarks.voices import HELD_OUT_MEETINGS, real_recordings

    held_out = [r for r in real_recordings() if r.group == "held out"]
    if not set(HELD_OUT_MEETINGS) <= {r.name for r in held_out}:
        pytest.skip("pyannote.audio's recordings could not be downloaded from PyPI")
    right = sum(
        len(diarize.diarize_file(r.path, encoder).talk_time()) == len(audible_speakers(r.reference))
        for r in held_out
    )
    # Four AMI excerpts and a phone call; the bench's look 4 counts the people who talk
    # enough right in 4 of the 5. One more miss is allowed for another CPU's rounding.
    assert len(held_out) == 5 and right >= 3


def test_a_stereo_file_transcribed_from_the_mix_gets_its_speakers_from_the_channels(
    encoder, realdata
):
    """`podinsights diarize` after a transcription without speakers: the segments came
    from the mixed channels, so they are labelled by when each channel speaks."""
    from pipeline.transcribe.engines import AsrOptions, load_engine
    from pipeline.transcribe.stage import transcribe_file

    from .conftest import ROOT

    audio = realdata / "audio" / "stereo_diarization.wav"
    engine = load_engine("faster-whisper", "tiny.en", ROOT / "data" / "models", AsrOptions())
    segments = transcribe_file(audio, engine, AsrOptions()).segments
    result = diarize.diarize_file(audio, encoder)
    assert result.by_channel and segments and all(s.speaker is None for s in segments)
    diarize.assign_speakers(segments, result, diarize.default_names(result))
    assert all(s.speaker in ("Speaker 1", "Speaker 2") for s in segments)
    assert all(w.speaker for s in segments for w in s.words)
