"""Whisper on real speech: accuracy, timings, formats, and the hallucination guard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest

import pipeline.audio.decode as audio
import pipeline.transcribe.guard as guard
import pipeline.transcribe.weights as asr_models
from pipeline.cli import app
from pipeline.models import Segment, Word
from pipeline.transcribe.engines import AsrOptions, load_engine, split_sentences
from pipeline.transcribe.stage import transcribe_file

from .conftest import REALDATA


def normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalize(reference), normalize(hypothesis) or "-"))


# Whisper's words differ slightly from CPU to CPU, so nothing here asserts them. JFK's
# 22 words come out exactly on the machines we have tried (WER 0); 0.1 allows two words
# to differ, and a broken decoder (wrong language, wrong sample rate, a window lost)
# costs far more.
JFK_WER = 0.1


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def engine(model_cache):
    return load_engine("faster-whisper", "tiny.en", model_cache, AsrOptions())


@pytest.fixture(scope="session")
def reference() -> str:
    path = REALDATA / "audio" / "jfk.ref.txt"
    if not path.exists():
        pytest.skip("real test data not found")
    return path.read_text().strip()


def encode(samples: np.ndarray, path: Path, codec: str, rate: int = 16000, channels: int = 1):
    """Write samples with PyAV, so every container the decoder claims is really tested."""
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        data = np.tile(samples, (channels, 1)).astype(np.float32)
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=layout)
        frame.sample_rate = 16000
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_jfk_is_transcribed_to_the_reference_text(engine, reference, realdata):
    transcript = transcribe_file(realdata / "audio" / "jfk.flac", engine, AsrOptions())
    text = " ".join(s.text for s in transcript.segments)
    assert wer(reference, text) <= JFK_WER, text
    assert transcript.language == "en"
    assert transcript.audio_duration == pytest.approx(11.0, abs=0.1)
    assert all(s.quality == guard.OK for s in transcript.segments)


def test_word_timings_lie_inside_the_clip_and_in_order(engine, realdata):
    transcript = transcribe_file(realdata / "audio" / "jfk.flac", engine, AsrOptions())
    words = [w for s in transcript.segments for w in s.words]
    assert 20 <= len(words) <= 24  # 22 words; another CPU may split or join one or two
    assert all(0 <= w.start <= w.end <= 11.1 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    country = [w for w in words if normalize(w.word) == "country"]
    assert country[-1].end > 9.0  # "...for your country" ends the clip


def test_non_speech_gives_no_segments(engine, realdata):
    assert transcribe_file(realdata / "audio" / "empty.wav", engine, AsrOptions()).segments == []


@pytest.mark.parametrize(
    "name, codec, rate, channels",
    [
        ("a.m4a", "aac", 44100, 2),
        ("a.ogg", "libopus", 48000, 1),
        ("a.flac", "flac", 22050, 1),
        ("a.wav", "pcm_s16le", 8000, 1),
        ("a.mp3", "libmp3lame", 44100, 2),
    ],
)
def test_every_container_and_rate_decodes_to_16k_mono(
    realdata, tmp_path, name, codec, rate, channels
):
    speech = audio.load_audio(realdata / "audio" / "jfk.flac")
    path = tmp_path / name
    encode(speech, path, codec, rate, channels)
    decoded = audio.load_audio(path)
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    assert decoded.size / audio.SAMPLE_RATE == pytest.approx(11.0, abs=0.15)


def test_8khz_stereo_m4a_still_transcribes(engine, realdata, tmp_path, reference):
    speech = audio.load_audio(realdata / "audio" / "jfk.flac")
    path = tmp_path / "phone.m4a"
    encode(speech, path, "aac", 8000, 2)
    text = " ".join(s.text for s in transcribe_file(path, engine, AsrOptions()).segments)
    # Phone bandwidth costs tiny.en a word or two of JFK's 22 here: 0.2 allows four.
    assert wer(reference, text) <= 2 * JFK_WER, text


def test_the_vocabulary_teaches_whisper_a_word_it_cannot_spell(engine, realdata):
    """faster-whisper's own hotwords clip: "ComfyUI" is heard as "comfy eye" unless
    Whisper is told to expect it."""
    path = realdata / "audio" / "hotwords.mp3"
    told = " ".join(
        s.text for s in transcribe_file(path, engine, AsrOptions(), vocabulary=["ComfyUI"]).segments
    )
    assert "comfyui" in told.lower(), told


def test_long_audio_streams_in_bounded_windows_cut_at_pauses(tmp_path):
    rate = audio.SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate * 20) / rate)
    pattern = np.concatenate([tone, np.zeros(rate * 2)]).astype(np.float32)  # 22 s
    path = tmp_path / "long.flac"
    encode(np.tile(pattern, 30), path, "flac")  # 11 minutes
    pieces = list(audio.windows(path, seconds=120))
    sizes = [samples.size / rate for _, samples in pieces]
    assert max(sizes) <= 120 and sum(sizes) == pytest.approx(660, abs=0.1)
    for offset, _ in pieces[1:]:
        position = round(offset * rate) % pattern.size
        assert position >= tone.size - rate // 10  # each cut fell in a pause
    assert [o for o, _ in pieces] == sorted(o for o, _ in pieces)


@pytest.mark.parametrize(
    "content, message",
    [(b"", "cannot be read as audio"), (b"this is a text file, not audio\n" * 50, "cannot be")],
)
def test_undecodable_files_raise_a_clear_audio_error(tmp_path, content, message):
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    with pytest.raises(audio.AudioError, match=message):
        list(audio.windows(path))


def test_truncated_mp3_decodes_up_to_the_damage(realdata, tmp_path):
    data = (realdata / "audio" / "jfk.mp3").read_bytes()
    path = tmp_path / "cut.mp3"
    path.write_bytes(data[: len(data) // 2])
    assert 4 < audio.load_audio(path).size / audio.SAMPLE_RATE < 7


def test_sentences_split_from_a_chunk_all_have_a_length():
    """Whisper can time a lone word at zero length; its sentence must not be empty."""
    words = [
        Word(1.0, 1.5, " Right."),
        Word(2.0, 2.0, " Exactly."),
        Word(2.4, 2.8, " So"),
        Word(2.8, 3.1, " there."),
        Word(3.5, 3.5, " Yes."),
    ]
    chunk = Segment(0, 1.0, 3.9, "Right. Exactly. So there. Yes.", words=words)
    pieces = split_sentences(chunk)
    assert [p.text for p in pieces] == ["Right.", "Exactly.", "So there.", "Yes."]
    assert [(p.start, p.end) for p in pieces] == [(1.0, 1.5), (2.0, 2.4), (2.4, 3.1), (3.5, 3.9)]


def hard_tails() -> dict[str, np.ndarray]:
    """A minute of what makes Whisper invent speech when VAD is off: faint noise, music
    (a pulsing chord) and digital silence. Which one does it depends on the CPU's float
    arithmetic, so all three are tried."""
    rate = audio.SAMPLE_RATE
    t = np.arange(rate * 60) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330))
    return {
        "noise": np.random.default_rng(0).standard_normal(t.size) * 0.01,
        "music": 0.1 * chord * (np.sin(2 * np.pi * 2 * t) > 0),
        "silence": np.zeros(t.size),
    }


def test_whisper_inventions_after_speech_are_flagged_not_passed_as_speech(model_cache, realdata):
    """Without VAD, tiny.en replays earlier lines, or says "You", over what follows
    11 s of speech."""
    speech = audio.load_audio(realdata / "audio" / "jfk.flac")
    options = AsrOptions(vad=False, batch_size=1)
    engine = load_engine("faster-whisper", "tiny.en", model_cache, options)
    invented = []
    for tail in hard_tails().values():
        result = engine.transcribe(np.concatenate([speech, tail]).astype(np.float32), "en")
        segments = guard.flag(result.segments)
        assert all(s.quality == guard.OK for s in segments if s.end <= 11.5)
        invented += [s for s in segments if s.start > 12]
    assert invented, "the model no longer invents speech here: find harder audio"
    assert all(s.quality != guard.OK for s in invented), [(s.text, s.quality) for s in invented]


def test_unknown_model_lists_the_available_ones(model_cache):
    with pytest.raises(asr_models.ModelError, match="tiny.en") as info:
        asr_models.resolve_model("no-such-model", model_cache)
    assert "installed offline" in str(info.value)


@pytest.mark.parametrize(
    "name", ["small", "distil-large-v3", "large-v3-turbo", "Systran/faster-whisper-small"]
)
def test_hub_models_resolve_to_a_download_into_the_cache(model_cache, name):
    resolved = asr_models.resolve_model(name, model_cache)
    assert (resolved.source, resolved.path) == ("download", None)
    assert asr_models.check_model_name(name) == name


def test_a_model_that_cannot_be_downloaded_is_one_clear_sentence(runner, tmp_path, realdata):
    """No network here (nor on CI): the hub's error becomes one line naming what to do."""
    args = ["--db", str(tmp_path / "x.db"), "transcribe-file", str(realdata / "audio" / "jfk.flac")]
    result = runner.invoke(app, [*args, "--model", "Systran/no-such-model-here"])
    assert result.exit_code == 1
    assert "could not be downloaded" in result.stderr and "Traceback" not in result.stderr


