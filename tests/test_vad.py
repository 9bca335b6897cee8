"""One Silero VAD pass per audio window, shared by transcription and diarization."""

from faster_whisper import vad as fw

from pipeline.audio.decode import SAMPLE_RATE, load_audio
from pipeline.audio.vad import RememberingVad, share_vad

from .conftest import DEMO


def silero() -> object:
    model = fw.get_vad_model()
    return model.model if isinstance(model, RememberingVad) else model


def test_a_window_is_run_through_the_model_once_whatever_the_silence_settings(monkeypatch):
    calls = []
    model = silero()

    def counting(audio, *args, **kwargs):
        calls.append(audio.size)
        return model(audio, *args, **kwargs)

    samples = load_audio(DEMO / "audio" / "ep01.mp3")[: 40 * SAMPLE_RATE]
    plain = fw.get_speech_timestamps(samples, fw.VadOptions())
    remembering = RememberingVad(counting)
    monkeypatch.setattr(fw, "get_vad_model", lambda: remembering)

    assert fw.get_speech_timestamps(samples, fw.VadOptions()) == plain
    fine = fw.get_speech_timestamps(samples, fw.VadOptions(min_silence_duration_ms=300))
    assert len(calls) == 1 and len(fine) >= len(plain)
    fw.get_speech_timestamps(samples[SAMPLE_RATE:], fw.VadOptions())
    assert len(calls) == 2  # other audio, another pass


def test_share_vad_installs_one_memo_per_process(monkeypatch):
    model = silero()
    monkeypatch.setattr(fw, "get_vad_model", lambda: model)
    share_vad()
    shared = fw.get_vad_model()
    share_vad()
    assert isinstance(shared, RememberingVad) and fw.get_vad_model() is shared