def test_model_can_be_a_local_folder(model_cache):
    folder = asr_models.resolve_model("tiny.en", model_cache).path
    resolved = asr_models.resolve_model(str(folder), model_cache)
    assert (resolved.source, resolved.path) == ("path", folder)


def test_packaged_base_model_is_joined_once_into_the_cache(model_cache):
    first = asr_models.resolve_model("base", model_cache)
    stamp = (first.path / "model.bin").stat().st_mtime_ns
    second = asr_models.resolve_model("base", model_cache)
    assert first.source == "package" and (second.path / "model.bin").stat().st_mtime_ns == stamp
    assert (first.path / "model.bin").stat().st_size > 100_000_000


def test_transcribe_file_json_prints_the_sentence_with_timings(
    runner, tmp_path, realdata, reference
):
    result = runner.invoke(
        app,
        [
            "--db",
            str(tmp_path / "x.db"),
            "transcribe-file",
            str(realdata / "audio" / "jfk.mp3"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    segments = json.loads(result.stdout)
    assert wer(reference, " ".join(s["text"] for s in segments)) <= JFK_WER
    assert all(w["start"] <= w["end"] for s in segments for w in s["words"])
    assert not (tmp_path / "x.db").exists()  # transcribe-file stores nothing


def test_transcribe_file_on_a_missing_file_is_one_clear_error(runner, tmp_path):
    result = runner.invoke(app, ["--db", str(tmp_path / "x.db"), "transcribe-file", "nope.mp3"])
    assert result.exit_code == 1 and "No audio file at nope.mp3" in result.stderr
    assert "Traceback" not in result.stderr
